import GRDB
import RadRelayCore

/// A destination's persisted circuit-breaker state (`destination_health`).
public struct DestinationHealthRecord: Sendable, Equatable {
    /// `up`, `degraded` or `down`.
    public var state: String
    public var downUntil: EpochSeconds?
    public var consecutiveFailures: Int

    public init(state: String, downUntil: EpochSeconds?, consecutiveFailures: Int) {
        self.state = state
        self.downUntil = downUntil
        self.consecutiveFailures = consecutiveFailures
    }
}

extension Outbox {
    // MARK: - Scheduled claims (issue 4)

    /// Atomically takes the delivery `query` ranks first among the due work of `destination` and
    /// leases it until `now + leaseSeconds` (state active, attempts + 1), like `claimDue`; also
    /// returns the lane it came from so the worker can alternate. Nil when nothing is due.
    ///
    /// Candidates per base priority (at or above `query.minimumPriority`): the oldest queued
    /// delivery that is fresh (queued since `query.freshSince`), the oldest queued one that is
    /// backlog (queued before), and the deferred one due longest; plus the most urgent expired
    /// lease. Each is one seek into `delivery_by_claim` or `delivery_by_retry`, so a claim costs
    /// a dozen index seeks however many rows wait. `ClaimQuery.best` decides among them.
    public func claimNext(
        destination: String,
        now: EpochSeconds,
        leaseSeconds: Double,
        query: ClaimQuery
    ) throws -> (delivery: ClaimedDelivery, lane: WorkLane)? {
        let spool = self.spool
        return try pool.write { db in
            guard let best = try Outbox.bestCandidate(destination, now: now, query: query, db: db) else { return nil }
            try db.run(
                """
                UPDATE delivery SET state = 'active', attempts = attempts + 1, lease_until = ?, next_attempt_at = NULL
                WHERE id = ?
                """,
                [now + leaseSeconds, best.id]
            )
            return (try Outbox.claimed(best.id, spool: spool, db: db), best.lane)
        }
    }

    /// When something at or above `minimumPriority` becomes claimable for `destination`: `now`
    /// if such work is queued, else the earliest retry or lease expiry; nil when nothing is
    /// pending (held work waits for the stability sweep or an operator). Workers sleep until
    /// then or until woken, so an idle destination costs no CPU.
    public func nextDueTime(destination: String, now: EpochSeconds, minimumPriority: Priority = .low) throws
        -> EpochSeconds?
    {
        try pool.read { db in
            let queued: Bool =
                try db.value(
                    "SELECT EXISTS (SELECT 1 FROM delivery WHERE destination = ? AND state = 'queued' AND priority >= ?)",
                    [destination, minimumPriority.rawValue]
                ) ?? false
            if queued { return now }
            var earliest: EpochSeconds? = try db.value(
                "SELECT min(lease_until) FROM delivery WHERE destination = ? AND state = 'active' AND priority >= ?",
                [destination, minimumPriority.rawValue]
            )
            for priority in Priority.allCases where priority >= minimumPriority {
                let due: Double? = try db.value(
                    "SELECT min(next_attempt_at) FROM delivery WHERE state = 'deferred' AND destination = ? AND priority = ?",
                    [destination, priority.rawValue]
                )
                if let due { earliest = min(earliest ?? due, due) }
            }
            return earliest
        }
    }

    /// After a destination came back: deferred deliveries that wait only because of
    /// destination-level failures become due at `now`, so the backlog moves at once instead of
    /// at each row's own backoff. Returns how many.
    @discardableResult
    public func makeDeferredDue(destination: String, now: EpochSeconds) throws -> Int {
        let classes = FailureClass.allCases.filter(\.isDestinationLevel).map(\.rawValue)
        let placeholders = classes.map { _ in "?" }.joined(separator: ", ")
        var arguments: StatementArguments = [now, destination, now]
        arguments += StatementArguments(classes)
        return try pool.write { db in
            try db.execute(
                sql: """
                    UPDATE delivery SET next_attempt_at = ?
                    WHERE state = 'deferred' AND destination = ? AND next_attempt_at > ?
                      AND last_error_class IN (\(placeholders))
                    """,
                arguments: arguments
            )
            return db.changesCount
        }
    }

    // MARK: - Expiry and quota

    /// Dead-letters (class `expired`) every pending delivery of `destination` — queued, deferred
    /// or held, not one on the wire — queued before `cutoff` (`max_age`). Returns how many.
    @discardableResult
    public func expire(destination: String, queuedBefore cutoff: EpochSeconds, now: EpochSeconds) throws -> Int {
        try pool.write { db in
            var expired = 0
            for state in ["queued", "deferred", "held"] {
                expired += try db.run(
                    """
                    UPDATE delivery
                    SET state = 'dead', next_attempt_at = NULL, lease_until = NULL, hold_until_stable = 0,
                        last_error_class = 'expired', last_error_detail = 'older than the destination''s max_age'
                    WHERE destination = ? AND state = ? AND queued_at < ?
                    """,
                    [destination, state, cutoff]
                )
            }
            return expired
        }
    }

