import Foundation
import RadRelayCore
import RadRelayTestSupport
import XCTest

#if canImport(Glibc)
    import Glibc
#endif

/// The watchdog rule of issue 6 at the daemon level: `WATCHDOG=1` only while every loop has
/// ticked its heartbeat within a quarter of the watchdog interval. A healthy idle daemon is fed
/// for as long as it runs; a forwarder stuck in a send (the `forward-before-send` stall point,
/// debug builds only) stops the keep-alives within that quarter, and STATUS=, the status socket
/// and `/healthz` name the stuck loop.
final class WatchdogStallTests: OperationsTestCase {
    /// The watchdog interval of these tests: staleness after 0.5 s, a supervisor round every 0.25 s.
    private let watchdogSeconds = 2.0

    func testHealthyIdleDaemonIsFedForSeveralIntervals() throws {
        var config = makeConfig(remotePort: freeLoopbackPort())
        config.extraYAML = "metrics:\n  enabled: true\n  bind: 127.0.0.1\n  port: 0\n"
        let daemon = try startDaemon(config)
        let readyAt = try daemon.notify.waitFor("READY=1") { $0.text.contains("READY=1") }.datagram.at

        // Three whole watchdog intervals with nothing to do: every loop ticks while idle.
        Thread.sleep(forTimeInterval: 3 * watchdogSeconds)  // idle time itself is what is tested
        let pings = daemon.notify.datagrams.filter { $0.text == "WATCHDOG=1" && $0.at >= readyAt }.map(\.at)
        XCTAssertGreaterThanOrEqual(pings.count, 12, "too few keep-alives in three intervals: \(pings.count)")
        let gaps = zip(pings.dropFirst(), pings).map { $0 - $1 }
        XCTAssertLessThan(gaps.max() ?? .infinity, watchdogSeconds / 2, "keep-alive gap: \(gaps.max() ?? 0)")
        XCTAssertLessThan(
            monotonicSeconds() - (pings.last ?? 0), watchdogSeconds / 2, "keep-alives stopped while idle")
        XCTAssertFalse(daemon.notify.datagrams.contains { $0.text.contains("STALLED") })
        XCTAssertEqual(try daemon.staleLoops(), [])
        XCTAssertEqual(try daemon.healthz().status, 200)
    }

    func testStuckForwarderStopsTheWatchdogAndIsNamed() throws {
        guard FaultPoint.isCompiledIn else { throw XCTSkip("fault points are compiled out of this (release) build") }
        try requireStallPoints()
        var config = makeConfig(remotePort: freeLoopbackPort())
        config.extraYAML = "metrics:\n  enabled: true\n  bind: 127.0.0.1\n  port: 0\n"
        let daemon = try startDaemon(config, stalls: "forward-before-send")

        // Idle and healthy first: fed, nothing stale.
        let ready = try daemon.notify.waitFor("READY=1") { $0.text.contains("READY=1") }
        try daemon.notify.waitFor("WATCHDOG=1 while idle", from: ready.index, timeout: 5) { $0.text == "WATCHDOG=1" }
        XCTAssertEqual(try daemon.healthz().status, 200)

        // One object: the worker claims it, prepares it, and never sends it.
        let result = try StoreSCU.send(files: try makeSeries(count: 1), port: try daemon.port(), calledAE: "RADRELAY")
        XCTAssertEqual(result.exitCode, 0, result.output)
        var stalledAt = 0.0
        try pollUntil("the forwarder reaches the stall point", timeout: 20, interval: 0.02, detail: daemon.logTail()) {
            guard daemon.log.contains("fault point forward-before-send hit 1: stalled") else { return false }
            stalledAt = monotonicSeconds()
            return true
        }

        // Stale after a quarter of the interval (0.5 s) + one supervisor round (0.25 s) + slack;
        // then nothing for well over that.
        let deadline = stalledAt + watchdogSeconds / 4 + watchdogSeconds / 8 + 0.5
        Thread.sleep(forTimeInterval: max(0, deadline + 1.5 - monotonicSeconds()))
        let late = daemon.notify.datagrams.filter { $0.text == "WATCHDOG=1" && $0.at > deadline }
        XCTAssertTrue(late.isEmpty, "\(late.count) WATCHDOG=1 after the forwarder stalled")
        XCTAssertTrue(daemon.isRunning, "the daemon must keep running: systemd, not radrelay, kills it")

        let loop = "forwarder.remote.0"
        let status = try daemon.notify.waitFor("STATUS naming the stalled loop", from: ready.index, timeout: 5) {
            $0.text.hasPrefix("STATUS=STALLED") && $0.text.contains(loop)
        }
        XCTAssertLessThan(status.datagram.at, deadline + 0.5, "STATUS named the stall late")
        XCTAssertEqual(try daemon.staleLoops(), [loop], "only the stuck worker is stale")
        let health = try daemon.healthz()
        XCTAssertEqual(health.status, 503)
        XCTAssertTrue(health.text.contains(loop), health.text)
        XCTAssertTrue(daemon.log.contains("Watchdog keep-alive withheld"), daemon.logTail())
    }

