import Foundation
import RadRelayCore
import RadRelayOutbox
import RadRelayTestSupport
import XCTest

final class DatabaseTests: OutboxTestCase {
    func testTheCommittingConnectionUsesWALWithSynchronousFull() throws {
        let settings = try outbox.durabilitySettings()

        XCTAssertEqual(settings.journalMode, "wal")
        XCTAssertEqual(settings.synchronous, 2, "FULL: an acknowledged commit must survive power loss")
        XCTAssertTrue(settings.foreignKeys)
        XCTAssertTrue(FileManager.default.fileExists(atPath: state.file("radrelay.sqlite").path))
        XCTAssertTrue(FileManager.default.fileExists(atPath: state.file("radrelay.sqlite-wal").path))
    }

    func testCommittedRowsSurviveAnOutboxThatWasNeverClosed() throws {
        let request = try makeRequest(uid: "1.2.3.1", routes: ["pacs-a": .stat])
        let result = try ingest(request)
        let id = try XCTUnwrap(result.deliveryIDs["pacs-a"])

        // Like a process killed mid-run: no close, no checkpoint; the first handle is still open
        // while a new one reads what the WAL holds.
        let reopened = try Outbox(stateDirectory: state.path)
        XCTAssertEqual(try reopened.delivery(id: id)?.state, .queued)
        outbox = nil
        XCTAssertEqual(try reopened.reconcile(now: t0 + 1), ReconcileReport())
        let claim = try XCTUnwrap(reopened.claimDue(destination: "pacs-a", now: t0 + 1, leaseSeconds: 60))
        XCTAssertEqual(claim.deliveryID, id)
        XCTAssertTrue(FileManager.default.fileExists(atPath: claim.spoolPath))
        outbox = reopened
    }

    func testReopeningAnExistingDatabaseKeepsItsRowsAndSchema() throws {
        _ = try ingest(makeRequest(uid: "1.2.3.1"))
        try outbox.close()

        outbox = try Outbox(stateDirectory: state.path)

        XCTAssertEqual(try outbox.deliveries().count, 1)
        XCTAssertEqual(try outbox.durabilitySettings().synchronous, 2)
    }

    func testClosedOutboxRefusesWork() throws {
        try outbox.close()
        XCTAssertThrowsError(try outbox.ingest([makeRequest(uid: "1.2.3.1")], now: t0))
    }
}
