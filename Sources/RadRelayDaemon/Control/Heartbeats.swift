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
/// A loop that cannot tick while it waits on a peer on purpose (connect, A-ASSOCIATE-AC, a
/// C-STORE response, a transcode) declares how long that wait may legitimately last with
/// `busy(allowingSilence:)` — the peer's own timeouts — and calls `idle()` after it; bytes on
/// the wire still tick through the pacer. Without that, a remote that takes 40 s to answer
/// within a 60 s DIMSE timeout would get a healthy daemon killed by a 30 s watchdog.
public final class Heartbeats: Sendable {
    /// How often an idle loop should tick: an eighth of the watchdog interval (so two ticks fit
    /// in the staleness window), at most 5 s.
    public let tickInterval: Duration
    /// A loop whose last tick is older than this makes the daemon unhealthy: a quarter of the
    /// watchdog interval, or 30 s without a watchdog.
    public let staleAfter: Duration
    private struct State {
        var table = HeartbeatTable<ContinuousClock.Instant>()
        /// Loops inside a declared wait, and the silence each may keep until it ends.
        var allowances: [String: Duration] = [:]
    }
    private let state = NIOLockedValueBox(State())

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
        let deadline = ContinuousClock.now + staleAfter
        state.withLockedValue {
            $0.allowances[name] = nil
            $0.table.register(name, aliveUntil: deadline)
        }
        return Heartbeat(name: name, registry: self)
    }

    /// Loops silent for longer than they are allowed (`staleAfter`, or a declared wait's
    /// allowance); empty when healthy.
    public func staleLoops(now: ContinuousClock.Instant = .now) -> [String] {
        state.withLockedValue { $0.table.stale(at: now) }
    }

    /// Registered loop names.
    public var names: [String] { state.withLockedValue { $0.table.names } }

    fileprivate func tick(_ name: String) {
        let now = ContinuousClock.now
        state.withLockedValue { $0.table.tick(name, aliveUntil: now + ($0.allowances[name] ?? staleAfter)) }
    }

    fileprivate func busy(_ name: String, allowingSilence silence: Duration) {
        let allowance = max(silence, staleAfter)
        let now = ContinuousClock.now
        state.withLockedValue {
            $0.allowances[name] = allowance
            $0.table.tick(name, aliveUntil: now + allowance)
        }
    }

    fileprivate func idle(_ name: String) {
        let now = ContinuousClock.now
        state.withLockedValue {
            $0.allowances[name] = nil
            $0.table.tick(name, aliveUntil: now + staleAfter)
        }
    }

    fileprivate func end(_ name: String) {
        state.withLockedValue {
            $0.allowances[name] = nil
            $0.table.unregister(name)
        }
    }
}

/// One loop's handle in `Heartbeats`.
public struct Heartbeat: Sendable {
    /// The loop's name as status and logs show it.
    public let name: String
    fileprivate let registry: Heartbeats

    /// Records progress now.
    public func tick() { registry.tick(name) }

    /// The loop is about to wait on a peer for at most `silence` (its connect + response
    /// timeouts): until `idle()`, each tick allows that much silence instead of `staleAfter`.
    /// A wait that outlives every timeout is still caught, `silence` later.
    public func busy(allowingSilence silence: Duration) { registry.busy(name, allowingSilence: silence) }

    /// The wait declared by `busy(allowingSilence:)` is over: normal staleness applies again.
    public func idle() { registry.idle(name) }

    /// The loop has ended on purpose (shutdown): stop watching it.
    public func end() { registry.end(name) }
}
