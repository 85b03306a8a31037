/// In-memory health of one destination as its workers see it: after a destination-level
/// failure no worker of that destination starts another attempt until the backoff has passed,
/// so an unreachable destination costs one connection attempt per backoff step, not one per
/// queued object (DESIGN §5: "no hot retry loops").
///
/// Superseded by `CircuitBreaker` (issue 4), which the forwarder uses and persists in
/// `destination_health`. No source uses this type any more; only one test
/// (`STOWJudgementTests.testRetryAfterForms`) still does. Delete this file together with those
/// lines of that test.
public struct DestinationGate: Sendable, Equatable {
    public private(set) var consecutiveFailures: Int = 0
    public private(set) var closedUntil: EpochSeconds?
    public private(set) var lastFailure: FailureClass?

    public init() {}

    /// True when a worker may start an attempt at `now`.
    public func isOpen(at now: EpochSeconds) -> Bool {
        guard let closedUntil else { return true }
        return now >= closedUntil
    }

    /// Keeps the gate closed until at least `time` (a remote's `Retry-After`, issue 5).
    public mutating func holdClosed(until time: EpochSeconds) {
        closedUntil = max(closedUntil ?? time, time)
    }

    /// Records the outcome of an attempt. Object-level failures say nothing about the
    /// destination's health and leave the gate as it is.
    public mutating func record(_ outcome: SendOutcome, now: EpochSeconds, policy: RetryPolicy, unitRandom: Double) {
        switch outcome {
        case .delivered:
            consecutiveFailures = 0
            closedUntil = nil
            lastFailure = nil
        case .failed(let failure, _, _) where failure.isDestinationLevel:
            consecutiveFailures += 1
            lastFailure = failure
            closedUntil = now + policy.backoff(afterAttempt: consecutiveFailures, unitRandom: unitRandom)
        case .failed:
            consecutiveFailures = 0
            closedUntil = nil
        }
    }
}

// MARK: - Retry-After

extension DestinationGate {
    /// `record(_:now:policy:unitRandom:)`, then keeps the gate closed at least until
    /// `notBefore` after a destination-level failure (`Retry-After`).
    public mutating func record(
        _ outcome: SendOutcome,
        now: EpochSeconds,
        policy: RetryPolicy,
        unitRandom: Double,
        notBefore: EpochSeconds?
    ) {
        record(outcome, now: now, policy: policy, unitRandom: unitRandom)
        guard let notBefore, let closedUntil, closedUntil < notBefore else { return }
        holdClosed(until: notBefore)
    }
}
