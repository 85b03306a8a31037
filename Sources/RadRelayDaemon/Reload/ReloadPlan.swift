import RadRelayConfig

/// What a SIGHUP reload can apply to a running daemon, and what waits for a restart.
///
/// Applied at once, without dropping associations (`applied`): the called AE titles, the
/// calling-AE allowlist and per-caller limits, the disk watermarks, server TLS certificate
/// files (re-read), routes, logging (level, PHI, UIDs), retention, the time zone and bandwidth
/// caps, stability quiet time; per destination (matched by name) the caps, max age, backlog
/// quota, circuit, priority aging, retry policy and `transfer_syntax`; normalization profiles
/// and sources; `compression.verify` and `compression.max_object_size`. Normalization and
/// compression apply to every delivery *prepared* after the reload — new objects and retries
/// of deferred ones; a send already in progress finishes with the file it has.
///
/// Everything that binds a socket, opens a file or sizes a worker pool needs a restart: the
/// listeners, state and runtime directories, association limits and timeouts, `outbox.dedup_window`
/// and `outbox.lease`, `compression.workers`, `metrics`, and per destination its address, kind,
/// AE titles, number of associations, timeouts, client TLS and STOW-RS settings; a destination
/// added or removed (and then `routes`, which may name it) too.
///
/// **No setting is ever silently ignored.** `restartRequired` is not a second list to keep in
/// step: it is the difference, key by key, between what the daemon runs after the reload
/// (`applied`) and what the file says. Whatever `applied` does not take over is reported.
enum ReloadPlan {
    /// Key paths whose new values only a restart applies (empty when everything was applied):
    /// every difference between the configuration the daemon runs after the reload and the file.
    static func restartRequired(running old: Configuration, loaded new: Configuration) -> [String] {
        changedKeys(from: applied(running: old, loaded: new), to: new)
    }

    /// Key paths the reload changed in the running daemon.
    static func appliedLive(running old: Configuration, loaded new: Configuration) -> [String] {
        changedKeys(from: old, to: applied(running: old, loaded: new))
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
        // New routes may name destinations that have no workers yet: then the old ones stay.
        if Set(new.destinations.map(\.name)) == Set(old.destinations.map(\.name)) { result.routes = new.routes }
        result.logging = new.logging
        result.retention = new.retention
        // Issue 3: the variant preparer takes these per delivery it prepares.
        result.normalization = new.normalization
        result.compression.verify = new.compression.verify
        result.compression.maxObjectSize = new.compression.maxObjectSize
        for index in result.destinations.indices {
            guard let loaded = new.destinations.first(where: { $0.name == result.destinations[index].name }) else {
                continue
            }
            result.destinations[index].transferSyntax = loaded.transferSyntax  // issue 3
            // The forwarder reads the retry policy per result it records.
            result.destinations[index].retry = loaded.retry
        }
        return SchedulingReload.applied(running: result, loaded: new)  // issue 4
    }

    // MARK: - Key-by-key comparison

