import RadRelayCore
import RadRelayOutbox
import XCTest

final class IngestTests: OutboxTestCase {
    func testNewObjectIsQueuedForEveryRoutedDestination() throws {
        let request = try makeRequest(uid: "1.2.3.1", routes: ["pacs-a": .routine, "pacs-b": .stat])
        let result = try ingest(request)

        XCTAssertNotNil(result.instanceID)
        XCTAssertEqual(result.outcomes, ["pacs-a": .queued, "pacs-b": .queued])
        let a = try XCTUnwrap(outbox.deliveries(destination: "pacs-a").first)
        let b = try XCTUnwrap(outbox.deliveries(destination: "pacs-b").first)
        XCTAssertEqual(result.deliveryIDs, ["pacs-a": a.id, "pacs-b": b.id])
        XCTAssertEqual([a.state, b.state], [.queued, .queued])
        XCTAssertEqual([a.priority, b.priority], [.routine, .stat])
        XCTAssertEqual(a.queuedAt, t0)
        XCTAssertEqual(a.attempts, 0)
        XCTAssertEqual(a.instanceID, result.instanceID)
        let instance = try XCTUnwrap(outbox.instance(id: a.instanceID))
        XCTAssertEqual(instance.priority, .stat, "the instance carries the highest priority of its routes")
        XCTAssertNil(instance.spoolRemovedAt)
        XCTAssertTrue(fileExists(relative: request.spoolPath))
    }

    func testIdenticalObjectStillPendingIsADuplicate() throws {
        let first = try ingest(makeRequest(uid: "1.2.3.1"))
        let resent = try makeRequest(uid: "1.2.3.1")
        let second = try ingest(resent, now: t0 + 5)

        XCTAssertTrue(second.allDuplicates)
        XCTAssertNil(second.instanceID)
        XCTAssertEqual(second.outcomes, ["pacs-a": .duplicatePending])
        XCTAssertEqual(second.deliveryIDs, first.deliveryIDs)
        XCTAssertEqual(try outbox.deliveries().count, 1)
        XCTAssertFalse(fileExists(relative: resent.spoolPath), "the duplicate's new file is removed after the commit")
    }

    func testIdenticalObjectDeliveredWithinTheWindowIsADuplicate() throws {
        let first = try ingest(makeRequest(uid: "1.2.3.1"))
        let id = try XCTUnwrap(first.deliveryIDs["pacs-a"])
        try outbox.markDelivered(deliveryID: id, status: .success, now: t0 + 10)

        let second = try ingest(makeRequest(uid: "1.2.3.1"), now: t0 + 10 + 3599)

        XCTAssertEqual(second.outcomes, ["pacs-a": .duplicateRecentlyDelivered])
        XCTAssertTrue(second.allDuplicates)
        XCTAssertEqual(try outbox.delivery(id: id)?.state, .delivered)
    }

    func testIdenticalObjectDeliveredBeforeTheWindowIsQueuedAgain() throws {
        let first = try ingest(makeRequest(uid: "1.2.3.1"))
        let id = try XCTUnwrap(first.deliveryIDs["pacs-a"])
        _ = try outbox.claimDue(destination: "pacs-a", now: t0 + 1, leaseSeconds: 60)
        try outbox.markDelivered(deliveryID: id, status: .success, now: t0 + 10)

        let resent = try makeRequest(uid: "1.2.3.1", routes: ["pacs-a": .high])
        let second = try ingest(resent, now: t0 + 10 + 3600)

        XCTAssertEqual(second.outcomes, ["pacs-a": .queued])
        XCTAssertEqual(second.deliveryIDs["pacs-a"], id, "the existing row is re-queued, the dedup key stays unique")
        let row = try XCTUnwrap(outbox.delivery(id: id))
        XCTAssertEqual(row.state, .queued)
        XCTAssertEqual(row.attempts, 0)
        XCTAssertEqual(row.priority, .high)
        XCTAssertEqual(row.queuedAt, t0 + 10 + 3600)
        XCTAssertNil(row.deliveredAt)
        XCTAssertEqual(row.instanceID, second.instanceID)
        XCTAssertTrue(fileExists(relative: resent.spoolPath))
    }

