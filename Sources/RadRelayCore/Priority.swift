/// Forwarding priority of an object. Stored as its raw value; a higher value is sent first.
/// DIMSE's own priority field is almost always MEDIUM in practice (FIELD-NOTES), so priority is
/// assigned by routing rules and enforced by the order in which workers claim deliveries.
public enum Priority: Int, Sendable, Comparable, CaseIterable, Codable, CustomStringConvertible {
    case low = 0
    case routine = 1
    case high = 2
    case stat = 3

    public static func < (lhs: Priority, rhs: Priority) -> Bool { lhs.rawValue < rhs.rawValue }

    public var description: String {
        switch self {
        case .low: return "low"
        case .routine: return "routine"
        case .high: return "high"
        case .stat: return "stat"
        }
    }

    /// Parses the config spelling (`stat`, `high`, `routine`, `low`), case-insensitively.
    public init?(name: String) {
        guard let match = Priority.allCases.first(where: { $0.description == name.lowercased() }) else { return nil }
        self = match
    }
}
