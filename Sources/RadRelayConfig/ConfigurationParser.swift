import RadRelayCore

/// Walks the YAML node tree of `radrelay.yaml` into a `Configuration`, one section per
/// extension file (`ConfigurationParser+Gateway.swift`, …). Sections that others refer to are
/// read first, whatever their order in the file: the gateway (its AE title is the default
/// calling AE), then destinations (routes name them), then routes.
struct ConfigurationParser {
    /// Absolute directory of the config file; relative paths are resolved against it.
    let baseDirectory: String
    /// Process environment, for systemd's `$STATE_DIRECTORY` and `$RUNTIME_DIRECTORY`.
    let environment: [String: String]

    static let rootKeys = ["gateway", "destinations", "routes", "outbox", "logging", "metrics", "retention",
        "normalization_profiles", "sources", "compression",
    ]

    func configuration(_ root: ConfigNode) throws(ConfigurationError) -> Configuration {
        let top = try root.mapping(keys: Self.rootKeys)
        let gateway = try self.gateway(try top.required("gateway"))
        let destinations = try self.destinations(try top.required("destinations"), gateway: gateway)
        // Issue 3: before routes, so routes[].normalization can be checked against the names.
        let profiles = try normalizationProfiles(top.optional("normalization_profiles"))
        let routes = try self.routes(
            try top.required("routes"), gateway: gateway, destinations: destinations, profiles: profiles)
        var configuration = Configuration(
            gateway: gateway,
            destinations: destinations,
            routes: routes,
            outbox: try outbox(top.optional("outbox")),
            logging: try logging(top.optional("logging"))
        )
        configuration.metrics = try metrics(top.optional("metrics"))  // issue 6
        configuration.retention = try retention(top.optional("retention"))  // issue 6
        configuration.normalization = Normalization.Assignment(
            profiles: profiles, sources: try normalizationSources(top.optional("sources"), profiles: profiles))
        configuration.compression = try compression(top.optional("compression"))  // issue 3
        return configuration
    }

    // MARK: - Shared rules

    /// A name for a destination or route: letters, digits, `_`, `.` and `-`, starting with a
    /// letter or digit (so it is safe in logs, metrics labels and file names).
    func name(_ node: ConfigNode) throws(ConfigurationError) -> String {
        let text = try node.string()
        let allowed = text.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "_.-".contains($0)) }
        guard allowed, let first = text.first, first.isLetter || first.isNumber else {
            let message = "a name uses letters, digits, '_', '.' and '-', starting with a letter or digit"
            throw node.error(.invalidValue, message)
        }
        return text
    }

    /// A directory from `node`, else from the systemd variable `environmentKey`; relative paths
    /// are resolved against the config file's directory. Nil when neither is set.
    func directory(_ node: ConfigNode?, environmentKey: String) throws(ConfigurationError) -> String? {
        if let node { return PathResolver.resolve(try node.path(), against: baseDirectory) }
        guard let fromSystemd = PathResolver.firstEntry(ofDirectoryList: environment[environmentKey]) else {
            return nil
        }
        return PathResolver.resolve(fromSystemd, against: baseDirectory)
    }

    /// `300s`, `2.5s`: seconds as a config value, for messages.
    static func format(seconds: Double) -> String {
        seconds == seconds.rounded() && abs(seconds) < 1e15 ? "\(Int(seconds))s" : "\(seconds)s"
    }
}
