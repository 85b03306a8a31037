import RadRelayCore

/// Typed values. Each reads the scalar's text as written (so `ae_title: 0123` keeps its zero and
/// `port: "104"` works) and throws an `invalidValue` error at the value's line and column.
extension ConfigNode {
    // MARK: - Text and flags

    /// A non-empty string.
    func string() throws(ConfigurationError) -> String {
        let text = try scalar()
        guard !text.isEmpty else { throw error(.invalidValue, "must not be empty") }
        return text
    }

    /// `true` or `false` (any letter case); `yes`, `on` and friends are refused as ambiguous.
    func bool() throws(ConfigurationError) -> Bool {
        switch try scalar().lowercased() {
        case "true": return true
        case "false": return false
        default: throw error(.invalidValue, "expected true or false")
        }
    }

    /// One of `choices` (compared case-insensitively), returned in lower case.
    func choice(_ choices: [String]) throws(ConfigurationError) -> String {
        let text = try scalar().lowercased()
        guard choices.contains(text) else {
            throw error(.invalidValue, "expected one of: " + choices.joined(separator: ", "))
        }
        return text
    }

    // MARK: - Numbers

    /// A decimal integer within `range`.
    func integer(in range: ClosedRange<Int>) throws(ConfigurationError) -> Int {
        let text = try scalar()
        guard !text.isEmpty, text.allSatisfy(\.isASCIIDigit), let value = Int(text), range.contains(value) else {
            let upper = range.upperBound == Int.max ? "" : " to \(range.upperBound)"
            throw error(.invalidValue, "expected a whole number from \(range.lowerBound)\(upper)")
        }
        return value
    }

    /// A count of things (associations, attempts): a whole number ≥ 1.
    func count() throws(ConfigurationError) -> Int {
        try integer(in: 1...Int.max)
    }

    /// A TCP port. `allowZero` for listeners, where 0 asks the kernel for a free port.
    func port(allowZero: Bool) throws(ConfigurationError) -> Int {
        try integer(in: (allowZero ? 0 : 1)...65535)
    }

    /// A byte count in the size grammar (`8GiB`, `500MB`, `64k`, bare bytes), within `range`.
    func byteCount(in range: ClosedRange<UInt64> = 0...UInt64(Int64.max)) throws(ConfigurationError) -> UInt64 {
        let text = try scalar()
        guard let value = ValueGrammar.byteCount(text) else {
            throw error(
                .invalidValue,
                "expected a size such as 4096, 64k, 500MB or 8GiB (k, M, G, T: 1000; Ki, Mi, Gi, Ti: 1024)")
        }
        guard range.contains(value) else {
            throw error(.invalidValue, "size \(value) bytes is outside \(range.lowerBound)…\(range.upperBound) bytes")
        }
        return value
    }

    /// A duration in seconds (`30s`, `5m`, `24h`, `1d`, `250ms`, bare seconds); `allowZero`
    /// where zero means "off".
    func seconds(allowZero: Bool = false) throws(ConfigurationError) -> Double {
        let text = try scalar()
        guard let value = ValueGrammar.seconds(text) else {
            throw error(
                .invalidValue, "expected a duration such as 30s, 5m, 24h, 1d or 250ms (bare numbers are seconds)")
        }
        guard allowZero || value > 0 else { throw error(.invalidValue, "duration must be greater than zero") }
        return value
    }

    /// A fraction from 0 to 1, written as a number (`0.2`) or a percentage (`20%`).
    func fraction() throws(ConfigurationError) -> Double {
        let text = try scalar()
        if let percent = ValueGrammar.percent(text) { return percent / 100 }
        guard let value = ValueGrammar.plainNumber(text.trimmingASCIISpaces()), value <= 1 else {
            throw error(.invalidValue, "expected a fraction from 0 to 1, such as 0.2 or 20%")
        }
        return value
    }

    // MARK: - DICOM and network

    /// An AE title, validated by `AETitle` (≤ 16 characters, no backslash or control characters).
    func aeTitle() throws(ConfigurationError) -> AETitle {
        let text = try scalar()
        do throws(AETitle.ValidationError) {
            return try AETitle(text)
        } catch {
            throw self.error(.invalidValue, error.description)
        }
    }

    /// A host to connect to or bind: an IPv4 or IPv6 literal, or a DNS name (letters, digits,
    /// `-`, `_` and dots, at most 253 characters, the last label not all digits so that a
    /// mistyped address such as `10.0.0.256` is not taken for a name; RFC 3696 §2).
    func host() throws(ConfigurationError) -> String {
        let text = try string()
        if AddressRange.parseAddress(text) != nil { return text }
        let labels = text.split(separator: ".", omittingEmptySubsequences: false)
        let numericTop = labels.last?.allSatisfy(\.isASCIIDigit) ?? true
        let valid = text.count <= 253 && !numericTop && labels.allSatisfy(Self.isHostLabel)
        guard valid else { throw error(.invalidValue, "expected an IP address or a host name") }
        return text
    }

    private static func isHostLabel(_ label: Substring) -> Bool {
        (1...63).contains(label.count) && label.first != "-" && label.last != "-"
            && label.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") }
    }

    /// A file-system path (non-empty, no NUL), not yet resolved.
    func path() throws(ConfigurationError) -> String {
        let text = try string()
        guard !text.contains("\0") else { throw error(.invalidValue, "a path must not contain NUL") }
        return text
    }
}
