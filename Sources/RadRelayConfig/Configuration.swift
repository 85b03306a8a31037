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

    public init(gateway: Gateway, destinations: [Destination], routes: [RouteRule], outbox: Outbox, logging: Logging) {
        self.gateway = gateway
        self.destinations = destinations
        self.routes = routes
        self.outbox = outbox
        self.logging = logging
    }

    /// The router built from `routes`.
    public var router: Router { Router(rules: routes) }

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
        public enum Kind: String, Sendable, Equatable { case dicom }
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

/// An IPv4 or IPv6 address or CIDR range from `allowed_callers[].hosts`.
public struct AddressRange: Sendable, Equatable, CustomStringConvertible {
    /// Network address bytes (4 or 16).
    public let network: [UInt8]
    public let prefixLength: Int

    public var description: String { "\(AddressRange.format(network))/\(prefixLength)" }

    /// Parses "10.1.2.3", "10.9.0.0/16", "::1", "fd00::/8". Returns nil when malformed.
    public init?(_ text: String) {
        let parts = text.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        guard let bytes = AddressRange.parseAddress(String(parts[0])) else { return nil }
        let maxPrefix = bytes.count * 8
        var prefix = maxPrefix
        if parts.count == 2 {
            guard let p = Int(parts[1]), p >= 0, p <= maxPrefix else { return nil }
            prefix = p
        }
        self.network = AddressRange.mask(bytes, prefix)
        self.prefixLength = prefix
    }

    /// True when `address` (textual IPv4/IPv6; IPv4-mapped IPv6 is treated as IPv4) is inside.
    public func contains(_ address: String) -> Bool {
        guard var bytes = AddressRange.parseAddress(address) else { return false }
        if bytes.count == 16, network.count == 4, bytes[0..<10].allSatisfy({ $0 == 0 }), bytes[10] == 0xFF,
            bytes[11] == 0xFF
        {
            bytes = Array(bytes[12..<16])
        }
        guard bytes.count == network.count else { return false }
        return AddressRange.mask(bytes, prefixLength) == network
    }

    static func mask(_ bytes: [UInt8], _ prefix: Int) -> [UInt8] {
        bytes.enumerated().map { index, byte in
            let bitsHere = max(0, min(8, prefix - index * 8))
            let m: UInt8 = bitsHere == 0 ? 0 : UInt8(truncatingIfNeeded: 0xFF << (8 - bitsHere))
            return byte & m
        }
    }

    static func parseAddress(_ text: String) -> [UInt8]? {
        if text.contains(":") { return parseIPv6(text) }
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        var out: [UInt8] = []
        for part in parts {
            guard !part.isEmpty, part.count <= 3, let v = UInt8(part) else { return nil }
            out.append(v)
        }
        return out
    }

    static func parseIPv6(_ text: String) -> [UInt8]? {
        let halves = text.components(separatedBy: "::")
        guard halves.count <= 2 else { return nil }
        func groups(_ s: String) -> [UInt16]? {
            if s.isEmpty { return [] }
            var result: [UInt16] = []
            for g in s.split(separator: ":", omittingEmptySubsequences: false) {
                guard !g.isEmpty, g.count <= 4, let v = UInt16(g, radix: 16) else { return nil }
                result.append(v)
            }
            return result
        }
        guard let head = groups(halves[0]) else { return nil }
        var all: [UInt16]
        if halves.count == 2 {
            guard let tail = groups(halves[1]), head.count + tail.count < 8 else { return nil }
            all = head + Array(repeating: 0, count: 8 - head.count - tail.count) + tail
        } else {
            guard head.count == 8 else { return nil }
            all = head
        }
        return all.flatMap { [UInt8($0 >> 8), UInt8($0 & 0xFF)] }
    }

    static func format(_ bytes: [UInt8]) -> String {
        if bytes.count == 4 { return bytes.map(String.init).joined(separator: ".") }
        return stride(from: 0, to: 16, by: 2).map { String(UInt16(bytes[$0]) << 8 | UInt16(bytes[$0 + 1]), radix: 16) }
            .joined(separator: ":")
    }
}
