import GRDB
import RadRelayCore

/// Where an instance came from: what per-source normalization (issue 3) looks up.
public struct InstanceOrigin: Sendable, Equatable {
    public var instanceID: Int64
    /// The sender's calling AE title.
    public var callingAE: String
    /// The AE title it called us by.
    public var calledAE: String
    /// Its IP address.
    public var sourceIP: String
}

/// A pending delivery seen by the derived-file sweep: the destination still needs its variant
/// of the instance.
public struct PendingVariantUse: Sendable, Equatable {
    public var instanceID: Int64
    public var deliveryID: Int64
    public var destination: String
    public var callingAE: String
}

/// A queued delivery whose derived variant may be built ahead of its claim.
public struct QueuedVariantSource: Sendable, Equatable {
    public var deliveryID: Int64
    public var instanceID: Int64
    public var destination: String
    /// Absolute path of the received file.
    public var spoolPath: String
    public var byteSize: UInt64
    public var callingAE: String
}

extension Outbox {
    // MARK: - Derived variants (issue 3)

    /// The next `limit` queued deliveries of `destination` in claim order (priority, then age):
    /// the ones whose variants are worth building before a worker claims them.
    public func upcomingDeliveries(destination: String, limit: Int) throws -> [QueuedVariantSource] {
        let spool = self.spool
        return try pool.read { db in
            try db.rows(
                """
                SELECT d.id, d.instance_id, d.byte_size, i.spool_path, i.calling_ae
                FROM delivery d JOIN instance i ON i.id = d.instance_id
                WHERE d.destination = ? AND d.state = 'queued'
                ORDER BY d.priority DESC, d.queued_at, d.id LIMIT ?
                """,
                [destination, limit]
            ).map { row in
                let size: Int64 = row["byte_size"]
                let path: String = row["spool_path"]
                return QueuedVariantSource(
                    deliveryID: row["id"], instanceID: row["instance_id"], destination: destination,
                    spoolPath: spool.absolutePath(relative: path), byteSize: UInt64(max(size, 0)),
                    callingAE: row["calling_ae"])
            }
        }
    }

    /// The origin of an instance, or nil when no such instance exists.
    public func origin(instanceID: Int64) throws -> InstanceOrigin? {
        try pool.read { db in
            guard
                let row = try db.row(
                    "SELECT calling_ae, called_ae, source_ip FROM instance WHERE id = ?", [instanceID])
            else { return nil }
            return InstanceOrigin(
                instanceID: instanceID, callingAE: row["calling_ae"], calledAE: row["called_ae"],
                sourceIP: row["source_ip"])
        }
    }

    /// The pending (queued, active, deferred or held) deliveries of `instanceIDs`. The derived-file
    /// sweep keeps exactly the variants these still need.
    public func pendingDeliveries(instanceIDs: [Int64]) throws -> [PendingVariantUse] {
        let unique = Array(Set(instanceIDs)).sorted()
        guard !unique.isEmpty else { return [] }
        return try pool.read { db in
            var result: [PendingVariantUse] = []
            // SQLite limits bound parameters; a few hundred per statement is far below it.
            var start = 0
            while start < unique.count {
                let chunk = Array(unique[start..<min(start + 400, unique.count)])
                start += chunk.count
                let marks = Array(repeating: "?", count: chunk.count).joined(separator: ",")
                let rows = try Row.fetchAll(
                    db,
                    sql: """
                        SELECT d.id, d.instance_id, d.destination, i.calling_ae
                        FROM delivery d JOIN instance i ON i.id = d.instance_id
                        WHERE d.instance_id IN (\(marks)) AND d.state IN ('queued', 'active', 'deferred', 'held')
                        """,
                    arguments: StatementArguments(chunk))
                for row in rows {
                    result.append(
                        PendingVariantUse(
                            instanceID: row["instance_id"], deliveryID: row["id"], destination: row["destination"],
                            callingAE: row["calling_ae"]))
                }
            }
            return result
        }
    }
}
