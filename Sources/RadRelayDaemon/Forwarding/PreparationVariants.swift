import CoreMetrics
import Foundation
import Logging
import NIOConcurrencyHelpers
import RadRelayConfig
import RadRelayCore
import RadRelayDIMSE
import RadRelayOutbox
import ServiceLifecycle

/// Stage "prepare" with normalization and compression (issue 3, DESIGN §2): gives each delivery
/// the variant its destination needs — the source's and route's normalization profiles applied,
/// in the destination's `transfer_syntax` — as a derived file in `spool/variants/`.
///
/// - **After the ACK.** Runs when a forwarder worker has claimed the delivery, never while the
///   sender waits for its C-STORE-RSP.
/// - **Off the cooperative pool.** DCMTK work runs on a `TransformPool` of
///   `compression.workers` threads.
/// - **Cached per (instance, variant).** Files are named `<instance id>-<variant key>.dcm`
///   (internal id and a hash of the variant, never a DICOM value); deliveries needing the same
///   variant share one file, a retry reuses it, and concurrent requests build it once.
/// - **Never loses an object.** A codec failure or a verification mismatch sends the object
///   normalized in its own syntax; a normalization failure sends it as received; both are
///   logged (warning) and counted (`radrelay_transform_fallbacks_total`).
/// - **Cleaned up.** `run()` sweeps files that no pending delivery needs; the directory is
///   emptied at start-up (the files are a cache: a half-written one from a crash is never sent).
/// - **Reloadable.** `update(_:)` (SIGHUP) swaps the settings snapshot: normalization profiles
///   and sources, each destination's `transfer_syntax`, `compression.verify` and
///   `compression.max_object_size` apply to every delivery prepared afterwards — new objects and
///   retries of deferred ones (the variant key covers the profiles' rules and the target, so a
///   changed setting means a new file, never a stale cached one). A send already in progress
///   finishes with the file it was prepared with. `compression.workers` sizes the thread pool
///   and needs a restart.
/// - **Always present, idle when unused.** The daemon makes one even when nothing is configured,
///   so a reload can switch normalization or compression on; the worker threads start only when
///   the first variant is built.
final class VariantPreparer: DeliveryPreparer, Service {
    /// What the preparer needs from the configuration.
    struct Settings: Sendable {
        /// Profiles and per-source assignments.
        var assignment: Normalization.Assignment
        /// Each destination's target syntax.
        var targets: [String: CompressionTarget]
        /// The route-level profiles of a delivery (`routes[].normalization`), by delivery id.
        var routeProfiles: @Sendable (_ deliveryID: Int64) -> [String]
        /// Modifying System (0400,0563) in the Original Attributes Sequence items.
        var modifyingSystem: String
        /// Verify every transcoded file by decoding it.
        var verify: Bool
        /// Larger objects are not transcoded.
        var maxTranscodeSize: UInt64
        /// Seconds between sweeps of unneeded files; a file is also kept this long after it was
        /// last handed out (covers a delivery queued and claimed while a sweep reads the outbox).
        var sweepInterval: Double = 5
        /// Queued deliveries whose variants are built ahead of their claim (0: none).
        var lookAheadDepth: Int
        /// Threads of the transform pool (fixed for the preparer's life).
        var workers: Int

        /// Settings from a validated configuration.
        init(configuration: Configuration, routeProfiles: @escaping @Sendable (_ deliveryID: Int64) -> [String]) {
            assignment = configuration.normalization
            targets = Dictionary(
                configuration.destinations.map { ($0.name, $0.transferSyntax) }, uniquingKeysWith: { first, _ in first }
            )
            self.routeProfiles = routeProfiles
            modifyingSystem = configuration.gateway.aeTitle.value
            verify = configuration.compression.verify
            maxTranscodeSize = configuration.compression.maxObjectSize
            lookAheadDepth = 2 * configuration.compression.workers
            workers = configuration.compression.workers
        }

