import Foundation
import RadRelayTestSupport
import XCTest

/// Faults on the way to the remote: network faults through `TCPFaultProxy` (delay, a stall in
/// the middle of an object, a reset after N bytes, refusals) and a scripted remote answering
/// 0xA700, 0xA900, 0xC000 and the warning 0xB000. Destination-level failures must back off and
/// never dead-letter; object-level ones dead-letter as the retry policy says.
final class RemoteFaultTests: FaultTestCase {
    /// Short destination timeouts so a stalled remote is noticed within seconds.
    private func proxiedConfig(_ proxy: TCPFaultProxy) -> RadRelayTestConfig {
        var config = makeConfig(remotePort: proxy.port, associations: 1)
        config.destinations[0].extraLines = ["timeouts: { connect: 2s, acse: 2s, dimse: 2s, idle: 5s }"]
        return config
    }

    /// Every chunk in both directions is held 50 ms: slow, but everything arrives once.
    func testDelayedRemote() throws {
        let files = try series(8)
        let orthanc = try makeOrthanc()
        let proxy = try makeProxy(to: orthanc.dicomPort)
        proxy.delay = 0.05
        let daemon = try makeDaemon(proxiedConfig(proxy))
        let log = send(files, port: daemon.port)
        XCTAssertEqual(log.acknowledged.count, files.count)
        try waitFor(daemon, "all delivered", timeout: 90) { $0.totalDelivered == files.count && $0.totalPending == 0 }
        try finish(daemon, log.acknowledged, orthanc, case: "remote: 50 ms delay per chunk")
    }

    /// The remote stops reading in the middle of the first object (the connection stays open):
    /// the DIMSE timeout ends the attempt, the delivery is deferred (not dead), and once the
    /// network heals everything arrives.
    func testStallMidObject() throws {
        let files = try series(4, rows: 512)
        let orthanc = try makeOrthanc()
        let proxy = try makeProxy(to: orthanc.dicomPort)
        proxy.stallAfter(bytes: 200_000)  // each 512×512 slice is ~525 KB
        let daemon = try makeDaemon(proxiedConfig(proxy))
        let log = send(files, port: daemon.port)
        XCTAssertEqual(log.acknowledged.count, files.count)
        let stalled = try waitFor(daemon, "a deferred delivery after the stall", timeout: 30) {
            ($0.destination("remote")?.counts.deferred ?? 0) > 0
        }
        XCTAssertEqual(stalled.totalDead, 0, stalled.json)
        XCTAssertEqual(orthanc.receivedStoreLog().count, 0, "an object got through a stalled connection")
        proxy.clearFaults()
        try waitFor(daemon, "all delivered after the stall", timeout: 60) { $0.totalDelivered == 4 && $0.totalPending == 0 }
        // A timed-out attempt may still complete at the remote: the object's bytes sat in the
        // kernel's socket buffers and flow on when the network heals (followed by the A-ABORT).
        // Like a kill, each timed-out attempt allows one re-send.
        try finish(daemon, log.acknowledged, orthanc, case: "remote: stall mid-object", allowedResends: files.count,
                   note: "last error: \(stalled.destination("remote")?.lastError ?? "-")")
    }

    /// Every connection is reset after 300 000 bytes (mid-object): attempts fail, deliveries
    /// back off, nothing is dead-lettered; after the fault clears, each object arrives once.
    func testResetAfterBytes() throws {
        let files = try series(3, rows: 512)
        let orthanc = try makeOrthanc()
        let proxy = try makeProxy(to: orthanc.dicomPort)
        proxy.resetAfter(bytes: 300_000)
        let daemon = try makeDaemon(proxiedConfig(proxy))
        let log = send(files, port: daemon.port)
        XCTAssertEqual(log.acknowledged.count, files.count)
        try pollUntil("three reset attempts", timeout: 30, detail: { "\(proxy.statistics)" }) {
            proxy.statistics.resets >= 3
        }
        let status = try daemon.status()
        XCTAssertEqual(status.totalDead, 0, status.json)
        XCTAssertEqual(status.totalDelivered, 0, status.json)
        proxy.clearFaults()
        try waitFor(daemon, "all delivered after the resets", timeout: 60) { $0.totalDelivered == 3 && $0.totalPending == 0 }
        try finish(daemon, log.acknowledged, orthanc, case: "remote: reset after 300 000 bytes",
                   note: "\(proxy.statistics.resets) resets")
    }

    /// Refusals of every kind (FIN at once, RST at once, nothing listening): deferred, never
    /// dead, delivered once the remote accepts again.
    func testRefusals() throws {
        let files = try series(6)
        let orthanc = try makeOrthanc()
        let proxy = try makeProxy(to: orthanc.dicomPort)
        let daemon = try makeDaemon(proxiedConfig(proxy))
        var acknowledged = Set<String>()
        for (n, mode) in [TCPFaultProxy.RefuseMode.close, .reset, .notListening].enumerated() {
            proxy.refuse = mode
            // The daemon keeps its association open between objects: cut it, so the next object
            // needs a new connection, which is refused.
            proxy.resetAllConnections()
            let log = send(Array(files[(n * 2)..<(n * 2 + 2)]), port: daemon.port)
            XCTAssertEqual(log.acknowledged.count, 2)
            acknowledged.formUnion(log.acknowledged)
            let refused = try waitFor(daemon, "deferred while refused (\(mode))", timeout: 30) {
                ($0.destination("remote")?.counts.deferred ?? 0) >= 1
            }
            XCTAssertEqual(refused.totalDead, 0, "\(mode): \(refused.json)")
            proxy.refuse = nil
            try waitFor(daemon, "delivered after \(mode)", timeout: 60) {
                $0.totalDelivered == acknowledged.count && $0.totalPending == 0
            }
        }
        try finish(daemon, acknowledged, orthanc, case: "remote: refusal (FIN, RST, not listening)")
    }

