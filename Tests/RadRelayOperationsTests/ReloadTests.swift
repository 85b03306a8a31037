import Foundation
import RadRelayTestSupport
import XCTest

#if canImport(Glibc)
    import Glibc
#endif

/// SIGHUP: an invalid file keeps the running configuration (and says where the error is); a
/// valid one applies a new allowlist to the next association, and normalization and
/// compression to the next object, without a restart, and names precisely the settings that
/// need one.
final class ReloadTests: OperationsTestCase {
    func testInvalidFileKeepsServingValidFileAppliesNewAllowlist() throws {
        let config = makeConfig(remotePort: freeLoopbackPort())
        let daemon = try makeDaemon(config)
        let port = try daemon.port()
        let pid = daemon.pid
        XCTAssertNotEqual(try EchoSCU.echo(port: port, calledAE: "RADRELAY", callingAE: "NEWCALLER").exitCode, 0)

        // An association held open across both reloads must survive them.
        let open = try RawDICOMClient(port: port)
        defer { open.close() }
        XCTAssertTrue(try open.requestAssociation(calledAE: "RADRELAY", callingAE: "STORESCU").isAccepted)

        // 1. A broken file: error with file and line, old config stays.
        try daemon.rewriteConfig(config.yaml + "logging:\n  level: loud\n")
        var before = daemon.notify.datagrams.count
        daemon.signal(SIGHUP)
        try daemon.notify.waitFor("READY=1 after failed reload", from: before) { $0.text.contains("READY=1") }
        try pollUntil("reload failure logged", timeout: 10, detail: daemon.logTail()) {
            daemon.log.contains("Configuration reload failed")
        }
        let failure = daemon.log.split(separator: "\n").first { $0.contains("Configuration reload failed") } ?? ""
        XCTAssertTrue(failure.contains("radrelay.yaml:"), "no file:line in \(failure)")
        XCTAssertTrue(failure.contains("CONFIG_LINE="), "\(failure)")
        XCTAssertEqual(try EchoSCU.echo(port: port, calledAE: "RADRELAY", callingAE: "STORESCU").exitCode, 0)
        XCTAssertNotEqual(try EchoSCU.echo(port: port, calledAE: "RADRELAY", callingAE: "NEWCALLER").exitCode, 0)

        // 2. A valid file with a new caller and a new port: the caller applies at once, the port
        //    waits for a restart and the reload says so.
        var updated = config
        updated.allowedCallers.append(.init(aeTitle: "NEWCALLER"))
        updated.port = freeLoopbackPort()
        try daemon.rewriteConfig(updated.yaml)
        before = daemon.notify.datagrams.count
        daemon.signal(SIGHUP)
        let reloading = try daemon.notify.waitFor("RELOADING=1", from: before) { $0.text.contains("RELOADING=1") }
        try daemon.notify.waitFor("READY=1", from: reloading.index) { $0.text.contains("READY=1") }
        let echo = try EchoSCU.echo(port: port, calledAE: "RADRELAY", callingAE: "NEWCALLER")
        XCTAssertEqual(echo.exitCode, 0, "new allowlist not applied: \(echo.output)\n\(daemon.logTail())")
        XCTAssertEqual(daemon.pid, pid)
        XCTAssertTrue(daemon.isRunning)
        let reloaded = daemon.log.split(separator: "\n").first { $0.contains("Configuration reloaded") } ?? ""
        XCTAssertTrue(reloaded.contains("RESTART_REQUIRED=gateway.port"), "\(reloaded)")
        XCTAssertEqual(try daemon.port(), port, "the port changed without a restart")

        // The association opened before the reloads still works.
        XCTAssertTrue(try open.release(), "association dropped by the reload")
    }

