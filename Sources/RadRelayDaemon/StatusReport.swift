/// The document served at `GET /status` on the control socket and printed by
/// `radrelayctl status --json`. Field names are part of the operator contract: add, never rename.
public struct StatusReport: Codable, Sendable, Equatable {
    public var version: String
    public var uptimeSeconds: Double
    public var listener: Listener
    public var activeAssociations: Int
    public var destinations: [Destination]

    /// The DICOM listener's bound address and real port.
    public struct Listener: Codable, Sendable, Equatable {
        public var address: String
        public var port: Int
    }

    /// One destination's queue and health.
    public struct Destination: Codable, Sendable, Equatable {
        public var name: String
        /// Deliveries per state: queued, active, deferred, held, delivered, dead.
        public var counts: [String: Int]
        public var queuedBytes: Int64
        /// Age of the oldest pending (queued, active, deferred or held) delivery, or nil.
        public var oldestPendingAgeSeconds: Double?
        /// "up", or "backing-off" after destination-level failures.
        public var health: String
        public var lastError: String?
    }

    enum CodingKeys: String, CodingKey {
        case version
        case uptimeSeconds = "uptime_seconds"
        case listener
        case activeAssociations = "active_associations"
        case destinations
    }
}

extension StatusReport.Destination {
    enum CodingKeys: String, CodingKey {
        case name, counts, health
        case queuedBytes = "queued_bytes"
        case oldestPendingAgeSeconds = "oldest_pending_age_seconds"
        case lastError = "last_error"
    }
}

/// radrelay's version, reported in status and logs.
public let radrelayVersion = "0.1.0"
