/// The operations sections (issue 6): `metrics:` and `retention:`.
extension Configuration {
    /// The `metrics:` section: Prometheus text exposition, `/healthz` and `/readyz`.
    public struct Metrics: Sendable, Equatable {
        /// Off by default: nothing listens unless an operator asks for it.
        public var enabled: Bool
        /// A loopback address (127.0.0.0/8, ::1 or localhost): metrics carry no PHI but reveal
        /// traffic volumes and destination names.
        public var bind: String
        /// TCP port; 0 picks a free port (reported in the log and the status).
        public var port: Int

        public init(enabled: Bool = false, bind: String = "127.0.0.1", port: Int = 9464) {
            self.enabled = enabled
            self.bind = bind
            self.port = port
        }
    }

    /// The `retention:` section: how long history is kept. Pending deliveries are never pruned.
    public struct Retention: Sendable, Equatable {
        /// Delivered deliveries are deleted this many seconds after confirmation; nil keeps them.
        public var delivered: Double?
        /// Dead letters (and their spool files) are deleted this many seconds after they were
        /// queued; nil keeps them.
        public var dead: Double?
        /// Seconds between retention passes.
        public var interval: Double

        public init(delivered: Double? = 7 * 86400, dead: Double? = 30 * 86400, interval: Double = 3600) {
            self.delivered = delivered
            self.dead = dead
            self.interval = interval
        }
    }
}

extension Configuration.Gateway {
    /// The free space at which ingest resumes after `min_free_disk` was crossed:
    /// `resume_free_disk` when set, else the low threshold plus a margin (1 percentage point, or
    /// 10 % more bytes), so the watermark does not flap.
    public var effectiveResumeFreeDisk: DiskThreshold {
        if let resumeFreeDisk { return resumeFreeDisk }
        switch minFreeDisk {
        case .percent(let p): return .percent(min(99.9, p + 1))
        case .bytes(let b): return .bytes(b + b / 10)
        }
    }
}

extension DiskThreshold {
    /// True when `available` bytes out of `total` is at or above the threshold.
    public func isReached(available: UInt64, total: UInt64) -> Bool { !isBelow(available: available, total: total) }
}
