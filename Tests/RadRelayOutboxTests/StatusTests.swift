import RadRelayCore
import RadRelayOutbox
import XCTest

final class StatusTests: OutboxTestCase {
    func testStatusShowsCountsBytesOldestAgeAndLastError() throws {
        _ = try ingest(makeRequest(uid: "1.2.3.1", content: "12345", routes: ["pacs-a": .routine]), now: t0)
        _ = try ingest(makeRequest(uid: "1.2.3.2", content: "1234567", routes: ["pacs-a": .stat]), now: t0 + 10)
        _ = try ingest(
            makeRequest(uid: "1.2.3.3", content: "123", routes: ["pacs-a": .routine, "pacs-b": .low]),
            now: t0 + 20)
        let stat = try XCTUnwrap(outbox.claimDue(destination: "pacs-a", now: t0 + 30, leaseSeconds: 60))
        try outbox.deferDelivery(
            deliveryID: stat.deliveryID, until: t0 + 90, failure: .associationRejected,
            status: nil, detail: "A-ASSOCIATE-RJ 1/1/3", now: t0 + 31)
        let b = try XCTUnwrap(outbox.claimDue(destination: "pacs-b", now: t0 + 40, leaseSeconds: 60))
        try outbox.markDelivered(deliveryID: b.deliveryID, status: .success, now: t0 + 41)

        let status = try outbox.status(now: t0 + 100)

        XCTAssertEqual(status.map(\.destination), ["pacs-a", "pacs-b"])
        let a = status[0]
        XCTAssertEqual(a.count(.queued), 2)
        XCTAssertEqual(a.count(.deferred), 1)
        XCTAssertEqual(a.count(.delivered), 0)
        XCTAssertEqual(a.pending, 3)
        XCTAssertEqual(a.queuedBytes, 5 + 3)
        XCTAssertEqual(a.pendingBytes, 5 + 7 + 3)
        XCTAssertEqual(a.oldestPendingAge, 100)
        XCTAssertEqual(a.lastError?.failureClass, .associationRejected)
        XCTAssertEqual(a.lastError?.detail, "A-ASSOCIATE-RJ 1/1/3")
        XCTAssertEqual(a.lastError?.at, t0 + 31)
        XCTAssertNil(a.lastSuccessAt)

        let pacsB = status[1]
        XCTAssertEqual(pacsB.count(.delivered), 1)
        XCTAssertEqual(pacsB.pending, 0)
        XCTAssertNil(pacsB.oldestPendingAge)
        XCTAssertNil(pacsB.lastError)
        XCTAssertEqual(pacsB.lastSuccessAt, t0 + 41)
    }

    /// The trigger-maintained counters must agree with the rows through every transition,
    /// including re-queue onto a new instance (which changes byte size) and reconcile.
    func testCountersAgreeWithTheRowsAfterEveryKindOfTransition() throws {
        var now = t0
        func tick() -> EpochSeconds { now += 1; return now }
        _ = try ingest(makeRequest(uid: "1.2.3.1", content: "aa", routes: ["x": .routine, "y": .high]), now: tick())
        _ = try ingest(makeRequest(uid: "1.2.3.2", content: "bbbb", routes: ["x": .stat]), now: tick())
        _ = try ingest(makeRequest(uid: "1.2.3.2", content: "cccccc", routes: ["x": .stat]), now: tick())
        let c1 = try XCTUnwrap(outbox.claimDue(destination: "x", now: tick(), leaseSeconds: 5))
        try outbox.markDelivered(deliveryID: c1.deliveryID, status: .success, now: tick())
        let c2 = try XCTUnwrap(outbox.claimDue(destination: "x", now: tick(), leaseSeconds: 5))
        try outbox.deadLetter(
            deliveryID: c2.deliveryID, failure: .cannotUnderstand, status: nil, detail: "",
            now: tick())
        // Same content hash, other file size (another file meta group): re-queues the dead row.
        var resent = try makeRequest(uid: c2.sopInstanceUID.value, content: "cccccc", routes: ["x": .low])
        resent.byteSize = 99
        XCTAssertEqual(try ingest(resent, now: tick()).outcomes, ["x": .queued])
        let c3 = try XCTUnwrap(outbox.claimDue(destination: "y", now: tick(), leaseSeconds: 5))
        try outbox.deferDelivery(
            deliveryID: c3.deliveryID, until: now + 100, failure: .tls, status: nil,
            detail: "", now: tick())
        _ = try outbox.claimDue(destination: "x", now: tick(), leaseSeconds: 5)
        _ = try outbox.reconcile(now: tick())

        for status in try outbox.status(now: tick()) {
            let rows = try outbox.deliveries(destination: status.destination)
            for state in DeliveryState.allCases {
                let matching = rows.filter { $0.state == state }
                XCTAssertEqual(status.count(state), matching.count, "\(status.destination) \(state)")
                XCTAssertEqual(
                    status.bytes[state], matching.reduce(0) { $0 + $1.byteSize },
                    "\(status.destination) \(state)")
            }
        }
    }
}
