import GRDB
import RadRelayCore

/// The last failure a destination reported.
public struct DestinationError: Sendable, Equatable {
    /// Its failure class.
    public var failureClass: FailureClass
    /// The sender's constant-text detail.
    public var detail: String
    /// The remote's status, when it sent one.
    public var status: DIMSEStatus?
    /// When it was recorded.
    public var at: EpochSeconds
}

/// One destination's queue as operators see it (DESIGN §1.5).
public struct DestinationStatus: Sendable, Equatable {
    /// The destination name.
    public var destination: String
    /// Deliveries per state; every state is present (0 when none).
    public var counts: [DeliveryState: Int]
    /// Bytes of the spool files per state; every state is present.
    public var bytes: [DeliveryState: UInt64]
    /// Seconds since the oldest pending (queued, active, deferred, held) delivery was queued;
    /// nil when nothing is pending.
    public var oldestPendingAge: Double?
    /// The last failure recorded for the destination, if any.
    public var lastError: DestinationError?
    /// When a delivery last succeeded, if ever.
    public var lastSuccessAt: EpochSeconds?

    /// The number of deliveries in `state`.
    public func count(_ state: DeliveryState) -> Int { counts[state] ?? 0 }
    /// Deliveries not finished yet.
    public var pending: Int { DeliveryState.pendingStates.reduce(0) { $0 + count($1) } }
    /// Bytes waiting in state queued.
    public var queuedBytes: UInt64 { bytes[.queued] ?? 0 }
    /// Bytes of every pending delivery.
    public var pendingBytes: UInt64 { DeliveryState.pendingStates.reduce(0) { $0 + (bytes[$1] ?? 0) } }
}

/// One delivery row, for listings and tests.
public struct DeliveryRecord: Sendable, Equatable {
    /// The delivery id.
    public var id: Int64
    /// The instance it sends.
    public var instanceID: Int64
    /// The destination name.
    public var destination: String
    /// The SOP Instance UID as stored.
    public var sopInstanceUID: String
    /// SHA-256 of the data set without its file meta group.
    public var sha256: String
    /// Size of the spool file in bytes.
    public var byteSize: UInt64
    /// Forwarding priority.
    public var priority: Priority
    /// Current state.
    public var state: DeliveryState
    /// Attempts so far.
    public var attempts: Int
    /// When a deferred delivery becomes due.
    public var nextAttemptAt: EpochSeconds?
    /// When an active delivery's lease ends.
    public var leaseUntil: EpochSeconds?
    /// When it was (last) queued.
    public var queuedAt: EpochSeconds
    /// When the remote confirmed it.
    public var deliveredAt: EpochSeconds?
    /// The class of the last failure.
    public var lastErrorClass: FailureClass?
    /// The detail of the last failure.
    public var lastErrorDetail: String?
    /// The remote's last status.
    public var lastStatus: DIMSEStatus?
}

/// One instance row, for listings and tests.
public struct InstanceRecord: Sendable, Equatable {
    /// The instance id.
    public var id: Int64
    /// The SOP Instance UID as stored.
    public var sopInstanceUID: String
    /// The Study Instance UID as stored.
    public var studyInstanceUID: String
    /// The spool file, relative to the state directory.
    public var spoolPath: String
    /// When the spool file was released for deletion (the file is gone or about to be).
    public var spoolRemovedAt: EpochSeconds?
    /// Size of the spool file in bytes.
    public var byteSize: UInt64
    /// SHA-256 of the data set without its file meta group.
    public var sha256: String
    /// When it was received.
    public var receivedAt: EpochSeconds
    /// The highest priority any route gave it.
    public var priority: Priority
}

/// One study row: what ingest has seen of a study.
public struct StudyRecord: Sendable, Equatable {
    /// The Study Instance UID.
    public var studyInstanceUID: String
    /// When its first kept instance arrived.
    public var firstReceivedAt: EpochSeconds
    /// When its last kept instance arrived.
    public var lastReceivedAt: EpochSeconds
    /// How many instance rows ingest kept for it (duplicates that queued nothing do not count).
    public var instanceCount: Int
    /// The highest priority seen.
    public var priority: Priority
}

extension Outbox {
    // MARK: - Status

    /// Per destination, sorted by name: counts and bytes per state, age of the oldest pending
    /// delivery, last error and last success. Costs a handful of index seeks per destination,
    /// whatever the number of rows: counts come from `delivery_priority_stats`, which triggers
    /// keep (at most destinations × 6 states × 4 priorities rows).
    public func status(now: EpochSeconds) throws -> [DestinationStatus] {
        try pool.read { db in
            var byName: [String: DestinationStatus] = [:]
            func entry(_ name: String) -> DestinationStatus {
                byName[name]
                    ?? DestinationStatus(
                        destination: name,
                        counts: Dictionary(uniqueKeysWithValues: DeliveryState.allCases.map { ($0, 0) }),
                        bytes: Dictionary(uniqueKeysWithValues: DeliveryState.allCases.map { ($0, 0) }),
                        oldestPendingAge: nil, lastError: nil, lastSuccessAt: nil
                    )
            }
            for row in try db.rows(
                """
                SELECT destination, state, sum(deliveries) AS deliveries, sum(bytes) AS bytes
                FROM delivery_priority_stats GROUP BY destination, state
                """
            ) {
                let name: String = row["destination"]
                let raw: String = row["state"]
                guard let state = DeliveryState(rawValue: raw) else {
                    throw OutboxError.corruptRow("delivery_priority_stats has state \(raw)")
                }
                var status = entry(name)
                status.counts[state] = row["deliveries"]
                status.bytes[state] = UInt64(max(row["bytes"] as Int64, 0))
                byName[name] = status
            }
            for row in try db.rows("SELECT * FROM destination_health") {
                let name: String = row["destination"]
                var status = entry(name)
                status.lastSuccessAt = row["last_success_at"]
                if let raw: String = row["last_error_class"] {
                    guard let failure = FailureClass(rawValue: raw) else {
                        throw OutboxError.corruptRow("destination_health has failure class \(raw)")
                    }
                    let code: Int? = row["last_error_status"]
                    status.lastError = DestinationError(
                        failureClass: failure,
                        detail: row["last_error_detail"] ?? "",
                        status: code.map { DIMSEStatus(UInt16(truncatingIfNeeded: $0)) },
                        at: row["last_error_at"] ?? 0
                    )
                }
                byName[name] = status
            }
            for (name, var status) in byName where status.pending > 0 {
                if let oldest = try Outbox.oldestPendingQueuedAt(name, db: db) {
                    status.oldestPendingAge = max(0, now - oldest)
                }
                byName[name] = status
            }
            return byName.values.sorted { $0.destination < $1.destination }
        }
    }

