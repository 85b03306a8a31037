import RadRelayCore

/// The `routes:` section: ordered rules from object facts to destinations and a priority.
extension ConfigurationParser {
    static let routeKeys = [
        "name", "match", "priority", "destinations", "stop", "hold_until_stable", "fallback", "normalization",
    ]
    static let priorityNames = Priority.allCases.sorted(by: >).map(\.description)

    func routes(
        _ node: ConfigNode,
        gateway: Configuration.Gateway,
        destinations: [Configuration.Destination],
        profiles: [String: Normalization.Profile] = [:]
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
            if let match = map.optional("match") { rule.match = try routeMatch(match, gateway: gateway) }
            try map.read("priority", into: &rule.priority) { node throws(ConfigurationError) in
                Priority(name: try node.choice(Self.priorityNames)) ?? .routine
            }
            try map.read("stop", into: &rule.stop, .bool)
            try map.read("hold_until_stable", into: &rule.holdUntilStable, .bool)  // issue 4
            try map.read("fallback", into: &rule.fallback, .bool)  // issue 4
            try map.read("normalization", into: &rule.normalization) { node throws(ConfigurationError) in
                try profileNames(node, known: profiles)  // issue 3's profiles, chosen per route
            }
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
}