        /// True when no delivery can need a variant: every destination takes objects as
        /// received and no profile exists.
        var isInactive: Bool {
            assignment.profiles.isEmpty && targets.values.allSatisfy { $0 == .asReceived }
        }
    }

    /// A built variant as the cache keeps it.
    private enum Built: Sendable {
        /// Send the received file (nothing to change, or a fallback).
        case asReceived
        /// Send `spool/variants/<name>.dcm`.
        case derived(transferSyntaxUID: String, byteSize: UInt64)
    }

    private struct State {
        var built: [String: Built] = [:]
        var building: [String: Task<Built, Never>] = [:]
        /// Delivery ids that were given each file, for the sweep.
        var users: [String: Set<Int64>] = [:]
        /// When each name was last handed out.
        var lastUsed: [String: EpochSeconds] = [:]
        var fallbacks = 0
    }

    /// The transform pool's life: started by the first build, never restarted after shutdown.
    private enum PoolState {
        case idle(workers: Int)
        case running(TransformPool)
        case shutDown
    }

    let directory: String
    private let outbox: Outbox
    private let current: NIOLockedValueBox<Settings>
    private let poolState: NIOLockedValueBox<PoolState>
    private let now: @Sendable () -> EpochSeconds
    private let logger: Logger
    private let state = NIOLockedValueBox(State())

    /// Creates the preparer and empties `spool/variants/` (creating it when missing).
    init(
        outbox: Outbox,
        settings: Settings,
        now: @escaping @Sendable () -> EpochSeconds,
        logger: Logger
    ) throws {
        self.outbox = outbox
        current = NIOLockedValueBox(settings)
        poolState = NIOLockedValueBox(.idle(workers: settings.workers))
        self.now = now
        self.logger = logger
        directory = outbox.spool.directory + "/variants"
        let fileManager = FileManager.default
        try fileManager.createDirectory(atPath: directory, withIntermediateDirectories: true)
        var removed = 0
        for name in (try? fileManager.contentsOfDirectory(atPath: directory)) ?? [] {
            if (try? fileManager.removeItem(atPath: directory + "/" + name)) != nil { removed += 1 }
        }
        if removed > 0 { logger.info("Derived files from the last run removed", metadata: ["count": "\(removed)"]) }
    }

    /// The settings in force now (one snapshot per prepared delivery).
    private var settings: Settings { current.withLockedValue { $0 } }

    /// Applies a reloaded configuration to deliveries prepared from now on (SIGHUP). The route
    /// lookup, the sweep interval, the look-ahead depth and the pool size stay as they were.
    func update(_ configuration: Configuration) {
        current.withLockedValue { settings in
            var next = Settings(configuration: configuration, routeProfiles: settings.routeProfiles)
            next.sweepInterval = settings.sweepInterval
            next.lookAheadDepth = settings.lookAheadDepth
            next.workers = settings.workers
            settings = next
        }
    }

    /// The transform pool, started on first use; nil once shut down.
    private func pool() -> TransformPool? {
        poolState.withLockedValue { state in
            switch state {
            case .idle(let workers):
                let pool = TransformPool(workers: workers)
                state = .running(pool)
                return pool
            case .running(let pool):
                return pool
            case .shutDown:
                return nil
            }
        }
    }

    // MARK: - DeliveryPreparer

