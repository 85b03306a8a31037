import RadRelayConfig
import RadRelayCore
import XCTest

final class ConfigurationDefaultsTests: XCTestCase {
    func testMinimalFileTakesEveryDefault() throws {
        let config = try load(minimalYAML)
        let gateway = config.gateway
        XCTAssertEqual(gateway.aeTitle, try AETitle("RADRELAY"))
        XCTAssertEqual(gateway.additionalAETitles, [])
        XCTAssertEqual(gateway.bind, "0.0.0.0")
        XCTAssertEqual(gateway.port, 11112)
        XCTAssertEqual(gateway.maxAssociations, 16)
        XCTAssertEqual(gateway.stateDirectory, "/var/lib/radrelay")
        XCTAssertNil(gateway.runtimeDirectory)
        XCTAssertEqual(gateway.minFreeDisk, .percent(5))
        XCTAssertEqual(gateway.maxObjectSize, 8 << 30)
        XCTAssertEqual(gateway.maxPDULength, 65536)
        XCTAssertTrue(gateway.acceptPrivateSOPClasses)
        XCTAssertEqual(gateway.timeouts, Configuration.Timeouts(connect: 10, acse: 10, dimse: 60, idle: 60))
        XCTAssertEqual(gateway.allowedCallers, [], "an absent allowlist refuses everyone")

        XCTAssertEqual(config.destinations.count, 1)
        let destination = config.destinations[0]
        XCTAssertEqual(destination.name, "pacs")
        XCTAssertEqual(destination.kind, .dicom)
        XCTAssertEqual(destination.aeTitle, try AETitle("PACS"))
        XCTAssertEqual(destination.host, "10.0.0.5")
        XCTAssertEqual(destination.port, 104)
        XCTAssertEqual(destination.callingAETitle, gateway.aeTitle, "calling AE defaults to gateway.ae_title")
        XCTAssertEqual(destination.associations, 2)
        XCTAssertEqual(destination.timeouts, gateway.timeouts)
        XCTAssertEqual(destination.retry, RetryPolicy(baseDelay: 5, maxDelay: 300, jitter: 0.2, maxObjectAttempts: 3))

        XCTAssertEqual(
            config.routes, [RouteRule(name: "route-1", destinations: ["pacs"], priority: .routine, stop: true)])
        XCTAssertEqual(config.outbox, Configuration.Outbox(dedupWindow: 86_400, leaseSeconds: 600))
        XCTAssertEqual(config.logging, Configuration.Logging(level: "info", logPHI: false))
    }

    func testEmptySectionsMeanAllDefaults() throws {
        let config = try load(minimalYAML + "\noutbox:\nlogging: {}\n")
        XCTAssertEqual(config.outbox, Configuration.Outbox())
        XCTAssertEqual(config.logging, Configuration.Logging())
    }

    func testEveryKeyIsRead() throws {
        let yaml = """
            gateway:
              ae_title: GW
              additional_ae_titles: [GW_STAT, GW_RESEARCH]
              bind: "::"
              port: 0
              max_associations: 32
              state_dir: /srv/radrelay
              runtime_dir: /run/rr
              min_free_disk: 20GiB
              max_object_size: 500MB
              max_pdu_length: 128KiB
              accept_private_sop_classes: false
              timeouts: { connect: 3s, acse: 250ms, dimse: 2m, idle: 1h30m }
              allowed_callers:
                - ae_title: ED_CT
                  hosts: [10.1.2.3, 10.9.0.0/16, "fd00::/8"]
                  max_associations: 4
                - ae_title: MR1
                  hosts: 10.1.2.4
            destinations:
              - name: telerad
                kind: dicom
                ae_title: TELERAD
                host: pacs.example.org
                port: 11112
                calling_ae_title: GW_OUT
                associations: 4
                timeouts: { connect: 30s }
                retry: { base_delay: 1s, max_delay: 1h, jitter: 10%, max_object_attempts: 5 }
              - name: archive.2
                ae_title: ARCHIVE
                host: 192.0.2.7
                port: 104
            routes:
              - name: ed-stat
                match: { calling_ae: ED_CT, called_ae: [GW, GW_STAT], modality: [ct, MR] }
                priority: stat
                destinations: telerad
                stop: false
              - match: { Modality: DX }
                priority: LOW
                destinations: [archive.2, telerad]
            outbox: { dedup_window: 0, lease: 90s }
            logging: { level: Debug, log_phi: true }
            """
        let config = try load(yaml)
        let gateway = config.gateway
        XCTAssertEqual(gateway.additionalAETitles.map(\.value), ["GW_STAT", "GW_RESEARCH"])
        XCTAssertEqual(gateway.calledAETitles.map(\.value), ["GW", "GW_STAT", "GW_RESEARCH"])
        XCTAssertEqual(gateway.bind, "::")
        XCTAssertEqual(gateway.port, 0)
        XCTAssertEqual(gateway.maxAssociations, 32)
        XCTAssertEqual(gateway.stateDirectory, "/srv/radrelay")
        XCTAssertEqual(gateway.runtimeDirectory, "/run/rr")
        XCTAssertEqual(gateway.minFreeDisk, .bytes(20 << 30))
        XCTAssertEqual(gateway.maxObjectSize, 500_000_000)
        XCTAssertEqual(gateway.maxPDULength, 131_072)
        XCTAssertFalse(gateway.acceptPrivateSOPClasses)
        XCTAssertEqual(gateway.timeouts, Configuration.Timeouts(connect: 3, acse: 0.25, dimse: 120, idle: 5400))
        XCTAssertEqual(gateway.allowedCallers.count, 2)
        XCTAssertEqual(gateway.allowedCallers[0].aeTitle.value, "ED_CT")
        XCTAssertEqual(
            gateway.allowedCallers[0].hosts.map(\.description), ["10.1.2.3/32", "10.9.0.0/16", "fd00:0:0:0:0:0:0:0/8"])
        XCTAssertEqual(gateway.allowedCallers[0].maxAssociations, 4)
        XCTAssertEqual(
            gateway.allowedCallers[1].hosts.map(\.description), ["10.1.2.4/32"], "a single host is a list of one")
        XCTAssertNil(gateway.allowedCallers[1].maxAssociations)

        let telerad = config.destinations[0]
        XCTAssertEqual(telerad.host, "pacs.example.org")
        XCTAssertEqual(telerad.callingAETitle.value, "GW_OUT")
        XCTAssertEqual(telerad.associations, 4)
        XCTAssertEqual(
            telerad.timeouts,
            Configuration.Timeouts(connect: 30, acse: 0.25, dimse: 120, idle: 5400),
            "keys not given inherit gateway.timeouts"
        )
        XCTAssertEqual(telerad.retry, RetryPolicy(baseDelay: 1, maxDelay: 3600, jitter: 0.1, maxObjectAttempts: 5))
        XCTAssertEqual(config.destinations[1].name, "archive.2")
        XCTAssertEqual(config.destinations[1].callingAETitle.value, "GW")

        XCTAssertEqual(config.routes.count, 2)
        XCTAssertEqual(
            config.routes[0],
            RouteRule(
                name: "ed-stat",
                callingAE: [try AETitle("ED_CT")],
                calledAE: [try AETitle("GW"), try AETitle("GW_STAT")],
                modality: ["CT", "MR"],
                destinations: ["telerad"],
                priority: .stat,
                stop: false
            )
        )
        XCTAssertEqual(config.routes[1].name, "route-2")
        XCTAssertEqual(config.routes[1].modality, ["DX"])
        XCTAssertEqual(config.routes[1].priority, .low)
        XCTAssertEqual(config.routes[1].destinations, ["archive.2", "telerad"])

        XCTAssertEqual(config.outbox, Configuration.Outbox(dedupWindow: 0, leaseSeconds: 90))
        XCTAssertEqual(config.logging, Configuration.Logging(level: "debug", logPHI: true))
    }

