/// The liveness rule behind `WATCHDOG=1` (pure, time is a parameter): every registered loop
/// must have ticked recently enough; one silent loop makes the whole daemon unhealthy, so
/// systemd restarts a daemon whose forwarder or commit path hangs even though its main thread
/// still runs. Loops that wait for work must tick on their own timer while idle.
///
/// "Recently enough" is per loop: each tick records the instant until which the loop counts as
/// alive. Most loops pass `now + staleAfter`; a loop about to wait on a peer with its own
/// timeouts (a C-STORE response may legitimately take the DIMSE timeout) passes a later
/// deadline for that wait, so a slow but healthy remote never gets the daemon killed while a
/// wait that outlives every timeout still does.
public struct HeartbeatTable<Instant: Comparable & Sendable>: Sendable {
    private var deadlines: [String: Instant] = [:]

    public init() {}

    /// Adds (or refreshes) a loop; it counts as alive until `aliveUntil`.
    public mutating func register(_ name: String, aliveUntil: Instant) { deadlines[name] = aliveUntil }

    /// Removes a loop that has ended on purpose (shutdown).
    public mutating func unregister(_ name: String) { deadlines[name] = nil }

    /// Records progress of `name`: it counts as alive until `aliveUntil`. An unknown name is
    /// registered.
    public mutating func tick(_ name: String, aliveUntil: Instant) { deadlines[name] = aliveUntil }

    /// Names of registered loops.
    public var names: [String] { deadlines.keys.sorted() }

    /// The loops whose deadline has passed at `now`, sorted by name; empty when healthy.
    public func stale(at now: Instant) -> [String] {
        deadlines.filter { $0.value < now }.map(\.key).sorted()
    }
}
