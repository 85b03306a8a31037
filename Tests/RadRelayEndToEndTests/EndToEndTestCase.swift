import Foundation
import RadRelayTestSupport
import XCTest

/// Base class of the end-to-end tests: each test gets its own temp dir and ports; the Orthanc,
/// proxies and daemons it starts are stopped (by pid) in `tearDown`. When a test fails, the
/// daemon's and Orthanc's log tails are printed and the temp dir is kept for inspection.
class EndToEndTestCase: XCTestCase {
    /// This test's directory.
    var temp: TemporaryDirectory!
    /// Started peers, stopped in `tearDown` in reverse order.
    private var daemons: [RadRelayDaemonProcess] = []
    private var orthancs: [OrthancProcess] = []
    private var proxies: [TCPFaultProxy] = []
    private var cleanups: [() -> Void] = []

    override func setUpWithError() throws {
        try super.setUpWithError()
        continueAfterFailure = true
        for tool in [StoreSCU.executable, EchoSCU.executable, OrthancProcess.executable.path] {
            guard FileManager.default.isExecutableFile(atPath: tool) else {
                throw HarnessError("\(tool) is missing: install dcmtk and orthanc (see README)")
            }
        }
        temp = try TemporaryDirectory(prefix: "radrelay-e2e")
    }

    override func tearDown() {
        for cleanup in cleanups.reversed() { cleanup() }
        cleanups = []
        let failed = (testRun?.failureCount ?? 0) + (testRun?.unexpectedExceptionCount ?? 0) > 0
        for daemon in daemons.reversed() {
            daemon.stop()
            if failed { print(daemon.failureContext(lines: 80)) }
        }
        for proxy in proxies.reversed() { proxy.stop() }
        for orthanc in orthancs.reversed() {
            // SIGKILL: a test's Orthanc is thrown away, and SIGTERM costs ~2 s per instance.
            orthanc.kill()
            if failed { print("--- Orthanc log (\(orthanc.directory.path)) ---\n\(orthanc.logTail())\n--- end ---") }
        }
        daemons = []
        proxies = []
        orthancs = []
        if let temp {
            if failed && ProcessInfo.processInfo.environment["RADRELAY_E2E_CLEAN"] == nil {
                print("test failed: keeping \(temp.path) for inspection")
            } else {
                temp.remove()
            }
        }
        super.tearDown()
    }

    /// Registers work for `tearDown` (run before peers are stopped).
    func addCleanup(_ body: @escaping () -> Void) { cleanups.append(body) }

    // MARK: - Peers

    /// An Orthanc with its own directory; started unless `start` is false.
    func makeOrthanc(dicomPort: Int? = nil, start: Bool = true) throws -> OrthancProcess {
        var options = OrthancProcess.Options()
        options.dicomPort = dicomPort
        let orthanc = try OrthancProcess(
            directory: try temp.subdirectory("orthanc-\(orthancs.count)"), options: options)
        orthancs.append(orthanc)
        if start { try orthanc.start() }
        return orthanc
    }

    /// A started fault proxy to `port`.
    func makeProxy(to port: Int) throws -> TCPFaultProxy {
        let proxy = TCPFaultProxy(targetPort: port)
        try proxy.start()
        proxies.append(proxy)
        return proxy
    }

    /// The default test config: state in this test's dir, one `remote` destination.
    func makeConfig(remotePort: Int, associations: Int = 2) throws -> RadRelayTestConfig {
        let state = temp.url.appendingPathComponent("state").path
        return RadRelayTestConfig(
            stateDirectory: state,
            destinations: [.init(name: "remote", aeTitle: "ORTHANC", port: remotePort, associations: associations)]
        )
    }

    /// A daemon for `config`; started (and ready) unless `start` is false.
    func makeDaemon(_ config: RadRelayTestConfig, start: Bool = true) throws -> RadRelayDaemonProcess {
        let daemon = try RadRelayDaemonProcess(
            config: config, directory: try temp.subdirectory("daemon-\(daemons.count)"))
        daemons.append(daemon)
        if start { try daemon.start() }
        return daemon
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
