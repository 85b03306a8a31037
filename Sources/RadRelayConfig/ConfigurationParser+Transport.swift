import RadRelayCore

/// Issue 5: `gateway.tls_port` / `gateway.tls`, `destinations[].tls`, and `kind: stow`.
extension ConfigurationParser {
    static let serverTLSKeys = ["certificate", "private_key", "client_ca", "require_client_certificate"]
    static let clientTLSKeys = ["ca", "certificate", "private_key", "verify_hostname", "server_name"]
    static let authKeys = ["bearer_token_file", "basic_auth_file"]
    static let httpTimeoutKeys = ["connect", "read", "write", "request", "idle"]
    /// Keys only a `kind: stow` destination has.
    static let stowOnlyKeys = ["url", "study_scoped", "auth", "max_instances_per_request", "max_bytes_per_request", "proxy"]
    /// Keys only a `kind: dicom` destination has.
    static let dicomOnlyKeys = ["ae_title", "host", "port", "calling_ae_title"]

    /// The keys a destination of `kind` may use: the DICOM list (which other sections extend)
    /// with the DICOM-only keys swapped for the STOW-only ones.
    static func destinationKeys(for kind: Configuration.Destination.Kind) -> [String] {
        switch kind {
        case .dicom: return dicomDestinationKeys
        case .stow: return dicomDestinationKeys.filter { !dicomOnlyKeys.contains($0) } + stowOnlyKeys
        }
    }

    /// The `kind:` of a destination entry, read before its keys are checked for that kind.
    static func destinationKind(_ item: ConfigNode) throws(ConfigurationError) -> Configuration.Destination.Kind {
        let all = dicomDestinationKeys + stowOnlyKeys
        let map = try item.mapping(keys: all)
        guard let node = map.optional("kind") else { return .dicom }
        return Configuration.Destination.Kind(rawValue: try node.choice(destinationKinds)) ?? .dicom
    }

    // MARK: - Gateway

    func gatewayTLS(_ map: MappingReader, into gateway: inout Configuration.Gateway) throws(ConfigurationError) {
        let portNode = map.optional("tls_port")
        let tlsNode = map.optional("tls")
        switch (portNode, tlsNode) {
        case (nil, nil):
            return
        case (let portNode?, nil):
            throw portNode.error(.missingKey, "tls_port needs gateway.tls (certificate and private_key)")
        case (nil, let tlsNode?):
            throw tlsNode.error(.missingKey, "gateway.tls needs gateway.tls_port")
        case (let portNode?, let tlsNode?):
            let port = try portNode.port(allowZero: true)
            if port != 0, port == gateway.port {
                throw portNode.error(.duplicateValue, "tls_port must differ from port (\(gateway.port))")
            }
            gateway.tlsPort = port
            let tls = try tlsNode.mapping(keys: Self.serverTLSKeys)
            var server = Configuration.ServerTLS(
                certificate: try file(tls.required("certificate")),
                privateKey: try file(tls.required("private_key"))
            )
            if let ca = tls.optional("client_ca") { server.clientCA = try file(ca) }
            try tls.read("require_client_certificate", into: &server.requireClientCertificate, .bool)
            if server.requireClientCertificate, server.clientCA == nil {
                let node = tls.optional("require_client_certificate") ?? tlsNode
                throw node.error(.missingKey, "require_client_certificate needs client_ca")
            }
            gateway.tls = server
        }
    }

    // MARK: - Destinations

    /// `destinations[].tls`.
    func clientTLS(_ node: ConfigNode?) throws(ConfigurationError) -> Configuration.ClientTLS? {
        guard let node else { return nil }
        let map = try node.mapping(keys: Self.clientTLSKeys)
        var tls = Configuration.ClientTLS()
        if let ca = map.optional("ca") { tls.ca = try file(ca) }
        if let certificate = map.optional("certificate") { tls.certificate = try file(certificate) }
        if let key = map.optional("private_key") { tls.privateKey = try file(key) }
        if (tls.certificate == nil) != (tls.privateKey == nil) {
            throw node.error(.missingKey, "certificate and private_key go together (mutual TLS)")
        }
        try map.read("verify_hostname", into: &tls.verifyHostname, .bool)
        if let name = map.optional("server_name") { tls.serverName = try name.host() }
        return tls
    }