    /// The configuration keys (as `radrelay.yaml` spells them) whose values differ between `a`
    /// and `b`; destinations by name (`destinations.pacs.host`, `destinations.new (added)`).
    /// A section that differs in a field this list does not name yet is reported as a whole.
    static func changedKeys(from a: Configuration, to b: Configuration) -> [String] {
        var keys: [String] = []
        func check<T: Equatable>(_ key: String, _ x: T, _ y: T) { if x != y { keys.append(key) } }
        func section(_ name: String, differs: Bool, _ body: () -> Void) {
            let before = keys.count
            body()
            if differs, keys.count == before { keys.append(name) }
        }

        let (g, h) = (a.gateway, b.gateway)
        section("gateway", differs: g != h) {
            check("gateway.ae_title", g.aeTitle, h.aeTitle)
            check("gateway.additional_ae_titles", g.additionalAETitles, h.additionalAETitles)
            check("gateway.bind", g.bind, h.bind)
            check("gateway.port", g.port, h.port)
            check("gateway.max_associations", g.maxAssociations, h.maxAssociations)
            check("gateway.state_dir", g.stateDirectory, h.stateDirectory)
            check("gateway.runtime_dir", g.runtimeDirectory, h.runtimeDirectory)
            check("gateway.min_free_disk", g.minFreeDisk, h.minFreeDisk)
            check("gateway.resume_free_disk", g.resumeFreeDisk, h.resumeFreeDisk)
            check("gateway.max_object_size", g.maxObjectSize, h.maxObjectSize)
            check("gateway.allowed_callers", g.allowedCallers, h.allowedCallers)
            check("gateway.timeouts", g.timeouts, h.timeouts)
            check("gateway.max_pdu_length", g.maxPDULength, h.maxPDULength)
            check("gateway.accept_private_sop_classes", g.acceptPrivateSOPClasses, h.acceptPrivateSOPClasses)
            check("gateway.time_zone", g.timeZone, h.timeZone)
            check("gateway.bandwidth", g.bandwidth, h.bandwidth)
            check("gateway.tls_port", g.tlsPort, h.tlsPort)
            check("gateway.tls", g.tls, h.tls)
        }

        let newNames = Set(b.destinations.map(\.name))
        for old in a.destinations where !newNames.contains(old.name) {
            keys.append("destinations.\(old.name) (removed)")
        }
        for new in b.destinations {
            guard let old = a.destinations.first(where: { $0.name == new.name }) else {
                keys.append("destinations.\(new.name) (added)")
                continue
            }
            keys += destinationKeys(old, new)
        }

        check("routes", a.routes, b.routes)
        let (o, p) = (a.outbox, b.outbox)
        section("outbox", differs: o != p) {
            check("outbox.dedup_window", o.dedupWindow, p.dedupWindow)
            check("outbox.lease", o.leaseSeconds, p.leaseSeconds)
            check("outbox.stable_after", o.stableAfter, p.stableAfter)
        }
        check("logging", a.logging, b.logging)
        check("metrics", a.metrics, b.metrics)
        check("retention", a.retention, b.retention)
        check("normalization_profiles", a.normalization.profiles, b.normalization.profiles)
        check("sources", a.normalization.sources, b.normalization.sources)
        let (c, d) = (a.compression, b.compression)
        section("compression", differs: c != d) {
            check("compression.workers", c.workers, d.workers)
            check("compression.verify", c.verify, d.verify)
            check("compression.max_object_size", c.maxObjectSize, d.maxObjectSize)
        }
        return keys
    }

    /// The changed keys of one destination present on both sides.
    private static func destinationKeys(
        _ old: Configuration.Destination,
        _ new: Configuration.Destination
    ) -> [String] {
        var keys: [String] = []
        let prefix = "destinations.\(new.name)."
        func check<T: Equatable>(_ key: String, _ x: T, _ y: T) { if x != y { keys.append(prefix + key) } }
        check("kind", old.kind, new.kind)
        if old.kind == .stow || new.kind == .stow {
            // host, port and the AE title of a STOW-RS destination come from its url.
            let (s, t) = (old.stow, new.stow)
            check("url", s?.url, t?.url)
            check("study_scoped", s?.studyScoped, t?.studyScoped)
            check("auth", s?.auth, t?.auth)
            check("max_instances_per_request", s?.maxInstancesPerRequest, t?.maxInstancesPerRequest)
            check("max_bytes_per_request", s?.maxBytesPerRequest, t?.maxBytesPerRequest)
            check("proxy", s?.proxy, t?.proxy)
            check("timeouts", s?.timeouts, t?.timeouts)
        } else {
            check("ae_title", old.aeTitle, new.aeTitle)
            check("host", old.host, new.host)
            check("port", old.port, new.port)
        }
        check("calling_ae_title", old.callingAETitle, new.callingAETitle)
        check("associations", old.associations, new.associations)
        check("timeouts", old.timeouts, new.timeouts)
        check("retry", old.retry, new.retry)
        check("tls", old.tls, new.tls)
        check("bandwidth", old.bandwidth, new.bandwidth)
        check("max_age", old.maxAge, new.maxAge)
        check("backlog_quota", old.backlogQuota, new.backlogQuota)
        check("circuit", old.circuit, new.circuit)
        check("priority_aging", old.priorityAging, new.priorityAging)
        check("transfer_syntax", old.transferSyntax, new.transferSyntax)
        if keys.isEmpty, old != new { keys.append("destinations.\(new.name)") }
        var seen = Set<String>()
        return keys.filter { seen.insert($0).inserted }
    }
}
