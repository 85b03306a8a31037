extension Normalization {
    /// The attribute values a profile's rules see: text per tag (a missing key is an absent
    /// attribute; an empty string a present, empty one). The adapter fills it from a dataset,
    /// decoded to Unicode; tests fill it by hand.
    public struct AttributeValues: Sendable, Equatable {
        public var values: [DICOMTag: String]

        public init(_ values: [DICOMTag: String] = [:]) { self.values = values }

        public subscript(tag: DICOMTag) -> String? {
            get { values[tag] }
            set { values[tag] = newValue }
        }
    }

    /// What one rule did, for the dry run and debug logs.
    public struct RuleOutcome: Sendable, Equatable {
        public var rule: Rule
        /// The value before the rule; nil when absent.
        public var before: String?
        /// The value after the rule; nil when absent.
        public var after: String?
        /// Set when a `check` failed or a rule could not run (its value is then unchanged).
        public var warning: String?

        public var changed: Bool { before != after }
    }

    /// The net change of one attribute over a whole pass: what the Original Attributes Sequence
    /// records (`before`) and what the adapter writes (`after`; nil removes the attribute).
    public struct AttributeChange: Sendable, Equatable {
        public var tag: DICOMTag
        public var before: String?
        public var after: String?

        public init(tag: DICOMTag, before: String?, after: String?) {
            self.tag = tag
            self.before = before
            self.after = after
        }
    }

    /// The result of applying one profile: every rule's outcome in order, and the net changes
    /// (only attributes whose final value differs from the value before the pass, by tag).
    public struct Pass: Sendable, Equatable {
        public var profile: String
        public var reason: Reason
        public var convertToUTF8: Bool
        public var outcomes: [RuleOutcome]
        public var changes: [AttributeChange]

        /// Warnings of the rules, in order, each prefixed with its rule.
        public var warnings: [String] {
            outcomes.compactMap { outcome in outcome.warning.map { "\(outcome.rule.summary): \($0)" } }
        }
    }

    /// Applies `profile`'s rules in order to `input` (a pure function: no I/O, no clock).
    public static func apply(_ profile: Profile, to input: AttributeValues) -> Pass {
        var current = input
        var outcomes: [RuleOutcome] = []
        for rule in profile.rules {
            let before = current[rule.tag]
            var warning: String?
            let after = evaluate(rule.operation, on: before, warning: &warning)
            current[rule.tag] = after
            outcomes.append(RuleOutcome(rule: rule, before: before, after: after, warning: warning))
        }
        let changes = profile.tags.sorted().filter { current[$0] != input[$0] }.map {
            AttributeChange(tag: $0, before: input[$0], after: current[$0])
        }
        return Pass(
            profile: profile.name, reason: profile.reason, convertToUTF8: profile.convertToUTF8, outcomes: outcomes,
            changes: changes)
    }

    // MARK: - Operations

    static func evaluate(_ operation: Operation, on value: String?, warning: inout String?) -> String? {
        switch operation {
        case .set(let new):
            return new
        case .setIfMissing(let new):
            guard let value, !trimmed(value).isEmpty else { return new }
            return value
        case .remove:
            return nil
        case .trim:
            return value.map { eachValue($0) { trimmed($0) } }
        case .upperCase:
            return value?.uppercased()
        case .lowerCase:
            return value?.lowercased()
        case .replace(let pattern, let template):
            guard let value else { return nil }
            do {
                return try replace(pattern, template: template, in: value)
            } catch {
                warning = "pattern '\(pattern)' is not a valid regular expression"
                return value
            }
        case .map(let table, let otherwise):
            guard let value else { return nil }
            return table[trimmed(value)] ?? otherwise ?? value
        case .prefix(let prefix):
            guard let value, !value.isEmpty, !value.hasPrefix(prefix) else { return value }
            return prefix + value
        case .stripLeading(let characters):
            return value.map { eachValue($0) { String($0.drop { characters.contains($0) }) } }
        case .personName:
            return value.map { eachValue($0, personName) }
        case .check(let pattern):
            guard let value else { return nil }
            do {
                let regex = try Regex(pattern)
                if (try regex.wholeMatch(in: value)) == nil {
                    warning = "value does not match '\(pattern)'"
                }
            } catch {
                warning = "pattern '\(pattern)' is not a valid regular expression"
            }
            return value
        }
    }

    /// Applies `transform` to each backslash-separated value (VM > 1).
    static func eachValue(_ text: String, _ transform: (Substring) -> String) -> String {
        text.split(separator: "\\", omittingEmptySubsequences: false).map(transform).joined(separator: "\\")
    }

    /// PS3.5 §6.2.1: up to three component groups (`=`), each up to five components (`^`).
    static func personName(_ value: Substring) -> String {
        var groups = value.split(separator: "=", omittingEmptySubsequences: false).map { group -> String in
            var source = Substring(trimmed(group))
            var components: [String]
            if !source.contains("^"), source.filter({ $0 == "," }).count == 1 {
                // "Family, Given": the RIS and most viewers expect Family^Given.
                source = Substring(source.replacingFirstComma())
            }
            components = source.split(separator: "^", omittingEmptySubsequences: false).map { trimmed($0) }
            while let last = components.last, last.isEmpty { components.removeLast() }
            return components.joined(separator: "^")
        }
        while let last = groups.last, last.isEmpty { groups.removeLast() }
        return groups.joined(separator: "=")
    }

    /// Regular-expression replacement of every match, with `$n` templates.
    static func replace(_ pattern: String, template: String, in value: String) throws -> String {
        let regex = try Regex(pattern)
        return value.replacing(regex) { match in
            expand(template) { index in
                guard index < match.output.count else { return "" }
                return match.output[index].substring.map(String.init) ?? ""
            }
        }
    }

    /// Expands `$0`…`$9` and `$$` in a replacement template.
    static func expand(_ template: String, group: (Int) -> String) -> String {
        var result = ""
        var iterator = template.makeIterator()
        while let character = iterator.next() {
            guard character == "$" else {
                result.append(character)
                continue
            }
            guard let next = iterator.next() else {
                result.append("$")
                break
            }
            if next == "$" {
                result.append("$")
            } else if let digit = next.wholeNumberValue, next.isASCII {
                result += group(digit)
            } else {
                result.append("$")
                result.append(next)
            }
        }
        return result
    }
}

extension Substring {
    fileprivate func replacingFirstComma() -> String {
        guard let comma = firstIndex(of: ",") else { return String(self) }
        return String(self[..<comma]) + "^" + String(self[index(after: comma)...])
    }
}
