import RadRelayCore

/// `normalization_profiles:`, `sources:`, `compression:` and `destinations[].transfer_syntax`
/// (issue 3). A profile is a list of rules, or a mapping with `rules:` plus `charset:` and
/// `reason:`. Each rule is a mapping whose one operation key names the attribute:
/// `- trim: AccessionNumber`, `- set: InstitutionName` with `value: …`, and so on.
extension ConfigurationParser {
    static let profileKeys = ["rules", "charset", "reason"]
    static let sourceKeys = ["calling_ae", "normalization", "assume_charset"]
    static let compressionKeys = ["workers", "verify", "max_object_size"]
    /// Operation keys and the parameters each takes (required ones first).
    static let ruleOperations: [String: (required: [String], optional: [String])] = [
        "set": (["value"], []),
        "set_if_missing": (["value"], []),
        "remove": ([], []),
        "trim": ([], []),
        "upper": ([], []),
        "lower": ([], []),
        "replace": (["pattern", "with"], []),
        "map": (["table"], ["otherwise"]),
        "prefix": (["value"], []),
        "strip_leading": (["characters"], []),
        "person_name": ([], []),
        "check": (["pattern"], []),
    ]
    static let ruleParameterKeys = ["value", "pattern", "with", "table", "otherwise", "characters"]
    /// Specific Character Set defined terms (PS3.3 C.12.1.1.2) a source may be assumed to use.
    static let assumableCharsets = [
        "ISO_IR 100", "ISO_IR 101", "ISO_IR 109", "ISO_IR 110", "ISO_IR 144", "ISO_IR 127", "ISO_IR 126",
        "ISO_IR 138", "ISO_IR 148", "ISO_IR 203", "ISO_IR 166", "ISO_IR 13", "ISO_IR 192", "GB18030", "GBK",
    ]

    /// The profiles by name, in file order of appearance for messages.
    func normalizationProfiles(_ node: ConfigNode?) throws(ConfigurationError) -> [String: Normalization.Profile] {
        guard let node, !node.isNull else { return [:] }
        guard case .mapping(let mapping) = node.node else {
            throw node.error(.wrongType, "expected a mapping of profile names to rules, found \(node.shapeName)")
        }
        var profiles: [String: Normalization.Profile] = [:]
        for (keyNode, value) in mapping {
            let position = ConfigNode.Position(keyNode.mark) ?? node.anchor
            guard case .scalar(let scalar) = keyNode else {
                throw node.error(.wrongType, "a profile name must be a plain name", at: position)
            }
            let child = node.child(scalar.string, value: value, keyPosition: position)
            let nameNode = ConfigNode(node: keyNode, keyPath: child.keyPath, file: node.file, anchor: position)
            let name = try self.name(nameNode)
            guard profiles[name] == nil else {
                throw nameNode.error(.duplicateKey, "profile '\(name)' is defined twice")
            }
            profiles[name] = try profile(child, name: name)
        }
        return profiles
    }

    /// `sources:`: per calling AE, the profiles applied to every object it sends and the
    /// character set assumed for its objects that declare none.
    func normalizationSources(
        _ node: ConfigNode?,
        profiles: [String: Normalization.Profile]
    ) throws(ConfigurationError) -> [Normalization.Source] {
        guard let node else { return [] }
        var sources: [Normalization.Source] = []
        var firstLine: [AETitle: Int] = [:]
        for item in try node.list() {
            let map = try item.mapping(keys: Self.sourceKeys)
            let titleNode = try map.required("calling_ae")
            var source = Normalization.Source(callingAE: try titleNode.aeTitle())
            if let line = firstLine[source.callingAE] {
                throw titleNode.error(
                    .duplicateValue, "calling AE '\(source.callingAE)' is already listed on line \(line)")
            }
            firstLine[source.callingAE] = titleNode.anchor.line
            try map.read("normalization", into: &source.profiles) { node throws(ConfigurationError) in
                try profileNames(node, known: profiles)
            }
            try map.read("assume_charset", into: &source.assumedCharset) { node throws(ConfigurationError) in
                let text = try node.string().uppercased()
                guard Self.assumableCharsets.contains(text) else {
                    throw node.error(
                        .invalidValue,
                        "expected a Specific Character Set defined term such as ISO_IR 100 (Latin-1); one of: "
                            + Self.assumableCharsets.joined(separator: ", "))
                }
                return text
            }
            sources.append(source)
        }
        return sources
    }

    /// A profile name or a list of them, each defined in `normalization_profiles:`. Routes use
    /// this for `routes[].normalization` too.
    func profileNames(
        _ node: ConfigNode,
        known: [String: Normalization.Profile]
    ) throws(ConfigurationError) -> [String] {
        var names: [String] = []
        for item in try node.listOrSingle() {
            let name = try item.string()
            guard known[name] != nil else {
                let defined = known.keys.sorted().joined(separator: ", ")
                throw item.error(
                    .unknownReference,
                    "no normalization profile is named '\(name)' (defined: \(defined.isEmpty ? "none" : defined))")
            }
            guard !names.contains(name) else { throw item.error(.duplicateValue, "profile '\(name)' is listed twice") }
            names.append(name)
        }
        return names
    }

    /// `compression:`.
    func compression(_ node: ConfigNode?) throws(ConfigurationError) -> Configuration.Compression {
        var compression = Configuration.Compression()
        guard let node else { return compression }
        let map = try node.mapping(keys: Self.compressionKeys)
        try map.read("workers", into: &compression.workers) { node throws(ConfigurationError) in
            try node.integer(in: 1...64)
        }
        try map.read("verify", into: &compression.verify, .bool)
        try map.read("max_object_size", into: &compression.maxObjectSize, .byteCount(in: 1...UInt64(Int64.max)))
        return compression
    }

