import Foundation
import GRDB
import RadRelayCore
@testable import RadRelayOutbox
import XCTest

/// v4's `delivery_priority_stats`: the per-(destination, state, priority) counters the triggers
/// keep must equal a recount of the rows after every kind of write, and the migration from v3
/// must fill them from the rows already there.
final class PriorityStatsTests: OutboxTestCase {
    /// Ingest (with study-level priority inheritance raising pending rows), claims, every
    /// outcome, retry, requeue, study and destination holds and releases, re-queue of delivered
    /// and dead rows at another priority and size, expiry, purge, retention and reconcile.
    func testStatsEqualARecountAfterEveryKindOfWrite() throws {
        var now = t0
        func tick() -> EpochSeconds {
            now += 1
            return now
        }
        let s1 = "1.2.826.0.1.3680043.10.77.1"
        let s2 = "1.2.826.0.1.3680043.10.77.2"
        func step(_ what: String, file: StaticString = #filePath, line: UInt = #line) throws {
            try assertStatsMatchRecount(what, file: file, line: line)
        }

        _ = try ingest(
            makeRequest(uid: "1.2.3.1", content: "a", study: s1, routes: ["x": .routine, "y": .low]), now: tick())
        try step("first ingest")
        // A STAT object raises the study's pending deliveries to x (UPDATE OF priority).
        _ = try ingest(makeRequest(uid: "1.2.3.2", content: "bb", study: s1, routes: ["x": .stat]), now: tick())
        XCTAssertEqual(try outbox.pendingByPriority()["x"]?[.stat]?.count, 2, "inherited priority")
        XCTAssertNil(try outbox.pendingByPriority()["x"]?[.routine])
        try step("inheritance")
        _ = try ingest(
            makeRequest(uid: "1.2.3.3", content: "ccc", study: s2, routes: ["x": .high, "y": .high]), now: tick())
        _ = try ingest(makeRequest(uid: "1.2.3.3", content: "ccc", study: s2, routes: ["x": .high]), now: tick())
        try step("ingest and a pending duplicate")

        let c1 = try XCTUnwrap(outbox.claimDue(destination: "x", now: tick(), leaseSeconds: 30))
        try step("claim")
        try outbox.markDelivered(deliveryID: c1.deliveryID, status: .success, now: tick())
        try step("delivered")
        let c2 = try XCTUnwrap(outbox.claimDue(destination: "x", now: tick(), leaseSeconds: 30))
        try outbox.deferDelivery(
            deliveryID: c2.deliveryID, until: now + 60, failure: .connection, status: nil, detail: "", now: tick())
        try step("deferred")
        let c3 = try XCTUnwrap(outbox.claimDue(destination: "y", now: tick(), leaseSeconds: 30))
        try outbox.deadLetter(
            deliveryID: c3.deliveryID, failure: .cannotUnderstand, status: nil, detail: "", now: tick())
        try step("dead")
        XCTAssertEqual(try outbox.retryDead(.destination("y"), now: tick()), 1)
        try step("retry")

        XCTAssertGreaterThan(try outbox.hold(.study(s2, destination: nil), byUID: 0, now: tick()), 0)
        try step("hold study")
        _ = try ingest(
            makeRequest(uid: "1.2.3.4", content: "dddd", study: s2, routes: ["x": .low, "y": .routine]), now: tick())
        try step("ingest into a held study")
        _ = try outbox.hold(.destination("y"), byUID: 0, now: tick())
        try step("hold destination")
        _ = try outbox.requeue(.destination("x"), now: tick())
        try step("requeue")
        _ = try outbox.release(.destination("y"), now: tick())
        _ = try outbox.release(.study(s2, destination: nil), now: tick())
        try step("release")

        // A delivered row, re-sent after the dedup window at another priority and size.
        let s3 = "1.2.826.0.1.3680043.10.77.3"
        let f = try ingest(
            makeRequest(uid: "1.2.3.6", content: "ffffff", study: s3, routes: ["x": .routine]), now: tick())
        try outbox.markDelivered(deliveryID: try XCTUnwrap(f.deliveryIDs["x"]), status: .success, now: tick())
        var resent = try makeRequest(uid: "1.2.3.6", content: "ffffff", study: s3, routes: ["x": .high])
        resent.byteSize = 77
        now += 7200
        XCTAssertEqual(try ingest(resent, now: tick()).outcomes, ["x": .queued])
        XCTAssertEqual(try outbox.delivery(id: try XCTUnwrap(f.deliveryIDs["x"]))?.priority, .high)
        try step("re-queue of a delivered row")

        XCTAssertGreaterThan(try outbox.expire(destination: "y", queuedBefore: now + 1, now: tick()), 0)
        try step("expire")
        XCTAssertGreaterThan(try outbox.purge(.destination("y"), states: [.dead], now: tick()), 0)
        try step("purge")
        while let claimed = try outbox.claimDue(destination: "x", now: now + 3600, leaseSeconds: 30) {
            try outbox.markDelivered(deliveryID: claimed.deliveryID, status: .success, now: tick())
        }
        try step("all delivered")
        _ = try outbox.prune(deliveredBefore: now + 1, deadBefore: now + 1, now: tick())
        try step("retention")
        _ = try ingest(makeRequest(uid: "1.2.3.5", content: "e", study: s1, routes: ["x": .routine]), now: tick())
        _ = try outbox.claimDue(destination: "x", now: tick(), leaseSeconds: 30)
        _ = try outbox.reconcile(now: tick())
        try step("reconcile")
    }

