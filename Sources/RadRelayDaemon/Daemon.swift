import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import RadRelayConfig
import RadRelayCore
import RadRelayDIMSE
import RadRelayOutbox
import RadRelaySystemd
import ServiceLifecycle

/// The composition root (CONVENTIONS §5): builds every service from a validated configuration
/// and runs them in dependency order. `radrelayd` calls `Daemon.build` then `run`; nothing else
/// wires components together.
public final class Daemon: Sendable {
    let configuration: Configuration
    let logger: Logger
    private let lock: StateDirectoryLock
    let outbox: Outbox
    let spool: Spool
    let group: MultiThreadedEventLoopGroup
    let blockingPool: NIOThreadPool
    let forwarders: [String: DestinationForwarder]
    /// Issue 4: the cap across all destinations (nil when unlimited) and study stability.
    let globalLimiter: BandwidthLimiter?
    let stability: StudyStabilityService
    /// Normalization and compression per destination (issue 3); idle when nothing is configured.
    let variants: VariantPreparer
    let pipeline: IngestPipeline
    let batcher: IngestBatcher
    let listener: StorageSCP
    /// Readiness, heartbeats/watchdog, reload, metrics (issue 6; Control/DaemonOperations.swift).
    let operations: DaemonOperations
    /// The DICOM TLS listener on `gateway.tls_port` (issue 5), beside the plain one.
    let tlsListener: TLSListener?
    /// Certificates whose expiry status and metrics report (issue 5; Daemon+TLS.swift).
    public let certificates: CertificateInventory
    private let control: ControlServer
    let startedAt: Date
    private let listenerAddress = NIOLockedValueBox<SocketAddress?>(nil)

    /// Prepares everything that can fail before the daemon talks to anyone: takes the state
    /// directory lock, opens and migrates the outbox, reconciles crash leftovers.
    public static func build(
        configuration: Configuration,
        logger: Logger,
        options: DaemonOptions = DaemonOptions()
    ) throws -> Daemon {
        try Daemon(configuration: configuration, logger: logger, options: options)
    }

    private init(configuration: Configuration, logger: Logger, options: DaemonOptions) throws {
        self.configuration = configuration
        self.logger = logger
        self.startedAt = Date()
        operations = DaemonOperations(configuration: configuration, options: options, logger: logger)
        try DCMTKRuntime.initialize()
        DCMTKRuntime.routeLogs(to: logger)

        let stateDirectory = URL(fileURLWithPath: configuration.gateway.stateDirectory, isDirectory: true)
        try FileManager.default.createDirectory(at: stateDirectory, withIntermediateDirectories: true)
        lock = try StateDirectoryLock(stateDirectory: stateDirectory.path)
        outbox = try Outbox(
            stateDirectory: stateDirectory.path,
            options: Outbox.Options(dedupWindow: configuration.outbox.dedupWindow),
            logger: logger
        )
        spool = outbox.spool

        let now: @Sendable () -> EpochSeconds = { Date().timeIntervalSince1970 }
        let report = try outbox.reconcile(now: now())
        logger.info(
            "Outbox reconciled",
            metadata: [
                "requeued": "\(report.requeuedActive)",
                "part_files_deleted": "\(report.deletedPartFiles)",
                "orphan_files_deleted": "\(report.deletedOrphanFiles)",
                "spool_missing": "\(report.deadSpoolMissing)",
            ]
        )
        if report.deadSpoolMissing > 0 {
            logger.critical(
                "Acknowledged objects lost their spool files",
                metadata: ["count": "\(report.deadSpoolMissing)"]
            )
        }

        group = MultiThreadedEventLoopGroup(numberOfThreads: max(2, System.coreCount))
        blockingPool = NIOThreadPool(numberOfThreads: max(4, System.coreCount * 2))
        blockingPool.start()

        let variants = try VariantPreparer.make(configuration: configuration, outbox: outbox, now: now, logger: logger)
        self.variants = variants  // issue 3
        let siteClock = SiteClock(timeZone: configuration.gateway.timeZone)
        let globalLimiter = Self.makeGlobalLimiter(configuration, clock: siteClock, now: now)  // issue 4
        self.globalLimiter = globalLimiter
        var forwarders: [String: DestinationForwarder] = [:]
        for destination in configuration.destinations {
            forwarders[destination.name] = DestinationForwarder(
                destination: destination,
                outbox: outbox,
                preparer: variants,
                leaseSeconds: configuration.outbox.leaseSeconds,
                clock: siteClock,
                globalLimiter: globalLimiter,
                heartbeats: operations.heartbeats,
                now: now,
                logger: logger
            )
        }
        self.forwarders = forwarders
        let wakeTargets = forwarders
        let stability = StudyStabilityService(
            outbox: outbox, quietTime: configuration.outbox.stableAfter, heartbeats: operations.heartbeats, now: now,
            logger: logger, onReleased: { names in for name in names { wakeTargets[name]?.wake() } })
        self.stability = stability
        let batcher = IngestBatcher(outbox: outbox, clock: now, syncsSpoolDirectory: true)
        self.batcher = batcher
        pipeline = IngestPipeline(
            policy: IngestPipeline.Policy(
                admission: AdmissionPolicy(gateway: configuration.gateway),
                router: configuration.router,
                minFreeDisk: configuration.gateway.minFreeDisk,
                resumeFreeDisk: configuration.gateway.effectiveResumeFreeDisk,
                backlogQuotas: Self.backlogQuotas(configuration),  // issue 4
                pendingBytes: { [outbox] in try outbox.pendingBytes() }
            ),
            spool: spool,
            batcher: batcher,
            blockingPool: blockingPool,
            logger: logger,
            onQueued: { destinations in
                for name in destinations { wakeTargets[name]?.wake() }
                stability.objectArrived()
            }
        )
        let gateway = configuration.gateway
        listener = StorageSCP(
            configuration: StorageSCPConfiguration(gateway: gateway, port: gateway.port),
            delegate: pipeline,
            group: group,
            logger: logger
        )
        tlsListener = try Self.makeTLSListener(gateway, delegate: pipeline, group: group, sibling: listener, logger: logger)
        certificates = CertificateInventory(configuration: configuration)
        let runtimeDirectory = gateway.runtimeDirectory ?? gateway.stateDirectory
        try FileManager.default.createDirectory(atPath: runtimeDirectory, withIntermediateDirectories: true)
        control = ControlServer(
            socketPath: (runtimeDirectory as NSString).appendingPathComponent("control.sock"),
            group: group,
            logger: logger
        )
    }

