import RadRelayCore
import RadRelayOutbox
import XCTest

final class ClaimTests: OutboxTestCase {
    func testStatQueuedLaterIsClaimedBeforeRoutineQueuedEarlier() throws {
        let routine = try ingest(makeRequest(uid: "1.2.3.1", routes: ["pacs-a": .routine]), now: t0)
        let stat = try ingest(makeRequest(uid: "1.2.3.2", routes: ["pacs-a": .stat]), now: t0 + 60)

        let first = try XCTUnwrap(outbox.claimDue(destination: "pacs-a", now: t0 + 61, leaseSeconds: 600))
        let second = try XCTUnwrap(outbox.claimDue(destination: "pacs-a", now: t0 + 61, leaseSeconds: 600))

        XCTAssertEqual(first.deliveryID, stat.deliveryIDs["pacs-a"])
        XCTAssertEqual(first.priority, .stat)
        XCTAssertEqual(second.deliveryID, routine.deliveryIDs["pacs-a"])
        XCTAssertNil(try outbox.claimDue(destination: "pacs-a", now: t0 + 61, leaseSeconds: 600))
    }

    func testSamePriorityIsClaimedOldestFirst() throws {
        let older = try ingest(makeRequest(uid: "1.2.3.1"), now: t0)
        let newer = try ingest(makeRequest(uid: "1.2.3.2"), now: t0 + 1)

        XCTAssertEqual(
            try outbox.claimDue(destination: "pacs-a", now: t0 + 2, leaseSeconds: 60)?.deliveryID,
            older.deliveryIDs["pacs-a"])
        XCTAssertEqual(
            try outbox.claimDue(destination: "pacs-a", now: t0 + 2, leaseSeconds: 60)?.deliveryID,
            newer.deliveryIDs["pacs-a"])
    }

    func testClaimLeasesTheDeliveryAndCarriesWhatTheSenderNeeds() throws {
        let request = try makeRequest(uid: "1.2.3.1", routes: ["pacs-a": .high])
        let result = try ingest(request)

        let claim = try XCTUnwrap(outbox.claimDue(destination: "pacs-a", now: t0 + 5, leaseSeconds: 600))

        XCTAssertEqual(claim.deliveryID, result.deliveryIDs["pacs-a"])
        XCTAssertEqual(claim.instanceID, result.instanceID)
        XCTAssertEqual(claim.destination, "pacs-a")
        XCTAssertEqual(claim.spoolPath, outbox.spool.absolutePath(relative: request.spoolPath))
        XCTAssertTrue(FileManager.default.fileExists(atPath: claim.spoolPath))
        XCTAssertEqual(claim.sopInstanceUID, request.sopInstanceUID)
        XCTAssertEqual(claim.sopClassUID, request.sopClassUID)
        XCTAssertEqual(claim.studyInstanceUID, request.studyInstanceUID)
        XCTAssertEqual(claim.transferSyntaxUID, request.transferSyntaxUID)
        XCTAssertEqual(claim.byteSize, request.byteSize)
        XCTAssertEqual(claim.sha256, request.sha256)
        XCTAssertEqual(claim.attempts, 1)
        XCTAssertEqual(claim.priority, .high)
        XCTAssertEqual(claim.queuedAt, t0)
        XCTAssertEqual(claim.leaseUntil, t0 + 605)
        let row = try XCTUnwrap(outbox.delivery(id: claim.deliveryID))
        XCTAssertEqual(row.state, .active)
        XCTAssertEqual(row.leaseUntil, t0 + 605)
    }

    func testActiveDeliveryIsReclaimableOnlyAfterItsLeaseExpires() throws {
        _ = try ingest(makeRequest(uid: "1.2.3.1"))
        let claim = try XCTUnwrap(outbox.claimDue(destination: "pacs-a", now: t0, leaseSeconds: 60))

        XCTAssertNil(try outbox.claimDue(destination: "pacs-a", now: t0 + 60, leaseSeconds: 60))
        let reclaimed = try XCTUnwrap(outbox.claimDue(destination: "pacs-a", now: t0 + 61, leaseSeconds: 60))
        XCTAssertEqual(reclaimed.deliveryID, claim.deliveryID)
        XCTAssertEqual(reclaimed.attempts, 2)
        XCTAssertEqual(reclaimed.leaseUntil, t0 + 121)
    }

    func testExtendedLeaseKeepsTheDeliveryWithItsWorker() throws {
        _ = try ingest(makeRequest(uid: "1.2.3.1"))
        let claim = try XCTUnwrap(outbox.claimDue(destination: "pacs-a", now: t0, leaseSeconds: 60))

        XCTAssertTrue(try outbox.extendLease(deliveryID: claim.deliveryID, until: t0 + 300))
        XCTAssertNil(try outbox.claimDue(destination: "pacs-a", now: t0 + 200, leaseSeconds: 60))
        try outbox.markDelivered(deliveryID: claim.deliveryID, status: .success, now: t0 + 250)
        XCTAssertFalse(try outbox.extendLease(deliveryID: claim.deliveryID, until: t0 + 400))
    }