    /// `destinations[].transfer_syntax`: one of the `CompressionTarget` names.
    func transferSyntax(_ node: ConfigNode) throws(ConfigurationError) -> CompressionTarget {
        let names = CompressionTarget.allCases.map(\.rawValue)
        return CompressionTarget(rawValue: try node.choice(names)) ?? .asReceived
    }

    // MARK: - Pieces

    private func profile(_ node: ConfigNode, name: String) throws(ConfigurationError) -> Normalization.Profile {
        var profile = Normalization.Profile(name: name, rules: [])
        if case .sequence = node.node {
            profile.rules = try rules(node)
            return profile
        }
        let map = try node.mapping(keys: Self.profileKeys)
        profile.rules = try rules(try map.required("rules"))
        try map.read("charset", into: &profile.convertToUTF8) { node throws(ConfigurationError) in
            try node.choice(["keep", "utf-8"]) == "utf-8"
        }
        try map.read("reason", into: &profile.reason) { node throws(ConfigurationError) in
            Normalization.Reason(rawValue: try node.choice(["coerce", "correct"]).uppercased()) ?? .coerce
        }
        return profile
    }

    private func rules(_ node: ConfigNode) throws(ConfigurationError) -> [Normalization.Rule] {
        let items = try node.list()
        guard !items.isEmpty else { throw node.error(.invalidValue, "a profile needs at least one rule") }
        var rules: [Normalization.Rule] = []
        for item in items { rules.append(try rule(item)) }
        return rules
    }

    private func rule(_ node: ConfigNode) throws(ConfigurationError) -> Normalization.Rule {
        let operations = Self.ruleOperations.keys.sorted()
        let map = try node.mapping(keys: operations + Self.ruleParameterKeys)
        let present = operations.filter { map.optional($0) != nil }
        guard present.count == 1, let operation = present.first, let spec = Self.ruleOperations[operation],
            let attributeNode = map.optional(operation)
        else {
            let message =
                present.isEmpty
                ? "a rule needs one operation: " + operations.joined(separator: ", ")
                : "a rule has one operation, found \(present.joined(separator: " and "))"
            throw node.error(.invalidValue, message)
        }
        for key in Self.ruleParameterKeys {
            if let parameter = map.optional(key), !spec.required.contains(key), !spec.optional.contains(key) {
                throw parameter.error(.unknownKey, "'\(operation)' takes no '\(key)'")
            }
        }
        let tag = try attribute(attributeNode)
        func text(_ key: String) throws(ConfigurationError) -> String {
            // Values may be empty (`with: ""` deletes what matched), but must be given.
            try map.required(key).scalar()
        }
        func pattern(_ key: String) throws(ConfigurationError) -> String {
            let node = try map.required(key)
            let text = try node.string()
            do {
                _ = try Regex(text)
            } catch {
                throw node.error(.invalidValue, "not a valid regular expression: \(error)")
            }
            return text
        }
        let result: Normalization.Operation
        switch operation {
        case "set": result = .set(try text("value"))
        case "set_if_missing": result = .setIfMissing(try text("value"))
        case "remove": result = .remove
        case "trim": result = .trim
        case "upper": result = .upperCase
        case "lower": result = .lowerCase
        case "replace": result = .replace(pattern: try pattern("pattern"), template: try text("with"))
        case "map":
            var otherwise: String?
            if let node = map.optional("otherwise") {
                let value = try node.scalar()
                otherwise = value == "keep" ? nil : value
            }
            result = .map(table: try table(try map.required("table")), otherwise: otherwise)
        case "prefix": result = .prefix(try map.required("value").string())
        case "strip_leading": result = .stripLeading(characters: try map.required("characters").string())
        case "person_name": result = .personName
        default: result = .check(pattern: try pattern("pattern"))
        }
        return Normalization.Rule(result, tag)
    }

    /// A PS3.6 keyword or a tag; never one normalization may not touch (UIDs above all).
    private func attribute(_ node: ConfigNode) throws(ConfigurationError) -> DICOMTag {
        let text = try node.string()
        guard let tag = DICOMDictionary.tag(keywordOrTag: text) else {
            throw node.error(
                .invalidValue, "unknown attribute: use a PS3.6 keyword such as PatientID or a tag such as (0010,0020)")
        }
        if let reason = Normalization.protectionReason(tag) {
            throw node.error(.invalidValue, "\(DICOMDictionary.name(of: tag)) cannot be normalized: \(reason)")
        }
        return tag
    }

    private func table(_ node: ConfigNode) throws(ConfigurationError) -> [String: String] {
        guard case .mapping(let mapping) = node.node else {
            throw node.error(.wrongType, "expected a mapping of values to replacements, found \(node.shapeName)")
        }
        var table: [String: String] = [:]
        for (keyNode, value) in mapping {
            let position = ConfigNode.Position(keyNode.mark) ?? node.anchor
            guard case .scalar(let key) = keyNode else {
                throw node.error(.wrongType, "a table key must be a single value", at: position)
            }
            let child = node.child(key.string, value: value, keyPosition: position)
            guard table[key.string] == nil else {
                throw node.error(.duplicateKey, "'\(key.string)' appears twice in the table", at: position)
            }
            table[key.string] = try child.scalar()
        }
        guard !table.isEmpty else { throw node.error(.invalidValue, "a map needs at least one entry") }
        return table
    }
}