    /// A `kind: stow` destination's own keys; the keys both kinds share are read by the caller.
    func stowDestination(
        _ map: MappingReader,
        name: String,
        gateway: Configuration.Gateway
    ) throws(ConfigurationError) -> Configuration.Destination {
        let urlNode = try map.required("url")
        guard let url = Self.parseURL(try urlNode.string()), url.path.allSatisfy({ $0 != "?" && $0 != "#" }) else {
            throw urlNode.error(.invalidValue, "expected an http:// or https:// URL such as https://platform.example/dicom-web")
        }
        var stow = Configuration.STOW(
            url: url.scheme + "://" + url.authority + url.path,
            scheme: url.scheme,
            host: url.host,
            port: url.port
        )
        try map.read("study_scoped", into: &stow.studyScoped, .bool)
        if let authNode = map.optional("auth") {
            let auth = try authNode.mapping(keys: Self.authKeys)
            switch (auth.optional("bearer_token_file"), auth.optional("basic_auth_file")) {
            case (let bearer?, nil): stow.auth = .bearerTokenFile(try file(bearer))
            case (nil, let basic?): stow.auth = .basicAuthFile(try file(basic))
            case (nil, nil): throw authNode.error(.missingKey, "expected bearer_token_file or basic_auth_file")
            case (_?, _?): throw authNode.error(.invalidValue, "bearer_token_file and basic_auth_file exclude each other")
            }
        }
        try map.read("max_instances_per_request", into: &stow.maxInstancesPerRequest, .count)
        try map.read("max_bytes_per_request", into: &stow.maxBytesPerRequest, .byteCount(in: 1...UInt64(Int64.max)))
        if let proxyNode = map.optional("proxy") {
            guard let proxy = Self.parseURL(try proxyNode.string()), proxy.scheme == "http", proxy.path.isEmpty || proxy.path == "/" else {
                throw proxyNode.error(.invalidValue, "expected an HTTP proxy URL such as http://proxy.example:3128")
            }
            stow.proxy = Configuration.HTTPProxy(host: proxy.host, port: proxy.port)
        }
        if let timeoutsNode = map.optional("timeouts") {
            let timeouts = try timeoutsNode.mapping(keys: Self.httpTimeoutKeys)
            try timeouts.read("connect", into: &stow.timeouts.connect, .seconds)
            try timeouts.read("read", into: &stow.timeouts.read, .seconds)
            try timeouts.read("write", into: &stow.timeouts.write, .seconds)
            try timeouts.read("request", into: &stow.timeouts.request, .seconds)
            try timeouts.read("idle", into: &stow.timeouts.idle, .seconds)
        }
        var destination = Configuration.Destination(
            name: name,
            kind: .stow,
            aeTitle: gateway.aeTitle,
            host: stow.host,
            port: stow.port,
            callingAETitle: gateway.aeTitle,
            timeouts: Configuration.Timeouts(
                connect: stow.timeouts.connect, acse: stow.timeouts.connect, dimse: stow.timeouts.read,
                idle: stow.timeouts.idle)
        )
        destination.stow = stow
        return destination
    }

    // MARK: - Pieces

    /// A file path, resolved against the config file's directory. Existence is checked when the
    /// daemon loads the file (so `--check-config` on another host still works).
    func file(_ node: ConfigNode) throws(ConfigurationError) -> String {
        PathResolver.resolve(try node.path(), against: baseDirectory)
    }

    struct ParsedURL: Equatable {
        var scheme: String
        var host: String
        var port: Int
        /// `host[:port]` as written (IPv6 in brackets).
        var authority: String
        /// The path without a trailing slash; empty for the root.
        var path: String
    }

    /// A minimal absolute http(s) URL parser: no user info, no query, no fragment.
    static func parseURL(_ text: String) -> ParsedURL? {
        let lower = text.lowercased()
        let scheme: String
        if lower.hasPrefix("https://") { scheme = "https" } else if lower.hasPrefix("http://") { scheme = "http" } else { return nil }
        let rest = text.dropFirst(scheme.count + 3)
        let slash = rest.firstIndex(of: "/") ?? rest.endIndex
        let authority = String(rest[..<slash])
        var path = String(rest[slash...])
        while path.hasSuffix("/") { path.removeLast() }
        guard !authority.isEmpty, !authority.contains("@"), !path.contains("?"), !path.contains("#"),
            !path.contains(" ")
        else { return nil }
        var host = authority
        var port = scheme == "https" ? 443 : 80
        if authority.hasPrefix("[") {
            guard let close = authority.firstIndex(of: "]") else { return nil }
            host = String(authority[authority.index(after: authority.startIndex)..<close])
            let after = authority[authority.index(after: close)...]
            if !after.isEmpty {
                guard after.hasPrefix(":"), let p = Int(after.dropFirst()), (1...65535).contains(p) else { return nil }
                port = p
            }
        } else if let colon = authority.lastIndex(of: ":") {
            host = String(authority[..<colon])
            guard let p = Int(authority[authority.index(after: colon)...]), (1...65535).contains(p) else { return nil }
            port = p
        }
        guard !host.isEmpty else { return nil }
        return ParsedURL(scheme: scheme, host: host, port: port, authority: authority, path: path)
    }
}
