import RadRelayCore

/// The `metrics:` and `retention:` sections (issue 6). Absent or empty sections mean all defaults.
extension ConfigurationParser {
    static let metricsKeys = ["enabled", "bind", "port"]
    static let retentionKeys = ["delivered", "dead", "interval"]

    func metrics(_ node: ConfigNode?) throws(ConfigurationError) -> Configuration.Metrics {
        var metrics = Configuration.Metrics()
        guard let node else { return metrics }
        let map = try node.mapping(keys: Self.metricsKeys)
        try map.read("enabled", into: &metrics.enabled, .bool)
        if let bindNode = map.optional("bind") {
            let bind = try bindNode.host()
            guard Self.isLoopback(bind) else {
                throw bindNode.error(
                    .invalidValue,
                    "metrics listen on a loopback address only (127.0.0.1, ::1 or localhost); "
                        + "publish them further with a reverse proxy"
                )
            }
            metrics.bind = bind
        }
        try map.read("port", into: &metrics.port, .port(allowZero: true))
        return metrics
    }

    func retention(_ node: ConfigNode?) throws(ConfigurationError) -> Configuration.Retention {
        var retention = Configuration.Retention()
        guard let node else { return retention }
        let map = try node.mapping(keys: Self.retentionKeys)
        if let delivered = map.optional("delivered") {
            let seconds = try delivered.seconds(allowZero: true)
            retention.delivered = seconds == 0 ? nil : seconds
        }
        if let dead = map.optional("dead") {
            let seconds = try dead.seconds(allowZero: true)
            retention.dead = seconds == 0 ? nil : seconds
        }
        try map.read("interval", into: &retention.interval, .seconds)
        return retention
    }

    /// `resume_free_disk`: must leave at least as much free space as `min_free_disk`, in the same unit.
    func resumeFreeDisk(_ node: ConfigNode, low: DiskThreshold) throws(ConfigurationError) -> DiskThreshold {
        guard let threshold = ValueGrammar.diskThreshold(try node.scalar()) else {
            throw node.error(.invalidValue, "expected a percentage such as 6% or a size such as 12GiB")
        }
        switch (low, threshold) {
        case (.percent(let l), .percent(let r)) where r >= l && r < 100: return threshold
        case (.bytes(let l), .bytes(let r)) where r >= l: return threshold
        case (.percent, .bytes), (.bytes, .percent):
            throw node.error(.invalidValue, "use the same unit as min_free_disk (both percentages or both sizes)")
        default:
            throw node.error(.invalidValue, "must be at least min_free_disk (and below 100%)")
        }
    }

    static func isLoopback(_ host: String) -> Bool {
        if host == "localhost" || host == "::1" { return true }
        let parts = host.split(separator: ".")
        return parts.count == 4 && parts[0] == "127" && parts.allSatisfy { UInt8($0) != nil }
    }
}
