import Dispatch
import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import RadRelayConfig
import RadRelayCore
import RadRelayOutbox
import RadRelaySystemd

/// How `radrelayd` runs the daemon beyond its configuration (issue 6).
public struct DaemonOptions: Sendable {
    /// The configuration file, re-read on SIGHUP; nil disables reload.
    public var configPath: String?
    /// The journal handler's shared settings, updated on reload; nil when another handler logs.
    public var logSettings: JournalLogSettings?

    public init(configPath: String? = nil, logSettings: JournalLogSettings? = nil) {
        self.configPath = configPath
        self.logSettings = logSettings
    }
}

/// The operations side of the daemon (issue 6), held by `Daemon`: readiness, heartbeats and the
/// watchdog, the running configuration across reloads, the metrics endpoint. One object so the
/// composition root needs one line per concern.
final class DaemonOperations: Sendable {
    let options: DaemonOptions
    let heartbeats: Heartbeats
    let watchdogInterval: Duration?
    let logger: Logger
    /// The configuration as currently applied (reloads change the live parts).
    let running: NIOLockedValueBox<Configuration>
    /// Keys changed on disk that wait for a restart.
    let restartPending = NIOLockedValueBox<[String]>([])
    private let state = NIOLockedValueBox(Readiness())
    private let metricsServer = NIOLockedValueBox<MetricsServer?>(nil)
    private let reloadRequests: AsyncStream<Void>
    private let reloadContinuation: AsyncStream<Void>.Continuation
    private let signalSource = NIOLockedValueBox<SignalSource?>(nil)

    /// Dispatch sources are thread-safe but not marked Sendable.
    private struct SignalSource: @unchecked Sendable { let source: any DispatchSourceSignal }

    struct Readiness {
        var ready = false
        var stopping = false
        var lastStatus = ""
    }

    init(configuration: Configuration, options: DaemonOptions, logger: Logger) {
        self.options = options
        self.logger = logger
        watchdogInterval = SystemdNotifier.watchdogInterval()
        heartbeats = Heartbeats(watchdogInterval: watchdogInterval)
        running = NIOLockedValueBox(configuration)
        (reloadRequests, reloadContinuation) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    }

    /// True once READY was sent and until draining starts.
    var isReady: Bool { state.withLockedValue { $0.ready && !$0.stopping } }

    // MARK: - Start and stop

    /// Everything that must exist before READY=1: the SIGHUP handler (a HUP before it would
    /// kill the process), the metrics endpoint.
    func start(daemon: Daemon) async throws {
        installReloadSignal()
        let metrics = running.withLockedValue { $0.metrics }
        if metrics.enabled {
            let server = MetricsServer(daemon: daemon, group: daemon.group, logger: logger)
            try await server.start(host: metrics.bind, port: metrics.port)
            metricsServer.withLockedValue { $0 = server }
        }
    }

    /// Sends READY=1 with the first STATUS line.
    func announceReady(summary: String) {
        state.withLockedValue {
            $0.ready = true
            $0.lastStatus = summary
        }
        SystemdNotifier.ready(status: summary)
    }

    /// Graceful shutdown began: not ready any more.
    func markStopping() {
        state.withLockedValue { $0.stopping = true }
        reloadContinuation.finish()
    }

    /// After the services ended.
    func stop() async {
        signalSource.withLockedValue { $0?.source.cancel() }
        if let server = metricsServer.withLockedValue({ $0 }) { await server.stop() }
    }

    /// Where the metrics endpoint listens, when enabled.
    var metricsAddress: SocketAddress? { metricsServer.withLockedValue { $0?.address } }

    /// Publishes `summary` as STATUS when it changed since the last one.
    func publishStatus(_ summary: String) {
        let changed = state.withLockedValue { state -> Bool in
            guard state.ready, !state.stopping, state.lastStatus != summary else { return false }
            state.lastStatus = summary
            return true
        }
        if changed { SystemdNotifier.status(summary) }
    }

    // MARK: - Reload requests

    private func installReloadSignal() {
        // Ignore the default action (terminate) first; the dispatch source still sees the signal.
        signal(SIGHUP, SIG_IGN)
        let source = DispatchSource.makeSignalSource(signal: SIGHUP, queue: .global())
        let continuation = reloadContinuation
        source.setEventHandler { continuation.yield() }
        source.resume()
        signalSource.withLockedValue { $0 = SignalSource(source: source) }
    }

    /// SIGHUPs, coalesced: several signals during one reload cause one more reload.
    var reloads: AsyncStream<Void> { reloadRequests }
}
