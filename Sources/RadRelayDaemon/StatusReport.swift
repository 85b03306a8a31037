/// The document served at `GET /status` on the control socket and printed by
/// `radrelayctl status --json`. Field names are part of the operator contract: add, never rename.
public struct StatusReport: Codable, Sendable, Equatable {
    public var version: String
    public var uptimeSeconds: Double
    public var listener: Listener
    public var activeAssociations: Int
    public var destinations: [Destination]
    /// Free space of the state directory's file system against the watermark.
    public var disk: Disk? = nil
    /// Dead letters over all destinations.
    public var deadLetters: Int? = nil
    /// Whether the daemon is ready (listener accepting, not draining, disk above the watermark).
    public var ready: Bool? = nil
    /// Loops that have not ticked their heartbeat in time (empty when healthy).
    public var staleLoops: [String]? = nil
    /// Settings changed in the file that only a restart applies (after a SIGHUP; empty when the
    /// running configuration is the file's).
    public var restartPending: [String]? = nil
    /// The Prometheus endpoint, when enabled.
    public var metrics: Endpoint? = nil
    /// Certificates the daemon uses, soonest expiry first (issue 5 fills them in).
    public var certificates: [Certificate]? = nil
    /// Studies an operator has held (`radrelayctl hold --study`); empty when none.
    public var studyHolds: [StudyHold]? = nil

    /// The DICOM listener's bound address and real port.
    public struct Listener: Codable, Sendable, Equatable {
        public var address: String
        public var port: Int
        /// The called AE title.
        public var aeTitle: String? = nil

        enum CodingKeys: String, CodingKey {
            case address, port
            case aeTitle = "ae_title"
        }
    }

    /// One destination's queue and health.
    public struct Destination: Codable, Sendable, Equatable {
        public var name: String
        /// Deliveries per state: queued, active, deferred, held, delivered, dead.
        public var counts: [String: Int]
        public var queuedBytes: Int64
        /// Age of the oldest pending (queued, active, deferred or held) delivery, or nil.
        public var oldestPendingAgeSeconds: Double?
        /// "up", or "backing-off" after destination-level failures; "held" when an operator
        /// held the destination.
        public var health: String
        public var lastError: String?
        /// True when an operator held the destination (`radrelayctl hold --destination`).
        public var held: Bool? = nil
        /// Pending deliveries per priority (stat, high, routine, low).
        public var pendingByPriority: [String: PriorityBucket]? = nil
        /// Confirmed over the last minute, against the bandwidth cap when one is set.
        public var rate: Rate? = nil
    }

    /// Count and bytes of one priority.
    public struct PriorityBucket: Codable, Sendable, Equatable {
        public var count: Int
        public var bytes: Int64
    }

    /// Current forwarding rate of a destination.
    public struct Rate: Codable, Sendable, Equatable {
        public var objectsPerSecond: Double
        public var bytesPerSecond: Double
        /// The destination's bandwidth cap, nil when uncapped (or unknown to this version).
        public var capBytesPerSecond: Double? = nil

        enum CodingKeys: String, CodingKey {
            case objectsPerSecond = "objects_per_second"
            case bytesPerSecond = "bytes_per_second"
            case capBytesPerSecond = "cap_bytes_per_second"
        }
    }

    /// Disk space against `gateway.min_free_disk` / `resume_free_disk`.
    public struct Disk: Codable, Sendable, Equatable {
        public var path: String
        public var availableBytes: Int64
        public var totalBytes: Int64
        /// The low watermark as configured (`5%`, `10GiB`).
        public var minFree: String
        /// Where ingest resumes after the watermark was crossed.
        public var resumeFree: String
        /// True while C-STORE is refused with 0xA700 for lack of space.
        public var low: Bool

        enum CodingKeys: String, CodingKey {
            case path
            case availableBytes = "available_bytes"
            case totalBytes = "total_bytes"
            case minFree = "min_free"
            case resumeFree = "resume_free"
            case low
        }
    }

    /// A study an operator has held: its deliveries, also those of objects arriving later,
    /// stay held until `radrelayctl release --study`.
    public struct StudyHold: Codable, Sendable, Equatable {
        /// The PHI-free key logs use for the study.
        public var studyKey: String
        public var studyInstanceUID: String
        /// The one destination held for; nil: every destination.
        public var destination: String?
        public var heldAt: Double
        /// The uid of the operator who held it, when known.
        public var heldByUID: Int?

        public init(studyKey: String, studyInstanceUID: String, destination: String?, heldAt: Double, heldByUID: Int?) {
            self.studyKey = studyKey
            self.studyInstanceUID = studyInstanceUID
            self.destination = destination
            self.heldAt = heldAt
            self.heldByUID = heldByUID
        }

        enum CodingKeys: String, CodingKey {
            case destination
            case studyKey = "study_key"
            case studyInstanceUID = "study_instance_uid"
            case heldAt = "held_at"
            case heldByUID = "held_by_uid"
        }
    }

    /// An HTTP endpoint.
    public struct Endpoint: Codable, Sendable, Equatable {
        public var address: String
        public var port: Int
    }

    /// One certificate's expiry.
    public struct Certificate: Codable, Sendable, Equatable {
        public var name: String
        public var notAfter: Double?
        public var daysLeft: Double?

        enum CodingKeys: String, CodingKey {
            case name
            case notAfter = "not_after"
            case daysLeft = "days_left"
        }
    }

    enum CodingKeys: String, CodingKey {
        case version
        case uptimeSeconds = "uptime_seconds"
        case listener
        case activeAssociations = "active_associations"
        case destinations
        case disk
        case deadLetters = "dead_letters"
        case ready
        case staleLoops = "stale_loops"
        case restartPending = "restart_pending"
        case metrics
        case certificates
        case studyHolds = "study_holds"
    }
}

extension StatusReport.Destination {
    enum CodingKeys: String, CodingKey {
        case name, counts, health, held, rate
        case queuedBytes = "queued_bytes"
        case oldestPendingAgeSeconds = "oldest_pending_age_seconds"
        case lastError = "last_error"
        case pendingByPriority = "pending_by_priority"
    }
}

/// radrelay's version, reported in status and logs.
public let radrelayVersion = "0.1.0"
