import Foundation
import RadRelayCore
import XCTest

@testable import RadRelayConfig

/// Issue 4's configuration: routing criteria, time windows, time zone, bandwidth, circuit,
/// quotas, aging and study stability, with their errors at the right line.
final class RoutingConfigTests: XCTestCase {
    private let head = """
        gateway:
          ae_title: GW
          additional_ae_titles: [GW_STAT]
          time_zone: Europe/Berlin
        destinations:
          - { name: telerad, ae_title: TELERAD, host: 127.0.0.1, port: 104 }
          - { name: archive, ae_title: ARCH, host: 127.0.0.1, port: 105 }

        """

    /// The issue's config contract, verbatim apart from the destination's address.
    func testIssueContractExampleLoads() throws {
        let yaml = """
            destinations:
              - name: telerad
                kind: dicom
                ae_title: TELERAD
                host: 203.0.113.10
                port: 104
                bandwidth:
                  limit: 200Mbit/s            # units: bit/s, kbit/s, Mbit/s, Gbit/s, B/s, kB/s, MB/s
                  schedule:                   # first matching window wins, else `limit`
                    - { days: mon-fri, from: "07:00", to: "19:00", limit: 20Mbit/s }
                  stat: bypass                # or: borrow / capped
            routes:
              - name: ed-stat
                match: { calling_ae: ED_CT, Modality: CT }
                priority: stat
                destinations: [telerad]
              - name: default
                destinations: [telerad]
            gateway:
              ae_title: RADRELAY
              time_zone: Europe/Berlin        # for schedules and time windows
            """
        let config = try load(yaml)
        XCTAssertEqual(config.gateway.timeZone.identifier, "Europe/Berlin")
        let bandwidth = config.destinations[0].bandwidth
        XCTAssertEqual(bandwidth.limit, 25_000_000)
        XCTAssertEqual(bandwidth.stat, .bypass)
        XCTAssertEqual(bandwidth.entries.count, 1)
        XCTAssertEqual(bandwidth.entries[0].limit, 2_500_000)
        XCTAssertEqual(bandwidth.entries[0].window.days, [.monday, .tuesday, .wednesday, .thursday, .friday])
        XCTAssertEqual(bandwidth.entries[0].window.from, TimeOfDay(hour: 7, minute: 0))
        XCTAssertEqual(bandwidth.entries[0].window.to, TimeOfDay(hour: 19, minute: 0))
        XCTAssertEqual(
            config.routes[0],
            RouteRule(
                name: "ed-stat", callingAE: [try AETitle("ED_CT")], modality: ["CT"], destinations: ["telerad"],
                priority: .stat))
        XCTAssertEqual(config.router.clock.timeZone.identifier, "Europe/Berlin")
    }

    func testEveryCriterionKind() throws {
        let yaml =
            head + """
                routes:
                  - name: everything
                    match:
                      calling_ae: { wildcard: "ED_*" }
                      called_ae: GW_STAT
                      source_ip: [10.1.0.0/16, "::1"]
                      StudyDescription: { wildcard: ["*STAT*", "*STROKE*"] }
                      RequestedProcedureDescription: { regex: "code\\\\s*stroke" }
                      "(0040,1003)": [STAT, HIGH]
                      0008,0050: { present: true }
                      PatientComments: { absent: true }
                      BodyPartExamined: { equals: HEAD }
                      time: [{ days: "sat,sun" }, { days: mon-fri, from: "19:00", to: "07:00" }]
                    destinations: [telerad]
                    hold_until_stable: true
                    stop: false
                  - { name: default, fallback: true, destinations: [archive] }
                """
        let config = try load(yaml)
        let match = config.routes[0].match
        XCTAssertEqual(match.callingAE, ValueMatcher(.wildcard(["ED_*"]), ignoresCase: false))
        XCTAssertEqual(match.calledAE, ValueMatcher(.oneOf(["GW_STAT"]), ignoresCase: false))
        XCTAssertEqual(match.sourceIP?.count, 2)
        XCTAssertEqual(
            match.attributes.map(\.tag),
            [
                DICOMTag(0x0008, 0x1030), DICOMTag(0x0032, 0x1060), DICOMTag(0x0040, 0x1003), DICOMTag(0x0008, 0x0050),
                DICOMTag(0x0010, 0x4000), DICOMTag(0x0018, 0x0015),
            ])
        XCTAssertEqual(match.attributes[0].matcher, ValueMatcher(.wildcard(["*STAT*", "*STROKE*"])))
        XCTAssertEqual(match.attributes[1].matcher, ValueMatcher(.regex([try TextPattern("code\\s*stroke")])))
        XCTAssertEqual(match.attributes[2].matcher, ValueMatcher(.oneOf(["STAT", "HIGH"])))
        XCTAssertEqual(match.attributes[3].matcher, ValueMatcher(.present))
        XCTAssertEqual(match.attributes[4].matcher, ValueMatcher(.absent))
        XCTAssertEqual(match.attributes[5].matcher, ValueMatcher.equals("HEAD"))
        XCTAssertEqual(match.time?.count, 2)
        XCTAssertEqual(match.time?[0].days, [.saturday, .sunday])
        XCTAssertEqual(match.time?[0].from, .midnight)
        XCTAssertEqual(match.time?[0].to, .endOfDay)
        XCTAssertEqual(match.time?[1].from, TimeOfDay(hour: 19, minute: 0))
        XCTAssertTrue(config.routes[0].holdUntilStable)
        XCTAssertFalse(config.routes[0].stop)
        XCTAssertTrue(config.routes[1].fallback)
        XCTAssertTrue(config.router.requiredTags.isSuperset(of: Set(match.attributes.map(\.tag))))
    }

