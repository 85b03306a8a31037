import RadRelayCore

/// The `destinations:` section: where objects go, and how hard to try.
extension ConfigurationParser {
    /// Keys of a `kind: dicom` destination. A later kind (`stow`) gets its own list, chosen
    /// after `kind` is read, so keys of one kind are errors on another.
    static let dicomDestinationKeys = [
        "name", "kind", "ae_title", "host", "port", "calling_ae_title", "associations", "timeouts", "retry",
        "tls", "bandwidth", "max_age", "backlog_quota", "circuit", "priority_aging",
        "transfer_syntax",
    ]
    static let retryKeys = ["base_delay", "max_delay", "jitter", "max_object_attempts"]
    static let destinationKinds = Configuration.Destination.Kind.allKindNames

    func destinations(
        _ node: ConfigNode,
        gateway: Configuration.Gateway
    ) throws(ConfigurationError) -> [Configuration.Destination] {
        let items = try node.list()
        guard !items.isEmpty else {
            throw node.error(.invalidValue, "at least one destination is required", at: node.anchor)
        }
        var destinations: [Configuration.Destination] = []
        var firstLine: [String: Int] = [:]
        for item in items {
            let map = try item.mapping(keys: Self.destinationKeys(for: try Self.destinationKind(item)))
            let nameNode = try map.required("name")
            let name = try self.name(nameNode)
            if let line = firstLine[name] {
                throw nameNode.error(.duplicateValue, "destination name '\(name)' is already used on line \(line)")
            }
            firstLine[name] = nameNode.anchor.line
            destinations.append(try dicomDestination(map, name: name, gateway: gateway))
        }
        return destinations
    }

    private func dicomDestination(
        _ map: MappingReader,
        name: String,
        gateway: Configuration.Gateway
    ) throws(ConfigurationError) -> Configuration.Destination {
        var kind = Configuration.Destination.Kind.dicom
        try map.read("kind", into: &kind) { node throws(ConfigurationError) in
            Configuration.Destination.Kind(rawValue: try node.choice(Self.destinationKinds)) ?? .dicom
        }
        var destination: Configuration.Destination
        if kind == .stow {
            destination = try stowDestination(map, name: name, gateway: gateway)  // issue 5
        } else {
            destination = Configuration.Destination(
                name: name,
                kind: kind,
                aeTitle: try map.required("ae_title").aeTitle(),
                host: try map.required("host").host(),
                port: try map.required("port").port(allowZero: false),
                callingAETitle: gateway.aeTitle,
                timeouts: gateway.timeouts
            )
            try map.read("calling_ae_title", into: &destination.callingAETitle, .aeTitle)
            destination.timeouts = try timeouts(map.optional("timeouts"), defaults: gateway.timeouts)
        }
        try map.read("associations", into: &destination.associations, .count)
        destination.retry = try retry(map.optional("retry"))
        try map.read("transfer_syntax", into: &destination.transferSyntax) { node throws(ConfigurationError) in
            try transferSyntax(node)  // issue 3
        }
        destination.tls = try clientTLS(map.optional("tls"))
        try destinationScheduling(map, into: &destination)  // issue 4
        return destination
    }

    /// The backoff and dead-letter policy (see `RetryPolicy`), starting from its defaults.
    func retry(_ node: ConfigNode?) throws(ConfigurationError) -> RetryPolicy {
        var policy = RetryPolicy()
        guard let node else { return policy }
        let map = try node.mapping(keys: Self.retryKeys)
        try map.read("base_delay", into: &policy.baseDelay, .seconds)
        try map.read("max_delay", into: &policy.maxDelay, .seconds)
        try map.read("jitter", into: &policy.jitter, .fraction)
        try map.read("max_object_attempts", into: &policy.maxObjectAttempts, .count)
        if policy.maxDelay < policy.baseDelay {
            let culprit = map.optional("max_delay") ?? map.optional("base_delay") ?? node
            let message =
                "max_delay (\(Self.format(seconds: policy.maxDelay))) is shorter than base_delay "
                + "(\(Self.format(seconds: policy.baseDelay)))"
            throw culprit.error(.invalidValue, message)
        }
        return policy
    }
}

extension Configuration.Destination.Kind {
    /// The `kind:` spellings the loader accepts.
    static var allKindNames: [String] { [Self.dicom.rawValue, Self.stow.rawValue] }
}