    /// Normalization profiles and a destination's `transfer_syntax` apply to objects prepared
    /// after the reload, also when the daemon started with neither; what was sent before keeps
    /// what it was sent with. Checked where it matters: in what Orthanc stored.
    func testReloadAppliesNormalizationAndCompressionToTheNextObject() throws {
        let orthanc = try OrthancProcess(directory: try temp.subdirectory("orthanc"))
        try orthanc.start()
        addCleanup { orthanc.stop() }
        var config = makeConfig(remotePort: orthanc.dicomPort)
        config.destinations[0].aeTitle = "ORTHANC"
        // No short idle timeout: the object after the reload finds the association still open,
        // and the sender must renegotiate for JPEG-LS rather than decompress it.
        let daemon = try makeDaemon(config)
        let pid = daemon.pid

        // 0: no normalization, no compression: as received.
        let plain = try sendOne(daemon, orthanc, name: "plain")
        // 1: a reload adds a profile (the daemon started without any).
        config.extraYAML = Self.profile(institution: "Site A")
        let first = try reload(daemon, config)
        XCTAssertEqual(field("APPLIED", in: first), "normalization_profiles,sources", first)
        XCTAssertEqual(field("RESTART_REQUIRED", in: first), "", first)
        let siteA = try sendOne(daemon, orthanc, name: "site-a")
        // 2: another profile value, and JPEG-LS for the destination.
        config.extraYAML = Self.profile(institution: "Site B")
        config.destinations[0].extraLines = ["transfer_syntax: jpeg-ls-lossless"]
        let second = try reload(daemon, config)
        XCTAssertEqual(
            field("APPLIED", in: second), "destinations.remote.transfer_syntax,normalization_profiles", second)
        XCTAssertEqual(field("RESTART_REQUIRED", in: second), "", second)
        let siteB = try sendOne(daemon, orthanc, name: "site-b")

        let jpegLS = "1.2.840.10008.1.2.4.80"
        let received = try transferSyntax(orthanc, plain)
        XCTAssertNotEqual(received, jpegLS)
        XCTAssertNotEqual(try institution(orthanc, plain), "Site A")
        XCTAssertEqual(try institution(orthanc, siteA), "Site A")
        XCTAssertEqual(try transferSyntax(orthanc, siteA), received)
        XCTAssertEqual(try institution(orthanc, siteB), "Site B")
        XCTAssertEqual(try transferSyntax(orthanc, siteB), jpegLS, "JPEG-LS after the reload")
        XCTAssertEqual(daemon.pid, pid)
        XCTAssertFalse(daemon.log.contains("Variant fell back"), daemon.logTail())
    }

    /// What a reload cannot apply is named key by key — destinations by name and field, added
    /// and removed ones, the routes that name them — in the log entry and the STATUS line, and
    /// nothing it did apply is listed there.
    func testRestartRequiredNamesEachSetting() throws {
        let original = makeConfig(remotePort: freeLoopbackPort())
        let daemon = try makeDaemon(original)

        var config = original
        config.maxAssociations = 12  // gateway.max_associations: restart
        config.destinations[0].port = freeLoopbackPort()  // destinations.remote.port: restart
        config.destinations[0].retryBaseDelay = "3s"  // destinations.remote.retry: live
        config.destinations[0].retryMaxDelay = "9s"
        config.destinations[0].extraLines = ["bandwidth: { limit: 10MB/s }"]  // live (issue 4)
        config.destinations.append(.init(name: "extra", aeTitle: "EXTRA", port: freeLoopbackPort(), associations: 1))
        config.extraYAML = "outbox:\n  lease: 5m\ncompression:\n  workers: 3\n  verify: false\n"
        let line = try reload(daemon, config)
        let restart = field("RESTART_REQUIRED", in: line)
        XCTAssertEqual(
            restart,
            "gateway.max_associations,destinations.remote.port,destinations.extra (added),routes,outbox.lease,"
                + "compression.workers", line)
        let applied = field("APPLIED", in: line)
        XCTAssertEqual(applied, "destinations.remote.retry,destinations.remote.bandwidth,compression.verify", line)
        try daemon.notify.waitFor("STATUS naming the restart", timeout: 10) {
            $0.text.contains("restart required: gateway.max_associations,destinations.remote.port")
        }
        // The status socket and radrelayctl say the same, for an admin who missed the log line.
        let pending = try daemon.json("/status")["restart_pending"] as? [String]
        XCTAssertEqual(pending?.first, "gateway.max_associations", "\(pending ?? [])")
        let human = try daemon.ctl(["status"])
        XCTAssertTrue(
            human.output.contains("restart required to apply: gateway.max_associations, destinations.remote.port"),
            human.output)

        // Back to the file the daemon started with: nothing waits for a restart any more.
        let reverted = try reload(daemon, original)
        XCTAssertEqual(field("RESTART_REQUIRED", in: reverted), "", reverted)
        XCTAssertEqual(try daemon.json("/status")["restart_pending"] as? [String], [])
        XCTAssertEqual(field("APPLIED", in: reverted), applied, reverted)
    }