    /// A remote answering statuses: 0xB000 (warning) is delivered; 0xA900 is dead at once;
    /// 0xC000 is dead after `max_object_attempts` (3); 0xA700 backs off without dead-lettering
    /// and is delivered when the remote recovers.
    func testRemoteStatuses() throws {
        let files = try series(8)
        let remote = try makeScriptedSCP(status: 0xB000)
        let daemon = try makeDaemon(makeConfig(remotePort: remote.port, remoteAE: remote.aeTitle, associations: 1))
        func phase(_ range: Range<Int>) -> SendLog {
            let log = send(Array(files[range]), port: daemon.port)
            XCTAssertEqual(log.acknowledged.count, range.count, "\(log.statuses) \(log.error ?? "")")
            return log
        }
        func attempts(_ uids: Set<String>) -> [Int] {
            let counts = remote.receivedStoreCounts()
            return uids.map { counts[$0] ?? 0 }.sorted()
        }

        let warning = phase(0..<2)
        try waitFor(daemon, "warnings delivered") { $0.totalDelivered == 2 && $0.totalPending == 0 }
        XCTAssertEqual(attempts(warning.acknowledged), [1, 1])

        try remote.setStatus(0xA900)
        let mismatch = phase(2..<4)
        try waitFor(daemon, "0xA900 dead at once") { $0.totalDead == 2 && $0.totalPending == 0 }
        XCTAssertEqual(attempts(mismatch.acknowledged), [1, 1], "0xA900 must not be retried")

        try remote.setStatus(0xC000)
        let cannot = phase(4..<6)
        try waitFor(daemon, "0xC000 dead after 3 attempts", timeout: 90) { $0.totalDead == 4 && $0.totalPending == 0 }
        XCTAssertEqual(attempts(cannot.acknowledged), [3, 3], "0xC000 gets max_object_attempts tries")

        try remote.setStatus(0xA700)
        let busy = phase(6..<8)
        // A destination-level failure closes the destination's gate: the worker probes with the
        // oldest due delivery at each backoff step instead of trying every object.
        try pollUntil("0xA700 retried", timeout: 60) { attempts(busy.acknowledged).reduce(0, +) >= 3 }
        let waiting = try daemon.status()
        XCTAssertEqual(waiting.totalDead, 4, "0xA700 dead-lettered something: \(waiting.json)")
        XCTAssertEqual(waiting.totalPending, 2, waiting.json)
        try remote.setStatus(0x0000)
        try waitFor(daemon, "0xA700 delivered after recovery", timeout: 60) { $0.totalDelivered == 4 && $0.totalPending == 0 }

        var expect = OutboxInvariants.Expectations()
        expect.acknowledged = warning.acknowledged.union(mismatch.acknowledged).union(cannot.acknowledged)
            .union(busy.acknowledged)
        expect.mayBeDead = mismatch.acknowledged.union(cannot.acknowledged)
        expect.requireDelivered = true
        let counts = remote.receivedStoreCounts()
        // Only successful stores count as arrivals; failed attempts are not re-sends of a stored object.
        var stored: [String: Int] = [:]
        for store in remote.receivedStores() where store.status == 0 || store.status & 0xF000 == 0xB000 {
            stored[store.uid, default: 0] += 1
        }
        expect.remoteCounts = stored
        let states = try OutboxInvariants(stateDirectory: daemon.stateDirectory).deliveryStates()
        for uid in expect.mayBeDead { XCTAssertEqual(states[uid], ["dead"], "\(uid)") }
        try assertInvariants(
            daemon, expect, case: "remote statuses 0xB000/0xA900/0xC000/0xA700",
            note: "attempts per UID: \(counts.values.sorted())")
    }

    private func finish(
        _ daemon: RadRelayDaemonProcess,
        _ acknowledged: Set<String>,
        _ orthanc: OrthancProcess,
        case name: String,
        allowedResends: Int = 0,
        note: String = ""
    ) throws {
        try pollUntil("Orthanc logged every object", timeout: 30) {
            Set(orthanc.receivedStoreCounts().keys).isSuperset(of: acknowledged)
        }
        var expect = OutboxInvariants.Expectations()
        expect.acknowledged = acknowledged
        expect.requireDelivered = true
        expect.remoteCounts = orthanc.receivedStoreCounts()
        expect.allowedResends = allowedResends
        expect.maxStoresPerUID = allowedResends > 0 ? 2 : 1
        try assertInvariants(daemon, expect, case: name, note: note)
    }
}