    /// Runs until SIGTERM or SIGINT, then drains: stop accepting, let associations in progress
    /// finish (bounded by the DIMSE timeout), let sends in progress finish, exit.
    public func run() async throws {
        let address = try await listener.start()
        listenerAddress.withLockedValue { $0 = address }
        try await control.start(router: { [self] request in await self.handleControl(request) })
        let port = address.port ?? 0
        logger.notice(
            "radrelay listening",
            metadata: ["address": "\(address.ipAddress ?? "?")", "port": "\(port)", "control": "\(control.socketPath)"]
        )
        try await startTLSListener()
        try await operations.start(daemon: self)
        logger.notice("radrelay ready", metadata: LogEvent.daemonStarted.metadata(["version": "\(radrelayVersion)"]))
        // READY=1 is sent by SupervisionService once the service group runs: only then are
        // SIGTERM/SIGINT trapped, so a stop right after READY drains instead of killing.

        let services: [any Service] = [
            ListenerService(daemon: self),
            ForwardingService(forwarders: Array(forwarders.values)),
            stability,  // issue 4: study/series stable state, hold_until_stable
            CertificateExpiryService(inventory: certificates, logger: logger),
            SupervisionService(daemon: self),  // issue 6: watchdog, STATUS
            RetentionService(daemon: self),  // issue 6
            ReloadService(daemon: self),  // issue 6: SIGHUP
            variants,  // issue 3: sweeps derived files
        ]
        let serviceGroup = ServiceGroup(
            configuration: .init(services: services.map { .init(service: $0) }, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        )
        try await serviceGroup.run()
        await variants.shutdown()
        await operations.stop()
        await control.stop()
        try await group.shutdownGracefully()
        try await blockingPool.shutdownGracefully()
        lock.release()
        logger.notice("radrelay stopped")
    }

    fileprivate func stopListening() async {
        operations.markStopping()
        SystemdNotifier.stopping()
        logger.notice("Shutting down: no new associations; draining", metadata: LogEvent.daemonStopping.metadata)
        await listener.stopAccepting()
        await tlsListener?.scp.stopAccepting()
        await listener.drain(timeout: configuration.gateway.timeouts.dimse)
        await tlsListener?.scp.drain(timeout: configuration.gateway.timeouts.dimse)
    }

    // MARK: - Control socket

    // Routes: Control/Daemon+Control.swift (issue 6).

    func statusReport() throws -> StatusReport {
        let now = Date().timeIntervalSince1970
        let address = listenerAddress.withLockedValue { $0 }
        let rows = try outbox.status(now: now)
        let byName = Dictionary(rows.map { ($0.destination, $0) }, uniquingKeysWith: { a, _ in a })
        let destinations = configuration.destinations.map { destination -> StatusReport.Destination in
            let row = byName[destination.name]
            let health = forwarders[destination.name]?.health
            var counts: [String: Int] = [:]
            for state in DeliveryState.allCases {
                counts[state.rawValue] = row?.count(state) ?? 0
            }
            return StatusReport.Destination(
                name: destination.name,
                counts: counts,
                queuedBytes: Int64(row?.queuedBytes ?? 0),
                oldestPendingAgeSeconds: row?.oldestPendingAge,
                health: health?.state ?? "up",
                lastError: row?.lastError.map { "\($0.failureClass.rawValue): \($0.detail)" }
            )
        }
        return StatusReport(
            version: radrelayVersion,
            uptimeSeconds: now - startedAt.timeIntervalSince1970,
            listener: StatusReport.Listener(address: address?.ipAddress ?? "", port: address?.port ?? 0),
            activeAssociations: listener.activeAssociations,
            destinations: destinations
        )
    }
}

typealias HTTPMethodName = String

/// Keeps the DICOM listener open until graceful shutdown, then drains it.
private struct ListenerService: Service {
    let daemon: Daemon
    func run() async throws {
        try? await gracefulShutdown()
        await daemon.stopListening()
    }
}

/// Runs every destination's forwarder until graceful shutdown; sends in progress complete.
private struct ForwardingService: Service {
    let forwarders: [DestinationForwarder]
    func run() async throws {
        await cancelWhenGracefulShutdown {
            await withTaskGroup(of: Void.self) { group in
                for forwarder in forwarders { group.addTask { await forwarder.run() } }
            }
        }
    }
}
