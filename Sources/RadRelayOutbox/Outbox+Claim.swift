import GRDB
import RadRelayCore

/// A delivery a worker has claimed: everything needed to send it, without another query.
public struct ClaimedDelivery: Sendable, Equatable {
    /// The delivery to report the outcome for.
    public var deliveryID: Int64
    /// The instance whose file is sent.
    public var instanceID: Int64
    /// The destination name.
    public var destination: String
    /// Absolute path of the spool file (a Part 10 file as received).
    public var spoolPath: String
    /// SOP Class UID (the presentation context's abstract syntax).
    public var sopClassUID: DICOMUID
    /// SOP Instance UID.
    public var sopInstanceUID: DICOMUID
    /// Study Instance UID (for logs at debug level and study-level batching).
    public var studyInstanceUID: DICOMUID
    /// The transfer syntax the file is encoded in.
    public var transferSyntaxUID: DICOMUID
    /// Size of the spool file in bytes (for throttling).
    public var byteSize: UInt64
    /// SHA-256 of the data set without its file meta group.
    public var sha256: String
    /// Attempts so far, this one included (1 on the first claim).
    public var attempts: Int
    /// The delivery's priority.
    public var priority: Priority
    /// When the delivery was queued (age for logs and metrics).
    public var queuedAt: EpochSeconds
    /// Until when the claim is exclusive; afterwards another worker may take it over.
    public var leaseUntil: EpochSeconds
}

/// Which kinds of due work a claim may take (DESIGN §5: workers alternate fresh and retried
/// work so a backlog of retries never starves new studies, and vice versa).
public struct ClaimSources: OptionSet, Sendable, Hashable {
    /// The bits.
    public let rawValue: Int
    /// Creates a set from its raw bits.
    public init(rawValue: Int) { self.rawValue = rawValue }

    /// Queued deliveries never tried, or re-queued.
    public static let fresh = ClaimSources(rawValue: 1)
    /// Deferred deliveries whose `next_attempt_at` has come.
    public static let retries = ClaimSources(rawValue: 2)
    /// Active deliveries whose worker's lease ran out (the worker died or hung).
    public static let expiredLeases = ClaimSources(rawValue: 4)
    /// Everything that is due.
    public static let all: ClaimSources = [.fresh, .retries, .expiredLeases]
}

extension Outbox {
    // MARK: - Claiming

    /// Atomically takes the next due delivery for `destination` and leases it to the caller
    /// until `now + leaseSeconds`: state becomes active, attempts + 1. Returns nil when nothing
    /// is due.
    ///
    /// Due means queued, or deferred with `next_attempt_at <= now`, or active with
    /// `lease_until < now`. The order is priority (highest first), then `queued_at` (oldest
    /// first), then id. One refinement keeps every claim O(log n) even when an outage has left
    /// a million retries due at once: among due *deferred* deliveries of one priority, the one
    /// that has been due longest is the candidate.
    ///
    /// `minimumPriority` lets a worker reserved for urgent work take only STAT/HIGH; `sources`
    /// lets workers alternate fresh and retried work.
    public func claimDue(
        destination: String,
        now: EpochSeconds,
        leaseSeconds: Double,
        minimumPriority: Priority = .low,
        sources: ClaimSources = .all
    ) throws -> ClaimedDelivery? {
        let spool = self.spool
        return try pool.write { db in
            let due = try Outbox.nextDue(
                destination, now: now, minimumPriority: minimumPriority, sources: sources, db: db
            )
            guard let id = due else { return nil }
            try db.run(
                """
                UPDATE delivery SET state = 'active', attempts = attempts + 1, lease_until = ?, next_attempt_at = NULL
                WHERE id = ?
                """,
                [now + leaseSeconds, id]
            )
            return try Outbox.claimed(id, spool: spool, db: db)
        }
    }

    /// Moves the lease of an active delivery to `until` (for sends that outlast the lease, such
    /// as a large object under a bandwidth cap). Returns false when the delivery is no longer
    /// active, i.e. the caller has lost it.
    @discardableResult
    public func extendLease(deliveryID: Int64, until: EpochSeconds) throws -> Bool {
        try pool.write { db in
            try db.run("UPDATE delivery SET lease_until = ? WHERE id = ? AND state = 'active'", [until, deliveryID]) > 0
        }
    }

