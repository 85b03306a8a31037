extension Schema {
    /// v4 (issue 6 follow-up): per-priority queue statistics kept by triggers, and persistent
    /// study holds.
    ///
    /// - `delivery_priority_stats` replaces v1's `delivery_stats` with one more key column,
    ///   `priority`: deliveries and bytes per (destination, state, priority), kept by triggers
    ///   exactly as before, so the per-priority pending figures of `radrelayctl status` cost a
    ///   read of at most destinations × 6 states × 4 priorities rows instead of a scan of every
    ///   pending delivery. The update trigger also fires `OF priority`: ingest raises the
    ///   priority of a study's pending deliveries (study-level inheritance, v3) and re-queues
    ///   delivered or dead rows at a new priority. Replacing rather than adding keeps the ingest
    ///   path at one stats UPSERT per delivery row. Rows are counted from `delivery` once here.
    /// - `delivery_stats` becomes a view over it with v1's columns, for ad-hoc readers
    ///   (`sqlite3`, runbooks); the outbox itself reads `delivery_priority_stats`.
    /// - `study_hold`: a study an operator held (`radrelayctl hold --study`), for one
    ///   destination or, with `destination` NULL, for all. Ingest creates deliveries of a held
    ///   study as `held`, like those of a held destination (`destination_hold`, v2), until an
    ///   operator releases it. The unique index (NULL counted as one value) makes holding twice a
    ///   no-op and serves the one seek ingest makes per delivery.
    static let v4PriorityStatsAndStudyHold = """
        DROP TRIGGER delivery_stats_after_insert;
        DROP TRIGGER delivery_stats_after_update;
        DROP TRIGGER delivery_stats_after_delete;
        DROP TABLE delivery_stats;

        CREATE TABLE delivery_priority_stats (
            destination TEXT NOT NULL,
            state TEXT NOT NULL,
            priority INTEGER NOT NULL CHECK (priority BETWEEN 0 AND 3),
            deliveries INTEGER NOT NULL CHECK (deliveries >= 0),
            bytes INTEGER NOT NULL CHECK (bytes >= 0),
            PRIMARY KEY (destination, state, priority)
        ) STRICT, WITHOUT ROWID;

        INSERT INTO delivery_priority_stats (destination, state, priority, deliveries, bytes)
            SELECT destination, state, priority, count(*), sum(byte_size) FROM delivery
            GROUP BY destination, state, priority;

        CREATE TRIGGER delivery_priority_stats_after_insert AFTER INSERT ON delivery
        BEGIN
            INSERT INTO delivery_priority_stats (destination, state, priority, deliveries, bytes)
                VALUES (NEW.destination, NEW.state, NEW.priority, 1, NEW.byte_size)
                ON CONFLICT (destination, state, priority) DO UPDATE
                SET deliveries = deliveries + 1, bytes = bytes + excluded.bytes;
        END;

        CREATE TRIGGER delivery_priority_stats_after_update
        AFTER UPDATE OF destination, state, priority, byte_size ON delivery
        WHEN OLD.destination IS NOT NEW.destination OR OLD.state IS NOT NEW.state
            OR OLD.priority IS NOT NEW.priority OR OLD.byte_size IS NOT NEW.byte_size
        BEGIN
            UPDATE delivery_priority_stats SET deliveries = deliveries - 1, bytes = bytes - OLD.byte_size
                WHERE destination = OLD.destination AND state = OLD.state AND priority = OLD.priority;
            INSERT INTO delivery_priority_stats (destination, state, priority, deliveries, bytes)
                VALUES (NEW.destination, NEW.state, NEW.priority, 1, NEW.byte_size)
                ON CONFLICT (destination, state, priority) DO UPDATE
                SET deliveries = deliveries + 1, bytes = bytes + excluded.bytes;
        END;

        CREATE TRIGGER delivery_priority_stats_after_delete AFTER DELETE ON delivery
        BEGIN
            UPDATE delivery_priority_stats SET deliveries = deliveries - 1, bytes = bytes - OLD.byte_size
                WHERE destination = OLD.destination AND state = OLD.state AND priority = OLD.priority;
        END;

        CREATE VIEW delivery_stats (destination, state, deliveries, bytes) AS
            SELECT destination, state, sum(deliveries), sum(bytes) FROM delivery_priority_stats
            GROUP BY destination, state;

        CREATE TABLE study_hold (
            id INTEGER PRIMARY KEY,
            study_instance_uid TEXT NOT NULL CHECK (length(study_instance_uid) BETWEEN 1 AND 64),
            destination TEXT CHECK (destination IS NULL OR length(destination) > 0),
            held_at REAL NOT NULL,
            held_by_uid INTEGER
        ) STRICT;
        CREATE UNIQUE INDEX study_hold_by_study ON study_hold (study_instance_uid, ifnull(destination, ''));
        """
}