    // MARK: - Helpers

    private static func profile(institution: String) -> String {
        """
        normalization_profiles:
          site:
            rules:
              - set: InstitutionName
                value: \(institution)
        sources:
          - calling_ae: STORESCU
            normalization: site

        """
    }

    /// Rewrites the file, sends SIGHUP, waits for READY=1 and returns the new "Configuration
    /// reloaded" log line.
    private func reload(_ daemon: OperationsDaemon, _ config: RadRelayTestConfig) throws -> String {
        try daemon.rewriteConfig(config.yaml)
        let count = daemon.log.components(separatedBy: "Configuration reloaded").count
        let before = daemon.notify.datagrams.count
        daemon.signal(SIGHUP)
        let reloading = try daemon.notify.waitFor("RELOADING=1", from: before) { $0.text.contains("RELOADING=1") }
        try daemon.notify.waitFor("READY=1", from: reloading.index) { $0.text.contains("READY=1") }
        try pollUntil("reload logged", timeout: 10, detail: daemon.logTail()) {
            daemon.log.components(separatedBy: "Configuration reloaded").count > count
        }
        return daemon.log.split(separator: "\n").last { $0.contains("Configuration reloaded") }.map(String.init) ?? ""
    }

    /// One field `NAME=value` of a stderr log line (`NAME="a b"` when the value has spaces).
    private func field(_ name: String, in line: String) -> String? {
        guard let range = line.range(of: " \(name)=") else { return nil }
        let rest = line[range.upperBound...]
        guard rest.first == "\"" else { return String(rest.prefix { $0 != " " }) }
        var value = ""
        var escaped = false
        for character in rest.dropFirst() {
            if escaped {
                value.append(character)
                escaped = false
            } else if character == "\\" {
                escaped = true
            } else if character == "\"" {
                break
            } else {
                value.append(character)
            }
        }
        return value
    }

    /// Sends one new CT object and waits until Orthanc has it; returns its Orthanc id.
    private func sendOne(_ daemon: OperationsDaemon, _ orthanc: OrthancProcess, name: String) throws -> String {
        let before = Set(try orthanc.instanceIDsByUID().keys)
        let result = try StoreSCU.send(
            files: try makeSeries(count: 1, name: name), port: try daemon.port(), calledAE: "RADRELAY")
        XCTAssertEqual(result.exitCode, 0, result.output)
        var id = ""
        try pollUntil("Orthanc has the \(name) object", timeout: 60, detail: daemon.logTail()) {
            let now = try orthanc.instanceIDsByUID()
            guard let uid = now.keys.first(where: { !before.contains($0) }) else { return false }
            id = now[uid]!
            return true
        }
        return id
    }

    private func institution(_ orthanc: OrthancProcess, _ id: String) throws -> String? {
        let tags = try SimpleHTTPClient.getJSON(orthanc.endpoint, path: "/instances/\(id)/simplified-tags", timeout: 10)
        return (tags as? [String: Any])?["InstitutionName"] as? String
    }

    private func transferSyntax(_ orthanc: OrthancProcess, _ id: String) throws -> String {
        let response = try SimpleHTTPClient.request(
            orthanc.endpoint, path: "/instances/\(id)/metadata/TransferSyntax", timeout: 10)
        return response.text.trimmingCharacters(in: .whitespacesAndNewlines)
    }
}