    func prepare(_ delivery: ClaimedDelivery) async -> PreparedObject {
        let asReceived = AsReceivedPreparer.object(for: delivery)
        let settings = self.settings
        if settings.isInactive { return asReceived }
        let origin: InstanceOrigin?
        do {
            origin = try outbox.origin(instanceID: delivery.instanceID)
        } catch {
            logger.error(
                "Cannot read the instance's origin; sending as received",
                metadata: ["delivery": "\(delivery.deliveryID)", "error": "\(error)"])
            return asReceived
        }
        guard let origin else { return asReceived }
        let job = Job(
            deliveryID: delivery.deliveryID, instanceID: delivery.instanceID, destination: delivery.destination,
            spoolPath: delivery.spoolPath, byteSize: delivery.byteSize, callingAE: origin.callingAE)
        if job.byteSize > settings.maxTranscodeSize, settings.targets[job.destination] != .asReceived {
            logger.info(
                "Object too large to transcode (compression.max_object_size); not transcoded",
                metadata: ["delivery": "\(job.deliveryID)", "bytes": "\(job.byteSize)"])
        }
        guard let (name, variant) = plan(job, settings) else { return asReceived }
        // This delivery's build is queued first; the look-ahead builds queue behind it.
        let step = variantFile(name, job: job, variant: variant, settings: settings)
        lookAhead(after: job, settings)
        let built: Built
        switch step {
        case .done(let done): built = done
        case .wait(let task): built = await task.value
        }
        switch built {
        case .asReceived:
            return asReceived
        case .derived(let syntax, let size):
            return PreparedObject(
                path: path(name), sopClassUID: delivery.sopClassUID.value,
                sopInstanceUID: delivery.sopInstanceUID.value, transferSyntaxUID: syntax, byteSize: size)
        }
    }

    // MARK: - Building

    /// What a build needs to know about one delivery.
    private struct Job: Sendable {
        var deliveryID: Int64
        var instanceID: Int64
        var destination: String
        /// Absolute path of the received file.
        var spoolPath: String
        var byteSize: UInt64
        var callingAE: String
    }

    private func path(_ name: String) -> String { directory + "/" + name + ".dcm" }

    /// The file name (without extension) and variant `job` needs; nil when it is the received
    /// file itself.
    private func plan(_ job: Job, _ settings: Settings) -> (String, Normalization.Variant)? {
        guard let callingAE = try? AETitle(job.callingAE) else { return nil }
        var variant = settings.assignment.variant(
            callingAE: callingAE, routeProfiles: settings.routeProfiles(job.deliveryID),
            target: settings.targets[job.destination] ?? .asReceived)
        if job.byteSize > settings.maxTranscodeSize { variant.target = .asReceived }
        if variant.isIdentity { return nil }
        return ("\(job.instanceID)-\(variant.key)", variant)
    }

    /// A variant that is ready, or the task building it.
    private enum Step {
        case done(Built)
        case wait(Task<Built, Never>)
    }

    /// The cached variant, or the one being built, or a new build. The delivery is recorded as a
    /// user of the file before anything can sweep it.
    private func variantFile(_ name: String, job: Job, variant: Normalization.Variant, settings: Settings) -> Step {
        state.withLockedValue { state in
            state.users[name, default: []].insert(job.deliveryID)
            state.lastUsed[name] = self.now()
            if let built = state.built[name] { return .done(built) }
            if let running = state.building[name] { return .wait(running) }
            let task = startBuild(name, job: job, variant: variant, settings: settings)
            state.building[name] = task
            return .wait(task)
        }
    }

    /// A build task that records its result in the cache itself (look-ahead builds have nobody
    /// waiting for them). Call with the state locked and store the task in `building`.
    private func startBuild(
        _ name: String,
        job: Job,
        variant: Normalization.Variant,
        settings: Settings
    ) -> Task<Built, Never> {
        Task {
            let built = await self.build(name, job: job, variant: variant, settings: settings)
            self.state.withLockedValue { state in
                state.building[name] = nil
                state.built[name] = built
            }
            return built
        }
    }

