import Foundation
import RadRelayCore

/// Issue 4's keys outside `routes`: `gateway.time_zone`, `gateway.bandwidth`,
/// `destinations[].bandwidth | max_age | backlog_quota | circuit | priority_aging` and
/// `outbox.stable_after`.
///
/// ```yaml
/// bandwidth:
///   limit: 200Mbit/s            # bit/s, kbit/s, Mbit/s, Gbit/s, B/s, kB/s, MB/s… or unlimited
///   schedule:                   # first matching window wins, else `limit`
///     - { days: mon-fri, from: "07:00", to: "19:00", limit: 20Mbit/s }
///   stat: bypass                # or: borrow (default) / capped
/// ```
extension ConfigurationParser {
    static let bandwidthKeys = ["limit", "schedule", "stat"]
    static let circuitKeys = ["failures", "max_probe_interval"]
    /// The smallest cap accepted: below 1 kB/s a single PDU would take longer than any timeout.
    static let minimumRate: Double = 1000

    /// `gateway.time_zone` and `gateway.bandwidth`.
    func gatewayScheduling(_ map: MappingReader, into gateway: inout Configuration.Gateway) throws(ConfigurationError) {
        try map.read("time_zone", into: &gateway.timeZone) { node throws(ConfigurationError) in
            let name = try node.string()
            guard let zone = TimeZone(identifier: name) else {
                throw node.error(.invalidValue, "unknown time zone; use an IANA name such as Europe/Berlin or UTC")
            }
            return zone
        }
        try map.read("bandwidth", into: &gateway.bandwidth) { node throws(ConfigurationError) in
            try bandwidth(node)
        }
    }

    /// The destination keys of issue 4, for every kind.
    func destinationScheduling(_ map: MappingReader, into destination: inout Configuration.Destination)
        throws(ConfigurationError)
    {
        try map.read("bandwidth", into: &destination.bandwidth) { node throws(ConfigurationError) in
            try bandwidth(node)
        }
        try map.read("max_age", into: &destination.maxAge) { node throws(ConfigurationError) in
            Optional(try node.seconds())
        }
        try map.read("backlog_quota", into: &destination.backlogQuota) { node throws(ConfigurationError) in
            Optional(try node.byteCount(in: 1...UInt64(Int64.max)))
        }
        try map.read("priority_aging", into: &destination.priorityAging, .secondsOrZero)
        if let node = map.optional("circuit") {
            let circuit = try node.mapping(keys: Self.circuitKeys)
            try circuit.read("failures", into: &destination.circuit.failures, .count)
            try circuit.read("max_probe_interval", into: &destination.circuit.maxProbeInterval, .seconds)
        }
    }

    /// `outbox.stable_after`.
    func outboxScheduling(_ map: MappingReader, into outbox: inout Configuration.Outbox) throws(ConfigurationError) {
        try map.read("stable_after", into: &outbox.stableAfter, .seconds)
    }

    // MARK: - Bandwidth

    /// A `bandwidth:` mapping; a single rate stands for `{ limit: RATE }`.
    func bandwidth(_ node: ConfigNode) throws(ConfigurationError) -> BandwidthSchedule {
        var schedule = BandwidthSchedule()
        if case .scalar = node.node {
            schedule.limit = try rate(node)
            return schedule
        }
        let map = try node.mapping(keys: Self.bandwidthKeys)
        try map.read("limit", into: &schedule.limit) { node throws(ConfigurationError) in try rate(node) }
        try map.read("stat", into: &schedule.stat) { node throws(ConfigurationError) in
            StatBandwidthPolicy(rawValue: try node.choice(StatBandwidthPolicy.allCases.map(\.rawValue))) ?? .borrow
        }
        if let entries = map.optional("schedule") {
            for item in try entries.list() {
                let (window, entryMap) = try timeWindow(item, extraKeys: ["limit"])
                let limit = try rate(try entryMap.required("limit"))
                schedule.entries.append(BandwidthSchedule.Entry(window: window, limit: limit))
            }
        }
        return schedule
    }

    /// A rate in bytes per second, or nil for `unlimited`.
    func rate(_ node: ConfigNode) throws(ConfigurationError) -> Double? {
        let text = try node.string()
        if ["unlimited", "none", "off"].contains(text.lowercased()) { return nil }
        guard let value = ValueGrammar.bytesPerSecond(text) else {
            throw node.error(
                .invalidValue,
                "expected a rate such as 20Mbit/s, 500kbit/s or 4MB/s (bit/s, kbit/s, Mbit/s, Gbit/s, B/s, kB/s, "
                    + "MB/s, GB/s; KiB/s, MiB/s, GiB/s) or unlimited")
        }
        guard value >= Self.minimumRate else {
            throw node.error(.invalidValue, "a cap below 1kB/s (8kbit/s) cannot carry DICOM; use a higher rate")
        }
        return value
    }
}

extension ValueGrammar {
    /// Bytes per second of each rate unit. Bits are 1/8 byte; k, M, G are powers of 1000, Ki,
    /// Mi, Gi powers of 1024. Unit letters are case-sensitive except `k`/`K` (as for sizes).
    static let rateUnits: [String: Double] = {
        var units: [String: Double] = [:]
        let prefixes: [(String, Double)] = [
            ("", 1), ("k", 1e3), ("K", 1e3), ("M", 1e6), ("G", 1e9), ("Ki", 1024), ("Mi", 1_048_576),
            ("Gi", 1_073_741_824),
        ]
        for (prefix, multiplier) in prefixes {
            units[prefix + "bit/s"] = multiplier / 8
            units[prefix + "bps"] = multiplier / 8
            units[prefix + "B/s"] = multiplier
        }
        return units
    }()

    /// Parses a rate such as `20Mbit/s`, `200 Mbit/s`, `4MB/s`, `1.5Gbit/s` into bytes per second.
    public static func bytesPerSecond(_ text: String) -> Double? {
        guard let (number, unit) = splitNumber(text), let multiplier = rateUnits[unit], let value = Double(number)
        else { return nil }
        let rate = value * multiplier
        return rate.isFinite && rate > 0 ? rate : nil
    }
}
