/// Where one delivery (one instance × one destination) stands. Stored as `rawValue`; the schema
/// `CHECK`s the same six names.
public enum DeliveryState: String, Sendable, CaseIterable, Codable, CustomStringConvertible {
    /// Waiting to be claimed.
    case queued
    /// Claimed by a worker until its lease ends.
    case active
    /// Waiting for `next_attempt_at` after a failed attempt.
    case deferred
    /// Put aside by an operator; not claimed until released.
    case held
    /// The remote confirmed it (success or warning status).
    case delivered
    /// Given up on; kept with its file for an operator to inspect or retry.
    case dead

    /// Not finished yet: queued, active, deferred or held.
    public var isPending: Bool {
        switch self {
        case .queued, .active, .deferred, .held: return true
        case .delivered, .dead: return false
        }
    }

    /// The pending states, in the order status shows them.
    public static let pendingStates: [DeliveryState] = [.queued, .active, .deferred, .held]

    /// The stored spelling.
    public var description: String { rawValue }
}