    func testDaysGrammar() throws {
        func days(_ text: String) throws -> Set<Weekday> {
            let yaml = head + "routes:\n  - { destinations: [telerad], match: { time: { days: \(text) } } }\n"
            return try load(yaml).routes[0].match.time![0].days
        }
        XCTAssertEqual(try days("mon-fri"), [.monday, .tuesday, .wednesday, .thursday, .friday])
        XCTAssertEqual(try days("fri-mon"), [.friday, .saturday, .sunday, .monday], "wraps the week")
        XCTAssertEqual(try days("[sat, Sunday]"), [.saturday, .sunday])
        XCTAssertEqual(try days("\"mon,wed-thu\""), [.monday, .wednesday, .thursday])
        XCTAssertEqual(try days("daily").count, 7)
    }

    func testRatesInEveryUnit() {
        let cases: [(String, Double)] = [
            ("200Mbit/s", 25_000_000), ("20 Mbit/s", 2_500_000), ("1Gbit/s", 125_000_000), ("800kbit/s", 100_000),
            ("8000bit/s", 1000), ("4MB/s", 4_000_000), ("500kB/s", 500_000), ("2000B/s", 2000), ("1.5MB/s", 1_500_000),
            ("1MiB/s", 1_048_576), ("100Mbps", 12_500_000),
        ]
        for (text, bytes) in cases {
            XCTAssertEqual(ValueGrammar.bytesPerSecond(text), bytes, text)
        }
        for bad in ["20", "20Mb", "fast", "-1MB/s", "20 mbit/s", "0MB/s"] {
            XCTAssertNil(ValueGrammar.bytesPerSecond(bad), bad)
        }
    }

    func testDestinationAndGatewaySchedulingKeys() throws {
        let yaml = """
            gateway:
              ae_title: GW
              bandwidth: { limit: 100Mbit/s, schedule: [{ days: sat, limit: unlimited }], stat: capped }
            destinations:
              - name: telerad
                ae_title: T
                host: 127.0.0.1
                port: 104
                bandwidth: 4MB/s
                max_age: 7d
                backlog_quota: 50GiB
                circuit: { failures: 5, max_probe_interval: 2m }
                priority_aging: 10m
            outbox:
              stable_after: 90s
            routes:
              - destinations: [telerad]
            """
        let config = try load(yaml)
        XCTAssertEqual(config.gateway.bandwidth.limit, 12_500_000)
        XCTAssertEqual(config.gateway.bandwidth.stat, .capped)
        XCTAssertEqual(config.gateway.bandwidth.entries.first?.limit, .some(nil))
        let telerad = config.destinations[0]
        XCTAssertEqual(telerad.bandwidth, BandwidthSchedule(limit: 4_000_000))
        XCTAssertEqual(telerad.maxAge, 7 * 86_400)
        XCTAssertEqual(telerad.backlogQuota, 50 << 30)
        XCTAssertEqual(telerad.circuit, .init(failures: 5, maxProbeInterval: 120))
        XCTAssertEqual(telerad.circuitPolicy.failureThreshold, 5)
        XCTAssertEqual(telerad.priorityAging, 600)
        XCTAssertEqual(config.outbox.stableAfter, 90)
    }

    func testDefaults() throws {
        let config = try load(minimalYAML)
        XCTAssertEqual(config.gateway.timeZone, TimeZone.current)
        XCTAssertTrue(config.gateway.bandwidth.isUnlimited)
        let destination = config.destinations[0]
        XCTAssertTrue(destination.bandwidth.isUnlimited)
        XCTAssertEqual(destination.bandwidth.stat, .borrow)
        XCTAssertNil(destination.maxAge)
        XCTAssertNil(destination.backlogQuota)
        XCTAssertEqual(destination.circuit, .init(failures: 3, maxProbeInterval: 60))
        XCTAssertEqual(destination.priorityAging, 900)
        XCTAssertEqual(config.outbox.stableAfter, 120)
        XCTAssertFalse(config.routes[0].holdUntilStable)
        XCTAssertFalse(config.routes[0].fallback)
    }

