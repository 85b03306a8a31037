import GRDB
import RadRelayCore

/// What an operator command applies to (`radrelayctl retry|requeue|hold|release|purge`).
public enum OperatorTarget: Sendable, Equatable, CustomStringConvertible {
    /// One delivery, by id.
    case delivery(Int64)
    /// Every delivery of one study (optionally of one destination only).
    case study(String, destination: String?)
    /// Every delivery of one destination.
    case destination(String)

    public var description: String {
        switch self {
        case .delivery(let id): return "delivery \(id)"
        case .study(let uid, let destination): return "study \(uid)" + (destination.map { " for \($0)" } ?? "")
        case .destination(let name): return "destination \(name)"
        }
    }
}

/// One study's progress, for `radrelayctl studies`.
public struct StudyProgress: Sendable, Equatable {
    public var studyInstanceUID: String
    public var firstReceivedAt: EpochSeconds
    public var lastReceivedAt: EpochSeconds
    public var instanceCount: Int
    public var priority: Priority
    /// Destination → deliveries per state (only states that occur).
    public var destinations: [String: [DeliveryState: Int]]
    /// Issue 4: when every series of the study had been quiet for `outbox.stable_after`; nil
    /// while instances may still arrive.
    public var stableAt: EpochSeconds? = nil
}

/// A destination an operator has held.
public struct DestinationHold: Sendable, Equatable {
    public var destination: String
    public var heldAt: EpochSeconds
    public var heldByUID: Int?
}

/// A study an operator has held (`radrelayctl hold --study`): its deliveries, including those
/// of objects that arrive later, stay held until it is released.
public struct StudyHold: Sendable, Equatable {
    public var studyInstanceUID: String
    /// The one destination held for; nil: every destination.
    public var destination: String?
    public var heldAt: EpochSeconds
    public var heldByUID: Int?

    public init(studyInstanceUID: String, destination: String?, heldAt: EpochSeconds, heldByUID: Int?) {
        self.studyInstanceUID = studyInstanceUID
        self.destination = destination
        self.heldAt = heldAt
        self.heldByUID = heldByUID
    }
}

extension Outbox {
    // MARK: - Operator intents (one transaction each, CONVENTIONS §11)

    /// Dead deliveries of `target` go back to queued with attempts reset, so they are sent again
    /// at once (in priority order). Only deliveries whose spool file still exists; returns how
    /// many were re-queued. On a held destination or of a held study they are re-queued as held.
    @discardableResult
    public func retryDead(_ target: OperatorTarget, now: EpochSeconds) throws -> Int {
        try requeue(target, from: [.dead], now: now)
    }

    /// Deferred, held and dead deliveries of `target` go back to queued now (skipping the rest
    /// of any backoff), attempts reset. Active and delivered ones are left alone. On a held
    /// destination or of a held study deliveries stay held (release the hold instead).
    @discardableResult
    public func requeue(
        _ target: OperatorTarget,
        from states: Set<DeliveryState> = [.deferred, .held, .dead],
        now: EpochSeconds
    ) throws -> Int {
        let states = states.subtracting([.active, .delivered])
        guard !states.isEmpty else { return 0 }
        return try pool.write { db in
            let (filter, arguments) = Outbox.filter(target, states: states)
            return try db.run(
                """
                UPDATE delivery
                SET state = CASE WHEN \(Outbox.operatorHeldSQL) THEN 'held' ELSE 'queued' END,
                    attempts = 0, queued_at = ?, next_attempt_at = NULL, lease_until = NULL,
                    last_error_class = NULL, last_error_detail = NULL, last_status = NULL
                WHERE id IN (SELECT d.id FROM delivery d JOIN instance i ON i.id = d.instance_id
                             WHERE i.spool_removed_at IS NULL AND \(filter))
                  AND NOT (state = 'held' AND \(Outbox.operatorHeldSQL))
                """,
                [now] + arguments
            )
        }
    }

    /// Queued and deferred deliveries of `target` become held: no worker claims them until they
    /// are released. Holding a destination or a study (`study_hold`, v4; for one destination or
    /// all) also holds what arrives for it later; holding one delivery holds only that row.
    /// Holding what is already held changes nothing. Returns how many deliveries changed.
    @discardableResult
    public func hold(_ target: OperatorTarget, byUID uid: Int?, now: EpochSeconds) throws -> Int {
        try pool.write { db in
            switch target {
            case .destination(let name):
                try db.run(
                    """
                    INSERT INTO destination_hold (destination, held_at, held_by_uid) VALUES (?, ?, ?)
                    ON CONFLICT (destination) DO NOTHING
                    """,
                    [name, now, uid]
                )
            case .study(let study, let destination):
                try db.run(
                    """
                    INSERT INTO study_hold (study_instance_uid, destination, held_at, held_by_uid) VALUES (?, ?, ?, ?)
                    ON CONFLICT DO NOTHING
                    """,
                    [study, destination, now, uid]
                )
            case .delivery:
                break
            }
            let (filter, arguments) = Outbox.filter(target, states: [.queued, .deferred])
            return try db.run(
                """
                UPDATE delivery SET state = 'held', next_attempt_at = NULL
                WHERE id IN (SELECT d.id FROM delivery d JOIN instance i ON i.id = d.instance_id WHERE \(filter))
                """,
                arguments
            )
        }
    }

