import Foundation
import RadRelayTestSupport
import XCTest

/// Base class of the end-to-end tests: each test gets its own temp dir and ports; the Orthanc,
/// proxies and daemons it starts are stopped (by pid) in `tearDown`. When a test fails, the
/// daemon's and Orthanc's log tails are printed and the temp dir is kept for inspection.
class EndToEndTestCase: DaemonTestCase {
    override func makeFixture() throws -> DaemonTestFixture {
        try DaemonTestFixture(
            prefix: "radrelay-e2e",
            requiredTools: [StoreSCU.executable, EchoSCU.executable, OrthancProcess.executable.path],
            missingToolHint: "install dcmtk and orthanc (see README)",
            failureLogLines: 80)
    }

    /// The default test config: state in this test's dir, one `remote` destination.
    func makeConfig(remotePort: Int, associations: Int = 2) throws -> RadRelayTestConfig {
        RadRelayTestConfig(
            stateDirectory: fixture!.stateDirectory(),
            destinations: [.init(name: "remote", aeTitle: "ORTHANC", port: remotePort, associations: associations)]
        )
    }

    // MARK: - Assertions

    /// Sends `files` with DCMTK storescu and fails (with storescu's output and the daemon log) unless it
    /// succeeded.
    @discardableResult
    func storeOrFail(
        _ files: [URL],
        to daemon: RadRelayDaemonProcess,
        callingAE: String = "STORESCU",
        file: StaticString = #filePath,
        line: UInt = #line
    ) throws -> ProcessResult {
        let result = try StoreSCU.send(files: files, port: daemon.port, calledAE: "RADRELAY", callingAE: callingAE)
        if result.exitCode != 0 || result.timedOut {
            XCTFail(
                "storescu failed (exit \(result.exitCode), timed out: \(result.timedOut)):\n\(result.output)\n"
                    + daemon.failureContext(), file: file, line: line)
        }
        return result
    }

    /// Waits until every destination reports `count` delivered and nothing pending.
    @discardableResult
    func waitForAllDelivered(
        _ count: Int,
        daemon: RadRelayDaemonProcess,
        timeout: TimeInterval
    ) throws -> DaemonStatus {
        try daemon.waitForStatus("\(count) delivered, none pending", timeout: timeout) {
            $0.totalDelivered >= count && $0.totalPending == 0
        }
    }

    /// Asserts that Orthanc holds exactly `expected` SOP Instance UIDs.
    func assertOrthancHolds(
        _ expected: Set<String>,
        _ orthanc: OrthancProcess,
        file: StaticString = #filePath,
        line: UInt = #line
    ) throws {
        let stored = try orthanc.instanceUIDs()
        let missing = expected.subtracting(stored)
        let extra = stored.subtracting(expected)
        XCTAssert(
            missing.isEmpty && extra.isEmpty,
            "Orthanc: \(missing.count) missing (\(missing.prefix(3))…), "
                + "\(extra.count) unexpected (\(extra.prefix(3))…)",
            file: file, line: line)
    }
}
