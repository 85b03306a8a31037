import Foundation
import RadRelayCore
import RadRelayOutbox
import XCTest

final class ReconcileTests: OutboxTestCase {
    func testReconcileRepairsEveryKindOfLeftover() throws {
        // In flight when the process died: active with a lease.
        let inFlight = try makeRequest(uid: "1.2.3.1")
        let inFlightID = try XCTUnwrap(ingest(inFlight).deliveryIDs["pacs-a"])
        _ = try outbox.claimDue(destination: "pacs-a", now: t0, leaseSeconds: 600)

        // Acknowledged, then its file vanished (an operator, a broken disk).
        let lost = try makeRequest(uid: "1.2.3.2", routes: ["pacs-a": .routine, "pacs-b": .routine])
        let lostResult = try ingest(lost)
        try FileManager.default.removeItem(atPath: outbox.spool.absolutePath(relative: lost.spoolPath))

        // Receiving when the process died: a .part file.
        let receiving = outbox.spool.allocate()
        try Data("half an object".utf8).write(to: URL(fileURLWithPath: receiving.partPath))

        // Made durable, but the process died before the commit: never acknowledged.
        let uncommitted = outbox.spool.allocate()
        try Data("never acknowledged".utf8).write(to: URL(fileURLWithPath: uncommitted.partPath))
        try outbox.spool.makeDurable(uncommitted)

        // Delivered everywhere, but the crash came between the commit and the unlink.
        let delivered = try makeRequest(uid: "1.2.3.3", routes: ["pacs-b": .routine])
        let deliveredID = try XCTUnwrap(ingest(delivered).deliveryIDs["pacs-b"])
        try outbox.markDelivered(deliveryID: deliveredID, status: .success, now: t0 + 1)
        let resurrected = URL(fileURLWithPath: outbox.spool.absolutePath(relative: delivered.spoolPath))
        try Data("resurrected".utf8).write(to: resurrected)

        let report = try outbox.reconcile(now: t0 + 100)

        XCTAssertEqual(
            report,
            ReconcileReport(
                requeuedActive: 1, deletedPartFiles: 1, deletedOrphanFiles: 2, missingFiles: 1, deadSpoolMissing: 2
            ))
        let requeued = try XCTUnwrap(outbox.delivery(id: inFlightID))
        XCTAssertEqual(requeued.state, .queued)
        XCTAssertNil(requeued.leaseUntil)
        XCTAssertEqual(requeued.attempts, 1, "the interrupted attempt still counts")
        XCTAssertTrue(fileExists(relative: inFlight.spoolPath))

        for id in lostResult.deliveryIDs.values {
            let dead = try XCTUnwrap(outbox.delivery(id: id))
            XCTAssertEqual(dead.state, .dead)
            XCTAssertEqual(dead.lastErrorClass, .spoolMissing)
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: receiving.partPath))
        XCTAssertFalse(FileManager.default.fileExists(atPath: uncommitted.finalPath))
        XCTAssertFalse(fileExists(relative: delivered.spoolPath))
        XCTAssertTrue(FileManager.default.fileExists(atPath: outbox.spool.incomingDirectory), "directories stay")

        XCTAssertEqual(try outbox.reconcile(now: t0 + 200), ReconcileReport(), "a second run finds nothing")
    }

    func testReconcileOfACleanStateChangesNothing() throws {
        let request = try makeRequest(uid: "1.2.3.1")
        let id = try XCTUnwrap(ingest(request).deliveryIDs["pacs-a"])

        XCTAssertEqual(try outbox.reconcile(now: t0 + 1), ReconcileReport())
        XCTAssertEqual(try outbox.delivery(id: id)?.state, .queued)
        XCTAssertTrue(fileExists(relative: request.spoolPath))
    }

    func testAnEmptySpoolUnderLiveRowsIsRefusedUnlessAccepted() throws {
        let request = try makeRequest(uid: "1.2.3.1")
        let id = try XCTUnwrap(ingest(request).deliveryIDs["pacs-a"])
        _ = try outbox.claimDue(destination: "pacs-a", now: t0, leaseSeconds: 60)
        try FileManager.default.removeItem(atPath: outbox.spool.absolutePath(relative: request.spoolPath))

        XCTAssertThrowsError(try outbox.reconcile(now: t0 + 1)) { error in
            XCTAssertEqual(error as? OutboxError, .spoolEmpty(directory: outbox.spool.directory, expectedFiles: 1))
        }
        XCTAssertEqual(try outbox.delivery(id: id)?.state, .active, "nothing changed")

        let report = try outbox.reconcile(now: t0 + 2, acceptEmptySpool: true)
        XCTAssertEqual(report.deadSpoolMissing, 1)
        XCTAssertEqual(try outbox.delivery(id: id)?.state, .dead)
    }
}
