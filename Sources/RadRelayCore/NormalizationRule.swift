extension Normalization {
    /// One rule of a profile: an operation on one top-level attribute. Values are text: a
    /// multi-valued attribute is one string with backslash separators, as DICOM encodes it, and
    /// trailing padding is not part of a value.
    public struct Rule: Sendable, Equatable {
        public var tag: DICOMTag
        public var operation: Operation

        public init(_ operation: Operation, _ tag: DICOMTag) {
            self.tag = tag
            self.operation = operation
        }

        /// A one-line description for logs and the dry run, e.g. `trim AccessionNumber`.
        public var summary: String { "\(operation.name) \(Normalization.name(tag))" }
    }

    /// What a rule does to its attribute.
    public enum Operation: Sendable, Equatable {
        /// Sets the value (adds the attribute when absent).
        case set(String)
        /// Sets the value only when the attribute is absent or empty.
        case setIfMissing(String)
        /// Removes the attribute.
        case remove
        /// Removes leading and trailing spaces from every value.
        case trim
        /// Upper-cases every value (letters of every script).
        case upperCase
        /// Lower-cases every value.
        case lowerCase
        /// Regular-expression replacement on the whole text (every match); `$1`…`$9` in the
        /// template insert capture groups, `$$` a dollar sign.
        case replace(pattern: String, template: String)
        /// Looks the whole value up in `table`; an unmatched value is kept, or replaced by
        /// `otherwise` when given. An absent attribute is left absent.
        case map(table: [String: String], otherwise: String?)
        /// Puts `prefix` in front of the value unless the value already starts with it (so the
        /// rule is idempotent); absent or empty values stay as they are.
        case prefix(String)
        /// Removes leading occurrences of any of `characters` (padding such as zeros).
        case stripLeading(characters: String)
        /// Puts a Person Name (PS3.5 §6.2.1) in DICOM form: `Family, Given` becomes
        /// `Family^Given`, spaces around components are removed, and trailing empty components
        /// and component groups are dropped.
        case personName
        /// Changes nothing; reports a warning when a present value does not match `pattern`
        /// entirely (e.g. an accession number format the RIS expects).
        case check(pattern: String)

        /// The config spelling of the operation.
        public var name: String {
            switch self {
            case .set: return "set"
            case .setIfMissing: return "set_if_missing"
            case .remove: return "remove"
            case .trim: return "trim"
            case .upperCase: return "upper"
            case .lowerCase: return "lower"
            case .replace: return "replace"
            case .map: return "map"
            case .prefix: return "prefix"
            case .stripLeading: return "strip_leading"
            case .personName: return "person_name"
            case .check: return "check"
            }
        }

        /// The patterns this operation compiles, to validate them when the config is loaded.
        public var patterns: [String] {
            switch self {
            case .replace(let pattern, _), .check(let pattern): return [pattern]
            default: return []
            }
        }

        /// A stable text form of the operation and its parameters (table keys sorted), part of
        /// the variant key of derived files.
        var canonical: String {
            switch self {
            case .set(let value): return "set=" + Self.quote(value)
            case .setIfMissing(let value): return "set_if_missing=" + Self.quote(value)
            case .replace(let pattern, let template): return "replace=" + Self.quote(pattern) + Self.quote(template)
            case .map(let table, let otherwise):
                let pairs = table.sorted { $0.key < $1.key }.map { Self.quote($0.key) + ":" + Self.quote($0.value) }
                return "map={" + pairs.joined(separator: ",") + "}" + (otherwise.map(Self.quote) ?? "-")
            case .prefix(let value): return "prefix=" + Self.quote(value)
            case .stripLeading(let characters): return "strip_leading=" + Self.quote(characters)
            case .check(let pattern): return "check=" + Self.quote(pattern)
            default: return name
            }
        }

        private static func quote(_ text: String) -> String {
            "\"" + text.replacingEvery("\\", with: "\\\\").replacingEvery("\"", with: "\\\"") + "\""
        }
    }

    /// Reason for the Attribute Modification (0400,0565), PS3.3 C.12.1.1.9.
    public enum Reason: String, Sendable, Equatable, CaseIterable {
        /// Values changed to fit the receiving system's conventions (the usual case).
        case coerce = "COERCE"
        /// Values corrected because they were wrong.
        case correct = "CORRECT"
    }

    /// A named, ordered list of rules (`normalization_profiles:` in the config). Applying one
    /// profile is one normalization pass: one Original Attributes Sequence item when it changes
    /// anything.
    public struct Profile: Sendable, Equatable {
        public var name: String
        public var rules: [Rule]
        /// Convert the object's text to UTF-8 (`ISO_IR 192`) before the rules run.
        public var convertToUTF8: Bool
        /// What the Original Attributes Sequence item says about the change.
        public var reason: Reason

        public init(name: String, rules: [Rule], convertToUTF8: Bool = false, reason: Reason = .coerce) {
            self.name = name
            self.rules = rules
            self.convertToUTF8 = convertToUTF8
            self.reason = reason
        }

        /// Every tag a rule of this profile reads or writes, in rule order without repeats.
        public var tags: [DICOMTag] {
            var seen = Set<DICOMTag>()
            return rules.map(\.tag).filter { seen.insert($0).inserted }
        }

        /// A stable text form of everything that decides the profile's output.
        var canonical: String {
            "profile(\(name);utf8=\(convertToUTF8);\(reason.rawValue);"
                + rules.map { "\($0.tag.value):\($0.operation.canonical)" }.joined(separator: ";") + ")"
        }
    }
}

extension String {
    /// Every occurrence of `target` replaced (no Foundation in the core module).
    fileprivate func replacingEvery(_ target: Character, with replacement: String) -> String {
        var result = ""
        for character in self {
            if character == target { result += replacement } else { result.append(character) }
        }
        return result
    }
}