    /// Held deliveries of `target` go back to queued (attempts kept). Releasing a destination
    /// lifts its hold; releasing a study lifts its holds (for one destination: that one; without
    /// one: all of the study's). A delivery that another hold still covers stays held: a study
    /// on a held destination, a held study on a released destination, one delivery of a held
    /// study, or the study's deliveries to one destination while the whole study is held.
    /// Returns how many changed.
    @discardableResult
    public func release(_ target: OperatorTarget, now: EpochSeconds) throws -> Int {
        try pool.write { db in
            switch target {
            case .destination(let name):
                try db.run("DELETE FROM destination_hold WHERE destination = ?", [name])
            case .study(let study, nil):
                try db.run("DELETE FROM study_hold WHERE study_instance_uid = ?", [study])
            case .study(let study, let destination?):
                try db.run(
                    "DELETE FROM study_hold WHERE study_instance_uid = ? AND destination = ?", [study, destination])
            case .delivery:
                break
            }
            let (filter, arguments) = Outbox.filter(target, states: [.held])
            return try db.run(
                """
                UPDATE delivery SET state = 'queued', queued_at = ?
                WHERE id IN (SELECT d.id FROM delivery d JOIN instance i ON i.id = d.instance_id WHERE \(filter))
                  AND NOT \(Outbox.operatorHeldSQL)
                """,
                [now] + arguments
            )
        }
    }

    /// How many deliveries `purge` would delete.
    public func purgeCount(_ target: OperatorTarget, states: Set<DeliveryState>) throws -> Int {
        let states = states.subtracting([.active])
        guard !states.isEmpty else { return 0 }
        return try pool.read { db in
            let (filter, arguments) = Outbox.filter(target, states: states)
            return try db.value(
                "SELECT count(*) FROM delivery d JOIN instance i ON i.id = d.instance_id WHERE \(filter)", arguments
            ) ?? 0
        }
    }

    /// Deletes the deliveries of `target` in `states` (never active ones: a worker owns those).
    /// Spool files no other delivery needs are deleted after the commit. Returns how many
    /// deliveries were deleted. Irreversible: the CLI asks for confirmation first.
    @discardableResult
    public func purge(_ target: OperatorTarget, states: Set<DeliveryState>, now: EpochSeconds) throws -> Int {
        let states = states.subtracting([.active])
        guard !states.isEmpty else { return 0 }
        return try writeThenRemoveFiles { db, unneeded in
            let (filter, arguments) = Outbox.filter(target, states: states)
            let rows = try db.rows(
                "SELECT d.id, d.instance_id FROM delivery d JOIN instance i ON i.id = d.instance_id WHERE \(filter)",
                arguments
            )
            var instances = Set<Int64>()
            for row in rows {
                try db.run("DELETE FROM delivery WHERE id = ?", [row["id"] as Int64])
                instances.insert(row["instance_id"])
            }
            for instance in instances.sorted() {
                if let path = try Outbox.releaseSpool(instance, now: now, db: db) { unneeded.append(path) }
            }
            return rows.count
        }
    }

    // MARK: - Operator views

    /// Studies an operator has held, by Study Instance UID then destination (all-destination
    /// holds first).
    public func studyHolds() throws -> [StudyHold] {
        try pool.read { db in
            try db.rows("SELECT * FROM study_hold ORDER BY study_instance_uid, destination").map {
                StudyHold(
                    studyInstanceUID: $0["study_instance_uid"], destination: $0["destination"], heldAt: $0["held_at"],
                    heldByUID: $0["held_by_uid"])
            }
        }
    }

    /// Destinations an operator has held.
    public func destinationHolds() throws -> [DestinationHold] {
        try pool.read { db in
            try db.rows("SELECT * FROM destination_hold ORDER BY destination").map {
                DestinationHold(destination: $0["destination"], heldAt: $0["held_at"], heldByUID: $0["held_by_uid"])
            }
        }
    }

