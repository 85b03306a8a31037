import RadRelayCore
import Yams

/// `routes[].match`: the criteria of a routing rule (issue 4).
///
/// ```yaml
/// match:
///   calling_ae: ED_CT                       # one value, a list, or a test mapping
///   called_ae: [RADRELAY, RADRELAY_STAT]
///   source_ip: [10.1.0.0/16, 192.0.2.7]
///   Modality: CT                            # any attribute by PS3.6 keyword…
///   "(0040,1003)": { one_of: [STAT, HIGH] } # …or by tag
///   StudyDescription: { wildcard: "*STAT*" }
///   RequestedProcedureDescription: { regex: "code\\s*stroke" }
///   AccessionNumber: { present: true }
///   time: { days: mon-fri, from: "19:00", to: "07:00" }   # or a list of windows
/// ```
///
/// The fixed keys come first; any other key must be a keyword of the DICOM dictionary or a tag,
/// so a misspelt attribute is an error at its line, never a rule that silently matches nothing.
extension ConfigurationParser {
    /// Keys with a fixed meaning inside `match:`; every other key names an attribute.
    static let matchKeys = ["calling_ae", "called_ae", "source_ip", "modality", "Modality", "time"]
    /// The test spellings of an attribute criterion written as a mapping.
    static let valueTestKeys = ["equals", "one_of", "wildcard", "regex", "present", "absent"]
    /// Keys of one time window.
    static let timeWindowKeys = ["days", "from", "to"]

    func routeMatch(_ node: ConfigNode, gateway: Configuration.Gateway) throws(ConfigurationError) -> RouteMatch {
        var match = RouteMatch()
        var seenTags: [DICOMTag: ConfigNode] = [:]
        for entry in try entries(of: node) {
            let (key, value) = (entry.key, entry.value)
            switch key {
            case "calling_ae":
                match.callingAE = try aeMatcher(value) { _ throws(ConfigurationError) in }
            case "called_ae":
                match.calledAE = try aeMatcher(value) { item throws(ConfigurationError) in
                    let title = try item.aeTitle()
                    guard gateway.calledAETitles.contains(title) else {
                        let message =
                            "the gateway does not answer to '\(title)' (see gateway.ae_title and additional_ae_titles)"
                        throw item.error(.unknownReference, message)
                    }
                }
            case "source_ip":
                match.sourceIP = try criterionValues(value) { item throws(ConfigurationError) in
                    guard let range = AddressRange(try item.string()) else {
                        throw item.error(
                            .invalidValue, "expected an IPv4 or IPv6 address or CIDR range such as 10.9.0.0/16")
                    }
                    return range
                }
            case "time":
                match.time = try timeWindows(value)
            default:
                let spelling = key == "modality" ? "Modality" : key
                guard let tag = DICOMDictionary.tag(keywordOrTag: spelling) else {
                    throw value.error(
                        .unknownKey, "unknown key (\(Self.attributeHint(for: key)))", at: value.anchor,
                        keyPath: value.keyPath)
                }
                if let first = seenTags[tag] {
                    let message =
                        tag == .modality
                        ? "give either 'modality' or 'Modality', not both"
                        : "\(DICOMDictionary.name(of: tag)) is already matched on line \(first.anchor.line)"
                    throw value.error(.duplicateKey, message)
                }
                seenTags[tag] = value
                let matcher = try attributeMatcher(value, tag: tag)
                match.attributes.append(AttributeCriterion(tag: tag, matcher: matcher))
            }
        }
        return match
    }

    // MARK: - Criteria

    /// An AE title criterion: a title or a list (checked by `validate`), or a test mapping. AE
    /// titles compare exactly.
    private func aeMatcher(
        _ node: ConfigNode,
        validate: (ConfigNode) throws(ConfigurationError) -> Void
    ) throws(ConfigurationError) -> ValueMatcher {
        try valueMatcher(node, ignoresCase: false) { item throws(ConfigurationError) in
            let title = try item.aeTitle()
            try validate(item)
            return title.value
        }
    }

    /// An attribute criterion. Modality values are checked as Modality codes (VR CS).
    private func attributeMatcher(_ node: ConfigNode, tag: DICOMTag) throws(ConfigurationError) -> ValueMatcher {
        try valueMatcher(node, ignoresCase: true) { item throws(ConfigurationError) in
            tag == .modality ? try self.modality(item) : try item.string()
        }
    }

