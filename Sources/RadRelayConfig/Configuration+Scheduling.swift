import RadRelayCore

extension Configuration.Destination {
    /// `destinations[].circuit`: when the destination counts as down and how often it is probed
    /// (issue 4). The probe backoff uses the destination's `retry` delays.
    public struct Circuit: Sendable, Equatable {
        /// Consecutive destination-level failures that open the circuit.
        public var failures: Int
        /// Longest wait between probes while down.
        public var maxProbeInterval: Double

        public init(failures: Int = 3, maxProbeInterval: Double = 60) {
            self.failures = failures
            self.maxProbeInterval = maxProbeInterval
        }
    }

    /// The circuit breaker's policy for this destination.
    public var circuitPolicy: CircuitPolicy {
        CircuitPolicy(failureThreshold: circuit.failures, retry: retry, maxProbeInterval: circuit.maxProbeInterval)
    }

    /// The scheduler's aging for this destination.
    public var aging: PriorityAging { PriorityAging(step: priorityAging) }
}
