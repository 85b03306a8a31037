import Foundation
import RadRelayTestSupport
import XCTest

#if canImport(Glibc)
    import Glibc
#endif

/// The built radrelayd run the way systemd runs it: with a fake `NOTIFY_SOCKET`, optionally a
/// watchdog (`WATCHDOG_USEC`), and optionally a fake journal — the daemon then runs in a private
/// mount namespace (`unshare --mount`) where `/run/systemd/journal` is this test's directory, so
/// libsystemd's `sd_journal_sendv` writes into the test's socket, and `JOURNAL_STREAM` names its
/// stderr as systemd would.
final class OperationsDaemon: @unchecked Sendable {
    let directory: URL
    let configURL: URL
    let logURL: URL
    let stateDirectory: URL
    let notify: DatagramSink
    let journal: DatagramSink?
    private let child: ChildProcess

    init(
        config: RadRelayTestConfig,
        directory: URL,
        watchdogSeconds: Double? = nil,
        fakeJournal: Bool = false
    ) throws {
        self.directory = directory
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        configURL = directory.appendingPathComponent("radrelay.yaml")
        try config.yaml.write(to: configURL, atomically: true, encoding: .utf8)
        logURL = directory.appendingPathComponent("radrelayd.log")
        _ = FileManager.default.createFile(atPath: logURL.path, contents: nil)
        stateDirectory = URL(fileURLWithPath: config.stateDirectory)
        notify = try DatagramSink(path: directory.appendingPathComponent("notify.sock").path)
        let binary = try RadRelayDaemonProcess.binaryURL()
        var environment = ["TCP_NODELAY": "1", "NOTIFY_SOCKET": notify.path]
        if let watchdogSeconds { environment["WATCHDOG_USEC"] = String(Int(watchdogSeconds * 1_000_000)) }
        if fakeJournal {
            let journalDirectory = directory.appendingPathComponent("journal")
            try FileManager.default.createDirectory(at: journalDirectory, withIntermediateDirectories: true)
            journal = try DatagramSink(path: journalDirectory.appendingPathComponent("socket").path)
            var info = stat()
            stat(logURL.path, &info)
            environment["JOURNAL_STREAM"] = "\(info.st_dev):\(info.st_ino)"
            let script =
                "mount -t tmpfs tmpfs /run && mkdir -p /run/systemd/journal && "
                + "mount --bind \"$0\" /run/systemd/journal && exec \"$@\""
            child = ChildProcess(
                executable: URL(fileURLWithPath: "/usr/bin/unshare"),
                arguments: [
                    "--mount", "--propagation", "private", "/bin/sh", "-c", script, journalDirectory.path, binary.path,
                    "--config", configURL.path,
                ],
                logURL: logURL, environment: environment)
        } else {
            journal = nil
            child = ChildProcess(
                executable: binary, arguments: ["--config", configURL.path], logURL: logURL, environment: environment)
        }
    }

    var controlSocket: String { stateDirectory.appendingPathComponent("control.sock").path }
    var pid: Int32 { child.pid }
    var isRunning: Bool { child.isRunning }

    /// Starts the daemon and waits for READY=1 on the notify socket; returns the READY datagram.
    @discardableResult
    func start() throws -> DatagramSink.Datagram {
        try child.start()
        var found: DatagramSink.Datagram?
        try pollUntil("READY=1", timeout: 60, interval: 0.02, detail: child.logTail()) {
            if let ready = notify.datagrams.first(where: { $0.text.split(separator: "\n").contains("READY=1") }) {
                found = ready
                return true
            }
            if !child.isRunning { throw HarnessError("radrelayd exited before READY=1:\n\(child.logTail())") }
            return false
        }
        return found!
    }

    func signal(_ number: Int32) { child.send(signal: number) }

    func terminate(timeout: TimeInterval = 30) -> Int32? {
        child.send(signal: SIGTERM)
        return child.waitForExit(timeout: timeout)
    }

    func stop() {
        child.stop(timeout: 15)
        notify.stop()
        journal?.stop()
    }

    func rewriteConfig(_ yaml: String) throws {
        try yaml.write(to: configURL, atomically: true, encoding: .utf8)
    }

