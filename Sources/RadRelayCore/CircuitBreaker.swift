/// When a destination counts as down and how often it is probed (`destinations[].circuit`).
public struct CircuitPolicy: Sendable, Equatable {
    /// Consecutive destination-level failures that open the circuit.
    public var failureThreshold: Int
    /// Backoff between probes: `retry.backoff(afterAttempt: failures)`, capped at
    /// `maxProbeInterval`, so a remote that comes back is noticed within that time.
    public var retry: RetryPolicy
    public var maxProbeInterval: Double

    public init(failureThreshold: Int = 3, retry: RetryPolicy = RetryPolicy(), maxProbeInterval: Double = 60) {
        self.failureThreshold = failureThreshold
        self.retry = retry
        self.maxProbeInterval = maxProbeInterval
    }

    /// The wait before the next probe after `failures` consecutive failures.
    ///
    /// With the default retry policy (5 s base, doubling) and a 60 s cap, before jitter:
    ///
    /// | failures | 3 | 4 | 5 | 6+ |
    /// |----------|---|---|---|----|
    /// | probe in | 20 s | 40 s | 60 s | 60 s |
    public func probeDelay(afterFailures failures: Int, unitRandom: Double) -> Double {
        min(maxProbeInterval, retry.backoff(afterAttempt: failures, unitRandom: unitRandom))
    }
}

/// The health of one destination as a circuit breaker (DESIGN §1.4, §5), a value type whose
/// events return actions (CONVENTIONS §3); the forwarder performs them (persist, log, wake).
///
/// ```
///            dest-level failure (< threshold)        dest-level failure (= threshold)
///   up ───────────────────────────────▶ degraded ─────────────────────────────▶ down(until)
///    ▲ ◀──── success / object-level ────────┘                                     │ permit at ≥ until
///    │                                                                            ▼
///    └──── delivered ──── recovering ◀──── probe succeeded ──────────────── probing
///                             │                                                   │ probe failed
///                             └── dest-level failure ──▶ down(until, longer) ◀────┘
/// ```
///
/// While down no worker connects: `permit` answers `.wait` until the backoff has passed, then
/// exactly one caller gets `.probe` (a C-ECHO or HTTP probe that sends no object). Deliveries are
/// never dead-lettered for destination-level reasons; they simply wait. A success of any kind
/// (a delivery, an object-level failure, which proves the remote answered) closes the circuit.
/// Events that arrive "late" (a send that was in flight while the circuit opened, a probe result
/// after a send already proved the remote up) are valid and handled; nothing here is impossible.
public struct CircuitBreaker: Sendable, Equatable {
    public enum State: Sendable, Equatable {
        /// Healthy.
        case up
        /// Some consecutive destination-level failures, fewer than the threshold.
        case degraded(failures: Int)
        /// Open: no attempts before `until`.
        case down(until: EpochSeconds, failures: Int)
        /// Open, one probe in flight.
        case probing(failures: Int)
        /// A probe succeeded; sends are allowed and the first one decides.
        case recovering(failures: Int)
    }

    /// What a worker may do now.
    public enum Permit: Sendable, Equatable {
        /// Claim and send.
        case send
        /// Run one probe now, then report it with `probeFinished`.
        case probe
        /// Do nothing until `until` (nil: until another worker's probe ends and wakes you).
        case wait(until: EpochSeconds?)
    }

    /// What the caller must do after an event.
    public enum Action: Sendable, Equatable {
        case none
        /// The circuit opened: alert ("destination down"), persist.
        case wentDown(until: EpochSeconds, failure: FailureClass)
        /// A probe failed: persist the new `until`.
        case stayedDown(until: EpochSeconds)
        /// The remote answered again: log it, persist, make deferred work due, wake workers.
        case cameUp
        /// Back to fully healthy from degraded or recovering: persist.
        case healthy
    }

    public private(set) var state: State
    /// When the destination last came back after being down (nil if it was not down since
    /// start): work queued before then is backlog, work queued since is fresh.
    public private(set) var upSince: EpochSeconds?
    /// The last destination-level failure.
    public private(set) var lastFailure: FailureClass?

    public init(state: State = .up, upSince: EpochSeconds? = nil, lastFailure: FailureClass? = nil) {
        self.state = state
        self.upSince = upSince
        self.lastFailure = lastFailure
    }

    // MARK: - Persisted form

    /// `up`, `degraded` or `down`, as `destination_health.state` and status show it.
    public var healthName: String {
        switch state {
        case .up: return "up"
        case .degraded, .recovering: return "degraded"
        case .down, .probing: return "down"
        }
    }

