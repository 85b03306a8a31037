import Foundation
import Logging
import NIOCore
import NIOPosix
import RadRelayConfig
import RadRelayCore
import RadRelaySystemd
import ServiceLifecycle

/// Feeds the systemd watchdog and keeps STATUS current (issue 6).
///
/// Every round (a quarter of the watchdog interval, at most the heartbeat tick interval) it:
/// 1. probes the loops that cannot tick by themselves while idle — each event loop of the
///    listener (a task scheduled on it ticks `event-loop-N`) and the ingest commit queue (a probe
///    queued behind any commit ticks `ingest-commit`) — so a hung loop stops ticking;
/// 2. sends WATCHDOG=1 only when no registered loop is older than `Heartbeats.staleAfter`;
/// 3. every few seconds, and at once when the set of stalled loops changes, publishes the
///    one-line STATUS summary when it changed (stalled loops first: `STALLED forwarder.pacs.0; …`).
struct SupervisionService: Service {
    let daemon: Daemon

    func run() async throws {
        let operations = daemon.operations
        // The group has trapped the shutdown signals before starting any service; the listener
        // accepted before the group started. Now READY=1 is true in every sense.
        let port = (try? daemon.statusReport().listener.port) ?? 0
        operations.announceReady(summary: (try? await daemon.statusSummary()) ?? "listening on port \(port)")
        let heartbeats = operations.heartbeats
        var loopBeats: [(any EventLoop, Heartbeat)] = []
        for (index, loop) in daemon.group.makeIterator().enumerated() {
            loopBeats.append((loop, heartbeats.register("event-loop-\(index)")))
        }
        let commitBeat = heartbeats.register("ingest-commit")
        let selfBeat = heartbeats.register("supervisor")
        defer {
            for (_, beat) in loopBeats { beat.end() }
            commitBeat.end()
            selfBeat.end()
        }
        // cancelWhenGracefulShutdown: the sleep below ends at once when shutdown begins.
        let probes = loopBeats
        await cancelWhenGracefulShutdown {
            await loop(operations, heartbeats, probes, commitBeat, selfBeat)
        }
    }

    private func loop(
        _ operations: DaemonOperations,
        _ heartbeats: Heartbeats,
        _ loopBeats: [(any EventLoop, Heartbeat)],
        _ commitBeat: Heartbeat,
        _ selfBeat: Heartbeat
    ) async {
        var period = heartbeats.tickInterval
        if let interval = operations.watchdogInterval { period = min(period, interval / 4) }
        period = max(period, .milliseconds(50))
        var lastStatusAt = ContinuousClock.now - .seconds(60)
        var reportedStale: [String] = []
        while !Task.isCancelled {
            selfBeat.tick()
            for (loop, beat) in loopBeats { loop.execute { beat.tick() } }
            daemon.batcher.probe { commitBeat.tick() }

            let stale = heartbeats.staleLoops()
            let staleChanged = stale != reportedStale
            if operations.watchdogInterval != nil {
                if stale.isEmpty {
                    SystemdNotifier.watchdog()
                } else if staleChanged {
                    operations.logger.critical(
                        "Watchdog keep-alive withheld: loops stopped making progress",
                        metadata: ["stale_loops": "\(stale.joined(separator: ","))"]
                    )
                }
            }
            reportedStale = stale
            // A change in stalled loops is published at once: it is what `systemctl status`
            // should show when the watchdog is about to kill the daemon.
            if staleChanged || ContinuousClock.now - lastStatusAt >= .seconds(2) {
                lastStatusAt = .now
                if let summary = try? await daemon.statusSummary() {
                    let restart = operations.restartPending.withLockedValue { $0 }
                    operations.publishStatus(Self.summary(summary, stale: stale, restartPending: restart))
                }
            }
            try? await Task.sleep(for: period)
        }
    }
}

extension SupervisionService {
    /// STATUS= with the stalled loops first and the settings waiting for a restart last, so
    /// `systemctl status` names both:
    /// `STALLED forwarder.pacs.0; port 11112, pending 3, …, restart required: gateway.port`.
    static func summary(_ summary: String, stale: [String], restartPending: [String]) -> String {
        var line = summary
        if !stale.isEmpty { line = "STALLED \(stale.joined(separator: ",")); " + line }
        if !restartPending.isEmpty { line += ", restart required: \(restartPending.joined(separator: ","))" }
        return line
    }
}

/// Prunes history on `retention.interval` (issue 6); ticks its heartbeat while it waits.
struct RetentionService: Service {
    let daemon: Daemon

    func run() async throws {
        let beat = daemon.operations.heartbeats.register("retention")
        defer { beat.end() }
        await cancelWhenGracefulShutdown { await loop(beat) }
    }

    private func loop(_ beat: Heartbeat) async {
        var nextRun = ContinuousClock.now + .seconds(10)
        while !Task.isCancelled {
            beat.tick()
            if ContinuousClock.now >= nextRun {
                let retention = daemon.operations.running.withLockedValue { $0.retention }
                await daemon.pruneOnce(retention)
                beat.tick()
                nextRun = .now + .seconds(retention.interval)
            }
            let wait = min(daemon.operations.heartbeats.tickInterval, nextRun - .now)
            try? await Task.sleep(for: max(.milliseconds(10), wait))
        }
    }
}

/// Re-reads the configuration on SIGHUP (issue 6).
struct ReloadService: Service {
    let daemon: Daemon

    func run() async throws {
        await cancelWhenGracefulShutdown {
            for await _ in daemon.operations.reloads {
                await daemon.reload()
            }
        }
    }
}

extension Daemon {
    /// One retention pass on the blocking pool; logs what it removed.
    func pruneOnce(_ retention: Configuration.Retention) async {
        let now = Date().timeIntervalSince1970
        do {
            let report = try await blockingPool.runIfActive { [outbox] in
                try outbox.prune(
                    deliveredBefore: retention.delivered.map { now - $0 },
                    deadBefore: retention.dead.map { now - $0 },
                    now: now
                )
            }
            if !report.isEmpty {
                logger.info(
                    "Retention pruned history",
                    metadata: LogEvent.retentionPruned.metadata([
                        "delivered_removed": "\(report.deliveredRemoved)", "dead_removed": "\(report.deadRemoved)",
                        "instances_removed": "\(report.instancesRemoved)", "studies_removed": "\(report.studiesRemoved)",
                    ])
                )
            }
        } catch {
            logger.error("Retention pass failed", metadata: ["error": "\(error)"])
        }
    }
}
