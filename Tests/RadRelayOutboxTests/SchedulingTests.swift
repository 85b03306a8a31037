import Foundation
import RadRelayCore
import RadRelayOutbox
import XCTest

/// Issue 4's outbox side: scheduled claims (reserved worker, lanes, aging), wake-up times,
/// recovery, expiry, the quota query and the persisted circuit state.
final class SchedulingTests: OutboxTestCase {
    private func claim(
        _ query: ClaimQuery, now: EpochSeconds, destination: String = "pacs-a"
    ) throws -> (delivery: ClaimedDelivery, lane: WorkLane)? {
        try outbox.claimNext(destination: destination, now: now, leaseSeconds: 600, query: query)
    }

    func testClaimsByPriorityThenAge() throws {
        let routine = try ingest(makeRequest(uid: "1.2.3.1", routes: ["pacs-a": .routine]), now: t0)
        let high = try ingest(makeRequest(uid: "1.2.3.2", routes: ["pacs-a": .high]), now: t0 + 1)
        let stat = try ingest(makeRequest(uid: "1.2.3.3", routes: ["pacs-a": .stat]), now: t0 + 2)
        let query = ClaimQuery(aging: .off)
        XCTAssertEqual(try claim(query, now: t0 + 3)?.delivery.deliveryID, stat.deliveryIDs["pacs-a"])
        XCTAssertEqual(try claim(query, now: t0 + 3)?.delivery.deliveryID, high.deliveryIDs["pacs-a"])
        let last = try XCTUnwrap(try claim(query, now: t0 + 3))
        XCTAssertEqual(last.delivery.deliveryID, routine.deliveryIDs["pacs-a"])
        XCTAssertEqual(last.delivery.attempts, 1)
        XCTAssertEqual(try outbox.delivery(id: last.delivery.deliveryID)?.state, .active)
        XCTAssertNil(try claim(query, now: t0 + 3))
    }

    func testReservedWorkerTakesOnlyStatAndHigh() throws {
        _ = try ingest(makeRequest(uid: "1.2.3.1", routes: ["pacs-a": .routine]), now: t0)
        let reserved = WorkerSchedule(role: .reserved).nextQuery(freshSince: nil, aging: PriorityAging(step: 1))
        XCTAssertNil(try claim(reserved, now: t0 + 1e6), "not even when aged")
        XCTAssertNil(try outbox.nextDueTime(destination: "pacs-a", now: t0 + 5, minimumPriority: .high))
        XCTAssertEqual(try outbox.nextDueTime(destination: "pacs-a", now: t0 + 5, minimumPriority: .low), t0 + 5)
        let high = try ingest(makeRequest(uid: "1.2.3.2", routes: ["pacs-a": .high]), now: t0 + 10)
        XCTAssertEqual(try outbox.nextDueTime(destination: "pacs-a", now: t0 + 11, minimumPriority: .high), t0 + 11)
        XCTAssertEqual(try claim(reserved, now: t0 + 11)?.delivery.deliveryID, high.deliveryIDs["pacs-a"])
    }

    func testAgedRoutineOvertakesNewerHighButNeverStat() throws {
        let routine = try ingest(makeRequest(uid: "1.2.3.1", routes: ["pacs-a": .routine]), now: t0)
        let high = try ingest(makeRequest(uid: "1.2.3.2", routes: ["pacs-a": .high]), now: t0 + 1000)
        let stat = try ingest(makeRequest(uid: "1.2.3.3", routes: ["pacs-a": .stat]), now: t0 + 1001)
        let query = ClaimQuery(aging: PriorityAging(step: 900))
        XCTAssertEqual(try claim(query, now: t0 + 1002)?.delivery.deliveryID, stat.deliveryIDs["pacs-a"])
        XCTAssertEqual(try claim(query, now: t0 + 1002)?.delivery.deliveryID, routine.deliveryIDs["pacs-a"])
        XCTAssertEqual(try claim(query, now: t0 + 1002)?.delivery.deliveryID, high.deliveryIDs["pacs-a"])
    }

