import GRDB
import RadRelayCore

extension Outbox {
    // MARK: - Recording the outcome of an attempt

    /// Records that the remote confirmed the delivery (success or warning `status`). Allowed from
    /// any state, because the remote's word is the truth; a second report is a no-op.
    ///
    /// When every delivery of the instance is now delivered, the spool file is deleted after the
    /// commit. The instance row stays (its `spool_path` then names a file that is gone, and
    /// `spool_removed_at` says since when) until a retention job prunes it. A dead delivery keeps
    /// the file, so an operator can retry it.
    public func markDelivered(deliveryID: Int64, status: DIMSEStatus, now: EpochSeconds) throws {
        try writeThenRemoveFiles { db, unneeded in
            let current = try Outbox.current(deliveryID, db: db)
            guard current.state != .delivered else { return }
            try db.run(
                """
                UPDATE delivery
                SET state = 'delivered', delivered_at = ?, last_status = ?, lease_until = NULL, next_attempt_at = NULL
                WHERE id = ?
                """,
                [now, Int(status.rawValue), deliveryID]
            )
            try db.run(
                """
                INSERT INTO destination_health (destination, last_success_at) VALUES (?, ?)
                ON CONFLICT (destination) DO UPDATE SET last_success_at = excluded.last_success_at
                """,
                [current.destination, now]
            )
            if let path = try Outbox.releaseSpool(current.instanceID, now: now, db: db) { unneeded.append(path) }
        }
    }

    /// Puts an active delivery back to wait until `until` after a failed attempt. Returns false
    /// (and changes nothing) when the delivery is no longer active: an operator held, re-queued
    /// or finished it meanwhile, and that decision stands. When an operator has held its
    /// destination or study while it was on the wire, it goes to `held` instead, so it is not
    /// retried before the release.
    @discardableResult
    public func deferDelivery(
        deliveryID: Int64,
        until: EpochSeconds,
        failure: FailureClass,
        status: DIMSEStatus?,
        detail: String,
        now: EpochSeconds
    ) throws -> Bool {
        try pool.write { db in
            let current = try Outbox.current(deliveryID, db: db)
            guard current.state == .active else { return false }
            try db.run(
                """
                UPDATE delivery
                SET state = CASE WHEN \(Outbox.operatorHeldSQL) THEN 'held' ELSE 'deferred' END,
                    next_attempt_at = CASE WHEN \(Outbox.operatorHeldSQL) THEN NULL ELSE ? END, lease_until = NULL,
                    last_error_class = ?, last_error_detail = ?, last_status = ?
                WHERE id = ?
                """,
                [until, failure.rawValue, detail, status.map { Int($0.rawValue) }, deliveryID]
            )
            try Outbox.recordFailure(current.destination, failure, status, detail, now: now, db: db)
            return true
        }
    }

    /// Gives up on a pending delivery (after an object-level failure, on expiry, or by an
    /// operator). The spool file is kept for inspection and retry. Returns false (and changes
    /// nothing) when the delivery is already delivered or dead.
    @discardableResult
    public func deadLetter(
        deliveryID: Int64,
        failure: FailureClass,
        status: DIMSEStatus?,
        detail: String,
        now: EpochSeconds
    ) throws -> Bool {
        try pool.write { db in
            let current = try Outbox.current(deliveryID, db: db)
            guard current.state.isPending else { return false }
            try db.run(
                """
                UPDATE delivery
                SET state = 'dead', next_attempt_at = NULL, lease_until = NULL,
                    last_error_class = ?, last_error_detail = ?, last_status = ?
                WHERE id = ?
                """,
                [failure.rawValue, detail, status.map { Int($0.rawValue) }, deliveryID]
            )
            try Outbox.recordFailure(current.destination, failure, status, detail, now: now, db: db)
            return true
        }
    }

    /// Applies the retry policy's decision for an attempt (`RetryPolicy.disposition`).
    /// `failureStatus` is the remote's status for a failed attempt, when there was one.
    public func apply(
        _ disposition: DeliveryDisposition,
        deliveryID: Int64,
        failureStatus: DIMSEStatus? = nil,
        now: EpochSeconds
    ) throws {
        switch disposition {
        case .delivered(let status):
            try markDelivered(deliveryID: deliveryID, status: status, now: now)
        case .deferred(let notBefore, let failure, let detail):
            try deferDelivery(
                deliveryID: deliveryID, until: notBefore, failure: failure, status: failureStatus, detail: detail,
                now: now
            )
        case .dead(let failure, let detail):
            try deadLetter(deliveryID: deliveryID, failure: failure, status: failureStatus, detail: detail, now: now)
        }
    }

    // MARK: - Internals

    private static func current(
        _ id: Int64,
        db: Database
    ) throws -> (state: DeliveryState, destination: String, instanceID: Int64) {
        guard let row = try db.row("SELECT state, destination, instance_id FROM delivery WHERE id = ?", [id]) else {
            throw OutboxError.noSuchDelivery(id)
        }
        let raw: String = row["state"]
        guard let state = DeliveryState(rawValue: raw) else {
            throw OutboxError.corruptRow("delivery \(id) has state \(raw)")
        }
        return (state, row["destination"], row["instance_id"])
    }

    /// Keeps the destination's last error for status; the circuit breaker (a later concern)
    /// owns the other `destination_health` columns.
    static func recordFailure(
        _ destination: String,
        _ failure: FailureClass,
        _ status: DIMSEStatus?,
        _ detail: String,
        now: EpochSeconds,
        db: Database
    ) throws {
        try db.run(
            """
            INSERT INTO destination_health (destination, last_error_class, last_error_detail, last_error_status,
                                            last_error_at)
            VALUES (?, ?, ?, ?, ?)
            ON CONFLICT (destination) DO UPDATE
            SET last_error_class = excluded.last_error_class, last_error_detail = excluded.last_error_detail,
                last_error_status = excluded.last_error_status, last_error_at = excluded.last_error_at
            """,
            [destination, failure.rawValue, detail, status.map { Int($0.rawValue) }, now]
        )
    }
}
