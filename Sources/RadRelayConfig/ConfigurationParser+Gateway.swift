import RadRelayCore

/// The `gateway:` section: the listener, its limits and the calling-AE allowlist.
extension ConfigurationParser {
    static let gatewayKeys = [
        "ae_title", "additional_ae_titles", "bind", "port", "max_associations", "state_dir", "runtime_dir",
        "min_free_disk", "max_object_size", "max_pdu_length", "accept_private_sop_classes", "timeouts",
        "allowed_callers", "tls_port", "tls", "resume_free_disk",
        "time_zone", "bandwidth",
    ]
    static let allowedCallerKeys = ["ae_title", "hosts", "max_associations"]
    static let timeoutKeys = ["connect", "acse", "dimse", "idle"]
    /// The PDU sizes DCMTK accepts (`ASC_MINIMUMPDUSIZE`, `ASC_MAXIMUMPDUSIZE` in dcmnet/assoc.h).
    static let pduLengthRange: ClosedRange<UInt64> = 4096...131_072

    func gateway(_ node: ConfigNode) throws(ConfigurationError) -> Configuration.Gateway {
        let map = try node.mapping(keys: Self.gatewayKeys)
        var gateway = Configuration.Gateway(aeTitle: try map.required("ae_title").aeTitle())
        try map.read("additional_ae_titles", into: &gateway.additionalAETitles) { node throws(ConfigurationError) in
            try additionalAETitles(node, main: gateway.aeTitle)
        }
        try map.read("bind", into: &gateway.bind, .host)
        try map.read("port", into: &gateway.port, .port(allowZero: true))
        try map.read("max_associations", into: &gateway.maxAssociations, .count)
        gateway.stateDirectory =
            try directory(map.optional("state_dir"), environmentKey: "STATE_DIRECTORY")
            ?? ConfigurationLoader.defaultStateDirectory
        gateway.runtimeDirectory = try directory(map.optional("runtime_dir"), environmentKey: "RUNTIME_DIRECTORY")
        try map.read("min_free_disk", into: &gateway.minFreeDisk) { node throws(ConfigurationError) in
            try minFreeDisk(node)
        }
        try map.read("max_object_size", into: &gateway.maxObjectSize, .byteCount(in: 1...UInt64(Int64.max)))
        try map.read("max_pdu_length", into: &gateway.maxPDULength) { node throws(ConfigurationError) in
            Int(try node.byteCount(in: Self.pduLengthRange))
        }
        try map.read("accept_private_sop_classes", into: &gateway.acceptPrivateSOPClasses, .bool)
        gateway.timeouts = try timeouts(map.optional("timeouts"), defaults: gateway.timeouts)
        try map.read("allowed_callers", into: &gateway.allowedCallers) { node throws(ConfigurationError) in
            try allowedCallers(node, gatewayLimit: gateway.maxAssociations)
        }
        try gatewayTLS(map, into: &gateway)  // issue 5
        try gatewayScheduling(map, into: &gateway)  // issue 4
        if let resume = map.optional("resume_free_disk") {  // issue 6
            gateway.resumeFreeDisk = try resumeFreeDisk(resume, low: gateway.minFreeDisk)
        }
        return gateway
    }

    /// Per-phase timeouts, each a duration > 0, starting from `defaults`.
    func timeouts(
        _ node: ConfigNode?,
        defaults: Configuration.Timeouts
    ) throws(ConfigurationError) -> Configuration.Timeouts {
        guard let node else { return defaults }
        let map = try node.mapping(keys: Self.timeoutKeys)
        var timeouts = defaults
        try map.read("connect", into: &timeouts.connect, .seconds)
        try map.read("acse", into: &timeouts.acse, .seconds)
        try map.read("dimse", into: &timeouts.dimse, .seconds)
        try map.read("idle", into: &timeouts.idle, .seconds)
        return timeouts
    }

    // MARK: - Pieces

    private func additionalAETitles(_ node: ConfigNode, main: AETitle) throws(ConfigurationError) -> [AETitle] {
        var titles: [AETitle] = []
        for item in try node.list() {
            let title = try item.aeTitle()
            guard title != main, !titles.contains(title) else {
                throw item.error(.duplicateValue, "AE title '\(title)' is already a called AE title of the gateway")
            }
            titles.append(title)
        }
        return titles
    }

    private func minFreeDisk(_ node: ConfigNode) throws(ConfigurationError) -> DiskThreshold {
        guard let threshold = ValueGrammar.diskThreshold(try node.scalar()) else {
            throw node.error(.invalidValue, "expected a percentage such as 5% or a size such as 10GiB")
        }
        if case .percent(let value) = threshold, value >= 100 {
            throw node.error(.invalidValue, "a threshold of 100% or more would refuse every object")
        }
        return threshold
    }

    private func allowedCallers(
        _ node: ConfigNode,
        gatewayLimit: Int
    ) throws(ConfigurationError) -> [Configuration.AllowedCaller] {
        var callers: [Configuration.AllowedCaller] = []
        var firstLine: [AETitle: Int] = [:]
        for item in try node.list() {
            let map = try item.mapping(keys: Self.allowedCallerKeys)
            let titleNode = try map.required("ae_title")
            var caller = Configuration.AllowedCaller(aeTitle: try titleNode.aeTitle())
            if let line = firstLine[caller.aeTitle] {
                let message = "calling AE title '\(caller.aeTitle)' is already listed on line \(line)"
                throw titleNode.error(.duplicateValue, message)
            }
            firstLine[caller.aeTitle] = titleNode.anchor.line
            try map.read("hosts", into: &caller.hosts) { node throws(ConfigurationError) in try addressRanges(node) }
            if let limitNode = map.optional("max_associations") {
                let limit = try limitNode.count()
                guard limit <= gatewayLimit else {
                    throw limitNode.error(.invalidValue, "\(limit) exceeds gateway.max_associations (\(gatewayLimit))")
                }
                caller.maxAssociations = limit
            }
            callers.append(caller)
        }
        return callers
    }

    private func addressRanges(_ node: ConfigNode) throws(ConfigurationError) -> [AddressRange] {
        var ranges: [AddressRange] = []
        for item in try node.listOrSingle() {
            guard let range = AddressRange(try item.string()) else {
                throw item.error(.invalidValue, "expected an IPv4 or IPv6 address or CIDR range such as 10.9.0.0/16")
            }
            ranges.append(range)
        }
        return ranges
    }
}