    /// `VALUE` (equals), `[A, B]` (one of), or a mapping with one test: `equals`, `one_of`,
    /// `wildcard`, `regex` (each a value or a list), `present: true|false`, `absent: true|false`.
    private func valueMatcher(
        _ node: ConfigNode,
        ignoresCase: Bool,
        value: (ConfigNode) throws(ConfigurationError) -> String
    ) throws(ConfigurationError) -> ValueMatcher {
        guard case .mapping = node.node else {
            return ValueMatcher(.oneOf(try criterionValues(node, value)), ignoresCase: ignoresCase)
        }
        let map = try node.mapping(keys: Self.valueTestKeys)
        let given = Self.valueTestKeys.compactMap { key in map.optional(key).map { (key, $0) } }
        guard given.count == 1, let (key, test) = given.first else {
            let message =
                given.isEmpty
                ? "give one test: " + Self.valueTestKeys.joined(separator: ", ")
                : "give one test per criterion, not \(given.map(\.0).joined(separator: " and "))"
            throw (given.dropFirst().first?.1 ?? node).error(.invalidValue, message)
        }
        switch key {
        case "equals":
            return ValueMatcher(.oneOf([try value(test)]), ignoresCase: ignoresCase)
        case "one_of":
            return ValueMatcher(.oneOf(try criterionValues(test, value)), ignoresCase: ignoresCase)
        case "wildcard":
            let patterns = try criterionValues(test) { item throws(ConfigurationError) in try item.string() }
            return ValueMatcher(.wildcard(patterns), ignoresCase: ignoresCase)
        case "regex":
            let patterns = try criterionValues(test) { item throws(ConfigurationError) in
                let source = try item.string()
                do {
                    return try TextPattern(source, ignoresCase: ignoresCase)
                } catch {
                    throw item.error(.invalidValue, "not a valid regular expression: \(error)")
                }
            }
            return ValueMatcher(.regex(patterns), ignoresCase: ignoresCase)
        default:
            let wanted = try test.bool()
            let isPresent = (key == "present") == wanted
            return ValueMatcher(isPresent ? .present : .absent, ignoresCase: ignoresCase)
        }
    }

    /// The values of one criterion: a single value or a non-empty list.
    func criterionValues<Value>(
        _ node: ConfigNode,
        _ value: (ConfigNode) throws(ConfigurationError) -> Value
    ) throws(ConfigurationError) -> [Value] {
        let items = try node.listOrSingle()
        guard !items.isEmpty else {
            throw node.error(.invalidValue, "an empty list would match nothing; remove the key to match any value")
        }
        var values: [Value] = []
        for item in items { values.append(try value(item)) }
        return values
    }

    /// A Modality value (VR CS, PS3.5 §6.2): 1–16 upper-case letters, digits, `_` or spaces.
    func modality(_ node: ConfigNode) throws(ConfigurationError) -> String {
        let text = try node.string().uppercased()
        let allowed = text.allSatisfy { $0.isASCII && ($0.isUppercase || $0.isNumber || $0 == "_" || $0 == " ") }
        guard allowed, text.count <= 16 else {
            throw node.error(.invalidValue, "expected a Modality code such as CT, MR or DX (at most 16 characters)")
        }
        return text
    }

    // MARK: - Time windows

    /// One window `{ days: mon-fri, from: "19:00", to: "07:00" }` or a non-empty list of them.
    func timeWindows(_ node: ConfigNode) throws(ConfigurationError) -> [TimeWindow] {
        if case .mapping = node.node { return [try timeWindow(node, extraKeys: []).window] }
        let items = try node.list()
        guard !items.isEmpty else { throw node.error(.invalidValue, "an empty list of windows would match nothing") }
        var windows: [TimeWindow] = []
        for item in items { windows.append(try timeWindow(item, extraKeys: []).window) }
        return windows
    }