    func testLanesSplitAtFreshSinceAndAlternate() throws {
        // Queued during an outage (backlog), then fresh arrivals after the destination came back.
        var backlog: [Int64] = []
        for n in 0..<3 {
            backlog.append(try ingest(makeRequest(uid: "1.2.3.1\(n)"), now: t0 + Double(n)).deliveryIDs["pacs-a"]!)
        }
        var fresh: [Int64] = []
        for n in 0..<3 {
            fresh.append(try ingest(makeRequest(uid: "1.2.3.2\(n)"), now: t0 + 100 + Double(n)).deliveryIDs["pacs-a"]!)
        }
        var schedule = WorkerSchedule(role: .general)
        var order: [(Int64, WorkLane)] = []
        while let next = try claim(schedule.nextQuery(freshSince: t0 + 50, aging: .off), now: t0 + 200) {
            order.append((next.delivery.deliveryID, next.lane))
            schedule.claimed(from: next.lane)
        }
        XCTAssertEqual(order.map(\.0), [fresh[0], backlog[0], fresh[1], backlog[1], fresh[2], backlog[2]])
        XCTAssertEqual(order.map(\.1), [.fresh, .backlog, .fresh, .backlog, .fresh, .backlog])
    }

    func testDueRetriesAreBacklog() throws {
        let first = try ingest(makeRequest(uid: "1.2.3.1"), now: t0)
        let claimed = try XCTUnwrap(try claim(ClaimQuery(aging: .off), now: t0))
        try outbox.deferDelivery(
            deliveryID: claimed.delivery.deliveryID, until: t0 + 10, failure: .connection, status: nil, detail: "x",
            now: t0)
        XCTAssertNil(try claim(ClaimQuery(aging: .off), now: t0 + 5), "not due yet")
        XCTAssertEqual(try outbox.nextDueTime(destination: "pacs-a", now: t0 + 5), t0 + 10)
        let retry = try XCTUnwrap(try claim(ClaimQuery(aging: .off), now: t0 + 10))
        XCTAssertEqual(retry.delivery.deliveryID, first.deliveryIDs["pacs-a"])
        XCTAssertEqual(retry.lane, .backlog)
        XCTAssertEqual(retry.delivery.attempts, 2)
    }

    func testExpiredLeaseIsReclaimed() throws {
        _ = try ingest(makeRequest(uid: "1.2.3.1"), now: t0)
        let first = try XCTUnwrap(
            try outbox.claimNext(destination: "pacs-a", now: t0, leaseSeconds: 60, query: ClaimQuery()))
        XCTAssertNil(try claim(ClaimQuery(), now: t0 + 30))
        XCTAssertEqual(try outbox.nextDueTime(destination: "pacs-a", now: t0 + 30), t0 + 60)
        XCTAssertEqual(try claim(ClaimQuery(), now: t0 + 61)?.delivery.deliveryID, first.delivery.deliveryID)
    }

    func testRecoveryMakesOnlyDestinationLevelDeferralsDue() throws {
        _ = try ingest(makeRequest(uid: "1.2.3.1"), now: t0)
        _ = try ingest(makeRequest(uid: "1.2.3.2"), now: t0)
        let a = try XCTUnwrap(try claim(ClaimQuery(), now: t0)).delivery.deliveryID
        let b = try XCTUnwrap(try claim(ClaimQuery(), now: t0)).delivery.deliveryID
        try outbox.deferDelivery(deliveryID: a, until: t0 + 300, failure: .connection, status: nil, detail: "", now: t0)
        try outbox.deferDelivery(
            deliveryID: b, until: t0 + 300, failure: .cannotUnderstand, status: DIMSEStatus(0xC000), detail: "",
            now: t0)
        XCTAssertEqual(try outbox.makeDeferredDue(destination: "pacs-a", now: t0 + 20), 1)
        XCTAssertEqual(try outbox.delivery(id: a)?.nextAttemptAt, t0 + 20)
        XCTAssertEqual(try outbox.delivery(id: b)?.nextAttemptAt, t0 + 300, "an object-level retry keeps its backoff")
    }

