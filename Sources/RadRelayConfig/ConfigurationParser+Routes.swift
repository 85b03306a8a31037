import RadRelayCore

/// The `routes:` section: ordered rules from object facts to destinations and a priority.
extension ConfigurationParser {
    static let routeKeys = ["name", "match", "priority", "destinations", "stop"]
    /// `Modality` is the DICOM keyword spelling that attribute matching (a later issue) uses for
    /// every attribute; it is accepted as a synonym of `modality` now.
    static let matchKeys = ["calling_ae", "called_ae", "modality", "Modality"]
    static let priorityNames = Priority.allCases.sorted(by: >).map(\.description)

    func routes(
        _ node: ConfigNode,
        gateway: Configuration.Gateway,
        destinations: [Configuration.Destination]
    ) throws(ConfigurationError) -> [RouteRule] {
        let items = try node.list()
        guard !items.isEmpty else {
            throw node.error(.invalidValue, "at least one route is required", at: node.anchor)
        }
        let known = destinations.map(\.name)
        var rules: [RouteRule] = []
        var firstLine: [String: Int] = [:]
        for (index, item) in items.enumerated() {
            let map = try item.mapping(keys: Self.routeKeys)
            let nameNode = map.optional("name")
            var name = "route-\(index + 1)"
            if let nameNode { name = try self.name(nameNode) }
            if let line = firstLine[name] {
                let place = nameNode ?? item
                throw place.error(.duplicateValue, "route name '\(name)' is already used on line \(line)")
            }
            firstLine[name] = (nameNode ?? item).anchor.line
            let targets = try routeDestinations(map.required("destinations"), known: known)
            var rule = RouteRule(name: name, destinations: targets)
            if let match = map.optional("match") { try read(match: match, into: &rule, gateway: gateway) }
            try map.read("priority", into: &rule.priority) { node throws(ConfigurationError) in
                Priority(name: try node.choice(Self.priorityNames)) ?? .routine
            }
            try map.read("stop", into: &rule.stop, .bool)
            rules.append(rule)
        }
        return rules
    }

    // MARK: - Pieces

    private func routeDestinations(_ node: ConfigNode, known: [String]) throws(ConfigurationError) -> [String] {
        let items = try node.listOrSingle()
        guard !items.isEmpty else { throw node.error(.invalidValue, "a route needs at least one destination") }
        var names: [String] = []
        for item in items {
            let name = try item.string()
            guard known.contains(name) else {
                let message = "no destination is named '\(name)' (defined: \(known.joined(separator: ", ")))"
                throw item.error(.unknownReference, message)
            }
            guard !names.contains(name) else {
                throw item.error(.duplicateValue, "destination '\(name)' is listed twice")
            }
            names.append(name)
        }
        return names
    }

    private func read(
        match node: ConfigNode,
        into rule: inout RouteRule,
        gateway: Configuration.Gateway
    ) throws(ConfigurationError) {
        let map = try node.mapping(keys: Self.matchKeys)
        if let callingAE = map.optional("calling_ae") {
            rule.callingAE = try criterion(callingAE) { node throws(ConfigurationError) in try node.aeTitle() }
        }
        if let calledAE = map.optional("called_ae") {
            rule.calledAE = try criterion(calledAE) { node throws(ConfigurationError) in
                let title = try node.aeTitle()
                guard gateway.calledAETitles.contains(title) else {
                    let message =
                        "the gateway does not answer to '\(title)' (see gateway.ae_title and additional_ae_titles)"
                    throw node.error(.unknownReference, message)
                }
                return title
            }
        }
        let modalityNodes = [map.optional("modality"), map.optional("Modality")].compactMap { $0 }
        if modalityNodes.count == 2 {
            throw modalityNodes[1].error(.duplicateKey, "give either 'modality' or 'Modality', not both")
        }
        if let modality = modalityNodes.first {
            rule.modality = try criterion(modality) { node throws(ConfigurationError) in try self.modality(node) }
        }
    }

    /// The values of one match criterion: a single value or a non-empty list.
    private func criterion<Value>(
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
    private func modality(_ node: ConfigNode) throws(ConfigurationError) -> String {
        let text = try node.string().uppercased()
        let allowed = text.allSatisfy { $0.isASCII && ($0.isUppercase || $0.isNumber || $0 == "_" || $0 == " ") }
        guard allowed, text.count <= 16 else {
            throw node.error(.invalidValue, "expected a Modality code such as CT, MR or DX (at most 16 characters)")
        }
        return text
    }
}
