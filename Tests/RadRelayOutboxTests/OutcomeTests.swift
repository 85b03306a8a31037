import RadRelayCore
import RadRelayOutbox
import XCTest

final class OutcomeTests: OutboxTestCase {
    func testSpoolFileIsDeletedOnlyOnceEveryDestinationIsDelivered() throws {
        let request = try makeRequest(uid: "1.2.3.1", routes: ["pacs-a": .routine, "pacs-b": .routine])
        let result = try ingest(request)
        let instanceID = try XCTUnwrap(result.instanceID)

        let a = try XCTUnwrap(outbox.claimDue(destination: "pacs-a", now: t0 + 1, leaseSeconds: 60))
        try outbox.markDelivered(deliveryID: a.deliveryID, status: .success, now: t0 + 2)
        XCTAssertTrue(fileExists(relative: request.spoolPath), "pacs-b still needs the file")
        XCTAssertNil(try outbox.instance(id: instanceID)?.spoolRemovedAt)

        let b = try XCTUnwrap(outbox.claimDue(destination: "pacs-b", now: t0 + 3, leaseSeconds: 60))
        try outbox.markDelivered(deliveryID: b.deliveryID, status: DIMSEStatus(0xB000), now: t0 + 4)

        XCTAssertFalse(fileExists(relative: request.spoolPath))
        let instance = try XCTUnwrap(outbox.instance(id: instanceID), "the row stays for history")
        XCTAssertEqual(instance.spoolPath, request.spoolPath)
        XCTAssertEqual(instance.spoolRemovedAt, t0 + 4)
        let delivered = try XCTUnwrap(outbox.delivery(id: b.deliveryID))
        XCTAssertEqual(delivered.state, .delivered)
        XCTAssertEqual(delivered.deliveredAt, t0 + 4)
        XCTAssertEqual(delivered.lastStatus, DIMSEStatus(0xB000))
        XCTAssertNil(delivered.leaseUntil)
    }

    func testDeadDeliveryKeepsTheSpoolFile() throws {
        let request = try makeRequest(uid: "1.2.3.1", routes: ["pacs-a": .routine, "pacs-b": .routine])
        _ = try ingest(request)
        let a = try XCTUnwrap(outbox.claimDue(destination: "pacs-a", now: t0, leaseSeconds: 60))
        let b = try XCTUnwrap(outbox.claimDue(destination: "pacs-b", now: t0, leaseSeconds: 60))

        try outbox.markDelivered(deliveryID: a.deliveryID, status: .success, now: t0 + 1)
        XCTAssertTrue(
            try outbox.deadLetter(
                deliveryID: b.deliveryID, failure: .sopClassNotSupported, status: DIMSEStatus(0x0122),
                detail: "SOP class not supported", now: t0 + 1
            ))

        XCTAssertTrue(fileExists(relative: request.spoolPath))
        let dead = try XCTUnwrap(outbox.delivery(id: b.deliveryID))
        XCTAssertEqual(dead.state, .dead)
        XCTAssertEqual(dead.lastErrorClass, .sopClassNotSupported)
        XCTAssertEqual(dead.lastStatus, DIMSEStatus(0x0122))
        XCTAssertEqual(dead.lastErrorDetail, "SOP class not supported")
    }

    func testStaleReportsDoNotOverrideNewerDecisions() throws {
        let result = try ingest(makeRequest(uid: "1.2.3.1"))
        let id = try XCTUnwrap(result.deliveryIDs["pacs-a"])

        XCTAssertFalse(
            try outbox.deferDelivery(
                deliveryID: id, until: t0 + 5, failure: .timeout, status: nil, detail: "late", now: t0
            ), "only an active delivery can be deferred")
        XCTAssertEqual(try outbox.delivery(id: id)?.state, .queued)

        try outbox.markDelivered(deliveryID: id, status: .success, now: t0 + 1)
        try outbox.markDelivered(deliveryID: id, status: .success, now: t0 + 2)
        XCTAssertEqual(try outbox.delivery(id: id)?.deliveredAt, t0 + 1, "a second report is a no-op")
        XCTAssertFalse(try outbox.deadLetter(deliveryID: id, failure: .expired, status: nil, detail: "", now: t0 + 3))
        XCTAssertEqual(try outbox.delivery(id: id)?.state, .delivered)
    }

    func testUnknownDeliveryIsAnError() throws {
        XCTAssertThrowsError(try outbox.markDelivered(deliveryID: 42, status: .success, now: t0)) { error in
            XCTAssertEqual(error as? OutboxError, .noSuchDelivery(42))
        }
    }

    func testApplyMapsTheRetryPolicysDisposition() throws {
        _ = try ingest(makeRequest(uid: "1.2.3.1"))
        _ = try ingest(makeRequest(uid: "1.2.3.2"))
        _ = try ingest(makeRequest(uid: "1.2.3.3"))
        let policy = RetryPolicy(jitter: 0)
        let one = try XCTUnwrap(outbox.claimDue(destination: "pacs-a", now: t0, leaseSeconds: 60))
        let two = try XCTUnwrap(outbox.claimDue(destination: "pacs-a", now: t0, leaseSeconds: 60))
        let three = try XCTUnwrap(outbox.claimDue(destination: "pacs-a", now: t0, leaseSeconds: 60))

        let outcomes: [(ClaimedDelivery, SendOutcome)] = [
            (one, .delivered(status: .success)),
            (two, .failed(.connection, status: nil, detail: "refused")),
            (three, .failed(.dataSetMismatch, status: DIMSEStatus(0xA900), detail: "mismatch")),
        ]
        for (claim, outcome) in outcomes {
            let disposition = policy.disposition(for: outcome, attempt: claim.attempts, now: t0 + 1, unitRandom: 0)
            var status: DIMSEStatus?
            if case .failed(_, let failureStatus, _) = outcome { status = failureStatus }
            try outbox.apply(disposition, deliveryID: claim.deliveryID, failureStatus: status, now: t0 + 1)
        }

        XCTAssertEqual(try outbox.delivery(id: one.deliveryID)?.state, .delivered)
        let deferred = try XCTUnwrap(outbox.delivery(id: two.deliveryID))
        XCTAssertEqual(deferred.state, .deferred)
        XCTAssertEqual(deferred.nextAttemptAt, t0 + 1 + 5)
        let dead = try XCTUnwrap(outbox.delivery(id: three.deliveryID))
        XCTAssertEqual(dead.state, .dead)
        XCTAssertEqual(dead.lastStatus, DIMSEStatus(0xA900))
    }
}
