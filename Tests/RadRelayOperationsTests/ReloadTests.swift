import Foundation
import RadRelayTestSupport
import XCTest

#if canImport(Glibc)
    import Glibc
#endif

/// SIGHUP: an invalid file keeps the running configuration (and says where the error is); a
/// valid one applies a new allowlist to the next association without a restart, and names the
/// settings that need one.
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
}
