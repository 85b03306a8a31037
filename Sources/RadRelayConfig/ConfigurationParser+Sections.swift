/// The small sections: `outbox:` and `logging:`. Absent or empty sections mean all defaults.
extension ConfigurationParser {
    static let outboxKeys = ["dedup_window", "lease", "stable_after"]
    static let loggingKeys = ["level", "log_phi", "log_uids"]
    /// swift-log's `Logger.Level` names, most verbose first.
    static let logLevels = ["trace", "debug", "info", "notice", "warning", "error", "critical"]

    func outbox(_ node: ConfigNode?) throws(ConfigurationError) -> Configuration.Outbox {
        var outbox = Configuration.Outbox()
        guard let node else { return outbox }
        let map = try node.mapping(keys: Self.outboxKeys)
        try map.read("dedup_window", into: &outbox.dedupWindow, .secondsOrZero)
        try map.read("lease", into: &outbox.leaseSeconds, .seconds)
        try outboxScheduling(map, into: &outbox)  // issue 4
        return outbox
    }

    func logging(_ node: ConfigNode?) throws(ConfigurationError) -> Configuration.Logging {
        var logging = Configuration.Logging()
        guard let node else { return logging }
        let map = try node.mapping(keys: Self.loggingKeys)
        try map.read("level", into: &logging.level, .choice(Self.logLevels))
        try map.read("log_phi", into: &logging.logPHI, .bool)
        try map.read("log_uids", into: &logging.logUIDs, .bool)
        return logging
    }
}