    /// `pendingByPriority` (what `radrelayctl status` shows per priority) equals a GROUP BY of
    /// the pending rows, bytes included; finished states do not count.
    func testPendingByPriorityMatchesTheRows() throws {
        _ = try ingest(makeRequest(uid: "1.2.3.1", content: "12345", routes: ["x": .routine, "y": .stat]))
        _ = try ingest(makeRequest(uid: "1.2.3.2", content: "123", routes: ["x": .routine]))
        _ = try ingest(makeRequest(uid: "1.2.3.3", content: "1", routes: ["x": .low]))
        let claimed = try XCTUnwrap(outbox.claimDue(destination: "y", now: t0, leaseSeconds: 30))
        try outbox.markDelivered(deliveryID: claimed.deliveryID, status: .success, now: t0 + 1)

        let pending = try outbox.pendingByPriority()
        XCTAssertEqual(pending["x"]?[.routine]?.count, 2)
        XCTAssertEqual(pending["x"]?[.routine]?.bytes, 8)
        XCTAssertEqual(pending["x"]?[.low]?.count, 1)
        XCTAssertNil(pending["x"]?[.stat])
        XCTAssertNil(pending["y"], "delivered is not pending")
        try assertStatsMatchRecount("end")
    }

    /// A v3 database with rows in every state opens as v4 with the counters counted from the
    /// rows, the old `delivery_stats` figures readable through the view, and a backup first.
    func testMigrationFromV3FillsTheStatsFromExistingRows() throws {
        // Start again from an empty state directory holding a v3 database.
        try outbox.close()
        outbox = nil
        for suffix in ["", "-wal", "-shm"] {
            try FileManager.default.removeItem(atPath: state.path + "/" + Outbox.databaseFileName + suffix)
        }
        let path = state.path + "/" + Outbox.databaseFileName
        let queue = try DatabaseQueue(path: path)
        try Schema.migrator.migrate(queue, upTo: "v3-scheduling")
        let states = ["queued", "active", "deferred", "held", "delivered", "dead"]
        var oldStats: [String: [Int64]] = [:]
        try queue.write { db in
            for n in 1...120 {
                let state = states[n % states.count]
                let priority = n % 4
                let destination = (n / 6) % 2 == 0 ? "a" : "b"
                try db.execute(
                    sql: """
                        INSERT INTO instance (id, sop_instance_uid, sop_class_uid, study_instance_uid,
                            transfer_syntax_uid, spool_path, byte_size, sha256, calling_ae, called_ae, source_ip,
                            received_at, priority)
                        VALUES (?, ?, '1.2.3', ?, '1.2.840.10008.1.2.1', ?, ?, ?, 'A', 'B', '127.0.0.1', ?, ?)
                        """,
                    arguments: [
                        n, "1.2.9.\(n)", "1.2.8.\(n / 10)", "spool/v3-\(n)", 100 + n, fakeSHA256("\(n)"), t0, priority,
                    ])
                try db.execute(
                    sql: """
                        INSERT INTO delivery (instance_id, destination, sop_instance_uid, sha256, byte_size, priority,
                            state, attempts, next_attempt_at, lease_until, queued_at, delivered_at, last_error_class)
                        VALUES (?, ?, ?, ?, ?, ?, ?, 0, ?, ?, ?, ?, ?)
                        """,
                    arguments: [
                        n, destination, "1.2.9.\(n)", fakeSHA256("\(n)"), 100 + n, priority, state,
                        state == "deferred" ? t0 + 60 : nil, state == "active" ? t0 + 60 : nil, t0,
                        state == "delivered" ? t0 : nil, state == "dead" ? "cannot_understand" : nil,
                    ])
            }
            for row in try Row.fetchAll(db, sql: "SELECT destination, state, deliveries, bytes FROM delivery_stats") {
                oldStats["\(row["destination"] as String)/\(row["state"] as String)"] = [
                    row["deliveries"], row["bytes"],
                ]
            }
        }
        try queue.close()
        XCTAssertEqual(oldStats.count, 12)

        outbox = try Outbox(stateDirectory: state.path, options: Outbox.Options(dedupWindow: 3600))
        let backups = try FileManager.default.contentsOfDirectory(atPath: state.path)
            .filter { $0.hasPrefix(Outbox.databaseFileName + ".backup-v3-scheduling-") }
        XCTAssertEqual(backups.count, 1, "a backup before migrating")
        try assertStatsMatchRecount("after migration")
        try outbox.pool.read { db in
            var viewStats: [String: [Int64]] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT destination, state, deliveries, bytes FROM delivery_stats") {
                viewStats["\(row["destination"] as String)/\(row["state"] as String)"] = [
                    row["deliveries"], row["bytes"],
                ]
            }
            XCTAssertEqual(viewStats, oldStats, "the view shows what v1's table held")
            XCTAssertEqual(try Int.fetchOne(db, sql: "SELECT count(*) FROM study_hold"), 0)
        }
        let status = try outbox.status(now: t0)
        XCTAssertEqual(status.map(\.destination), ["a", "b"])
        XCTAssertEqual(status.reduce(0) { $0 + $1.pending }, 80)
        let pending = try outbox.pendingByPriority()
        XCTAssertEqual(pending.values.flatMap(\.values).reduce(0) { $0 + $1.count }, 80)