    /// When the oldest delivery of `destination` that `expire` could take was queued; nil when
    /// none is pending.
    public func oldestExpirable(destination: String) throws -> EpochSeconds? {
        try pool.read { db in
            var oldest: Double?
            for state in ["queued", "deferred", "held"] {
                for priority in Priority.allCases {
                    let value: Double? = try db.value(
                        "SELECT min(queued_at) FROM delivery WHERE destination = ? AND state = ? AND priority = ?",
                        [destination, state, priority.rawValue]
                    )
                    if let value { oldest = min(oldest ?? value, value) }
                }
            }
            return oldest
        }
    }

    /// Bytes of every pending delivery per destination (queued, active, deferred, held), from
    /// the trigger-kept `delivery_priority_stats`: what the backlog quota is checked against.
    public func pendingBytes() throws -> [String: UInt64] {
        try pool.read { db in
            var bytes: [String: UInt64] = [:]
            for row in try db.rows(
                """
                SELECT destination, sum(bytes) AS bytes FROM delivery_priority_stats
                WHERE state IN ('queued', 'active', 'deferred', 'held') GROUP BY destination
                """
            ) {
                let value: Int64 = row["bytes"] ?? 0
                bytes[row["destination"]] = UInt64(max(0, value))
            }
            return bytes
        }
    }

    // MARK: - Destination health

    /// The circuit-breaker state saved for `destination`, if any.
    public func health(destination: String) throws -> DestinationHealthRecord? {
        try pool.read { db in
            try db.row(
                "SELECT state, down_until, consecutive_failures FROM destination_health WHERE destination = ?",
                [destination]
            ).map {
                DestinationHealthRecord(
                    state: $0["state"], downUntil: $0["down_until"], consecutiveFailures: $0["consecutive_failures"])
            }
        }
    }

    /// Saves the circuit-breaker state of `destination` (on transitions only).
    public func saveHealth(destination: String, _ record: DestinationHealthRecord) throws {
        try pool.write { db in
            try db.run(
                """
                INSERT INTO destination_health (destination, state, down_until, consecutive_failures) VALUES (?, ?, ?, ?)
                ON CONFLICT (destination) DO UPDATE
                SET state = excluded.state, down_until = excluded.down_until,
                    consecutive_failures = excluded.consecutive_failures
                """,
                [destination, record.state, record.downUntil, record.consecutiveFailures]
            )
        }
    }

    // MARK: - Internals

    private static func bestCandidate(
        _ destination: String,
        now: EpochSeconds,
        query: ClaimQuery,
        db: Database
    ) throws -> ClaimCandidate? {
        var candidates: [ClaimCandidate] = []
        func add(_ row: Row?, priority: Priority, lane: WorkLane) {
            guard let row else { return }
            candidates.append(ClaimCandidate(id: row["id"], priority: priority, queuedAt: row["queued_at"], lane: lane))
        }
        for priority in Priority.allCases.reversed() where priority >= query.minimumPriority {
            let p = priority.rawValue
            if let since = query.freshSince {
                add(
                    try db.row(
                        """
                        SELECT id, queued_at FROM delivery
                        WHERE destination = ? AND state = 'queued' AND priority = ? AND queued_at >= ?
                        ORDER BY queued_at, id LIMIT 1
                        """,
                        [destination, p, since]
                    ), priority: priority, lane: .fresh)
                add(
                    try db.row(
                        """
                        SELECT id, queued_at FROM delivery
                        WHERE destination = ? AND state = 'queued' AND priority = ? AND queued_at < ?
                        ORDER BY queued_at, id LIMIT 1
                        """,
                        [destination, p, since]
                    ), priority: priority, lane: .backlog)
            } else {
                add(
                    try db.row(
                        """
                        SELECT id, queued_at FROM delivery
                        WHERE destination = ? AND state = 'queued' AND priority = ?
                        ORDER BY queued_at, id LIMIT 1
                        """,
                        [destination, p]
                    ), priority: priority, lane: .fresh)
            }
            add(
                try db.row(
                    """
                    SELECT id, queued_at FROM delivery
                    WHERE state = 'deferred' AND destination = ? AND priority = ? AND next_attempt_at <= ?
                    ORDER BY next_attempt_at, id LIMIT 1
                    """,
                    [destination, p, now]
                ), priority: priority, lane: .backlog)
            // Lower base priorities can still win only through aging, and aging never passes
            // its ceiling: stop once the best found is above what they can reach.
            if let best = query.best(of: candidates, now: now) {
                let effective = query.aging.effectivePriority(best.priority, waited: now - best.queuedAt)
                if query.aging.step == 0 || effective > query.aging.ceiling { break }
            }
        }
        // Few rows are ever active (one per worker), so this range scan stays short.
        if let row = try db.row(
            """
            SELECT id, priority, queued_at FROM delivery
            WHERE destination = ? AND state = 'active' AND lease_until < ? AND priority >= ?
            ORDER BY priority DESC, queued_at, id LIMIT 1
            """,
            [destination, now, query.minimumPriority.rawValue]
        ), let priority = Priority(rawValue: row["priority"]) {
            add(row, priority: priority, lane: .backlog)
        }
        return query.best(of: candidates, now: now)
    }
}