    /// Pending deliveries per destination and priority: (count, bytes), for status. Reads the
    /// trigger-kept `delivery_priority_stats` (v4), so it costs the same at a million pending
    /// deliveries as at ten. Priorities with nothing pending are absent.
    public func pendingByPriority() throws -> [String: [Priority: (count: Int, bytes: UInt64)]] {
        try pool.read { db in
            var result: [String: [Priority: (count: Int, bytes: UInt64)]] = [:]
            let rows = try db.rows(
                """
                SELECT destination, priority, sum(deliveries) AS n, sum(bytes) AS bytes FROM delivery_priority_stats
                WHERE state IN ('queued', 'active', 'deferred', 'held')
                GROUP BY destination, priority HAVING sum(deliveries) > 0
                """
            )
            for row in rows {
                guard let priority = Priority(rawValue: row["priority"]) else { continue }
                let bytes: Int64 = row["bytes"] ?? 0
                result[row["destination"], default: [:]][priority] = (row["n"], UInt64(max(0, bytes)))
            }
            return result
        }
    }

    /// Deliveries and bytes `destination` confirmed since `since` (the status's current rate).
    public func deliveredSince(_ since: EpochSeconds, destination: String) throws -> (count: Int, bytes: UInt64) {
        try pool.read { db in
            guard
                let row = try db.row(
                    """
                    SELECT count(*) AS n, coalesce(sum(byte_size), 0) AS bytes FROM delivery
                    WHERE destination = ? AND state = 'delivered' AND delivered_at >= ?
                    """,
                    [destination, since]
                )
            else { return (0, 0) }
            let bytes: Int64 = row["bytes"]
            return (row["n"], UInt64(max(0, bytes)))
        }
    }

    /// The most recently received studies, newest first, with per-destination progress.
    public func recentStudies(limit: Int = 20) throws -> [StudyProgress] {
        try pool.read { db in
            let studies = try db.rows("SELECT * FROM study ORDER BY last_received_at DESC LIMIT ?", [limit])
            return try studies.map { row in
                let uid: String = row["study_instance_uid"]
                var destinations: [String: [DeliveryState: Int]] = [:]
                let counts = try db.rows(
                    """
                    SELECT d.destination, d.state, count(*) AS n FROM delivery d JOIN instance i ON i.id = d.instance_id
                    WHERE i.study_instance_uid = ? GROUP BY d.destination, d.state
                    """,
                    [uid]
                )
                for count in counts {
                    guard let state = DeliveryState(rawValue: count["state"]) else { continue }
                    destinations[count["destination"], default: [:]][state] = count["n"]
                }
                return StudyProgress(
                    studyInstanceUID: uid,
                    firstReceivedAt: row["first_received_at"],
                    lastReceivedAt: row["last_received_at"],
                    instanceCount: row["instance_count"],
                    priority: Priority(rawValue: row["priority"]) ?? .routine,
                    destinations: destinations,
                    stableAt: row["stable_at"]
                )
            }
        }
    }

    /// Deliveries joined with their instance's study, for `radrelayctl queue`.
    public func deliveryListing(destination: String?, state: DeliveryState?, limit: Int) throws
        -> [(delivery: DeliveryRecord, studyInstanceUID: String)]
    {
        let records = try deliveries(destination: destination, state: state, limit: limit)
        let studies: [Int64: String] = try pool.read { db in
            var map: [Int64: String] = [:]
            for id in Set(records.map(\.instanceID)) {
                map[id] = try db.value("SELECT study_instance_uid FROM instance WHERE id = ?", [id])
            }
            return map
        }
        return records.map { ($0, studies[$0.instanceID] ?? "") }
    }

    // MARK: - Internals

    /// SQL that is true when an operator hold covers the `delivery` row the statement is on
    /// (the table must be named `delivery`, unaliased): its destination is held
    /// (`destination_hold`) or its study is, for all destinations or for this one
    /// (`study_hold`). A few index seeks per row; while no study is held (the usual case), the
    /// uncorrelated `EXISTS` is evaluated once per statement and skips the instance lookup.
    static let operatorHeldSQL = """
        (delivery.destination IN (SELECT destination FROM destination_hold)
         OR (EXISTS (SELECT 1 FROM study_hold)
             AND EXISTS (SELECT 1 FROM study_hold h
                         WHERE h.study_instance_uid = (SELECT study_instance_uid FROM instance
                                                       WHERE id = delivery.instance_id)
                           AND (h.destination IS NULL OR h.destination = delivery.destination))))
        """

    /// A WHERE clause over `delivery d JOIN instance i` for `target` and `states`.
    static func filter(_ target: OperatorTarget, states: Set<DeliveryState>) -> (String, StatementArguments) {
        let stateList = states.map { "'\($0.rawValue)'" }.sorted().joined(separator: ", ")
        var clause = "d.state IN (\(stateList))"
        var arguments: StatementArguments = []
        switch target {
        case .delivery(let id):
            clause += " AND d.id = ?"
            arguments += [id]
        case .destination(let name):
            clause += " AND d.destination = ?"
            arguments += [name]
        case .study(let uid, let destination):
            clause += " AND i.study_instance_uid = ?"
            arguments += [uid]
            if let destination {
                clause += " AND d.destination = ?"
                arguments += [destination]
            }
        }
        return (clause, arguments)
    }
}