    /// The other side of the rule: a remote that is slow but within its timeouts (storescp
    /// sleeping 2 s before each C-STORE-RSP, four times the 0.5 s staleness) must not make the
    /// daemon look stuck — the worker declares the wait with the destination's own timeouts.
    func testSlowButHealthyRemoteKeepsTheWatchdogFed() throws {
        let remote = try StoreSCPProcess(
            aeTitle: "REMOTE", directory: try temp.subdirectory("slow-remote"), extraArguments: ["--sleep-during", "2"])
        try remote.start()
        addCleanup { remote.stop() }
        let daemon = try startDaemon(makeConfig(remotePort: remote.port))
        let ready = try daemon.notify.waitFor("READY=1") { $0.text.contains("READY=1") }

        let result = try StoreSCU.send(files: try makeSeries(count: 2), port: try daemon.port(), calledAE: "RADRELAY")
        XCTAssertEqual(result.exitCode, 0, result.output)
        try pollUntil("the slow remote has both objects", timeout: 30, interval: 0.1, detail: remote.log()) {
            remote.receivedFiles().count == 2
        }
        let pings = daemon.notify.datagrams.filter { $0.text == "WATCHDOG=1" && $0.at >= ready.datagram.at }.map(\.at)
        let gaps = zip(pings.dropFirst(), pings).map { $0 - $1 }
        XCTAssertLessThan(gaps.max() ?? .infinity, watchdogSeconds / 2, "keep-alives paused during a slow send")
        XCTAssertFalse(daemon.notify.datagrams.contains { $0.text.contains("STALLED") }, daemon.logTail())
        XCTAssertFalse(daemon.log.contains("Watchdog keep-alive withheld"), daemon.logTail())
        XCTAssertEqual(try daemon.staleLoops(), [])
    }

    // MARK: - Harness

    /// The daemon binary must have the stall points (a debug build of this checkout).
    private func requireStallPoints() throws {
        let binary = try RadRelayDaemonProcess.binaryURL()
        let data = try Data(contentsOf: binary, options: .alwaysMapped)
        guard data.range(of: Data("RADRELAY_FAULT_STALLS".utf8)) != nil else {
            throw XCTSkip("\(binary.path) has no stall points (a release build?)")
        }
    }

    /// radrelayd with a fake NOTIFY_SOCKET, WATCHDOG_USEC and optionally stall points armed;
    /// killed with SIGKILL at the end (a stalled send never lets a graceful stop finish).
    private func startDaemon(_ config: RadRelayTestConfig, stalls: String? = nil) throws -> WatchdogDaemon {
        let daemon = try WatchdogDaemon(
            config: config, directory: try temp.subdirectory("watchdog-daemon"), watchdogSeconds: watchdogSeconds,
            stalls: stalls)
        addCleanup { [weak self] in
            let failed = (self?.testRun?.failureCount ?? 0) + (self?.testRun?.unexpectedExceptionCount ?? 0) > 0
            daemon.kill()
            if failed { print("--- radrelayd log (\(daemon.logURL.path)) ---\n\(daemon.logTail())\n--- end ---") }
        }
        try daemon.start()
        return daemon
    }
}

/// A radrelayd child as systemd would run it with `WatchdogSec=`, plus `RADRELAY_FAULT_STALLS`.
private final class WatchdogDaemon: @unchecked Sendable {
    let logURL: URL
    let notify: DatagramSink
    private let controlSocket: String
    private let child: ChildProcess

    init(config: RadRelayTestConfig, directory: URL, watchdogSeconds: Double, stalls: String?) throws {
        let configURL = directory.appendingPathComponent("radrelay.yaml")
        try config.yaml.write(to: configURL, atomically: true, encoding: .utf8)
        logURL = directory.appendingPathComponent("radrelayd.log")
        notify = try DatagramSink(path: directory.appendingPathComponent("notify.sock").path)
        controlSocket = URL(fileURLWithPath: config.stateDirectory).appendingPathComponent("control.sock").path
        var environment = [
            "TCP_NODELAY": "1", "NOTIFY_SOCKET": notify.path,
            "WATCHDOG_USEC": String(Int(watchdogSeconds * 1_000_000)),
        ]
        if let stalls { environment["RADRELAY_FAULT_STALLS"] = stalls }
        child = ChildProcess(
            executable: try RadRelayDaemonProcess.binaryURL(), arguments: ["--config", configURL.path], logURL: logURL,
            environment: environment)
    }

    func start() throws {
        try child.start()
        try pollUntil("READY=1", timeout: 60, interval: 0.02, detail: child.logTail()) {
            if notify.datagrams.contains(where: { $0.text.split(separator: "\n").contains("READY=1") }) { return true }
            if !child.isRunning { throw HarnessError("radrelayd exited before READY=1:\n\(child.logTail())") }
            return false
        }
    }

    var isRunning: Bool { child.isRunning }
    var log: String { (try? String(contentsOf: logURL, encoding: .utf8)) ?? "" }
    func logTail() -> String { child.logTail(lines: 80) }

    func kill() {
        child.killNow()
        notify.stop()
    }

    private func status() throws -> [String: Any] {
        let response = try SimpleHTTPClient.request(.unix(path: controlSocket), path: "/status", timeout: 10)
        guard response.status == 200,
            let object = try JSONSerialization.jsonObject(with: response.body) as? [String: Any]
        else { throw HarnessError("GET /status: HTTP \(response.status) \(response.text)") }
        return object
    }

    func port() throws -> Int { ((try status())["listener"] as? [String: Any])?["port"] as? Int ?? 0 }

    /// `stale_loops` of the status report (absent means none).
    func staleLoops() throws -> [String] { (try status())["stale_loops"] as? [String] ?? [] }

    /// `GET /healthz` on the metrics endpoint.
    func healthz() throws -> SimpleHTTPClient.Response {
        let metrics = try XCTUnwrap((try status())["metrics"] as? [String: Any])
        let port = try XCTUnwrap(metrics["port"] as? Int)
        return try SimpleHTTPClient.request(.tcp(host: "127.0.0.1", port: port), path: "/healthz")
    }
}