    /// The key names of issue 2's config contract, exactly as admins and test tools write them.
    func testIssueContractExampleLoads() throws {
        let yaml = """
            gateway:
              ae_title: RADRELAY            # called AE title we answer to
              additional_ae_titles: []      # more called AE titles (routes can match on them)
              bind: 0.0.0.0                 # an address, "::" for IPv6 too, or a host name
              port: 11112                   # 0 = pick a free port and report it (log + status)
              max_associations: 16
              state_dir: /var/lib/radrelay  # default: $STATE_DIRECTORY when systemd sets it
              min_free_disk: 5%             # below this, C-STORE is refused with 0xA700
              max_object_size: 8GiB         # larger objects are refused
              allowed_callers:              # calling-AE allowlist (an empty list refuses everyone)
                - ae_title: LEGACY_PACS
                  hosts: [10.1.2.3, 10.9.0.0/16]   # optional addresses or CIDR ranges
                  max_associations: 8              # optional per-caller limit
            destinations:
              - name: telerad
                kind: dicom                 # STOW-RS comes in a later issue as kind: stow
                ae_title: TELERAD
                host: 203.0.113.10
                port: 104
                calling_ae_title: RADRELAY  # optional, defaults to gateway.ae_title
                associations: 2             # parallel associations to this destination
            routes:                         # a minimal form now; full rules come in a later issue
              - destinations: [telerad]
            """
        let config = try load(yaml)
        XCTAssertEqual(config.gateway.allowedCallers[0].aeTitle.value, "LEGACY_PACS")
        XCTAssertTrue(config.gateway.allowedCallers[0].hosts[1].contains("10.9.200.1"))
        XCTAssertEqual(config.gateway.allowedCallers[0].maxAssociations, 8)
        XCTAssertEqual(config.destinations[0].host, "203.0.113.10")
        XCTAssertEqual(config.routes[0].destinations, ["telerad"])
    }

    func testLoadedRoutesDriveTheRouter() throws {
        let yaml = """
            gateway: { ae_title: GW }
            destinations:
              - { name: a, ae_title: A, host: 127.0.0.1, port: 104 }
              - { name: b, ae_title: B, host: 127.0.0.1, port: 105 }
            routes:
              - { match: { modality: CT }, priority: stat, destinations: [a], stop: false }
              - { destinations: [a, b] }
            """
        let router = try load(yaml).router
        let facts = ObjectFacts(
            callingAE: try AETitle("X"),
            calledAE: try AETitle("GW"),
            sourceIP: "127.0.0.1",
            modality: "CT",
            sopClassUID: try DICOMUID("1.2.840.10008.5.1.4.1.1.2")
        )
        let decision = router.route(facts)
        XCTAssertEqual(decision.destinations, ["a": .stat, "b": .routine])
        XCTAssertEqual(decision.matchedRules, ["route-1", "route-2"])
    }

    func testAETitlesAndNumbersAreReadAsWritten() throws {
        let yaml = minimalYAML.replacingOccurrences(of: "ae_title: RADRELAY", with: "ae_title: 0123")
            .replacingOccurrences(of: "port: 104", with: "port: \"104\"")
        let config = try load(yaml)
        XCTAssertEqual(config.gateway.aeTitle.value, "0123", "read as an integer, the leading zero would be lost")
        XCTAssertEqual(config.destinations[0].port, 104)
    }
}