    /// Starts building the variants of the next queued deliveries of `job`'s destination, so
    /// the transform pool works while the destination's workers are sending: without it a
    /// worker's prepare and send follow each other. At most `lookAheadDepth` builds are under way
    /// at a time, so urgent work queues behind little (a few slices' worth).
    private func lookAhead(after job: Job, _ settings: Settings) {
        let depth = settings.lookAheadDepth
        guard depth > 0, state.withLockedValue({ $0.building.count < depth }) else { return }
        let upcoming: [QueuedVariantSource]
        do {
            upcoming = try outbox.upcomingDeliveries(destination: job.destination, limit: depth)
        } catch {
            return  // an optimisation only: the deliveries are built when claimed
        }
        for next in upcoming where next.deliveryID != job.deliveryID {
            let candidate = Job(
                deliveryID: next.deliveryID, instanceID: next.instanceID, destination: next.destination,
                spoolPath: next.spoolPath, byteSize: next.byteSize, callingAE: next.callingAE)
            guard let (name, variant) = plan(candidate, settings) else { continue }
            state.withLockedValue { state in
                guard state.built[name] == nil, state.building[name] == nil, state.building.count < depth else {
                    return
                }
                state.users[name, default: []].insert(candidate.deliveryID)
                state.lastUsed[name] = self.now()
                state.building[name] = startBuild(name, job: candidate, variant: variant, settings: settings)
            }
        }
    }

    private func build(_ name: String, job: Job, variant: Normalization.Variant, settings: Settings) async -> Built {
        let temporary = directory + "/" + name + ".part"
        let final = path(name)
        let record = CoercionRecord(
            modifyingSystem: settings.modifyingSystem, sourceOfPreviousValues: job.callingAE,
            dateTime: CoercionRecord.dicomDateTime(epochSeconds: now()))
        let spoolPath = job.spoolPath
        let verify = settings.verify
        let started = ContinuousClock.now
        guard
            let pool = pool(),
            let report = await pool.run({
                VariantBuilder.build(
                    source: spoolPath, output: temporary, variant: variant, record: record, verify: verify)
            })
        else { return .asReceived }  // the pool is shutting down
        var meta: Logger.Metadata = [
            "delivery": "\(job.deliveryID)", "variant": "\(variant.key)", "target": "\(variant.target.rawValue)",
        ]
        for pass in report.passes {
            for warning in pass.pass.warnings + pass.skipped {
                logger.warning(
                    "Normalization rule warning",
                    metadata: meta.merging(["profile": "\(pass.pass.profile)", "warning": "\(warning)"]) { $1 })
            }
            if pass.charsetUnknown {
                logger.warning(
                    "Text has no declared or assumed character set; not converted",
                    metadata: meta.merging(["profile": "\(pass.pass.profile)"]) { $1 })
            }
        }
        if let fallback = report.fallback {
            let total = state.withLockedValue {
                $0.fallbacks += 1
                return $0.fallbacks
            }
            Counter(
                label: "radrelay_transform_fallbacks_total",
                dimensions: [("destination", job.destination), ("reason", fallback.reason)]
            ).increment()
            meta["reason"] = "\(fallback.reason)"
            meta["detail"] = "\(fallback.detail)"
            meta["fallbacks_total"] = "\(total)"
            logger.warning(
                report.outcome == .unchanged
                    ? "Variant fell back: sending as received" : "Variant fell back: sending normalized, own syntax",
                metadata: meta)
        }
        guard case .written(let syntax, let size) = report.outcome else {
            Counter(
                label: "radrelay_variants_total",
                dimensions: [("destination", job.destination), ("result", "as_received")]
            )
            .increment()
            return .asReceived
        }
        guard rename(temporary, final) == 0 else {
            unlink(temporary)
            logger.error("Cannot store a derived file; sending as received", metadata: meta)
            return .asReceived
        }
        let result = report.transcoded ? "transcoded" : "normalized"
        Counter(
            label: "radrelay_variants_total", dimensions: [("destination", job.destination), ("result", result)]
        )
        .increment()
        meta["syntax"] = "\(syntax)"
        meta["bytes"] = "\(job.byteSize)→\(size)"
        meta["ms"] = "\(Int((ContinuousClock.now - started) / .milliseconds(1)))"
        logger.debug("Variant built", metadata: meta)
        return .derived(transferSyntaxUID: syntax, byteSize: size)
    }

    // MARK: - Sweeping