    /// Deliveries filtered by destination and state, oldest id first, at most `limit`.
    public func deliveries(destination: String? = nil, state: DeliveryState? = nil, limit: Int = 1000) throws
        -> [DeliveryRecord]
    {
        // Only the filters given go into the SQL, so each combination gets its own index plan
        // instead of one "? IS NULL OR …" plan that scans.
        var conditions: [String] = []
        var arguments: StatementArguments = []
        if let destination {
            conditions.append("destination = ?")
            arguments += [destination]
        }
        if let state {
            conditions.append("state = ?")
            arguments += [state.rawValue]
        }
        arguments += [limit]
        let filter = conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ")
        return try pool.read { db in
            try db.rows("SELECT * FROM delivery \(filter) ORDER BY id LIMIT ?", arguments).map(Outbox.deliveryRecord)
        }
    }

    /// One delivery, or nil.
    public func delivery(id: Int64) throws -> DeliveryRecord? {
        try pool.read { db in
            try db.row("SELECT * FROM delivery WHERE id = ?", [id]).map(Outbox.deliveryRecord)
        }
    }

    /// One instance, or nil.
    public func instance(id: Int64) throws -> InstanceRecord? {
        try pool.read { db in
            guard let row = try db.row("SELECT * FROM instance WHERE id = ?", [id]) else { return nil }
            return InstanceRecord(
                id: row["id"],
                sopInstanceUID: row["sop_instance_uid"],
                studyInstanceUID: row["study_instance_uid"],
                spoolPath: row["spool_path"],
                spoolRemovedAt: row["spool_removed_at"],
                byteSize: UInt64(max(row["byte_size"] as Int64, 0)),
                sha256: row["sha256"],
                receivedAt: row["received_at"],
                priority: try Outbox.priority(row, "instance \(id)")
            )
        }
    }

    /// One study, or nil.
    public func study(uid: DICOMUID) throws -> StudyRecord? {
        try pool.read { db in
            guard let row = try db.row("SELECT * FROM study WHERE study_instance_uid = ?", [uid.value]) else {
                return nil
            }
            return StudyRecord(
                studyInstanceUID: row["study_instance_uid"],
                firstReceivedAt: row["first_received_at"],
                lastReceivedAt: row["last_received_at"],
                instanceCount: row["instance_count"],
                priority: try Outbox.priority(row, "study \(uid.value)")
            )
        }
    }

    // MARK: - Internals

    /// The earliest `queued_at` among pending deliveries of `destination`. One min() probe per
    /// (pending state, priority) pair, each a single seek into `delivery_by_claim`; a min() over
    /// all pending states at once would walk every pending row.
    private static func oldestPendingQueuedAt(_ destination: String, db: Database) throws -> Double? {
        var oldest: Double?
        for state in DeliveryState.pendingStates {
            for priority in Priority.allCases {
                let value: Double? = try db.value(
                    "SELECT min(queued_at) FROM delivery WHERE destination = ? AND state = ? AND priority = ?",
                    [destination, state.rawValue, priority.rawValue]
                )
                if let value { oldest = min(oldest ?? value, value) }
            }
        }
        return oldest
    }

    private static func priority(_ row: Row, _ what: String) throws -> Priority {
        let raw: Int = row["priority"]
        guard let priority = Priority(rawValue: raw) else {
            throw OutboxError.corruptRow("\(what) has priority \(raw)")
        }
        return priority
    }

    private static func deliveryRecord(_ row: Row) throws -> DeliveryRecord {
        let id: Int64 = row["id"]
        let rawState: String = row["state"]
        guard let state = DeliveryState(rawValue: rawState) else {
            throw OutboxError.corruptRow("delivery \(id) has state \(rawState)")
        }
        let rawClass: String? = row["last_error_class"]
        let status: Int? = row["last_status"]
        return DeliveryRecord(
            id: id,
            instanceID: row["instance_id"],
            destination: row["destination"],
            sopInstanceUID: row["sop_instance_uid"],
            sha256: row["sha256"],
            byteSize: UInt64(max(row["byte_size"] as Int64, 0)),
            priority: try priority(row, "delivery \(id)"),
            state: state,
            attempts: row["attempts"],
            nextAttemptAt: row["next_attempt_at"],
            leaseUntil: row["lease_until"],
            queuedAt: row["queued_at"],
            deliveredAt: row["delivered_at"],
            lastErrorClass: rawClass.flatMap(FailureClass.init(rawValue:)),
            lastErrorDetail: row["last_error_detail"],
            lastStatus: status.map { DIMSEStatus(UInt16(truncatingIfNeeded: $0)) }
        )
    }
}
