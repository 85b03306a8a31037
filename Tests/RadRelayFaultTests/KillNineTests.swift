import Foundation
import RadRelayTestSupport
import XCTest

/// `kill -9` at random moments, with a restart each time (issue 7): during ingest, and during
/// forwarding. `RADRELAY_FAULT_CYCLES` cycles (5 in the default test run, 50 in `make faults`).
final class KillNineTests: FaultTestCase {
    /// Kills land while objects are being received (the remote is down, so nothing is forwarded):
    /// every object that got 0x0000 is queued after each restart, nothing half-written survives,
    /// and once the remote comes up each acknowledged object arrives exactly once.
    func testKill9AtRandomMomentsDuringIngest() throws {
        let cycles = FaultSuite.cycles
        let perCycle = 30
        let files = try series(cycles * perCycle)
        let orthanc = try makeOrthanc(start: false)
        let daemon = try makeDaemon(makeConfig(remotePort: orthanc.dicomPort))
        var rng = SystemRandomNumberGenerator()
        var acknowledged = Set<String>()
        var midStore = 0
        var unacknowledgedInFlight = 0

        for cycle in 0..<cycles {
            let batch = Array(files[(cycle * perCycle)..<((cycle + 1) * perCycle)])
            let log = SendLog()
            let port = daemon.port
            let done = DispatchSemaphore(value: 0)
            Thread.detachNewThread {
                FaultTestCase.send(batch, port: port, into: log)
                done.signal()
            }
            // A random moment inside the batch's ingest: after a random number of acknowledged
            // objects, a random 0–4 ms into the next one (an object takes a few ms, so the kill
            // lands in any phase: receiving, validating, fsync, commit, response).
            let after = Int.random(in: 0..<(perCycle - 1), using: &rng)
            let deadline = monotonicSeconds() + 30
            while log.statuses.count < after && log.error == nil && monotonicSeconds() < deadline {
                Thread.sleep(forTimeInterval: 0.0005)
            }
            Thread.sleep(forTimeInterval: Double.random(in: 0...0.004, using: &rng))
            daemon.kill9()
            done.wait()
            if log.inFlight != nil { midStore += 1 }
            if log.statuses.count < batch.count { unacknowledgedInFlight += 1 }
            acknowledged.formUnion(log.acknowledged)
            XCTAssertEqual(
                log.statuses.filter { $0.status != 0 }.count, 0, "cycle \(cycle): non-success statuses \(log.statuses)")
            try daemon.restart()
            try assertLiveInvariants(daemon, acknowledged: acknowledged)
        }
        XCTAssertGreaterThan(midStore, 0, "no kill landed while a store was in flight: the test proved little")

        try orthanc.start()
        try waitFor(daemon, "everything delivered", timeout: 180) { $0.totalPending == 0 && $0.totalDelivered > 0 }
        try pollUntil("Orthanc logged every delivery", timeout: 30) {
            Set(orthanc.receivedStoreCounts().keys).isSuperset(of: acknowledged)
        }
        var expect = OutboxInvariants.Expectations()
        expect.acknowledged = acknowledged
        expect.requireDelivered = true
        expect.remoteCounts = orthanc.receivedStoreCounts()
        expect.allowedResends = 0  // nothing was forwarded before the remote came up
        expect.maxStoresPerUID = 1
        try assertInvariants(
            daemon, expect, case: "kill -9 during ingest", runs: cycles,
            note: "\(acknowledged.count) acknowledged, \(midStore) kills mid-store")
    }

    /// Kills land while deliveries are being sent (the remote sits behind a throttling proxy so a
    /// kill finds objects on the wire): nothing acknowledged is lost, and the remote sees at most
    /// one re-send per kill and association.
    func testKill9AtRandomMomentsDuringForwarding() throws {
        let cycles = FaultSuite.cycles
        let perCycle = 20
        let associations = 2
        let files = try series(cycles * perCycle)
        let orthanc = try makeOrthanc()
        let proxy = try makeProxy(to: orthanc.dicomPort)
        // 128 KiB slices at 1.5 MB/s: ~11 objects/s, so each kill finds sends under way.
        proxy.bytesPerSecond = 1_500_000
        let daemon = try makeDaemon(makeConfig(remotePort: proxy.port, associations: associations))
        var rng = SystemRandomNumberGenerator()
        var acknowledged = Set<String>()
        var killsWhileSending = 0

        for cycle in 0..<cycles {
            let batch = Array(files[(cycle * perCycle)..<((cycle + 1) * perCycle)])
            let log = send(batch, port: daemon.port)
            XCTAssertEqual(log.acknowledged.count, batch.count, "cycle \(cycle): \(log.error ?? "")")
            acknowledged.formUnion(log.acknowledged)
            let before = proxy.statistics.upstreamBytes
            Thread.sleep(forTimeInterval: Double.random(in: 0.1...0.8, using: &rng))
            if proxy.statistics.upstreamBytes > before { killsWhileSending += 1 }
            daemon.kill9()
            try daemon.restart()
            try assertLiveInvariants(daemon, acknowledged: acknowledged)
        }
        XCTAssertGreaterThan(killsWhileSending, 0, "no kill landed while forwarding")

        proxy.bytesPerSecond = nil
        try waitFor(daemon, "everything delivered", timeout: 180) { $0.totalPending == 0 }
        try pollUntil("Orthanc logged every acknowledged object", timeout: 30) {
            Set(orthanc.receivedStoreCounts().keys).isSuperset(of: acknowledged)
        }
        var expect = OutboxInvariants.Expectations()
        expect.acknowledged = acknowledged
        expect.requireDelivered = true
        expect.remoteCounts = orthanc.receivedStoreCounts()
        expect.allowedResends = cycles * associations
        expect.maxStoresPerUID = 1 + cycles
        try assertInvariants(
            daemon, expect, case: "kill -9 during forwarding", runs: cycles,
            note: "\(acknowledged.count) objects, \(killsWhileSending) kills with bytes on the wire")
    }
}
