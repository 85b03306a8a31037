/// The liveness rule behind `WATCHDOG=1` (pure, time is a parameter): every registered loop
/// must have ticked within `maxAge`; one silent loop makes the whole daemon unhealthy, so
/// systemd restarts a daemon whose forwarder or commit path hangs even though its main thread
/// still runs. Loops that wait for work must tick on their own timer while idle.
public struct HeartbeatTable<Instant: Comparable & Sendable>: Sendable {
    private var lastTicks: [String: Instant] = [:]

    public init() {}

    /// Adds (or refreshes) a loop; it counts as having ticked at `now`.
    public mutating func register(_ name: String, now: Instant) { lastTicks[name] = now }

    /// Removes a loop that has ended on purpose (shutdown).
    public mutating func unregister(_ name: String) { lastTicks[name] = nil }

    /// Records progress of `name`. An unknown name is registered.
    public mutating func tick(_ name: String, now: Instant) { lastTicks[name] = now }

    /// Names of registered loops.
    public var names: [String] { lastTicks.keys.sorted() }

    /// The loops whose last tick is older than `oldestAllowed`, sorted by name; empty when healthy.
    public func stale(olderThan oldestAllowed: Instant) -> [String] {
        lastTicks.filter { $0.value < oldestAllowed }.map(\.key).sorted()
    }
}
