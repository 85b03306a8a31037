import NIOConcurrencyHelpers
import RadRelaySystemd

/// The registry behind `WATCHDOG=1` and `/healthz`: every long-running loop registers a name and
/// ticks it each time round, and while idle on its own timer at least every `tickInterval`.
/// The watchdog is fed only while no registered loop is older than `staleAfter`.
///
/// How a loop uses it (forwarder workers, schedulers, accept and commit probes):
///
/// ```swift
/// let beat = heartbeats.register("forwarder.pacs.0")
/// defer { beat.end() }
/// while !Task.isCancelled {
///     beat.tick()
///     // wait for work at most heartbeats.tickInterval, then go round again
/// }
/// ```
///
/// A loop that cannot tick while it waits on purpose (a send in progress) must tick before and
/// after; a send that outlasts `staleAfter` is exactly what the watchdog is for only if it is
/// stuck, so long sends should tick from their progress callbacks.
public final class Heartbeats: Sendable {
    /// How often an idle loop should tick: an eighth of the watchdog interval (so two ticks fit
    /// in the staleness window), at most 5 s.
    public let tickInterval: Duration
    /// A loop whose last tick is older than this makes the daemon unhealthy: a quarter of the
    /// watchdog interval, or 30 s without a watchdog.
    public let staleAfter: Duration
    private let table = NIOLockedValueBox(HeartbeatTable<ContinuousClock.Instant>())

    /// Heartbeats for a watchdog of `watchdogInterval` (nil: no systemd watchdog).
    public init(watchdogInterval: Duration?) {
        if let interval = watchdogInterval {
            tickInterval = min(.seconds(5), interval / 8)
            staleAfter = interval / 4
        } else {
            tickInterval = .seconds(5)
            staleAfter = .seconds(30)
        }
    }

    /// Registers a loop (counted as ticked now) and returns its handle.
    public func register(_ name: String) -> Heartbeat {
        table.withLockedValue { $0.register(name, now: .now) }
        return Heartbeat(name: name, registry: self)
    }

    /// Loops whose last tick is older than `staleAfter`; empty when healthy.
    public func staleLoops(now: ContinuousClock.Instant = .now) -> [String] {
        table.withLockedValue { $0.stale(olderThan: now - staleAfter) }
    }

    /// Registered loop names.
    public var names: [String] { table.withLockedValue { $0.names } }

    fileprivate func tick(_ name: String) { table.withLockedValue { $0.tick(name, now: .now) } }
    fileprivate func end(_ name: String) { table.withLockedValue { $0.unregister(name) } }
}

/// One loop's handle in `Heartbeats`.
public struct Heartbeat: Sendable {
    /// The loop's name as status and logs show it.
    public let name: String
    fileprivate let registry: Heartbeats

    /// Records progress now.
    public func tick() { registry.tick(name) }

    /// The loop has ended on purpose (shutdown): stop watching it.
    public func end() { registry.end(name) }
}
