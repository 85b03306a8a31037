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
    private let configuration: Configuration
    private let logger: Logger
    private let lock: StateDirectoryLock
    private let outbox: Outbox
    private let spool: Spool
    private let group: MultiThreadedEventLoopGroup
    private let blockingPool: NIOThreadPool
    private let forwarders: [String: DestinationForwarder]
    private let pipeline: IngestPipeline
    private let listener: StorageSCP
    private let control: ControlServer
    private let startedAt: Date
    private let listenerAddress = NIOLockedValueBox<SocketAddress?>(nil)

    /// Prepares everything that can fail before the daemon talks to anyone: takes the state
    /// directory lock, opens and migrates the outbox, reconciles crash leftovers.
    public static func build(configuration: Configuration, logger: Logger) throws -> Daemon {
        try Daemon(configuration: configuration, logger: logger)
    }

    private init(configuration: Configuration, logger: Logger) throws {
        self.configuration = configuration
        self.logger = logger
        self.startedAt = Date()
        try DCMTKRuntime.initialize()

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

        var forwarders: [String: DestinationForwarder] = [:]
        for destination in configuration.destinations {
            forwarders[destination.name] = DestinationForwarder(
                destination: destination,
                outbox: outbox,
                leaseSeconds: configuration.outbox.leaseSeconds,
                now: now,
                logger: logger
            )
        }
        self.forwarders = forwarders
        let wakeTargets = forwarders
        let batcher = IngestBatcher(outbox: outbox, clock: now, syncsSpoolDirectory: true)
        pipeline = IngestPipeline(
            policy: IngestPipeline.Policy(
                admission: AdmissionPolicy(gateway: configuration.gateway),
                router: configuration.router,
                minFreeDisk: configuration.gateway.minFreeDisk
            ),
            spool: spool,
            batcher: batcher,
            blockingPool: blockingPool,
            logger: logger,
            onQueued: { destinations in
                for name in destinations { wakeTargets[name]?.wake() }
            }
        )
        let gateway = configuration.gateway
        listener = StorageSCP(
            configuration: StorageSCPConfiguration(
                host: gateway.bind,
                port: gateway.port,
                maxAssociations: gateway.maxAssociations,
                acseTimeout: gateway.timeouts.acse,
                dimseTimeout: gateway.timeouts.dimse,
                idleTimeout: gateway.timeouts.idle,
                maxPDULength: gateway.maxPDULength,
                maxObjectSize: gateway.maxObjectSize,
                acceptPrivateSOPClasses: gateway.acceptPrivateSOPClasses
            ),
            delegate: pipeline,
            group: group,
            logger: logger
        )
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
        try await control.start(router: { [self] method, path in await self.route(method: method, path: path) })
        let port = address.port ?? 0
        logger.notice(
            "radrelay listening",
            metadata: ["address": "\(address.ipAddress ?? "?")", "port": "\(port)", "control": "\(control.socketPath)"]
        )
        SystemdNotifier.ready(status: "listening on port \(port)")

        let services: [any Service] = [
            ListenerService(daemon: self),
            ForwardingService(forwarders: Array(forwarders.values)),
        ]
        let serviceGroup = ServiceGroup(
            configuration: .init(services: services.map { .init(service: $0) }, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        )
        try await serviceGroup.run()
        await control.stop()
        try await group.shutdownGracefully()
        try await blockingPool.shutdownGracefully()
        lock.release()
        logger.notice("radrelay stopped")
    }

    fileprivate func stopListening() async {
        SystemdNotifier.stopping()
        logger.notice("Shutting down: no new associations; draining")
        await listener.stopAccepting()
        await listener.drain(timeout: configuration.gateway.timeouts.dimse)
    }

    // MARK: - Control socket

    private func route(method: HTTPMethodName, path: String) async -> (Int, Data) {
        switch (method, path) {
        case ("GET", "/status"):
            do {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
                return (200, try encoder.encode(try statusReport()))
            } catch {
                return (500, Data("{\"error\":\"\(error)\"}".utf8))
            }
        default:
            return (404, Data("{\"error\":\"not found\"}".utf8))
        }
    }

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
