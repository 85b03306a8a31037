import NIOConcurrencyHelpers

/// Counts live associations, globally and per calling AE, across all event loops.
final class AssociationLimiter: Sendable {
    private struct Counts {
        var total = 0
        var perCaller: [String: Int] = [:]
    }

    private let counts = NIOLockedValueBox(Counts())

    /// Takes a slot unless either limit is reached.
    func acquire(caller: String, callerLimit: Int?, globalLimit: Int) -> Bool {
        counts.withLockedValue { counts in
            let current = counts.perCaller[caller, default: 0]
            guard counts.total < globalLimit else { return false }
            if let callerLimit, current >= callerLimit { return false }
            counts.total += 1
            counts.perCaller[caller] = current + 1
            return true
        }
    }

    func release(caller: String) {
        counts.withLockedValue { counts in
            counts.total -= 1
            let remaining = counts.perCaller[caller, default: 1] - 1
            counts.perCaller[caller] = remaining > 0 ? remaining : nil
        }
    }

    var active: Int { counts.withLockedValue { $0.total } }
}
