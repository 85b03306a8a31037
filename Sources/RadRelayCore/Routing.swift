/// What routing may look at for one received object. Filled at ingest from the association and
/// the validated dataset; the router never touches files or sockets.
public struct ObjectFacts: Sendable, Equatable {
    public var callingAE: AETitle
    public var calledAE: AETitle
    /// The peer's address as text (IPv4 dotted or IPv6), without port.
    public var sourceIP: String
    public var modality: String?
    public var sopClassUID: DICOMUID

    public init(callingAE: AETitle, calledAE: AETitle, sourceIP: String, modality: String?, sopClassUID: DICOMUID) {
        self.callingAE = callingAE
        self.calledAE = calledAE
        self.sourceIP = sourceIP
        self.modality = modality
        self.sopClassUID = sopClassUID
    }
}

/// One `routes:` entry: when it matches, the object is queued for `destinations` at `priority`.
/// An empty match matches everything. Criteria within one rule are AND-ed; values within one
/// criterion are OR-ed.
public struct RouteRule: Sendable, Equatable {
    public var name: String
    public var callingAE: [AETitle]
    public var calledAE: [AETitle]
    public var modality: [String]
    public var destinations: [String]
    public var priority: Priority
    /// Stop evaluating further rules when this one matched.
    public var stop: Bool

    public init(
        name: String,
        callingAE: [AETitle] = [],
        calledAE: [AETitle] = [],
        modality: [String] = [],
        destinations: [String],
        priority: Priority = .routine,
        stop: Bool = true
    ) {
        self.name = name
        self.callingAE = callingAE
        self.calledAE = calledAE
        self.modality = modality
        self.destinations = destinations
        self.priority = priority
        self.stop = stop
    }

    public func matches(_ facts: ObjectFacts) -> Bool {
        if !callingAE.isEmpty && !callingAE.contains(facts.callingAE) { return false }
        if !calledAE.isEmpty && !calledAE.contains(facts.calledAE) { return false }
        if !modality.isEmpty {
            guard let value = facts.modality, modality.contains(where: { $0.uppercased() == value.uppercased() }) else {
                return false
            }
        }
        return true
    }
}

/// The routing decision for one object: each destination with the highest priority any matching
/// rule gave it, and the names of the rules that matched (for logs and dry runs).
public struct RoutingDecision: Sendable, Equatable {
    public var destinations: [String: Priority]
    public var matchedRules: [String]

    public init(destinations: [String: Priority] = [:], matchedRules: [String] = []) {
        self.destinations = destinations
        self.matchedRules = matchedRules
    }
}

/// Ordered routing rules as a pure function of the object's facts (DESIGN §2, "Route").
public struct Router: Sendable, Equatable {
    public var rules: [RouteRule]

    public init(rules: [RouteRule]) { self.rules = rules }

    public func route(_ facts: ObjectFacts) -> RoutingDecision {
        var decision = RoutingDecision()
        for rule in rules where rule.matches(facts) {
            decision.matchedRules.append(rule.name)
            for destination in rule.destinations {
                decision.destinations[destination] = max(decision.destinations[destination] ?? rule.priority, rule.priority)
            }
            if rule.stop { break }
        }
        return decision
    }
}
