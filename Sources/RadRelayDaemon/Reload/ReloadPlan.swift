import RadRelayConfig

/// What a SIGHUP reload can apply to a running daemon, and what waits for a restart.
///
/// Applied at once, without dropping associations: the calling-AE allowlist and per-caller
/// limits, the called AE titles, routes, the disk watermark, logging (level, PHI, UIDs),
/// retention, and TLS certificate files (re-read). Everything that binds a socket, opens a file
/// or sizes a worker pool needs a restart; the reload says which keys those are.
enum ReloadPlan {
    /// Key paths whose new values only a restart applies (empty when everything was applied).
    static func restartRequired(running old: Configuration, loaded new: Configuration) -> [String] {
        var keys: [String] = []
        let (a, b) = (old.gateway, new.gateway)
        if a.bind != b.bind { keys.append("gateway.bind") }
        if a.port != b.port { keys.append("gateway.port") }
        if a.stateDirectory != b.stateDirectory { keys.append("gateway.state_dir") }
        if a.runtimeDirectory != b.runtimeDirectory { keys.append("gateway.runtime_dir") }
        if a.maxAssociations != b.maxAssociations { keys.append("gateway.max_associations") }
        if a.maxObjectSize != b.maxObjectSize { keys.append("gateway.max_object_size") }
        if a.maxPDULength != b.maxPDULength { keys.append("gateway.max_pdu_length") }
        if a.acceptPrivateSOPClasses != b.acceptPrivateSOPClasses { keys.append("gateway.accept_private_sop_classes") }
        if a.timeouts != b.timeouts { keys.append("gateway.timeouts") }
        if a.tlsPort != b.tlsPort { keys.append("gateway.tls_port") }
        // Issue 4: caps, quotas, circuit, aging, max age and stable_after apply live.
        if SchedulingReload.restartRelevant(old.destinations) != SchedulingReload.restartRelevant(new.destinations) {
            keys.append("destinations")
        }
        if SchedulingReload.restartRelevant(old.outbox) != SchedulingReload.restartRelevant(new.outbox) {
            keys.append("outbox")
        }
        if old.metrics != new.metrics { keys.append("metrics") }
        return keys
    }

    /// `running` with every live-applicable setting taken from `loaded`: what the daemon runs
    /// with after the reload.
    static func applied(running old: Configuration, loaded new: Configuration) -> Configuration {
        var result = old
        result.gateway.aeTitle = new.gateway.aeTitle
        result.gateway.additionalAETitles = new.gateway.additionalAETitles
        result.gateway.allowedCallers = new.gateway.allowedCallers
        result.gateway.minFreeDisk = new.gateway.minFreeDisk
        result.gateway.resumeFreeDisk = new.gateway.resumeFreeDisk
        result.gateway.tls = new.gateway.tls
        result.routes = new.routes
        result.logging = new.logging
        result.retention = new.retention
        return SchedulingReload.applied(running: result, loaded: new)  // issue 4
    }
}