    var log: String { (try? String(contentsOf: logURL, encoding: .utf8)) ?? "" }
    func logTail() -> String { child.logTail(lines: 80) }

    /// `GET path` on the control socket, decoded as a JSON object.
    func json(_ path: String) throws -> [String: Any] {
        let response = try SimpleHTTPClient.request(.unix(path: controlSocket), path: path, timeout: 10)
        guard response.status == 200, let object = try JSONSerialization.jsonObject(with: response.body) as? [String: Any]
        else { throw HarnessError("GET \(path): HTTP \(response.status) \(response.text)") }
        return object
    }

    /// The DICOM port from the status.
    func port() throws -> Int { ((try json("/status"))["listener"] as? [String: Any])?["port"] as? Int ?? 0 }

    /// Runs the built radrelayctl against this daemon's socket.
    func ctl(_ arguments: [String], timeout: TimeInterval = 30) throws -> ProcessResult {
        let binary = try RadRelayDaemonProcess.binaryURL(named: "radrelayctl")
        return try ProcessRunner.run(binary.path, arguments + ["--socket", controlSocket], timeout: timeout)
    }
}

/// Base class: a temp dir per test; daemons and peers stopped in tearDown; logs printed on failure.
/// The daemons here are `OperationsDaemon`s (run as systemd runs them), so only the temp dir and
/// the cleanups come from `DaemonTestFixture`.
class OperationsTestCase: XCTestCase {
    /// This test's temp dir and cleanups (see `DaemonTestFixture`).
    private var fixture: DaemonTestFixture?
    /// This test's directory.
    var temp: TemporaryDirectory! { fixture?.temp }
    private var daemons: [OperationsDaemon] = []

    override func setUpWithError() throws {
        try super.setUpWithError()
        continueAfterFailure = true
        fixture = try DaemonTestFixture(prefix: "radrelay-ops")
    }

    override func tearDown() {
        let failed = (testRun?.failureCount ?? 0) + (testRun?.unexpectedExceptionCount ?? 0) > 0
        // Daemons stop before the cleanups run (a cleanup may unmount a daemon's state dir).
        for daemon in daemons.reversed() {
            daemon.stop()
            if failed { print("--- radrelayd log (\(daemon.logURL.path)) ---\n\(daemon.logTail())\n--- end ---") }
        }
        daemons = []
        fixture?.tearDown(failed: failed)
        fixture = nil
        super.tearDown()
    }

    func addCleanup(_ body: @escaping () -> Void) { fixture!.addCleanup(body) }

    /// A config with state in this test's dir and one destination `remote` on `remotePort`.
    func makeConfig(remotePort: Int, name: String = "state") -> RadRelayTestConfig {
        RadRelayTestConfig(
            stateDirectory: fixture!.stateDirectory(name),
            destinations: [.init(name: "remote", aeTitle: "REMOTE", port: remotePort, associations: 1)]
        )
    }

    func makeDaemon(
        _ config: RadRelayTestConfig,
        watchdogSeconds: Double? = nil,
        fakeJournal: Bool = false,
        start: Bool = true
    ) throws -> OperationsDaemon {
        let daemon = try OperationsDaemon(
            config: config, directory: try temp.subdirectory("daemon-\(daemons.count)"),
            watchdogSeconds: watchdogSeconds, fakeJournal: fakeJournal)
        daemons.append(daemon)
        if start { try daemon.start() }
        return daemon
    }

    /// Small synthetic CT files (64×64) with a sentinel patient name.
    func makeSeries(count: Int, patientName: String = "SENTINEL^PHI^NAME", name: String = "ct") throws -> [URL] {
        let dir = try temp.subdirectory(name)
        try TestData.makeCTSeries(
            count: count, in: dir, rows: 64, columns: 64,
            extraArguments: ["--patient-name", patientName, "--patient-id", "SENTINEL-PID-4711"])
        return try FileManager.default.contentsOfDirectory(at: dir, includingPropertiesForKeys: nil)
            .filter { $0.pathExtension == "dcm" }.sorted { $0.path < $1.path }
    }
}