    func testRouteLevelNormalizationProfiles() throws {
        let yaml =
            head + """
                normalization_profiles:
                  site-a: [{ trim: AccessionNumber }]
                  upper: [{ upper: AccessionNumber }]
                routes:
                  - { destinations: [telerad], normalization: [site-a, upper], stop: false }
                  - { destinations: [archive], normalization: upper }
                """
        let config = try load(yaml)
        XCTAssertEqual(config.routes[0].normalization, ["site-a", "upper"])
        XCTAssertEqual(config.routes[1].normalization, ["upper"])
        let unknown = head + "routes:\n  - { destinations: [telerad], normalization: nope }\n"
        assertError(
            unknown, .unknownReference, line: 9, column: 47, keyPath: "routes[0].normalization", message: "'nope'")
    }

    // MARK: - Errors

    func testMisspeltKeywordIsAnUnknownKeyWithASuggestion() {
        let yaml = head + "routes:\n  - destinations: [telerad]\n    match: { StudyDescripton: CT }\n"
        assertError(
            yaml, .unknownKey, line: 10, column: 14, keyPath: "routes[0].match.StudyDescripton",
            message: "did you mean 'StudyDescription'?")
    }

    func testNonsenseKeyListsWhatIsAllowed() {
        let yaml = head + "routes:\n  - destinations: [telerad]\n    match: { colour: red }\n"
        assertError(
            yaml, .unknownKey, line: 10, column: 14, keyPath: "routes[0].match.colour", message: "a DICOM keyword")
    }

    func testSameAttributeTwiceByKeywordAndTag() {
        let yaml =
            head + "routes:\n  - destinations: [telerad]\n    match: { StudyDescription: A, \"(0008,1030)\": B }\n"
        assertError(
            yaml, .duplicateKey, line: 10, column: 50, keyPath: "routes[0].match.(0008,1030)",
            message: "already matched")
    }

    func testInvalidRegex() {
        let yaml =
            head + "routes:\n  - destinations: [telerad]\n    match: { StudyDescription: { regex: \"(stat\" } }\n"
        assertError(
            yaml, .invalidValue, line: 10, column: 41, keyPath: "routes[0].match.StudyDescription.regex",
            message: "not a valid regular expression")
    }

    func testTwoTestsInOneCriterion() {
        let yaml =
            head + "routes:\n  - destinations: [telerad]\n    match: { StudyDescription: { equals: A, regex: B } }\n"
        assertError(
            yaml, .invalidValue, line: 10, column: 52, keyPath: "routes[0].match.StudyDescription.regex",
            message: "one test per criterion")
    }

    func testBadSourceIP() {
        let yaml = head + "routes:\n  - destinations: [telerad]\n    match: { source_ip: 10.0.0.0/33 }\n"
        assertError(yaml, .invalidValue, line: 10, column: 25, keyPath: "routes[0].match.source_ip", message: "CIDR")
    }

    func testBadTimesAndDays() {
        assertError(
            head + "routes:\n  - destinations: [telerad]\n    match: { time: { from: \"25:00\" } }\n",
            .invalidValue, line: 10, column: 28, keyPath: "routes[0].match.time.from", message: "local time")
        assertError(
            head + "routes:\n  - destinations: [telerad]\n    match: { time: { days: weekdays } }\n",
            .invalidValue, line: 10, column: 28, keyPath: "routes[0].match.time.days", message: "mon-fri")
        assertError(
            head + "routes:\n  - destinations: [telerad]\n    match: { time: { from: \"07:00\", to: \"07:00\" } }\n",
            .invalidValue, line: 10, column: 41, keyPath: "routes[0].match.time.to", message: "equal")
    }

    func testUnknownTimeZone() {
        let yaml =
            head.replacingOccurrences(of: "Europe/Berlin", with: "Mars/Olympus")
            + "routes:\n  - destinations: [telerad]\n"
        assertError(yaml, .invalidValue, line: 4, column: 14, keyPath: "gateway.time_zone", message: "IANA")
    }

    func testBadRateAndScheduleEntry() {
        let bad = minimalYAML.replacingOccurrences(of: "port: 104", with: "port: 104\n    bandwidth: 20Mb")
        assertError(bad, .invalidValue, line: 8, column: 16, keyPath: "destinations[0].bandwidth", message: "Mbit/s")
        let tiny = minimalYAML.replacingOccurrences(of: "port: 104", with: "port: 104\n    bandwidth: 100B/s")
        assertError(tiny, .invalidValue, line: 8, column: 16, keyPath: "destinations[0].bandwidth", message: "below")
        let noLimit = minimalYAML.replacingOccurrences(
            of: "port: 104", with: "port: 104\n    bandwidth: { schedule: [{ days: sat }] }")
        assertError(
            noLimit, .missingKey, line: 8, column: 29, keyPath: "destinations[0].bandwidth.schedule[0].limit",
            message: "required")
    }
}
