import GRDB
import RadRelayCore

extension Outbox {
    // MARK: - Claiming several deliveries for one request (STOW-RS, issue 5)

    /// Atomically takes up to `limit` more due deliveries of exactly `priority` for
    /// `destination` (never mixing priorities in one request), oldest first, whose sizes fit in
    /// `maxBytes` together, and leases them like `claimDue` does. Used after `claimDue` took the
    /// first delivery of a STOW-RS request. Returns [] when nothing else is due.
    ///
    /// Due means what it means for `claimDue`: queued, deferred with `next_attempt_at <= now`,
    /// or active with an expired lease. Each source is read through its own index with a
    /// `LIMIT`, so a claim stays cheap with a million rows waiting.
    public func claimBatch(
        destination: String,
        priority: Priority,
        now: EpochSeconds,
        leaseSeconds: Double,
        limit: Int,
        maxBytes: UInt64
    ) throws -> [ClaimedDelivery] {
        guard limit > 0, maxBytes > 0 else { return [] }
        let spool = self.spool
        return try pool.write { db in
            var candidates: [(id: Int64, queuedAt: Double, bytes: Int64)] = []
            let queries: [(String, StatementArguments)] = [
                (
                    """
                    SELECT id, queued_at, byte_size FROM delivery
                    WHERE destination = ? AND state = 'queued' AND priority = ?
                    ORDER BY priority DESC, queued_at, id LIMIT ?
                    """,
                    [destination, priority.rawValue, limit]
                ),
                (
                    """
                    SELECT id, queued_at, byte_size FROM delivery
                    WHERE state = 'deferred' AND destination = ? AND priority = ? AND next_attempt_at <= ?
                    ORDER BY next_attempt_at, id LIMIT ?
                    """,
                    [destination, priority.rawValue, now, limit]
                ),
                (
                    """
                    SELECT id, queued_at, byte_size FROM delivery
                    WHERE destination = ? AND state = 'active' AND lease_until < ? AND priority = ?
                    ORDER BY priority DESC, queued_at, id LIMIT ?
                    """,
                    [destination, now, priority.rawValue, limit]
                ),
            ]
            for (sql, arguments) in queries {
                for row in try Row.fetchAll(db, sql: sql, arguments: arguments) {
                    candidates.append((row["id"], row["queued_at"], row["byte_size"]))
                }
            }
            candidates.sort { $0.queuedAt != $1.queuedAt ? $0.queuedAt < $1.queuedAt : $0.id < $1.id }
            var chosen: [Int64] = []
            var bytes: UInt64 = 0
            for candidate in candidates where chosen.count < limit {
                let size = UInt64(max(candidate.bytes, 0))
                if bytes + size > maxBytes { break }
                bytes += size
                chosen.append(candidate.id)
            }
            var claimed: [ClaimedDelivery] = []
            for id in chosen {
                try db.execute(
                    sql: """
                        UPDATE delivery SET state = 'active', attempts = attempts + 1, lease_until = ?, next_attempt_at = NULL
                        WHERE id = ?
                        """,
                    arguments: [now + leaseSeconds, id]
                )
                claimed.append(try Outbox.claimed(id, spool: spool, db: db))
            }
            return claimed
        }
    }
}