    /// A window and the reader of its mapping (for callers with more keys, such as `limit`).
    /// `days` defaults to every day, `from` to 00:00 and `to` to 24:00; `from` after `to` wraps
    /// midnight.
    func timeWindow(
        _ node: ConfigNode,
        extraKeys: [String]
    ) throws(ConfigurationError) -> (window: TimeWindow, map: MappingReader) {
        let map = try node.mapping(keys: Self.timeWindowKeys + extraKeys)
        var window = TimeWindow()
        try map.read("days", into: &window.days) { node throws(ConfigurationError) in try days(node) }
        try map.read("from", into: &window.from) { node throws(ConfigurationError) in
            try timeOfDay(node, allowEnd: false)
        }
        try map.read("to", into: &window.to) { node throws(ConfigurationError) in try timeOfDay(node, allowEnd: true) }
        if window.from == window.to {
            let culprit = map.optional("to") ?? map.optional("from") ?? node
            throw culprit.error(
                .invalidValue, "from and to are equal; for a whole day use 00:00 to 24:00 (the defaults)")
        }
        return (window, map)
    }

    /// `HH:MM` or `HH:MM:SS`; `24:00` only as an end.
    private func timeOfDay(_ node: ConfigNode, allowEnd: Bool) throws(ConfigurationError) -> TimeOfDay {
        guard let time = TimeOfDay(parsing: try node.string()), allowEnd || time < .endOfDay else {
            throw node.error(.invalidValue, "expected a local time such as \"07:00\" or \"19:30\" (00:00 to 24:00)")
        }
        return time
    }

    /// `mon-fri`, `sat,sun`, `[sat, sun]`, `fri-mon` (wrapping), `daily`.
    func days(_ node: ConfigNode) throws(ConfigurationError) -> Set<Weekday> {
        var days: Set<Weekday> = []
        for item in try node.listOrSingle() {
            for part in try item.string().split(separator: ",") {
                let text = String(part).trimmingASCIISpaces().lowercased()
                if ["daily", "all", "*"].contains(text) {
                    days.formUnion(Weekday.allCases)
                    continue
                }
                let bounds = text.split(separator: "-", omittingEmptySubsequences: false).map(String.init)
                guard (1...2).contains(bounds.count), let first = Weekday(name: bounds[0]),
                    let last = Weekday(name: bounds[bounds.count - 1])
                else {
                    throw item.error(.invalidValue, "expected days such as mon-fri, sat,sun or daily")
                }
                var day = first
                days.insert(day)
                while day != last {
                    day = day.next
                    days.insert(day)
                }
            }
        }
        guard !days.isEmpty else { throw node.error(.invalidValue, "expected at least one day") }
        return days
    }

    // MARK: - Mapping walk

    /// The entries of a mapping in file order, with duplicate fixed keys refused. Attribute
    /// keys are checked by the caller (two spellings may name one tag).
    private func entries(of node: ConfigNode) throws(ConfigurationError) -> [(key: String, value: ConfigNode)] {
        if node.isNull { return [] }
        guard case .mapping(let mapping) = node.node else {
            throw node.error(.wrongType, "expected a mapping of criteria, found \(node.shapeName)")
        }
        var result: [(key: String, value: ConfigNode)] = []
        var firstLine: [String: Int] = [:]
        for (keyNode, value) in mapping {
            let position = ConfigNode.Position(keyNode.mark) ?? node.anchor
            guard case .scalar(let scalar) = keyNode else {
                throw node.error(.wrongType, "a key must be a plain name", at: position)
            }
            let key = scalar.string
            let child = node.child(key, value: value, keyPosition: position)
            if let line = firstLine[key] {
                throw node.error(
                    .duplicateKey, "key appears twice in one mapping (first on line \(line))", at: position,
                    keyPath: child.keyPath)
            }
            firstLine[key] = position.line
            result.append((key, child))
        }
        return result
    }

    /// "did you mean …" among the fixed keys and the dictionary's keywords.
    static func attributeHint(for key: String) -> String {
        let fixed = MappingReader.hint(for: key, known: matchKeys)
        if fixed.hasPrefix("did you mean") { return fixed }
        let lowered = key.lowercased()
        let close = DICOMDictionary.keywords
            .filter { abs($0.count - key.count) <= 3 }
            .map { ($0, MappingReader.editDistance(lowered, $0.lowercased())) }
            .min { $0.1 < $1.1 || ($0.1 == $1.1 && $0.0 < $1.0) }
        if let close, close.1 <= max(1, min(3, key.count / 4)) { return "did you mean '\(close.0)'?" }
        return "expected one of: " + matchKeys.filter { $0 != "Modality" }.joined(separator: ", ")
            + ", a DICOM keyword such as StudyDescription, or a tag such as \"(0008,1030)\""
    }
}
