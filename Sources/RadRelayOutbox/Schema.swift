import GRDB

/// The outbox schema as GRDB migrations (CONVENTIONS §11). A released migration is never edited:
/// change the schema by appending `v2`, `v3`… GRDB records the applied ones in
/// `grdb_migrations`.
///
/// Invariants live in the schema so no code path can break them: states and priorities are
/// `CHECK`ed, each state carries the columns it needs, `UNIQUE(destination, sop_instance_uid,
/// sha256)` makes dedup a schema rule, and the queue statistics are kept by triggers so status
/// costs the same at a million rows as at ten (`delivery_stats` in v1, per priority as
/// `delivery_priority_stats` since v4).
enum Schema {
    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            try db.execute(sql: v1)
        }
        migrator.registerMigration("v2-operations") { db in
            try db.execute(sql: v2Operations)
        }
        migrator.registerMigration("v3-scheduling") { db in
            try db.execute(sql: v3Scheduling)  // issue 4: Schema+Scheduling.swift
        }
        migrator.registerMigration("v4-priority-stats-study-hold") { db in
            try db.execute(sql: v4PriorityStatsAndStudyHold)  // Schema+PriorityStats.swift
        }
        return migrator
    }

    /// v1: instance, delivery (+ claim/retry/instance indexes), delivery_stats (+ triggers),
    /// study, destination_health.
    ///
    /// - `instance.spool_removed_at` is set, in the transaction that makes the file unneeded,
    ///   when the spool file is to be deleted; the file goes after the commit. Rows with it set
    ///   keep `spool_path` for history. A crash between the commit and the unlink leaves a file
    ///   that no live row needs, which reconcile deletes.
    /// - `delivery.sop_instance_uid`, `sha256` and `byte_size` copy the instance's so the dedup
    ///   key is one table's `UNIQUE` constraint and the stats triggers need no join.
    /// - `delivery_by_claim` serves queued claims, per-state scans and the oldest-pending probe;
    ///   the implicit trailing rowid makes `ORDER BY priority DESC, queued_at, id` index order.
    /// - `delivery_by_retry` (partial, deferred only) finds due retries per priority in O(log n)
    ///   even when an outage has left a million of them waiting.
    static let v1 = """
        CREATE TABLE instance (
            id INTEGER PRIMARY KEY,
            sop_instance_uid TEXT NOT NULL CHECK (length(sop_instance_uid) BETWEEN 1 AND 64),
            sop_class_uid TEXT NOT NULL CHECK (length(sop_class_uid) BETWEEN 1 AND 64),
            study_instance_uid TEXT NOT NULL CHECK (length(study_instance_uid) BETWEEN 1 AND 64),
            series_instance_uid TEXT CHECK (length(series_instance_uid) BETWEEN 1 AND 64),
            transfer_syntax_uid TEXT NOT NULL CHECK (length(transfer_syntax_uid) BETWEEN 1 AND 64),
            spool_path TEXT NOT NULL UNIQUE CHECK (spool_path GLOB 'spool/?*' AND spool_path NOT GLOB '*..*'),
            spool_removed_at REAL,
            byte_size INTEGER NOT NULL CHECK (byte_size >= 0),
            sha256 TEXT NOT NULL CHECK (length(sha256) = 64 AND sha256 NOT GLOB '*[^0-9a-f]*'),
            calling_ae TEXT NOT NULL,
            called_ae TEXT NOT NULL,
            source_ip TEXT NOT NULL,
            modality TEXT,
            received_at REAL NOT NULL,
            priority INTEGER NOT NULL CHECK (priority BETWEEN 0 AND 3)
        ) STRICT;

        CREATE TABLE delivery (
            id INTEGER PRIMARY KEY,
            instance_id INTEGER NOT NULL REFERENCES instance(id) ON DELETE RESTRICT,
            destination TEXT NOT NULL CHECK (length(destination) > 0),
            sop_instance_uid TEXT NOT NULL,
            sha256 TEXT NOT NULL,
            byte_size INTEGER NOT NULL CHECK (byte_size >= 0),
            priority INTEGER NOT NULL CHECK (priority BETWEEN 0 AND 3),
            state TEXT NOT NULL
                CHECK (state IN ('queued', 'active', 'deferred', 'held', 'delivered', 'dead')),
            attempts INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
            next_attempt_at REAL,
            lease_until REAL,
            queued_at REAL NOT NULL,
            delivered_at REAL,
            last_error_class TEXT,
            last_error_detail TEXT,
            last_status INTEGER CHECK (last_status BETWEEN 0 AND 65535),
            UNIQUE (destination, sop_instance_uid, sha256),
            CHECK (state <> 'active' OR lease_until IS NOT NULL),
            CHECK (state <> 'deferred' OR next_attempt_at IS NOT NULL),
            CHECK (state <> 'delivered' OR delivered_at IS NOT NULL),
            CHECK (state <> 'dead' OR last_error_class IS NOT NULL)
        ) STRICT;

        CREATE INDEX delivery_by_claim ON delivery (destination, state, priority DESC, queued_at);
        CREATE INDEX delivery_by_retry ON delivery (destination, priority, next_attempt_at)
            WHERE state = 'deferred';
        CREATE INDEX delivery_by_instance ON delivery (instance_id);

        CREATE TABLE delivery_stats (
            destination TEXT NOT NULL,
            state TEXT NOT NULL,
            deliveries INTEGER NOT NULL CHECK (deliveries >= 0),
            bytes INTEGER NOT NULL CHECK (bytes >= 0),
            PRIMARY KEY (destination, state)
        ) STRICT, WITHOUT ROWID;

        CREATE TRIGGER delivery_stats_after_insert AFTER INSERT ON delivery
        BEGIN
            INSERT INTO delivery_stats (destination, state, deliveries, bytes)
                VALUES (NEW.destination, NEW.state, 1, NEW.byte_size)
                ON CONFLICT (destination, state) DO UPDATE
                SET deliveries = deliveries + 1, bytes = bytes + excluded.bytes;
        END;

        CREATE TRIGGER delivery_stats_after_update AFTER UPDATE OF destination, state, byte_size ON delivery
        WHEN OLD.destination IS NOT NEW.destination OR OLD.state IS NOT NEW.state
            OR OLD.byte_size IS NOT NEW.byte_size
        BEGIN
            UPDATE delivery_stats SET deliveries = deliveries - 1, bytes = bytes - OLD.byte_size
                WHERE destination = OLD.destination AND state = OLD.state;
            INSERT INTO delivery_stats (destination, state, deliveries, bytes)
                VALUES (NEW.destination, NEW.state, 1, NEW.byte_size)
                ON CONFLICT (destination, state) DO UPDATE
                SET deliveries = deliveries + 1, bytes = bytes + excluded.bytes;
        END;

        CREATE TRIGGER delivery_stats_after_delete AFTER DELETE ON delivery
        BEGIN
            UPDATE delivery_stats SET deliveries = deliveries - 1, bytes = bytes - OLD.byte_size
                WHERE destination = OLD.destination AND state = OLD.state;
        END;

        CREATE TABLE study (
            study_instance_uid TEXT PRIMARY KEY NOT NULL,
            first_received_at REAL NOT NULL,
            last_received_at REAL NOT NULL,
            instance_count INTEGER NOT NULL CHECK (instance_count >= 1),
            priority INTEGER NOT NULL CHECK (priority BETWEEN 0 AND 3)
        ) STRICT, WITHOUT ROWID;

        CREATE TABLE destination_health (
            destination TEXT PRIMARY KEY NOT NULL,
            state TEXT NOT NULL DEFAULT 'up' CHECK (state IN ('up', 'degraded', 'down')),
            down_until REAL,
            consecutive_failures INTEGER NOT NULL DEFAULT 0 CHECK (consecutive_failures >= 0),
            last_error_class TEXT,
            last_error_detail TEXT,
            last_error_status INTEGER CHECK (last_error_status BETWEEN 0 AND 65535),
            last_error_at REAL,
            last_success_at REAL
        ) STRICT, WITHOUT ROWID;
        """
}