    /// The earliest time something becomes claimable for `destination`: `now` if anything is
    /// queued, else the earliest `next_attempt_at` of deferred work or `lease_until` of active
    /// work; nil when nothing is pending there (held work waits for an operator). The result may
    /// lie in the past: then something is due already. Workers sleep until then, or until ingest
    /// wakes them.
    public func nextWakeUp(destination: String, now: EpochSeconds) throws -> EpochSeconds? {
        try pool.read { db in
            let queued: Bool =
                try db.value(
                    "SELECT EXISTS (SELECT 1 FROM delivery WHERE destination = ? AND state = 'queued')", [destination]
                ) ?? false
            if queued { return now }
            var earliest: EpochSeconds? = try db.value(
                "SELECT min(lease_until) FROM delivery WHERE destination = ? AND state = 'active'", [destination]
            )
            // One probe per priority: each is a single seek into the partial retry index, where a
            // min() across priorities would scan every deferred row.
            for priority in Priority.allCases {
                let due: Double? = try db.value(
                    """
                    SELECT min(next_attempt_at) FROM delivery
                    WHERE state = 'deferred' AND destination = ? AND priority = ?
                    """,
                    [destination, priority.rawValue]
                )
                if let due { earliest = min(earliest ?? due, due) }
            }
            return earliest
        }
    }

    // MARK: - Internals

    private struct Candidate {
        var id: Int64
        var priority: Int
        var queuedAt: Double

        init(_ row: Row) {
            id = row["id"]
            priority = row["priority"]
            queuedAt = row["queued_at"]
        }

        func precedes(_ other: Candidate) -> Bool {
            if priority != other.priority { return priority > other.priority }
            if queuedAt != other.queuedAt { return queuedAt < other.queuedAt }
            return id < other.id
        }
    }

    private static func nextDue(
        _ destination: String,
        now: EpochSeconds,
        minimumPriority: Priority,
        sources: ClaimSources,
        db: Database
    ) throws -> Int64? {
        var best: Candidate?
        func consider(_ row: Row?) {
            guard let row else { return }
            let candidate = Candidate(row)
            if best.map({ candidate.precedes($0) }) ?? true { best = candidate }
        }
        if sources.contains(.fresh) {
            consider(
                try db.row(
                    """
                    SELECT id, priority, queued_at FROM delivery
                    WHERE destination = ? AND state = 'queued' AND priority >= ?
                    ORDER BY priority DESC, queued_at, id LIMIT 1
                    """,
                    [destination, minimumPriority.rawValue]
                ))
        }
        if sources.contains(.expiredLeases) {
            // Few rows are ever active (one per worker), so this range scan stays short.
            consider(
                try db.row(
                    """
                    SELECT id, priority, queued_at FROM delivery
                    WHERE destination = ? AND state = 'active' AND lease_until < ? AND priority >= ?
                    ORDER BY priority DESC, queued_at, id LIMIT 1
                    """,
                    [destination, now, minimumPriority.rawValue]
                ))
        }
        if sources.contains(.retries) {
            let floor = max(minimumPriority.rawValue, best?.priority ?? Priority.low.rawValue)
            for priority in stride(from: Priority.stat.rawValue, through: floor, by: -1) {
                let row = try db.row(
                    """
                    SELECT id, priority, queued_at FROM delivery
                    WHERE state = 'deferred' AND destination = ? AND priority = ? AND next_attempt_at <= ?
                    ORDER BY next_attempt_at, id LIMIT 1
                    """,
                    [destination, priority, now]
                )
                if row != nil {
                    consider(row)
                    break
                }
            }
        }
        return best?.id
    }

    static func claimed(_ id: Int64, spool: Spool, db: Database) throws -> ClaimedDelivery {
        guard
            let row = try db.row(
                """
                SELECT d.id, d.instance_id, d.destination, d.sop_instance_uid, d.sha256, d.byte_size, d.priority,
                       d.attempts, d.queued_at, d.lease_until,
                       i.sop_class_uid, i.study_instance_uid, i.transfer_syntax_uid, i.spool_path
                FROM delivery d JOIN instance i ON i.id = d.instance_id
                WHERE d.id = ?
                """,
                [id]
            )
        else { throw OutboxError.noSuchDelivery(id) }
        let rawPriority: Int = row["priority"]
        guard let priority = Priority(rawValue: rawPriority) else {
            throw OutboxError.corruptRow("delivery \(id) has priority \(rawPriority)")
        }
        let byteSize: Int64 = row["byte_size"]
        let spoolPath: String = row["spool_path"]
        return ClaimedDelivery(
            deliveryID: id,
            instanceID: row["instance_id"],
            destination: row["destination"],
            spoolPath: spool.absolutePath(relative: spoolPath),
            sopClassUID: try uid(row, "sop_class_uid", delivery: id),
            sopInstanceUID: try uid(row, "sop_instance_uid", delivery: id),
            studyInstanceUID: try uid(row, "study_instance_uid", delivery: id),
            transferSyntaxUID: try uid(row, "transfer_syntax_uid", delivery: id),
            byteSize: UInt64(max(byteSize, 0)),
            sha256: row["sha256"],
            attempts: row["attempts"],
            priority: priority,
            queuedAt: row["queued_at"],
            leaseUntil: row["lease_until"]
        )
    }

    static func uid(_ row: Row, _ column: String, delivery id: Int64) throws -> DICOMUID {
        let raw: String = row[column]
        do {
            return try DICOMUID(raw)
        } catch {
            throw OutboxError.corruptRow("delivery \(id): \(column) is not a valid UID")
        }
    }
}
