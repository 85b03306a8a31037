import Foundation
import NIOConcurrencyHelpers
import RadRelayCore

/// A bandwidth cap shared by the workers it governs: one per destination, plus one across all
/// destinations when `gateway.bandwidth` is set. A `TokenBucket` whose rate follows the
/// `BandwidthSchedule` on the site's wall clock (re-read at most once a second, so a schedule
/// boundary takes effect within a second), swappable by a reload.
///
/// Thread-safe: DCMTK sender threads charge it from their progress callbacks while forwarder
/// tasks ask it how long to wait before starting the next object.
final class BandwidthLimiter: Sendable {
    private struct State {
        var schedule: BandwidthSchedule
        var clock: SiteClock
        var bucket: TokenBucket
        /// Until when `bucket.rate` is known to follow the schedule.
        var rateValidUntil: EpochSeconds = -.infinity
    }

    let name: String
    private let state: NIOLockedValueBox<State>
    private let now: @Sendable () -> EpochSeconds

    init(name: String, schedule: BandwidthSchedule, clock: SiteClock, now: @escaping @Sendable () -> EpochSeconds) {
        self.name = name
        self.now = now
        let start = now()
        state = NIOLockedValueBox(
            State(
                schedule: schedule, clock: clock,
                bucket: TokenBucket(rate: schedule.limit(at: clock.local(start)), now: start)))
    }

    /// A reload: the new schedule applies from now; debt carries over.
    func update(schedule: BandwidthSchedule, clock: SiteClock) {
        state.withLockedValue { state in
            state.schedule = schedule
            state.clock = clock
            state.rateValidUntil = -.infinity
        }
    }

    /// The cap in force now (bytes/s), nil when unlimited.
    var currentLimit: Double? {
        let current = now()
        return state.withLockedValue { state in
            Self.refreshRate(&state, now: current)
            return state.bucket.rate
        }
    }

    /// Whether the schedule can ever limit anything (else the pacer skips this limiter).
    var isUnlimited: Bool { state.withLockedValue { $0.schedule.isUnlimited } }

    /// Charges `bytes` sent at `priority` and returns how long the sender should wait before
    /// sending more. STAT follows `schedule.stat`: `bypass` is neither counted nor delayed,
    /// `borrow` is counted but never delayed (others pay the debt), `capped` is both.
    func charge(_ bytes: Int, priority: Priority) -> Double {
        let current = now()
        return state.withLockedValue { state in
            Self.refreshRate(&state, now: current)
            guard priority == .stat else { return state.bucket.consume(bytes, now: current) }
            switch state.schedule.stat {
            case .bypass: return 0
            case .borrow:
                state.bucket.charge(bytes, now: current)
                return 0
            case .capped: return state.bucket.consume(bytes, now: current)
            }
        }
    }

    /// How long a sender at `priority` must wait before it may start (the debt of earlier
    /// sends), without charging anything.
    func delay(priority: Priority) -> Double {
        let current = now()
        return state.withLockedValue { state in
            Self.refreshRate(&state, now: current)
            if priority == .stat && state.schedule.stat != .capped { return 0 }
            return state.bucket.delay(now: current)
        }
    }

    private static func refreshRate(_ state: inout State, now: EpochSeconds) {
        guard now >= state.rateValidUntil || now < state.rateValidUntil - 2 else { return }
        let limit = state.schedule.limit(at: state.clock.local(now))
        if limit != state.bucket.rate { state.bucket.setRate(limit, now: now) }
        state.rateValidUntil = now.rounded(.down) + 1
    }
}

/// One worker's view of the caps that apply to it (its destination's and the global one), and
/// the priority of what it is sending now. `onWire` runs on the DCMTK sender thread between
/// PDUs and may block: that is where the rate is made smooth (DESIGN §5).
final class WorkerPacer: Sendable {
    private let limiters: [BandwidthLimiter]
    private let priority = NIOLockedValueBox(Priority.routine)
    /// Called with every progress report (the heartbeat of a long send).
    private let onProgress: @Sendable () -> Void
    /// Longest single pause: a longer debt is slept off in slices so the thread notices
    /// shutdown and the remote sees data at least this often.
    static let maximumPause = 1.0

    init(limiters: [BandwidthLimiter], onProgress: @escaping @Sendable () -> Void = {}) {
        self.limiters = limiters
        self.onProgress = onProgress
    }

    /// True when no cap applies (then no pacing work is done at all).
    var isUnlimited: Bool { limiters.allSatisfy(\.isUnlimited) }

    /// The object about to go on the wire has `priority`.
    func begin(priority newPriority: Priority) { priority.withLockedValue { $0 = newPriority } }

    /// `bytes` were just written (DCMTK's progress callback, on the sender thread): charge them
    /// and block until the caps allow more.
    func onWire(_ bytes: Int) {
        onProgress()
        let wait = charge(bytes)
        if wait > 0 { Thread.sleep(forTimeInterval: min(wait, Self.maximumPause)) }
    }

    /// `onWire` for async transports (STOW-RS body chunks): the pause is a task sleep.
    func onWireAsync(_ bytes: Int, clock: some Clock<Duration> = ContinuousClock()) async {
        onProgress()
        let wait = charge(bytes)
        if wait > 0 { try? await clock.sleep(for: .milliseconds(Int64(min(wait, Self.maximumPause) * 1000) + 1)) }
    }

    /// Charges `bytes` after the fact (transports that cannot report progress): the next start
    /// waits for the debt.
    @discardableResult
    func charge(_ bytes: Int) -> Double {
        guard bytes > 0 else { return 0 }
        let current = priority.withLockedValue { $0 }
        var wait = 0.0
        for limiter in limiters { wait = max(wait, limiter.charge(bytes, priority: current)) }
        return wait
    }

    /// Waits until every cap has paid off its debt for a send at `priority`, so a new object
    /// never starts deep in debt (and a STAT object that borrows never waits at all).
    func waitForCredit(priority: Priority, clock: some Clock<Duration> = ContinuousClock()) async {
        while !Task.isCancelled {
            let wait = limiters.map { $0.delay(priority: priority) }.max() ?? 0
            guard wait > 0 else { return }
            onProgress()  // waiting for credit on purpose is not a stuck loop (watchdog)
            try? await clock.sleep(for: .milliseconds(Int64(min(wait, Self.maximumPause) * 1000) + 1))
        }
    }
}