    /// Sweeps unneeded derived files every `sweepInterval` seconds until graceful shutdown.
    func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                try? await Task.sleep(for: .seconds(self.settings.sweepInterval))
                if Task.isCancelled { break }
                self.sweep()
            }
        }
    }

    /// Lets jobs in progress finish and stops the worker threads (if they ever started).
    func shutdown() async {
        let running = poolState.withLockedValue { state -> TransformPool? in
            defer { state = .shutDown }
            if case .running(let pool) = state { return pool }
            return nil
        }
        await running?.shutdown()
    }

    /// Deletes every derived file no pending delivery needs: its recorded users are all
    /// finished and no pending delivery of the instance maps to it, and no transport holds it.
    /// Returns the number of files removed.
    @discardableResult
    func sweep() -> Int {
        let files = Set(
            ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [])
                .filter { $0.hasSuffix(".dcm") }
                .map { String($0.dropLast(4)) })
        // Names whose result is "as received" have no file but a cache entry to forget.
        let candidates = files.union(state.withLockedValue { Array($0.built.keys) })
        guard !candidates.isEmpty else { return 0 }
        let settings = self.settings
        let instanceIDs = candidates.compactMap { $0.split(separator: "-").first.flatMap { Int64($0) } }
        let pending: [PendingVariantUse]
        do {
            pending = try outbox.pendingDeliveries(instanceIDs: instanceIDs)
        } catch {
            logger.error("Derived-file sweep cannot read the outbox", metadata: ["error": "\(error)"])
            return 0
        }
        let pendingIDs = Set(pending.map(\.deliveryID))
        var needed = Set<String>()
        for use in pending {
            guard let callingAE = try? AETitle(use.callingAE) else { continue }
            let variant = settings.assignment.variant(
                callingAE: callingAE, routeProfiles: [], target: settings.targets[use.destination] ?? .asReceived)
            needed.insert("\(use.instanceID)-\(variant.key)")
        }
        let current = now()
        let doomed: [String] = state.withLockedValue { state in
            let doomed = Array(candidates).filter { name in
                !needed.contains(name) && current - (state.lastUsed[name] ?? 0) >= settings.sweepInterval
                    && state.building[name] == nil
                    && !(state.users[name] ?? []).contains(where: pendingIDs.contains)
            }
            for name in doomed {
                state.built[name] = nil
                state.users[name] = nil
                state.lastUsed[name] = nil
            }
            return doomed
        }
        var removed = 0
        for name in doomed where files.contains(name) {
            unlink(path(name))
            removed += 1
        }
        if removed > 0 { logger.debug("Derived files removed", metadata: ["count": "\(removed)"]) }
        return removed
    }
}

extension AsReceivedPreparer {
    /// The received spool file, as `AsReceivedPreparer` sends it.
    static func object(for delivery: ClaimedDelivery) -> PreparedObject {
        PreparedObject(
            path: delivery.spoolPath,
            sopClassUID: delivery.sopClassUID.value,
            sopInstanceUID: delivery.sopInstanceUID.value,
            transferSyntaxUID: delivery.transferSyntaxUID.value,
            byteSize: delivery.byteSize
        )
    }
}

extension VariantPreparer {
    /// The preparer for `configuration`. Made even when no destination can need a variant (all
    /// `as-received`, no normalization profile) so that a reload can add some: it then answers
    /// "as received" after one lock, and starts no threads until a variant is first built.
    static func make(
        configuration: Configuration,
        outbox: Outbox,
        now: @escaping @Sendable () -> EpochSeconds,
        logger: Logger
    ) throws -> VariantPreparer {
        // Route-level profiles (`routes[].normalization`) are stored with each delivery (issue 4).
        let settings = Settings(
            configuration: configuration, routeProfiles: { id in (try? outbox.routeProfiles(deliveryID: id)) ?? [] })
        return try VariantPreparer(outbox: outbox, settings: settings, now: now, logger: logger)
    }
}
