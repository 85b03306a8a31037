/// Which side of an outage a piece of work is on. After a destination comes back, everything
/// queued while it was down (and every deferred retry) is *backlog*; what arrives from then on is
/// *fresh*. Workers alternate between the two at equal priority, so a backlog after an outage
/// never delays new studies (and new studies never starve the backlog).
public enum WorkLane: String, Sendable, Equatable, CaseIterable {
    case fresh
    case backlog

    public var other: WorkLane { self == .fresh ? .backlog : .fresh }
}

/// Bounded aging, so routine work is never starved forever: a delivery gains one priority level
/// per `step` seconds of waiting, up to `ceiling` (HIGH), never reaching STAT. So STAT always
/// goes first, and a routine object that has waited `2 × step` competes with HIGH work by age.
///
/// | waited (step 15 min) | 0–15 min | 15–30 min | ≥ 30 min |
/// |----------------------|----------|-----------|----------|
/// | LOW                  | low      | routine   | high     |
/// | ROUTINE              | routine  | high      | high     |
/// | HIGH / STAT          | unchanged                       |
public struct PriorityAging: Sendable, Equatable {
    /// Seconds of waiting per level; 0 turns aging off.
    public var step: Double
    /// The highest priority aging can reach.
    public var ceiling: Priority

    public init(step: Double = 900, ceiling: Priority = .high) {
        self.step = step
        self.ceiling = ceiling
    }

    public static let off = PriorityAging(step: 0)

    /// The priority a delivery of `base` priority competes with after waiting `waited` seconds.
    public func effectivePriority(_ base: Priority, waited: Double) -> Priority {
        guard step > 0, base < ceiling, waited > 0 else { return base }
        // Clamp before converting: an absurd wait must not overflow Int.
        let levels = Int(min(waited / step, Double(Priority.allCases.count)))
        return Priority(rawValue: min(base.rawValue + levels, ceiling.rawValue)) ?? ceiling
    }
}

/// A due delivery as the scheduler compares it.
public struct ClaimCandidate: Sendable, Equatable {
    public var id: Int64
    public var priority: Priority
    public var queuedAt: EpochSeconds
    public var lane: WorkLane

    public init(id: Int64, priority: Priority, queuedAt: EpochSeconds, lane: WorkLane) {
        self.id = id
        self.priority = priority
        self.queuedAt = queuedAt
        self.lane = lane
    }
}

/// What one claim may take and in which order (the outbox finds the candidates, this decides).
///
/// Order: effective priority (base priority raised by `aging`) highest first; at equal effective
/// priority the preferred lane first; then oldest first; then lowest id.
public struct ClaimQuery: Sendable, Equatable {
    /// Only deliveries whose own (base) priority is at least this: `.high` for the worker
    /// reserved for STAT/HIGH, so it never carries an aged routine object either.
    public var minimumPriority: Priority
    public var preferredLane: WorkLane
    /// Queued work from this time on is fresh, older queued work is backlog; nil: all queued
    /// work is fresh (the destination has not been down).
    public var freshSince: EpochSeconds?
    public var aging: PriorityAging

    public init(
        minimumPriority: Priority = .low,
        preferredLane: WorkLane = .fresh,
        freshSince: EpochSeconds? = nil,
        aging: PriorityAging = PriorityAging()
    ) {
        self.minimumPriority = minimumPriority
        self.preferredLane = preferredLane
        self.freshSince = freshSince
        self.aging = aging
    }

    /// The lane of a *queued* delivery (deferred retries are always backlog).
    public func lane(ofQueuedAt queuedAt: EpochSeconds) -> WorkLane {
        guard let freshSince else { return .fresh }
        return queuedAt >= freshSince ? .fresh : .backlog
    }

    /// True when `a` goes before `b` at `now`.
    public func precedes(_ a: ClaimCandidate, _ b: ClaimCandidate, now: EpochSeconds) -> Bool {
        let pa = aging.effectivePriority(a.priority, waited: now - a.queuedAt)
        let pb = aging.effectivePriority(b.priority, waited: now - b.queuedAt)
        if pa != pb { return pa > pb }
        if a.lane != b.lane { return a.lane == preferredLane }
        if a.queuedAt != b.queuedAt { return a.queuedAt < b.queuedAt }
        return a.id < b.id
    }

    /// The candidate to claim, or nil when there is none (candidates below `minimumPriority`
    /// are ignored).
    public func best(of candidates: [ClaimCandidate], now: EpochSeconds) -> ClaimCandidate? {
        var best: ClaimCandidate?
        for candidate in candidates where candidate.priority >= minimumPriority {
            if best.map({ precedes(candidate, $0, now: now) }) ?? true { best = candidate }
        }
        return best
    }
}

/// One worker's claiming policy (DESIGN §5). On a destination with two or more workers the first
/// is reserved for STAT/HIGH, so a STAT object never waits behind a routine one on the wire; the
/// others take anything by (priority, age), so STAT also overtakes a draining backlog at the next
/// object boundary. Every worker alternates its preferred lane after each claim.
public struct WorkerSchedule: Sendable, Equatable {
    public enum Role: String, Sendable, Equatable {
        /// Takes only STAT and HIGH work.
        case reserved
        /// Takes anything.
        case general
    }

    public let role: Role
    public private(set) var preferredLane: WorkLane = .fresh

    public init(role: Role) { self.role = role }

    /// Roles of a destination's `workers` workers: one reserved when there are at least two.
    public static func roles(workers: Int) -> [Role] {
        guard workers >= 2 else { return Array(repeating: .general, count: max(workers, 0)) }
        return [.reserved] + Array(repeating: .general, count: workers - 1)
    }

    /// The lowest priority this worker takes.
    public var minimumPriority: Priority { role == .reserved ? .high : .low }

    /// The query for this worker's next claim.
    public func nextQuery(freshSince: EpochSeconds?, aging: PriorityAging) -> ClaimQuery {
        ClaimQuery(minimumPriority: minimumPriority, preferredLane: preferredLane, freshSince: freshSince, aging: aging)
    }

    /// Records a claim from `lane`: the next claim prefers the other lane.
    public mutating func claimed(from lane: WorkLane) {
        preferredLane = lane.other
    }
}
