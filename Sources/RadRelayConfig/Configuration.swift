import Foundation
import RadRelayCore

/// The whole validated configuration of one radrelay daemon (`radrelay.yaml`). Every value here
/// has passed validation; `ConfigurationLoader` is the only way to make one from a file.
public struct Configuration: Sendable, Equatable {
    public var gateway: Gateway
    public var destinations: [Destination]
    public var routes: [RouteRule]
    public var outbox: Outbox
    public var logging: Logging
    /// `metrics:` (issue 6).
    public var metrics = Metrics()
    /// `retention:` (issue 6).
    public var retention = Retention()
    /// `normalization_profiles:` and `sources:` (issue 3).
    public var normalization = Normalization.Assignment()
    /// `compression:` (issue 3).
    public var compression = Compression()

    public init(gateway: Gateway, destinations: [Destination], routes: [RouteRule], outbox: Outbox, logging: Logging) {
        self.gateway = gateway
        self.destinations = destinations
        self.routes = routes
        self.outbox = outbox
        self.logging = logging
    }

    /// The router built from `routes`.
    public var router: Router { Router(rules: routes, clock: SiteClock(timeZone: gateway.timeZone)) }

    /// The `gateway:` section: the DICOM listener and what it admits.
    public struct Gateway: Sendable, Equatable {
        /// Called AE title we answer to.
        public var aeTitle: AETitle
        /// More called AE titles we answer to (routes can match on them).
        public var additionalAETitles: [AETitle]
        /// Address or host name to bind; "::" binds IPv6 and IPv4.
        public var bind: String
        /// TCP port; 0 picks a free port, reported in the log and the status.
        public var port: Int
        /// Concurrent associations, all callers together.
        public var maxAssociations: Int
        /// The state directory (database, spool, lock). Relative paths are relative to the
        /// config file's directory.
        public var stateDirectory: String
        /// Directory of the control socket; defaults to `$RUNTIME_DIRECTORY` or the state dir.
        public var runtimeDirectory: String?
        /// Below this much free space on the state directory's file system, C-STORE answers 0xA700.
        public var minFreeDisk: DiskThreshold
        /// Ingest refused for low disk resumes once free space is back at this (hysteresis);
        /// nil derives it from `minFreeDisk` (`effectiveResumeFreeDisk`).
        public var resumeFreeDisk: DiskThreshold? = nil
        /// Larger objects are refused.
        public var maxObjectSize: UInt64
        /// Calling-AE allowlist; empty refuses everyone.
        public var allowedCallers: [AllowedCaller]
        /// Timeouts for each protocol phase, in seconds.
        public var timeouts: Timeouts
        /// Maximum PDU length we announce (bytes).
        public var maxPDULength: Int
        /// Accept storage SOP classes outside the DICOM standard's root (private classes).
        public var acceptPrivateSOPClasses: Bool
        /// The site's time zone for routing time windows and bandwidth schedules (issue 4);
        /// stored times stay UTC. Default: the system's zone.
        public var timeZone: TimeZone = .current
        /// A cap across all destinations together (issue 4); unlimited by default.
        public var bandwidth: BandwidthSchedule = .unlimited
        /// A second listener, with DICOM TLS, on this port (issue 5); nil when off. Set
        /// together with `tls`. 0 picks a free port.
        public var tlsPort: Int? = nil
        /// Server certificate, key and client-certificate policy of the TLS listener.
        public var tls: ServerTLS? = nil

        public init(
            aeTitle: AETitle,
            additionalAETitles: [AETitle] = [],
            bind: String = "0.0.0.0",
            port: Int = 11112,
            maxAssociations: Int = 16,
            stateDirectory: String = "/var/lib/radrelay",
            runtimeDirectory: String? = nil,
            minFreeDisk: DiskThreshold = .percent(5),
            maxObjectSize: UInt64 = 8 << 30,
            allowedCallers: [AllowedCaller] = [],
            timeouts: Timeouts = Timeouts(),
            maxPDULength: Int = 65536,
            acceptPrivateSOPClasses: Bool = true
        ) {
            self.aeTitle = aeTitle
            self.additionalAETitles = additionalAETitles
            self.bind = bind
            self.port = port
            self.maxAssociations = maxAssociations
            self.stateDirectory = stateDirectory
            self.runtimeDirectory = runtimeDirectory
            self.minFreeDisk = minFreeDisk
            self.maxObjectSize = maxObjectSize
            self.allowedCallers = allowedCallers
            self.timeouts = timeouts
            self.maxPDULength = maxPDULength
            self.acceptPrivateSOPClasses = acceptPrivateSOPClasses
        }

        /// Every called AE title we answer to.
        public var calledAETitles: [AETitle] { [aeTitle] + additionalAETitles }
    }

    /// One `allowed_callers:` entry.
    public struct AllowedCaller: Sendable, Equatable {
        public var aeTitle: AETitle
        /// Addresses or CIDR ranges; empty allows any address.
        public var hosts: [AddressRange]
        /// Per-caller association limit; nil means only the global limit applies.
        public var maxAssociations: Int?