    func testResentObjectRequeuesADeadDeliveryAndReleasesTheOldFile() throws {
        let original = try makeRequest(uid: "1.2.3.1")
        let first = try ingest(original)
        let id = try XCTUnwrap(first.deliveryIDs["pacs-a"])
        _ = try outbox.claimDue(destination: "pacs-a", now: t0 + 1, leaseSeconds: 60)
        XCTAssertTrue(
            try outbox.deadLetter(
                deliveryID: id, failure: .cannotUnderstand, status: DIMSEStatus(0xC000), detail: "rejected", now: t0 + 2
            ))
        XCTAssertTrue(fileExists(relative: original.spoolPath), "a dead delivery keeps its file")

        let resent = try makeRequest(uid: "1.2.3.1")
        let second = try ingest(resent, now: t0 + 3)

        XCTAssertEqual(second.outcomes, ["pacs-a": .queued])
        XCTAssertEqual(try outbox.delivery(id: id)?.state, .queued)
        XCTAssertNil(try outbox.delivery(id: id)?.lastErrorClass)
        XCTAssertFalse(fileExists(relative: original.spoolPath), "no delivery needs the old copy any more")
        XCTAssertNotNil(try outbox.instance(id: XCTUnwrap(first.instanceID))?.spoolRemovedAt)
        XCTAssertTrue(fileExists(relative: resent.spoolPath))
    }

    func testSameUIDWithOtherContentIsACorrectionQueuedBesideTheOriginal() throws {
        let first = try ingest(makeRequest(uid: "1.2.3.1", content: "before"))
        let second = try ingest(makeRequest(uid: "1.2.3.1", content: "after"), now: t0 + 1)

        XCTAssertEqual(second.outcomes, ["pacs-a": .correction])
        XCTAssertEqual(second.corrections, ["pacs-a"])
        XCTAssertNotNil(second.instanceID)
        let rows = try outbox.deliveries(destination: "pacs-a")
        XCTAssertEqual(rows.map(\.id), [first.deliveryIDs["pacs-a"], second.deliveryIDs["pacs-a"]].compactMap { $0 })
        XCTAssertEqual(rows.map(\.state), [.queued, .queued])
        XCTAssertEqual(Set(rows.map(\.sha256)).count, 2)
    }

    func testPartialDuplicateQueuesOnlyTheNewDestination() throws {
        _ = try ingest(makeRequest(uid: "1.2.3.1", routes: ["pacs-a": .routine]))
        let second = try ingest(makeRequest(uid: "1.2.3.1", routes: ["pacs-a": .routine, "pacs-b": .routine]))

        XCTAssertEqual(second.outcomes, ["pacs-a": .duplicatePending, "pacs-b": .queued])
        XCTAssertFalse(second.allDuplicates)
        XCTAssertEqual(try outbox.deliveries(destination: "pacs-b").first?.instanceID, second.instanceID)
    }

    func testOneBatchIsAppliedInOrder() throws {
        let requests = [
            try makeRequest(uid: "1.2.3.1"),
            try makeRequest(uid: "1.2.3.1"),
            try makeRequest(uid: "1.2.3.2"),
        ]
        let results = try outbox.ingest(requests, now: t0)

        XCTAssertEqual(results.map { $0.outcomes["pacs-a"] }, [.queued, .duplicatePending, .queued])
        XCTAssertEqual(try outbox.deliveries().count, 2)
    }

    func testStudyIsUpsertedAtIngest() throws {
        let study = "1.2.826.0.1.3680043.10.7"
        _ = try ingest(makeRequest(uid: "1.2.3.1", study: study, routes: ["pacs-a": .routine]), now: t0)
        _ = try ingest(makeRequest(uid: "1.2.3.2", study: study, routes: ["pacs-a": .stat]), now: t0 + 30)
        _ = try ingest(makeRequest(uid: "1.2.3.2", study: study, routes: ["pacs-a": .stat]), now: t0 + 40)

        let record = try XCTUnwrap(outbox.study(uid: DICOMUID(study)))
        XCTAssertEqual(record.instanceCount, 2, "a duplicate that queued nothing is not counted")
        XCTAssertEqual(record.firstReceivedAt, t0)
        XCTAssertEqual(record.lastReceivedAt, t0 + 30)
        XCTAssertEqual(record.priority, .stat)
    }

    func testMalformedRequestsAreRejectedBeforeAnyWrite() throws {
        var badHash = try makeRequest(uid: "1.2.3.1")
        badHash.sha256 = "xyz"
        var noRoute = try makeRequest(uid: "1.2.3.2")
        noRoute.routes = [:]
        var escaping = try makeRequest(uid: "1.2.3.3")
        escaping.spoolPath = "spool/../radrelay.sqlite"
        let good = try makeRequest(uid: "1.2.3.4")

        for bad in [badHash, noRoute, escaping] {
            XCTAssertThrowsError(try outbox.ingest([good, bad], now: t0)) { error in
                guard case OutboxError.invalidRequest = error else { return XCTFail("unexpected \(error)") }
            }
        }
        XCTAssertEqual(try outbox.deliveries().count, 0)
    }
}
