/// What to do with a delivery after an attempt: the pure decision, applied by the forwarder.
public enum DeliveryDisposition: Sendable, Equatable {
    case delivered(status: DIMSEStatus)
    /// Try again no earlier than `notBefore`.
    case deferred(notBefore: EpochSeconds, failure: FailureClass, detail: String)
    case dead(failure: FailureClass, detail: String)
}


/// Retry policy per failure class (DESIGN §4).
///
/// Backoff after the n-th consecutive failed attempt (n ≥ 1), before jitter:
/// `delay(n) = min(maxDelay, baseDelay × 2^(n−1))`, then multiplied by a jitter factor drawn
/// from `[1 − jitter, 1]` so a fleet of deferred deliveries does not retry in lock-step.
/// With the defaults (base 5 s, max 300 s, jitter 0.2):
///
/// | attempt | 1 | 2 | 3 | 4 | 5 | 6 | 7 | 8+ |
/// |---------|---|---|---|---|---|---|---|----|
/// | delay s | 5 | 10 | 20 | 40 | 80 | 160 | 300 | 300 |
///
/// The exponent is clamped before it is converted, so attempt 10 000 cannot overflow.
public struct RetryPolicy: Sendable, Equatable {
    public var baseDelay: Double
    public var maxDelay: Double
    /// Fraction of the delay that jitter may remove (0 = none).
    public var jitter: Double
    /// Object-level failures that are not fatal at once are dead after this many attempts.
    public var maxObjectAttempts: Int

    public init(baseDelay: Double = 5, maxDelay: Double = 300, jitter: Double = 0.2, maxObjectAttempts: Int = 3) {
        self.baseDelay = baseDelay
        self.maxDelay = maxDelay
        self.jitter = jitter
        self.maxObjectAttempts = maxObjectAttempts
    }

    /// The delay before the next attempt after `attempt` consecutive failures, with `unitRandom`
    /// in [0, 1) choosing the jitter (pass a fixed value in tests).
    public func backoff(afterAttempt attempt: Int, unitRandom: Double) -> Double {
        let exponent = Double(min(max(attempt, 1) - 1, 30))
        let raw = min(maxDelay, baseDelay * pow2(exponent))
        let factor = 1 - jitter * min(max(unitRandom, 0), 1)
        return raw * factor
    }

    /// Decides the fate of a delivery after `attempt` attempts (this one included) ended in
    /// `outcome` at `now`.
    public func disposition(
        for outcome: SendOutcome,
        attempt: Int,
        now: EpochSeconds,
        unitRandom: Double
    ) -> DeliveryDisposition {
        switch outcome {
        case .delivered(let status):
            return .delivered(status: status)
        case .failed(let failure, _, let detail):
            if failure.isDestinationLevel {
                return .deferred(
                    notBefore: now + backoff(afterAttempt: attempt, unitRandom: unitRandom),
                    failure: failure,
                    detail: detail
                )
            }
            switch failure {
            case .dataSetMismatch, .sopClassNotSupported, .transferSyntaxNotSupported, .spoolMissing, .expired:
                return .dead(failure: failure, detail: detail)
            default:
                if attempt >= maxObjectAttempts { return .dead(failure: failure, detail: detail) }
                return .deferred(
                    notBefore: now + backoff(afterAttempt: attempt, unitRandom: unitRandom),
                    failure: failure,
                    detail: detail
                )
            }
        }
    }

    private func pow2(_ exponent: Double) -> Double {
        var result = 1.0
        var remaining = Int(exponent)
        while remaining > 0 { result *= 2; remaining -= 1 }
        return result
    }
}
