import Foundation
import RadRelayTestSupport
import XCTest

/// The daemon's process contract: `--check-config`, one instance per state directory, SIGTERM
/// drains and exits 0.
final class LifecycleTests: EndToEndTestCase {
    func testCheckConfigAcceptsGoodAndRejectsBadConfig() throws {
        let good = try makeConfig(remotePort: freeLoopbackPort())
        let goodURL = temp.file("good.yaml")
        try good.yaml.write(to: goodURL, atomically: true, encoding: .utf8)
        let ok = try RadRelayDaemonProcess.checkConfig(goodURL)
        XCTAssertEqual(ok.exitCode, 0, ok.output)

        var bad = good
        bad.destinations[0].port = 70000
        let badURL = temp.file("bad.yaml")
        try bad.yaml.write(to: badURL, atomically: true, encoding: .utf8)
        let refused = try RadRelayDaemonProcess.checkConfig(badURL)
        XCTAssertEqual(refused.exitCode, 1, refused.output)
        XCTAssertTrue(refused.output.contains("port"), "error does not name the key: \(refused.output)")
    }

    func testSecondInstanceOnSameStateDirectoryExits() throws {
        let config = try makeConfig(remotePort: freeLoopbackPort())
        let first = try makeDaemon(config)
        let second = try makeDaemon(config, start: false)
        // Not `start()`: the control socket that would answer is the first daemon's.
        try second.launch()
        let status = second.waitForExit(timeout: 30)
        XCTAssertNotNil(status, "a second daemon keeps running on the same state dir")
        XCTAssertNotEqual(status, 0)
        XCTAssertFalse(second.logTail().isEmpty, "second daemon exited without a message")
        XCTAssertTrue(first.isRunning)
        XCTAssertNoThrow(try first.status())
    }

    func testSIGTERMExitsZero() throws {
        let daemon = try makeDaemon(try makeConfig(remotePort: freeLoopbackPort()))
        XCTAssertEqual(try daemon.terminate(timeout: 30), 0, daemon.failureContext())
    }
}
