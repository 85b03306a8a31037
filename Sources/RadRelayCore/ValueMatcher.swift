/// One test on the values of an attribute (or on an AE title) in a routing rule: equals / one
/// of, wildcard, regular expression, present or absent.
///
/// Values are compared after removing DICOM's leading and trailing space padding. A
/// multi-valued attribute (values separated by `\`) passes a value test when any of its values
/// does. An attribute is *present* when it exists with at least one non-empty value; an empty
/// (type 2) attribute counts as absent, which is what a routing rule about "has an accession
/// number" means.
public struct ValueMatcher: Sendable, Equatable, CustomStringConvertible {
    /// What is tested.
    public enum Test: Sendable, Equatable {
        /// Equal to one of these values (equals is one of one value).
        case oneOf([String])
        /// Matches one of these patterns as a whole: `*` any run of characters, `?` exactly one.
        case wildcard([String])
        /// One of these regular expressions is found somewhere in the value (anchor with `^…$`).
        case regex([TextPattern])
        /// The attribute exists with a non-empty value.
        case present
        /// The attribute is missing or empty.
        case absent
    }

    public var test: Test
    /// Compare without regard to letter case (attributes); AE titles compare exactly.
    public var ignoresCase: Bool

    public init(_ test: Test, ignoresCase: Bool = true) {
        self.test = test
        self.ignoresCase = ignoresCase
    }

    /// Equal to `value`.
    public static func equals(_ value: String, ignoresCase: Bool = true) -> ValueMatcher {
        ValueMatcher(.oneOf([value]), ignoresCase: ignoresCase)
    }

    /// The values an equals / one-of test accepts; empty for other tests.
    public var listedValues: [String] {
        if case .oneOf(let values) = test { return values }
        return []
    }

    /// Whether `values` (nil when the attribute is missing) pass.
    public func matches(_ values: [String]?) -> Bool {
        let cleaned = (values ?? []).map(Self.trimPadding).filter { !$0.isEmpty }
        switch test {
        case .present: return !cleaned.isEmpty
        case .absent: return cleaned.isEmpty
        case .oneOf(let expected):
            let wanted = expected.map(fold)
            return cleaned.contains { wanted.contains(fold($0)) }
        case .wildcard(let patterns):
            return cleaned.contains { value in
                patterns.contains { Self.wildcardMatches(fold($0), fold(value)) }
            }
        case .regex(let patterns):
            return cleaned.contains { value in patterns.contains { $0.isFound(in: value) } }
        }
    }

    /// The first of `values` that passes, for explanations; nil when none does (or for
    /// present/absent).
    public func firstMatchingValue(_ values: [String]?) -> String? {
        switch test {
        case .present, .absent: return nil
        default:
            return (values ?? []).map(Self.trimPadding).first { matches([$0]) }
        }
    }

    public var description: String {
        switch test {
        case .oneOf(let values) where values.count == 1: return "equals '\(values[0])'"
        case .oneOf(let values): return "one of [\(values.joined(separator: ", "))]"
        case .wildcard(let patterns): return "wildcard " + patterns.map { "'\($0)'" }.joined(separator: " or ")
        case .regex(let patterns): return "regex " + patterns.map { "/\($0.source)/" }.joined(separator: " or ")
        case .present: return "present"
        case .absent: return "absent"
        }
    }

    // MARK: - Helpers

    private func fold(_ text: String) -> String { ignoresCase ? text.uppercased() : text }

    /// Removes DICOM padding: spaces at either end and a trailing NUL (UI values).
    static func trimPadding(_ value: String) -> String {
        var text = Substring(value)
        while let first = text.first, first == " " { text = text.dropFirst() }
        while let last = text.last, last == " " || last == "\0" { text = text.dropLast() }
        return String(text)
    }

    /// Iterative `*`/`?` matching with backtracking to the last star: O(n·m) worst case, no
    /// recursion, so a hostile value cannot blow the stack.
    static func wildcardMatches(_ pattern: String, _ value: String) -> Bool {
        let p = Array(pattern), v = Array(value)
        var i = 0, j = 0
        var star = -1, mark = 0
        while j < v.count {
            if i < p.count && (p[i] == "?" || p[i] == v[j]) {
                i += 1
                j += 1
            } else if i < p.count && p[i] == "*" {
                star = i
                mark = j
                i += 1
            } else if star >= 0 {
                i = star + 1
                mark += 1
                j = mark
            } else {
                return false
            }
        }
        while i < p.count && p[i] == "*" { i += 1 }
        return i == p.count
    }
}

/// A compiled regular expression (Swift Regex syntax, which is PCRE-like), kept with its source
/// so rules compare and print by their text. Compiled once when the configuration is loaded.
public final class TextPattern: Sendable, Equatable, CustomStringConvertible {
    /// The expression as written.
    public let source: String
    public let ignoresCase: Bool
    // Regex values are immutable once built; matching does not mutate them.
    nonisolated(unsafe) private let regex: Regex<AnyRegexOutput>

    /// Compiles `source`; throws the compiler's error for an invalid expression.
    public init(_ source: String, ignoresCase: Bool = true) throws {
        self.source = source
        self.ignoresCase = ignoresCase
        let compiled = try Regex(source)
        regex = ignoresCase ? compiled.ignoresCase() : compiled
    }

    /// True when the expression matches somewhere in `text`.
    public func isFound(in text: String) -> Bool {
        (try? regex.firstMatch(in: text)) != nil
    }

    public static func == (lhs: TextPattern, rhs: TextPattern) -> Bool {
        lhs.source == rhs.source && lhs.ignoresCase == rhs.ignoresCase
    }

    public var description: String { source }
}
