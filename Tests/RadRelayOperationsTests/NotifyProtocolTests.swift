import Foundation
import RadRelayTestSupport
import XCTest

#if canImport(Glibc)
    import Glibc
#endif

/// sd_notify as systemd sees it, through a fake NOTIFY_SOCKET: READY only once the port accepts,
/// WATCHDOG=1 at a quarter of the interval, STATUS with the queue summary, RELOADING/READY on
/// SIGHUP, STOPPING on SIGTERM.
final class NotifyProtocolTests: OperationsTestCase {
    func testReadyWatchdogStatusReloadAndStopping() throws {
        let config = makeConfig(remotePort: freeLoopbackPort())
        let daemon = try makeDaemon(config, watchdogSeconds: 2, start: false)
        let ready = try daemon.start()

        // READY=1 comes with a STATUS naming the port, and at that moment the port accepts.
        let status = ready.text.split(separator: "\n").first { $0.hasPrefix("STATUS=") } ?? ""
        let port = status.split(separator: " ").drop { $0 != "STATUS=port" }.dropFirst().first
            .flatMap { Int($0.trimmingCharacters(in: CharacterSet(charactersIn: ","))) }
        XCTAssertNotNil(port, "READY without the port in STATUS: \(ready.text)")
        if let port {
            let fd = try Socket.connectTCP(host: "127.0.0.1", port: port, timeout: 2)
            close(fd)
        }
        XCTAssertTrue(status.contains("pending 0"), "STATUS lacks the queue summary: \(status)")
        XCTAssertFalse(
            daemon.notify.datagrams.prefix { !$0.text.contains("READY=1") }.contains { $0.text.contains("WATCHDOG=1") },
            "WATCHDOG=1 before READY=1")

        // WATCHDOG=1 every ~0.5 s (a quarter of 2 s) while idle: a healthy idle daemon is fed.
        let readyIndex = daemon.notify.datagrams.firstIndex { $0.text.contains("READY=1") } ?? 0
        Thread.sleep(forTimeInterval: 2.2)  // the cadence itself is what is measured
        let pings = daemon.notify.datagrams.dropFirst(readyIndex).filter { $0.text == "WATCHDOG=1" }.map(\.at)
        XCTAssertGreaterThanOrEqual(pings.count, 3, "too few keep-alives in 2.2 s: \(pings.count)")
        let gaps = zip(pings.dropFirst(), pings).map { $0 - $1 }
        XCTAssertLessThan(gaps.max() ?? 0, 1.0, "a keep-alive gap of half the interval or more: \(gaps)")

        // SIGHUP: RELOADING=1, then READY=1 again.
        let before = daemon.notify.datagrams.count
        daemon.signal(SIGHUP)
        let reloading = try daemon.notify.waitFor("RELOADING=1", from: before) { $0.text.contains("RELOADING=1") }
        XCTAssertTrue(reloading.datagram.text.contains("MONOTONIC_USEC="))
        try daemon.notify.waitFor("READY=1 after reload", from: reloading.index + 1) { $0.text.contains("READY=1") }
        XCTAssertTrue(daemon.isRunning)

        // SIGTERM: STOPPING=1, exit 0.
        let beforeStop = daemon.notify.datagrams.count
        XCTAssertEqual(daemon.terminate(), 0, daemon.logTail())
        XCTAssertTrue(
            daemon.notify.datagrams.dropFirst(beforeStop).contains { $0.text.contains("STOPPING=1") },
            "no STOPPING=1: \(daemon.notify.datagrams.dropFirst(beforeStop).map(\.text))")
    }

    func testStatusLineFollowsTheQueue() throws {
        let config = makeConfig(remotePort: freeLoopbackPort())
        let daemon = try makeDaemon(config)
        let files = try makeSeries(count: 3)
        let result = try StoreSCU.send(files: files, port: try daemon.port(), calledAE: "RADRELAY")
        XCTAssertEqual(result.exitCode, 0, result.output)
        // Nothing listens at the destination: the three wait, and STATUS says so.
        try daemon.notify.waitFor("STATUS with 3 pending", timeout: 20) { $0.text.contains("pending 3") }
    }
}