        public init(aeTitle: AETitle, hosts: [AddressRange] = [], maxAssociations: Int? = nil) {
            self.aeTitle = aeTitle
            self.hosts = hosts
            self.maxAssociations = maxAssociations
        }
    }

    /// Per-phase network timeouts in seconds (CONVENTIONS §7: one timeout per phase).
    public struct Timeouts: Sendable, Equatable {
        /// TCP connect (outbound).
        public var connect: Double
        /// Association negotiation: A-ASSOCIATE-RQ must arrive (inbound) or be answered (outbound).
        public var acse: Double
        /// Waiting for the next DIMSE message or PDU fragment while one is in progress.
        public var dimse: Double
        /// An established association with nothing in progress is closed after this.
        public var idle: Double

        public init(connect: Double = 10, acse: Double = 10, dimse: Double = 60, idle: Double = 60) {
            self.connect = connect
            self.acse = acse
            self.dimse = dimse
            self.idle = idle
        }
    }

    /// One `destinations:` entry.
    public struct Destination: Sendable, Equatable {
        /// `dicom`: C-STORE (optionally over TLS); `stow`: DICOMweb STOW-RS over HTTP(S).
        public enum Kind: String, Sendable, Equatable { case dicom, stow }
        public var name: String
        public var kind: Kind
        public var aeTitle: AETitle
        public var host: String
        public var port: Int
        /// Our calling AE title towards this destination (defaults to `gateway.ae_title`).
        public var callingAETitle: AETitle
        /// Parallel associations (workers).
        public var associations: Int
        public var timeouts: Timeouts
        public var retry: RetryPolicy
        /// Issue 4: egress cap with its time-of-day schedule; unlimited by default.
        public var bandwidth: BandwidthSchedule = .unlimited
        /// Issue 4: pending deliveries older than this (seconds since queued) are dead-lettered
        /// as `expired`; nil keeps them forever.
        public var maxAge: Double? = nil
        /// Issue 4: with this many bytes pending, new objects routed here are refused (0xA700);
        /// nil for no quota.
        public var backlogQuota: UInt64? = nil
        /// Issue 4: when the destination counts as down and how often it is probed.
        public var circuit = Circuit()
        /// Issue 4: bounded aging of waiting deliveries (seconds per priority level; 0 = off).
        public var priorityAging: Double = 900
        /// DICOM TLS (kind dicom) or the HTTPS trust and client certificate (kind stow); nil
        /// for plain DICOM or the system's trust store over HTTPS.
        public var tls: ClientTLS? = nil
        /// The STOW-RS settings; set exactly when `kind` is `stow`. For such a destination
        /// `host` and `port` come from `stow.url` and `aeTitle` is unused (the gateway's).
        public var stow: STOW? = nil
        /// Issue 3: the transfer syntax objects are sent in (`as-received` keeps each object's).
        public var transferSyntax: CompressionTarget = .asReceived

        public init(
            name: String,
            kind: Kind = .dicom,
            aeTitle: AETitle,
            host: String,
            port: Int,
            callingAETitle: AETitle,
            associations: Int = 2,
            timeouts: Timeouts = Timeouts(),
            retry: RetryPolicy = RetryPolicy()
        ) {
            self.name = name
            self.kind = kind
            self.aeTitle = aeTitle
            self.host = host
            self.port = port
            self.callingAETitle = callingAETitle
            self.associations = associations
            self.timeouts = timeouts
            self.retry = retry
        }
    }

    /// The `outbox:` section.
    public struct Outbox: Sendable, Equatable {
        /// An identical object re-sent within this many seconds of its delivery is not queued again.
        public var dedupWindow: Double
        /// How long a claimed delivery stays leased to a worker before another may take it.
        public var leaseSeconds: Double
        /// Issue 4: a series (and a study) is stable once no instance arrived for this long;
        /// routes with `hold_until_stable` release their deliveries then.
        public var stableAfter: Double = 120

        public init(dedupWindow: Double = 24 * 3600, leaseSeconds: Double = 600) {
            self.dedupWindow = dedupWindow
            self.leaseSeconds = leaseSeconds
        }
    }

    /// The `logging:` section.
    public struct Logging: Sendable, Equatable {
        /// swift-log level name: trace, debug, info, notice, warning, error, critical.
        public var level: String
        /// Allow patient identifiers in debug logs. Off by default.
        public var logPHI: Bool
        /// Write Study and SOP Instance UIDs into log fields (`STUDY_UID`, `SOP_INSTANCE_UID`).
        /// Off by default; the pseudonymous `STUDY_KEY` is always written.
        public var logUIDs: Bool = false

        public init(level: String = "info", logPHI: Bool = false) {
            self.level = level
            self.logPHI = logPHI
        }
    }
}

/// A free-disk threshold: a percentage of the file system or an absolute byte count.
public enum DiskThreshold: Sendable, Equatable {
    case percent(Double)
    case bytes(UInt64)

    /// True when `available` bytes out of `total` is below the threshold.
    public func isBelow(available: UInt64, total: UInt64) -> Bool {
        switch self {
        case .percent(let p): return total > 0 && Double(available) / Double(total) * 100 < p
        case .bytes(let b): return available < b
        }
    }
}
