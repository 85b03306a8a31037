import GRDB
import RadRelayCore

/// What startup reconcile found and repaired.
public struct ReconcileReport: Sendable, Equatable {
    /// Active deliveries (their worker died with the last process) put back to queued.
    public var requeuedActive: Int
    /// Files in `spool/incoming/` deleted: objects whose reception never finished, never
    /// acknowledged.
    public var deletedPartFiles: Int
    /// Files in `spool/` deleted because no live instance row needs them: never acknowledged
    /// (the process died between rename and commit), or released by a commit whose unlink the
    /// crash interrupted.
    public var deletedOrphanFiles: Int
    /// Instances whose spool file is missing although deliveries still need it.
    public var missingFiles: Int
    /// Pending deliveries dead-lettered with `spool_missing` because their file is gone. Each
    /// is an acknowledged object that will not be delivered: log it at critical level.
    public var deadSpoolMissing: Int
    /// Files that could not be deleted (permissions, I/O errors); they are retried next time.
    public var undeletableFiles: Int

    /// Creates a report.
    public init(
        requeuedActive: Int = 0,
        deletedPartFiles: Int = 0,
        deletedOrphanFiles: Int = 0,
        missingFiles: Int = 0,
        deadSpoolMissing: Int = 0,
        undeletableFiles: Int = 0
    ) {
        self.requeuedActive = requeuedActive
        self.deletedPartFiles = deletedPartFiles
        self.deletedOrphanFiles = deletedOrphanFiles
        self.missingFiles = missingFiles
        self.deadSpoolMissing = deadSpoolMissing
        self.undeletableFiles = undeletableFiles
    }
}

extension Outbox {
    // MARK: - Startup reconcile

    /// Brings rows and files back into agreement after any kind of stop (DESIGN §4). Run it once
    /// at startup, after taking the state directory lock and before the listener opens: it
    /// assumes nothing else touches the outbox or the spool meanwhile.
    ///
    /// 1. Every active delivery → queued, lease cleared (attempts stay counted); → held instead
    ///    when an operator holds its destination or study.
    /// 2. Every pending delivery whose instance file is missing → dead, class `spool_missing`.
    /// 3. After the commit: every file in `spool/incoming/`, and every file in `spool/` that no
    ///    live instance row names, is deleted (none of them was ever acknowledged, or they were
    ///    already released).
    ///
    /// The caller logs the report; `deadSpoolMissing > 0` deserves a critical log and an alert,
    /// because each of those objects was acknowledged to its sender.
    ///
    /// A spool that holds no file at all while rows still need files looks like an unmounted or
    /// wiped file system rather than lost objects: reconcile then throws
    /// `OutboxError.spoolEmpty` and changes nothing, unless `acceptEmptySpool` is true (an
    /// operator's explicit decision to dead-letter them all).
    public func reconcile(now: EpochSeconds, acceptEmptySpool: Bool = false) throws -> ReconcileReport {
        var report = ReconcileReport()
        let incoming = try spool.incomingFiles()
        let stored = Set(try spool.storedFiles())

        let orphans: [String] = try pool.write { db in
            report.requeuedActive = try db.run(
                """
                UPDATE delivery SET state = CASE WHEN \(Outbox.operatorHeldSQL) THEN 'held' ELSE 'queued' END,
                    lease_until = NULL
                WHERE state = 'active'
                """
            )
            var live: Set<String> = []
            var missing: [Int64] = []
            for row in try db.rows("SELECT id, spool_path FROM instance WHERE spool_removed_at IS NULL") {
                let path: String = row["spool_path"]
                if stored.contains(path) { live.insert(path) } else { missing.append(row["id"]) }
            }
            report.missingFiles = missing.count
            if stored.isEmpty, !missing.isEmpty, !acceptEmptySpool {
                throw OutboxError.spoolEmpty(directory: spool.directory, expectedFiles: missing.count)
            }
            if !missing.isEmpty {
                report.deadSpoolMissing = try Outbox.deadLetterMissing(missing, now: now, db: db)
            }
            return stored.subtracting(live).sorted()
        }

        for path in incoming {
            if POSIX.unlinkIfPresent(path) == nil { report.deletedPartFiles += 1 } else { report.undeletableFiles += 1 }
        }
        for path in orphans {
            if spool.remove(relative: path) { report.deletedOrphanFiles += 1 } else { report.undeletableFiles += 1 }
        }
        return report
    }

    /// Dead-letters the pending deliveries of `instanceIDs` and marks their files removed, as
    /// two set-wide statements: a wiped spool can mean a million rows, and one statement per
    /// row would hold the daemon's start for minutes.
    private static func deadLetterMissing(_ instanceIDs: [Int64], now: EpochSeconds, db: Database) throws -> Int {
        try db.execute(sql: "CREATE TEMP TABLE reconcile_missing (id INTEGER PRIMARY KEY)")
        defer { try? db.execute(sql: "DROP TABLE temp.reconcile_missing") }
        let insert = try db.makeStatement(sql: "INSERT INTO temp.reconcile_missing (id) VALUES (?)")
        for id in instanceIDs { try insert.execute(arguments: [id]) }
        // Uncached: these statements name a temp table that exists only for this call.
        try db.execute(
            sql: """
                UPDATE delivery
                SET state = 'dead', lease_until = NULL, next_attempt_at = NULL, last_error_class = ?,
                    last_error_detail = 'spool file missing at startup', last_status = NULL
                WHERE state IN ('queued', 'active', 'deferred', 'held')
                  AND instance_id IN (SELECT id FROM temp.reconcile_missing)
                """,
            arguments: [FailureClass.spoolMissing.rawValue]
        )
        let dead = db.changesCount
        try db.execute(
            sql: "UPDATE instance SET spool_removed_at = ? WHERE id IN (SELECT id FROM temp.reconcile_missing)",
            arguments: [now]
        )
        return dead
    }
}
