import Foundation

/// An IPv4 or IPv6 address or CIDR range: `allowed_callers[].hosts` and the `source_ip` of
/// routing rules. (Moved here from RadRelayConfig so routing, a pure core concern, can use it.)
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

    /// The 4 or 16 bytes of a textual IPv4 or IPv6 address; nil when malformed.
    public static func parseAddress(_ text: String) -> [UInt8]? {
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
            let parts = s.split(separator: ":", omittingEmptySubsequences: false)
            for (index, g) in parts.enumerated() {
                // RFC 4291 §2.2: the last 32 bits may be a dotted quad (`::ffff:10.1.2.3`, how a
                // dual-stack socket shows an IPv4 peer).
                if index == parts.count - 1, g.contains("."), let v4 = parseAddress(String(g)), v4.count == 4 {
                    result += [UInt16(v4[0]) << 8 | UInt16(v4[1]), UInt16(v4[2]) << 8 | UInt16(v4[3])]
                    continue
                }
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