        // The counters go on from there.
        _ = try ingest(makeRequest(uid: "1.2.3.1", routes: ["a": .stat]))
        _ = try outbox.hold(.destination("a"), byUID: nil, now: t0)
        try assertStatsMatchRecount("after writes on the migrated database")
    }

    // MARK: - Helpers

    /// The trigger-kept counters against a GROUP BY recount of `delivery` (rows at zero are
    /// allowed but must have zero bytes), and `pendingByPriority` and `status` against both.
    func assertStatsMatchRecount(_ what: String, file: StaticString = #filePath, line: UInt = #line) throws {
        try outbox.pool.read { db in
            let kept = try Row.fetchAll(
                db,
                sql: """
                    SELECT destination, state, priority, deliveries, bytes FROM delivery_priority_stats
                    WHERE deliveries > 0 OR bytes <> 0 ORDER BY destination, state, priority
                    """
            ).map(Self.describe)
            let counted = try Row.fetchAll(
                db,
                sql: """
                    SELECT destination, state, priority, count(*) AS deliveries, sum(byte_size) AS bytes FROM delivery
                    GROUP BY destination, state, priority ORDER BY destination, state, priority
                    """
            ).map(Self.describe)
            XCTAssertEqual(kept, counted, what, file: file, line: line)
        }

        var expected: [String: [Priority: (count: Int, bytes: UInt64)]] = [:]
        for row in try outbox.deliveries(limit: 1_000_000) where row.state.isPending {
            let old = expected[row.destination, default: [:]][row.priority] ?? (0, 0)
            expected[row.destination, default: [:]][row.priority] = (old.count + 1, old.bytes + row.byteSize)
        }
        let pending = try outbox.pendingByPriority()
        XCTAssertEqual(Set(pending.keys), Set(expected.keys), what, file: file, line: line)
        for (destination, buckets) in expected {
            for priority in Priority.allCases {
                XCTAssertEqual(
                    pending[destination]?[priority]?.count, buckets[priority]?.count, what, file: file, line: line)
                XCTAssertEqual(
                    pending[destination]?[priority]?.bytes, buckets[priority]?.bytes, what, file: file, line: line)
            }
        }
        let rows = try outbox.deliveries(limit: 1_000_000)
        for status in try outbox.status(now: t0) {
            for state in DeliveryState.allCases {
                let matching = rows.filter { $0.destination == status.destination && $0.state == state }
                XCTAssertEqual(status.count(state), matching.count, what, file: file, line: line)
                XCTAssertEqual(
                    status.bytes[state], matching.reduce(0) { $0 + $1.byteSize }, what, file: file, line: line)
            }
        }
    }

    private static func describe(_ row: Row) -> String {
        let key = "\(row["destination"] as String) \(row["state"] as String) p\(row["priority"] as Int)"
        return key + ": \(row["deliveries"] as Int) / \(row["bytes"] as Int64)"
    }
}
