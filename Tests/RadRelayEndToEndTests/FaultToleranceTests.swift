import Foundation
import RadRelayTestSupport
import XCTest

/// Crashes and outages: `kill -9` of the daemon mid-forwarding, and a remote that is down when the
/// study is sent (issue 2, "Tests that must exist and pass").
final class FaultToleranceTests: EndToEndTestCase {
    /// The daemon is killed with SIGKILL while it forwards (slowed by the proxy), then restarted:
    /// every object arrives, and counting the C-STOREs Orthanc received, at most one re-send per
    /// kill and per association.
    func testKill9DuringForwardingLosesNothing() throws {
        let series = try SharedTestData.shared.ctSeries100()
        let orthanc = try makeOrthanc()
        let proxy = try makeProxy(to: orthanc.dicomPort)
        // ~52 MB at 4 MB/s: forwarding would take ~13 s, so the kill lands mid-transfer even when
        // ingest is slow.
        proxy.bytesPerSecond = 4_000_000
        let associations = 2
        let daemon = try makeDaemon(try makeConfig(remotePort: proxy.port, associations: associations))

        try storeOrFail(series.files, to: daemon)
        try pollUntil(
            "forwarding under way (≥ 25 objects at Orthanc)", timeout: 60,
            detail: { "received \(orthanc.receivedStoreLog().count)\n\(daemon.failureContext())" }
        ) {
            orthanc.receivedStoreLog().count >= 25
        }
        let receivedAtKill = orthanc.receivedStoreLog().count
        daemon.kill9()
        let kills = 1
        XCTAssertLessThan(receivedAtKill, 100, "forwarding had finished before the kill: the test proves nothing")

        proxy.bytesPerSecond = nil
        try daemon.restart()
        try waitForAllDelivered(100, daemon: daemon, timeout: 120)
        try pollUntil("all 100 UIDs at Orthanc", timeout: 30, detail: { daemon.failureContext() }) {
            Set(orthanc.receivedStoreCounts().keys).isSuperset(of: series.uids)
        }

        try assertOrthancHolds(series.uids, orthanc)
        let counts = orthanc.receivedStoreCounts()
        let overTwice = counts.filter { $0.value > 2 }
        let twice = counts.filter { $0.value == 2 }
        XCTAssertTrue(overTwice.isEmpty, "UIDs sent more than twice: \(overTwice)")
        XCTAssertLessThanOrEqual(
            twice.count, kills * associations,
            "\(twice.count) UIDs re-sent with \(kills) kill(s) × \(associations) associations: \(twice.keys.sorted())")
        XCTAssertEqual(try daemon.status().totalDead, 0)
        let stored = try orthanc.pixelDataSHA256ByUID()
        let differing = series.pixelHashes.filter { stored[$0.key] != $0.value }
        XCTAssertTrue(differing.isEmpty, "\(differing.count) instances with different pixel data")
        print(
            "e2e: kill -9 after \(receivedAtKill) received; re-sent UIDs: \(twice.count); "
                + "total C-STOREs \(counts.values.reduce(0, +))"
        )
    }

    /// The remote is down while 24 slices are sent: storescu still succeeds (the gateway answers
    /// once objects are durable), the waiting daemon uses ≤ 0.2 s CPU per 20 s, and when Orthanc
    /// comes up on that port everything arrives without a gateway restart.
    func testRemoteDownThenUp() throws {
        let series = try SharedTestData.shared.ctSeries100().prefix(24)
        let orthanc = try makeOrthanc(start: false)
        let daemon = try makeDaemon(try makeConfig(remotePort: orthanc.dicomPort))
        let daemonPid = daemon.pid

        try storeOrFail(series.files, to: daemon)
        try daemon.waitForStatus("24 objects pending", timeout: 30) { $0.totalPending == 24 }
        // Also proves the harness looks at the right spool (the "leaves nothing" checks elsewhere
        // would pass vacuously otherwise).
        let spooled = daemon.spoolFiles().filter { !$0.hasPrefix("incoming/") }
        XCTAssertGreaterThanOrEqual(
            spooled.count, 24, "expected the 24 pending objects in \(daemon.spoolDirectory.path)")

        let cpuBefore = try daemon.cpuSeconds()
        let window = 20.0
        // A measurement window, not synchronization: the daemon must idle through it.
        Thread.sleep(forTimeInterval: window)
        let cpu = try daemon.cpuSeconds() - cpuBefore
        print(String(format: "e2e: daemon CPU while the remote was down: %.3f s in %.0f s", cpu, window))
        XCTAssertLessThanOrEqual(cpu, 0.2, "daemon used \(cpu) s CPU in \(window) s waiting for a down remote")
        let waiting = try daemon.status()
        XCTAssertEqual(waiting.totalPending, 24, waiting.json)
        XCTAssertEqual(waiting.totalDead, 0, "a destination-level failure dead-lettered objects: \(waiting.json)")

        try orthanc.start()
        try waitForAllDelivered(24, daemon: daemon, timeout: 60)
        XCTAssertEqual(daemon.pid, daemonPid, "the gateway was restarted")
        try assertOrthancHolds(series.uids, orthanc)
        let notOnce = orthanc.receivedStoreCounts().filter { $0.value != 1 }
        XCTAssertTrue(notOnce.isEmpty, "C-STOREs per UID other than 1: \(notOnce)")
    }
}
