import Foundation
import GRDB
import Logging

extension Schema {
    /// v2-operations (issue 6): operator holds per destination, and the indexes operations need.
    ///
    /// - `destination_hold`: a held destination keeps its queue; ingest queues new deliveries
    ///   for it as `held`, so nothing is sent until an operator releases it.
    /// - `instance_by_study`: study-level retry/hold/release/purge and `studies` listings.
    /// - `delivery_by_delivered_at` (partial, delivered only): the delivered-bytes rate per
    ///   destination for status, and retention pruning of delivered rows, without scanning.
    static let v2Operations = """
        CREATE TABLE destination_hold (
            destination TEXT PRIMARY KEY NOT NULL CHECK (length(destination) > 0),
            held_at REAL NOT NULL,
            held_by_uid INTEGER
        ) STRICT, WITHOUT ROWID;

        CREATE INDEX instance_by_study ON instance (study_instance_uid);
        CREATE INDEX delivery_by_delivered_at ON delivery (destination, delivered_at) WHERE state = 'delivered';
        """

    /// Migrates `pool` with the upgrade rules of DESIGN §6 / issue 6:
    /// - a database that records a migration this binary does not know was written by a newer
    ///   radrelay: refuse it (`OutboxError.schemaNewer`), change nothing;
    /// - a database with some but not all known migrations: first write a consistent copy next to
    ///   it with `VACUUM INTO` (`radrelay.sqlite.backup-<last applied>-<UTC time>`), then migrate.
    ///
    /// Returns the backup's path when one was written.
    @discardableResult
    static func migrate(
        _ pool: DatabasePool,
        databasePath: String,
        logger: Logger,
        now: Date = Date()
    ) throws -> String? {
        let migrator = Schema.migrator
        let (superseded, unknown, applied, complete) = try pool.read { db in
            let appliedIDs = try migrator.appliedIdentifiers(db)
            let known = Set(migrator.migrations)
            return (
                try migrator.hasBeenSuperseded(db),
                appliedIDs.subtracting(known).sorted(),
                try migrator.appliedMigrations(db),
                try migrator.hasCompletedMigrations(db)
            )
        }
        if superseded { throw OutboxError.schemaNewer(unknownMigrations: unknown) }
        var backup: String?
        if !complete, let last = applied.last {
            let formatter = ISO8601DateFormatter()
            formatter.formatOptions = [.withYear, .withMonth, .withDay, .withTime, .withTimeZone]
            let stamp = formatter.string(from: now).replacingOccurrences(of: ":", with: "")
            let path = "\(databasePath).backup-\(last)-\(stamp)"
            try pool.writeWithoutTransaction { db in
                try db.execute(sql: "VACUUM INTO ?", arguments: [path])
            }
            logger.notice(
                "Database backed up before schema migration",
                metadata: [
                    "message_id": "582150b6777a4d6ebbea7460ce661232", "event": "database-backed-up",
                    "backup_path": "\(path)", "schema_from": "\(last)",
                ]
            )
            backup = path
        }
        try migrator.migrate(pool)
        return backup
    }
}