    func testDeferredDeliveryIsClaimableOnlyFromItsNextAttempt() throws {
        _ = try ingest(makeRequest(uid: "1.2.3.1"))
        let claim = try XCTUnwrap(outbox.claimDue(destination: "pacs-a", now: t0, leaseSeconds: 60))
        XCTAssertTrue(
            try outbox.deferDelivery(
                deliveryID: claim.deliveryID, until: t0 + 30, failure: .connection, status: nil, detail: "refused",
                now: t0 + 1
            ))
        let deferred = try XCTUnwrap(outbox.delivery(id: claim.deliveryID))
        XCTAssertEqual(deferred.state, .deferred)
        XCTAssertEqual(deferred.nextAttemptAt, t0 + 30)
        XCTAssertNil(deferred.leaseUntil)
        XCTAssertEqual(deferred.lastErrorClass, .connection)

        XCTAssertNil(try outbox.claimDue(destination: "pacs-a", now: t0 + 29.999, leaseSeconds: 60))
        let retry = try XCTUnwrap(outbox.claimDue(destination: "pacs-a", now: t0 + 30, leaseSeconds: 60))
        XCTAssertEqual(retry.deliveryID, claim.deliveryID)
        XCTAssertEqual(retry.attempts, 2)
        XCTAssertNil(try outbox.delivery(id: claim.deliveryID)?.nextAttemptAt)
    }

    func testDueRetryOfHigherPriorityComesBeforeFreshWork() throws {
        let stat = try ingest(makeRequest(uid: "1.2.3.1", routes: ["pacs-a": .stat]), now: t0)
        let first = try XCTUnwrap(outbox.claimDue(destination: "pacs-a", now: t0, leaseSeconds: 60))
        try outbox.deferDelivery(
            deliveryID: first.deliveryID, until: t0 + 10, failure: .timeout, status: nil, detail: "dimse", now: t0
        )
        _ = try ingest(makeRequest(uid: "1.2.3.2", routes: ["pacs-a": .routine]), now: t0 + 5)

        XCTAssertEqual(
            try outbox.claimDue(destination: "pacs-a", now: t0 + 10, leaseSeconds: 60)?.deliveryID,
            stat.deliveryIDs["pacs-a"])
    }

    func testClaimsArePerDestinationAndRespectPriorityFloorAndSources() throws {
        _ = try ingest(makeRequest(uid: "1.2.3.1", routes: ["pacs-a": .routine, "pacs-b": .routine]))
        _ = try ingest(makeRequest(uid: "1.2.3.2", routes: ["pacs-b": .high]))

        XCTAssertNil(try outbox.claimDue(destination: "pacs-a", now: t0, leaseSeconds: 60, minimumPriority: .high))
        XCTAssertNil(try outbox.claimDue(destination: "pacs-a", now: t0, leaseSeconds: 60, sources: .retries))
        XCTAssertEqual(
            try outbox.claimDue(destination: "pacs-b", now: t0, leaseSeconds: 60, minimumPriority: .high)?
                .sopInstanceUID.value, "1.2.3.2")
        XCTAssertEqual(try outbox.claimDue(destination: "pacs-a", now: t0, leaseSeconds: 60)?.destination, "pacs-a")
        XCTAssertEqual(try outbox.deliveries(destination: "pacs-b", state: .queued).count, 1)
    }

    func testNextWakeUpFollowsTheEarliestClaimableWork() throws {
        XCTAssertNil(try outbox.nextWakeUp(destination: "pacs-a", now: t0))
        _ = try ingest(makeRequest(uid: "1.2.3.1"))
        _ = try ingest(makeRequest(uid: "1.2.3.2"))
        XCTAssertEqual(try outbox.nextWakeUp(destination: "pacs-a", now: t0 + 1), t0 + 1, "queued work is due now")

        let a = try XCTUnwrap(outbox.claimDue(destination: "pacs-a", now: t0, leaseSeconds: 500))
        let b = try XCTUnwrap(outbox.claimDue(destination: "pacs-a", now: t0, leaseSeconds: 500))
        XCTAssertEqual(try outbox.nextWakeUp(destination: "pacs-a", now: t0 + 1), t0 + 500, "lease expiry")

        try outbox.deferDelivery(
            deliveryID: a.deliveryID, until: t0 + 90, failure: .connection, status: nil,
            detail: "refused", now: t0 + 2)
        XCTAssertEqual(try outbox.nextWakeUp(destination: "pacs-a", now: t0 + 3), t0 + 90)

        try outbox.markDelivered(deliveryID: b.deliveryID, status: .success, now: t0 + 3)
        try outbox.deadLetter(deliveryID: a.deliveryID, failure: .expired, status: nil, detail: "too old", now: t0 + 4)
        XCTAssertNil(try outbox.nextWakeUp(destination: "pacs-a", now: t0 + 5))
        XCTAssertNil(try outbox.nextWakeUp(destination: "pacs-b", now: t0 + 5))
    }
}
