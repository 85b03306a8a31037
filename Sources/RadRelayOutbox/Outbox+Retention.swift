import GRDB
import RadRelayCore

/// What one retention pass removed.
public struct PruneReport: Sendable, Equatable {
    /// Delivered rows older than the delivered retention.
    public var deliveredRemoved = 0
    /// Dead rows older than the dead-letter retention (their spool files go too).
    public var deadRemoved = 0
    /// Instance rows left without any delivery and without a file.
    public var instancesRemoved = 0
    /// Study rows left without instances.
    public var studiesRemoved = 0
    /// Study holds (v4) older than the retention whose study has no instance left.
    public var studyHoldsRemoved = 0

    public init() {}

    /// True when nothing was removed.
    public var isEmpty: Bool {
        deliveredRemoved + deadRemoved + instancesRemoved + studiesRemoved + studyHoldsRemoved == 0
    }
}

extension Outbox {
    // MARK: - Retention

    /// Prunes history (DESIGN §6, `retention:`): delivered deliveries confirmed before
    /// `deliveredBefore`, dead deliveries queued before `deadBefore` (with their spool files),
    /// then instances and studies nothing refers to any more. Nil keeps that kind forever.
    ///
    /// A study hold is kept while any instance of its study is (held deliveries are pending, so
    /// never pruned: the hold lasts until an operator releases it). Once nothing of the study is
    /// left (its deliveries purged, or expired and pruned as dead) it goes too, if it was made
    /// before the earlier of the two cutoffs: a hold made ahead of a study's arrival waits that
    /// long for it. With both cutoffs nil, study holds are kept until released.
    ///
    /// Works in transactions of at most `batchSize` rows so ingest never waits long behind it.
    /// Pending deliveries are never touched.
    public func prune(
        deliveredBefore: EpochSeconds?,
        deadBefore: EpochSeconds?,
        now: EpochSeconds,
        batchSize: Int = 500
    ) throws -> PruneReport {
        var report = PruneReport()
        let destinations: [String] = try pool.read { db in
            try String.fetchAll(db, sql: "SELECT DISTINCT destination FROM delivery_priority_stats")
        }
        if let deliveredBefore {
            for destination in destinations {
                while true {
                    let removed = try pool.write { db in
                        try db.run(
                            """
                            DELETE FROM delivery WHERE id IN (
                                SELECT id FROM delivery
                                WHERE destination = ? AND state = 'delivered' AND delivered_at < ? LIMIT ?)
                            """,
                            [destination, deliveredBefore, batchSize]
                        )
                    }
                    report.deliveredRemoved += removed
                    if removed < batchSize { break }
                }
            }
        }
        if let deadBefore {
            for destination in destinations {
                while true {
                    let removed = try writeThenRemoveFiles { db, unneeded in
                        let rows = try db.rows(
                            """
                            SELECT id, instance_id FROM delivery
                            WHERE destination = ? AND state = 'dead' AND queued_at < ? LIMIT ?
                            """,
                            [destination, deadBefore, batchSize]
                        )
                        for row in rows { try db.run("DELETE FROM delivery WHERE id = ?", [row["id"] as Int64]) }
                        for instance in Set(rows.map { $0["instance_id"] as Int64 }).sorted() {
                            if let path = try Outbox.releaseSpool(instance, now: now, db: db) { unneeded.append(path) }
                        }
                        return rows.count
                    }
                    report.deadRemoved += removed
                    if removed < batchSize { break }
                }
            }
        }
        while true {
            let removed = try pool.write { db in
                try db.run(
                    """
                    DELETE FROM instance WHERE id IN (
                        SELECT id FROM instance
                        WHERE spool_removed_at IS NOT NULL
                          AND NOT EXISTS (SELECT 1 FROM delivery WHERE delivery.instance_id = instance.id)
                        LIMIT ?)
                    """,
                    [batchSize]
                )
            }
            report.instancesRemoved += removed
            if removed < batchSize { break }
        }
        report.studiesRemoved = try pool.write { db in
            try db.run(
                """
                DELETE FROM study
                WHERE NOT EXISTS (SELECT 1 FROM instance WHERE instance.study_instance_uid = study.study_instance_uid)
                """
            )
        }
        if let cutoff = [deliveredBefore, deadBefore].compactMap({ $0 }).min() {
            report.studyHoldsRemoved = try pool.write { db in
                try db.run(
                    """
                    DELETE FROM study_hold
                    WHERE held_at < ?
                      AND NOT EXISTS (SELECT 1 FROM instance
                                      WHERE instance.study_instance_uid = study_hold.study_instance_uid)
                    """,
                    [cutoff]
                )
            }
        }
        return report
    }
}