    /// Until when no attempt is made, while down.
    public var downUntil: EpochSeconds? {
        if case .down(let until, _) = state { return until }
        return nil
    }

    public var consecutiveFailures: Int {
        switch state {
        case .up: return 0
        case .degraded(let n), .down(_, let n), .probing(let n), .recovering(let n): return n
        }
    }

    /// Restores the state saved in `destination_health` at start-up. A probe that was in flight
    /// when the daemon stopped is simply due again.
    public init(restoring name: String, downUntil: EpochSeconds?, failures: Int) {
        let failures = max(failures, 0)
        switch name {
        case "down": self.init(state: .down(until: downUntil ?? 0, failures: max(failures, 1)))
        case "degraded" where failures > 0: self.init(state: .degraded(failures: failures))
        default: self.init(state: .up)
        }
    }

    // MARK: - Events

    /// A worker asks whether it may send at `now`. While down and due, the first caller gets
    /// `.probe` (the state becomes probing) and everyone else waits for it.
    public mutating func permit(at now: EpochSeconds) -> Permit {
        switch state {
        case .up, .degraded, .recovering:
            return .send
        case .down(let until, let failures):
            guard now >= until else { return .wait(until: until) }
            state = .probing(failures: failures)
            return .probe
        case .probing:
            return .wait(until: nil)
        }
    }

    /// A send ended with `outcome`. `notBefore` is a time the remote asked us not to come back
    /// before (HTTP `Retry-After`), if any.
    public mutating func sendFinished(
        _ outcome: SendOutcome,
        now: EpochSeconds,
        policy: CircuitPolicy,
        unitRandom: Double,
        notBefore: EpochSeconds? = nil
    ) -> Action {
        if case .failed(let failure, _, _) = outcome, Self.isLocal(failure) {
            // Nothing reached the remote: no news about its health.
            return .none
        }
        guard case .failed(let failure, _, _) = outcome, failure.isDestinationLevel else {
            return answered(now: now)
        }
        lastFailure = failure
        switch state {
        case .up, .degraded, .recovering:
            let failures = consecutiveFailures + 1
            // A failure right after a successful probe re-opens at once (half-open), and a remote
            // that names a time to come back (Retry-After) is taken at its word.
            let recovering = if case .recovering = state { true } else { false }
            let open = recovering || failures >= policy.failureThreshold || notBefore != nil
            guard open else {
                state = .degraded(failures: failures)
                return .none
            }
            let until = max(now + policy.probeDelay(afterFailures: failures, unitRandom: unitRandom), notBefore ?? now)
            state = .down(until: until, failures: failures)
            return .wentDown(until: until, failure: failure)
        case .down(let until, let failures):
            // A send that was already on the wire when the circuit opened.
            guard let notBefore, notBefore > until else { return .none }
            state = .down(until: notBefore, failures: failures)
            return .stayedDown(until: notBefore)
        case .probing:
            // The probe in flight decides.
            return .none
        }
    }

    /// The probe granted by `permit` ended with `outcome`.
    public mutating func probeFinished(
        _ outcome: SendOutcome,
        now: EpochSeconds,
        policy: CircuitPolicy,
        unitRandom: Double,
        notBefore: EpochSeconds? = nil
    ) -> Action {
        guard case .probing(let failures) = state else {
            // A send proved the destination's health while the probe was in flight.
            return .none
        }
        guard case .failed(let failure, _, _) = outcome, failure.isDestinationLevel else {
            // Success, or an object-level answer (e.g. no Verification context): it answered.
            state = .recovering(failures: failures)
            upSince = now
            return .cameUp
        }
        lastFailure = failure
        let next = failures + 1
        let until = max(now + policy.probeDelay(afterFailures: next, unitRandom: unitRandom), notBefore ?? now)
        state = .down(until: until, failures: next)
        return .stayedDown(until: until)
    }

    /// Failures decided inside radrelay, before or without the remote's answer.
    static func isLocal(_ failure: FailureClass) -> Bool {
        failure == .localError || failure == .spoolMissing || failure == .expired
    }

    /// The remote answered a send (success or an object-level status).
    private mutating func answered(now: EpochSeconds) -> Action {
        switch state {
        case .up:
            return .none
        case .degraded, .recovering:
            state = .up
            return .healthy
        case .down, .probing:
            state = .up
            upSince = now
            return .cameUp
        }
    }
}
