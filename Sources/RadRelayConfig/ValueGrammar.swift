/// The notations `radrelay.yaml` uses for sizes, durations and percentages, as pure functions
/// from text to value (nil when the text does not follow the grammar). The loader adds the key
/// path and line; later sections (bandwidth, batch limits) reuse these.
public enum ValueGrammar {
    // MARK: - Sizes

    /// Multipliers of the size units. SI prefixes are powers of 1000, IEC prefixes (`Ki`, `Mi`,
    /// `Gi`, `Ti`) powers of 1024; the trailing `B` is optional. `k` and `K` both mean 1000;
    /// `M`, `G`, `T` and `B` are upper case only (`m` would be milli, `b` a bit).
    static let sizeUnits: [String: UInt64] = {
        var units: [String: UInt64] = ["": 1, "B": 1]
        let prefixes: [(String, UInt64)] = [
            ("k", 1_000), ("K", 1_000), ("M", 1_000_000), ("G", 1_000_000_000), ("T", 1_000_000_000_000),
            ("Ki", 1 << 10), ("Mi", 1 << 20), ("Gi", 1 << 30), ("Ti", 1 << 40),
        ]
        for (prefix, multiplier) in prefixes {
            units[prefix] = multiplier
            units[prefix + "B"] = multiplier
        }
        return units
    }()

    /// Parses a byte count: a decimal number and an optional unit, e.g. `8GiB`, `500MB`, `64k`,
    /// `1.5 G`, `4096`. A bare number is bytes. The result must be a whole number of bytes that
    /// fits in 63 bits.
    public static func byteCount(_ text: String) -> UInt64? {
        guard let (number, unit) = splitNumber(text), let multiplier = sizeUnits[unit] else { return nil }
        if let whole = UInt64(number) {
            let (product, overflow) = whole.multipliedReportingOverflow(by: multiplier)
            return overflow || product > UInt64(Int64.max) ? nil : product
        }
        guard let value = Double(number) else { return nil }
        let bytes = value * Double(multiplier)
        guard bytes.rounded() == bytes, bytes < 0x1p63 else { return nil }
        return UInt64(bytes)
    }

    // MARK: - Durations

    /// Seconds per duration unit.
    static let durationUnits: [String: Double] = ["ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400]

    /// Parses a duration into seconds: a bare number is seconds (`30`, `2.5`); otherwise one or
    /// more number–unit pairs with units `ms`, `s`, `m`, `h`, `d`, e.g. `250ms`, `5m`, `24h`,
    /// `1h30m`. Never negative.
    public static func seconds(_ text: String) -> Double? {
        let trimmed = text.trimmingASCIISpaces()
        if let bare = plainNumber(trimmed) { return bare }
        var rest = Substring(trimmed)
        var total = 0.0
        var sawPair = false
        while !rest.isEmpty {
            let digits = rest.prefix { $0.isASCIIDigitOrDot }
            rest = rest.dropFirst(digits.count).drop { $0 == " " }
            let unitText = rest.prefix { $0.isLetter }
            rest = rest.dropFirst(unitText.count).drop { $0 == " " }
            guard let value = plainNumber(String(digits)), let unit = durationUnits[String(unitText)] else {
                return nil
            }
            total += value * unit
            sawPair = true
        }
        return sawPair && total.isFinite ? total : nil
    }

    // MARK: - Percentages

    /// Parses a percentage such as `5%` or `2.5 %` into its number (5, 2.5), from 0 to 100.
    public static func percent(_ text: String) -> Double? {
        let trimmed = text.trimmingASCIISpaces()
        guard trimmed.hasSuffix("%") else { return nil }
        guard let value = plainNumber(String(trimmed.dropLast()).trimmingASCIISpaces()), value <= 100 else {
            return nil
        }
        return value
    }

    /// Parses a free-disk threshold: a percentage of the file system (`5%`) or a byte count
    /// (`10GiB`).
    public static func diskThreshold(_ text: String) -> DiskThreshold? {
        if let value = percent(text) { return .percent(value) }
        return byteCount(text).map(DiskThreshold.bytes)
    }

    // MARK: - Numbers

    /// A non-negative decimal number without sign or exponent: `12`, `0.25`.
    static func plainNumber(_ text: String) -> Double? {
        let parts = text.split(separator: ".", maxSplits: 2, omittingEmptySubsequences: false)
        guard (1...2).contains(parts.count), parts.allSatisfy({ !$0.isEmpty && $0.allSatisfy(\.isASCIIDigit) }) else {
            return nil
        }
        return Double(text)
    }

    /// Splits `12.5 GiB` into ("12.5", "GiB"); nil unless the number is a plain number.
    static func splitNumber(_ text: String) -> (String, String)? {
        let trimmed = text.trimmingASCIISpaces()
        let number = String(trimmed.prefix { $0.isASCIIDigitOrDot })
        guard plainNumber(number) != nil else { return nil }
        let unit = String(trimmed.dropFirst(number.count)).trimmingASCIISpaces()
        return (number, unit)
    }
}

extension Character {
    var isASCIIDigit: Bool { isASCII && isNumber }
    var isASCIIDigitOrDot: Bool { isASCIIDigit || self == "." }
}

extension String {
    /// Removes leading and trailing U+0020 and tabs.
    func trimmingASCIISpaces() -> String {
        var text = Substring(self)
        while let first = text.first, first == " " || first == "\t" { text = text.dropFirst() }
        while let last = text.last, last == " " || last == "\t" { text = text.dropLast() }
        return String(text)
    }
}