    func testExpiryDeadLettersOldPendingWorkButNotWorkOnTheWire() throws {
        let old = try ingest(makeRequest(uid: "1.2.3.1"), now: t0)
        let onTheWire = try ingest(makeRequest(uid: "1.2.3.2"), now: t0 + 1)
        let young = try ingest(makeRequest(uid: "1.2.3.3"), now: t0 + 500)
        let other = try ingest(makeRequest(uid: "1.2.3.4", routes: ["pacs-b": .routine]), now: t0)
        // Claim the second: claims go oldest first, so take two and give the first back.
        let first = try XCTUnwrap(try claim(ClaimQuery(aging: .off), now: t0 + 2)).delivery.deliveryID
        let second = try XCTUnwrap(try claim(ClaimQuery(aging: .off), now: t0 + 2)).delivery.deliveryID
        XCTAssertEqual(first, old.deliveryIDs["pacs-a"])
        XCTAssertEqual(second, onTheWire.deliveryIDs["pacs-a"])
        try outbox.deferDelivery(
            deliveryID: first, until: t0 + 999, failure: .timeout, status: nil, detail: "", now: t0 + 2)

        XCTAssertEqual(try outbox.oldestExpirable(destination: "pacs-a"), t0)
        XCTAssertEqual(try outbox.expire(destination: "pacs-a", queuedBefore: t0 + 100, now: t0 + 3600), 1)
        let expired = try XCTUnwrap(outbox.delivery(id: first))
        XCTAssertEqual(expired.state, .dead)
        XCTAssertEqual(expired.lastErrorClass, .expired)
        XCTAssertEqual(try outbox.delivery(id: second)?.state, .active)
        XCTAssertEqual(try outbox.delivery(id: young.deliveryIDs["pacs-a"]!)?.state, .queued)
        XCTAssertEqual(try outbox.delivery(id: other.deliveryIDs["pacs-b"]!)?.state, .queued, "another destination")
        XCTAssertEqual(try outbox.oldestExpirable(destination: "pacs-a"), t0 + 500)
    }

    func testPendingBytesPerDestination() throws {
        _ = try ingest(makeRequest(uid: "1.2.3.1", content: "12345", routes: ["pacs-a": .routine, "pacs-b": .stat]))
        _ = try ingest(makeRequest(uid: "1.2.3.2", content: "123", routes: ["pacs-a": .routine]))
        let delivered = try XCTUnwrap(try claim(ClaimQuery(), now: t0, destination: "pacs-b"))
        try outbox.markDelivered(deliveryID: delivered.delivery.deliveryID, status: .success, now: t0)
        XCTAssertEqual(try outbox.pendingBytes(), ["pacs-a": 8, "pacs-b": 0])
    }

    func testHealthIsSavedAndRead() throws {
        XCTAssertNil(try outbox.health(destination: "pacs-a"))
        try outbox.saveHealth(
            destination: "pacs-a", DestinationHealthRecord(state: "down", downUntil: t0 + 60, consecutiveFailures: 4))
        XCTAssertEqual(
            try outbox.health(destination: "pacs-a"),
            DestinationHealthRecord(state: "down", downUntil: t0 + 60, consecutiveFailures: 4))
        try outbox.saveHealth(
            destination: "pacs-a", DestinationHealthRecord(state: "up", downUntil: nil, consecutiveFailures: 0))
        XCTAssertEqual(try outbox.health(destination: "pacs-a")?.state, "up")
        // Status still sees the last error columns next to it.
        _ = try ingest(makeRequest(uid: "1.2.3.1"))
        let id = try XCTUnwrap(try claim(ClaimQuery(), now: t0)).delivery.deliveryID
        try outbox.deferDelivery(
            deliveryID: id, until: t0 + 5, failure: .connection, status: nil, detail: "refused", now: t0)
        XCTAssertEqual(try outbox.status(now: t0).first?.lastError?.failureClass, .connection)
        XCTAssertEqual(try outbox.health(destination: "pacs-a")?.state, "up")
    }

    /// A million waiting rows must not make a claim slow: it is a dozen index seeks.
    func testClaimStaysFastWithManyRowsWaiting() throws {
        // Rows only: the outbox never opens spool files at ingest, so no file per row is needed.
        let template = try makeRequest(uid: "1.2.9.0")
        var requests: [IngestRequest] = []
        for n in 1...20_000 {
            var request = template
            request.spoolPath = "spool/fake-\(n)"
            request.sopInstanceUID = try DICOMUID("1.2.9.\(n)")
            request.studyInstanceUID = try DICOMUID("1.2.9.\(n).1")
            request.seriesInstanceUID = try DICOMUID("1.2.9.\(n).1.1")
            request.sha256 = fakeSHA256("c\(n)")
            request.routes = ["pacs-a": n % 10 == 0 ? .stat : .routine]
            requests.append(request)
        }
        _ = try outbox.ingest(requests, now: t0)
        let started = Date()
        var schedule = WorkerSchedule(role: .general)
        for _ in 0..<200 {
            let next = try XCTUnwrap(
                try claim(schedule.nextQuery(freshSince: t0 - 1, aging: PriorityAging()), now: t0 + 1))
            schedule.claimed(from: next.lane)
        }
        let perClaim = Date().timeIntervalSince(started) / 200
        XCTAssertLessThan(perClaim, 0.01, "claim took \(perClaim * 1000) ms with 20 000 rows")
    }
}
