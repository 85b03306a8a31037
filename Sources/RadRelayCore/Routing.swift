/// What routing may look at for one received object. Filled at ingest from the association, the
/// C-STORE command and the validated dataset; the router never touches files or sockets.
public struct ObjectFacts: Sendable, Equatable {
    public var callingAE: AETitle
    public var calledAE: AETitle
    /// The peer's address as text (IPv4 dotted or IPv6), without port.
    public var sourceIP: String
    public var modality: String?
    public var sopClassUID: DICOMUID
    /// Values of the attributes the router asked for (`Router.requiredTags`), split at `\`;
    /// an attribute missing from the dataset has no entry, an empty one maps to `[]`.
    public var attributes: [DICOMTag: [String]]
    /// The C-STORE-RQ's Priority (0000,0700): 0 medium, 1 high, 2 low (PS3.7 Table E.1-1).
    public var dimsePriority: UInt16?
    /// When the object arrived (UTC); time windows are evaluated at this instant.
    public var receivedAt: EpochSeconds

    public init(
        callingAE: AETitle,
        calledAE: AETitle,
        sourceIP: String,
        modality: String?,
        sopClassUID: DICOMUID,
        attributes: [DICOMTag: [String]] = [:],
        dimsePriority: UInt16? = nil,
        receivedAt: EpochSeconds = 0
    ) {
        self.callingAE = callingAE
        self.calledAE = calledAE
        self.sourceIP = sourceIP
        self.modality = modality
        self.sopClassUID = sopClassUID
        self.attributes = attributes
        self.dimsePriority = dimsePriority
        self.receivedAt = receivedAt
    }

    /// The values of `tag`: from `attributes`, else the facts ingest always has (Modality, SOP
    /// Class UID); nil when the attribute is missing.
    public func values(of tag: DICOMTag) -> [String]? {
        if let values = attributes[tag] { return values }
        switch tag {
        case .modality: return modality.map { [$0] }
        case .sopClassUID: return [sopClassUID.value]
        default: return nil
        }
    }
}

/// One attribute test of a rule: `StudyDescription: { wildcard: "*STAT*" }`.
public struct AttributeCriterion: Sendable, Equatable {
    public var tag: DICOMTag
    public var matcher: ValueMatcher

    public init(tag: DICOMTag, matcher: ValueMatcher) {
        self.tag = tag
        self.matcher = matcher
    }
}

/// The `match:` of a rule. Every criterion that is set must hold (AND); values within one
/// criterion are alternatives (OR). Nothing set matches every object.
public struct RouteMatch: Sendable, Equatable {
    /// The sender's calling AE title (compared exactly).
    public var callingAE: ValueMatcher?
    /// The called AE title the sender used (compared exactly).
    public var calledAE: ValueMatcher?
    /// The peer's address lies in one of these ranges.
    public var sourceIP: [AddressRange]?
    /// Dataset attributes, by tag (letter case ignored).
    public var attributes: [AttributeCriterion]
    /// The object arrived inside one of these windows (site's local time).
    public var time: [TimeWindow]?

    public init(
        callingAE: ValueMatcher? = nil,
        calledAE: ValueMatcher? = nil,
        sourceIP: [AddressRange]? = nil,
        attributes: [AttributeCriterion] = [],
        time: [TimeWindow]? = nil
    ) {
        self.callingAE = callingAE
        self.calledAE = calledAE
        self.sourceIP = sourceIP
        self.attributes = attributes
        self.time = time
    }

    /// True when nothing is tested.
    public var isEmpty: Bool {
        callingAE == nil && calledAE == nil && sourceIP == nil && attributes.isEmpty && time == nil
    }

    /// Each criterion with whether it holds and why, in a fixed order (calling AE, called AE,
    /// source IP, attributes as written, time).
    public func evaluate(_ facts: ObjectFacts, clock: SiteClock) -> [CriterionOutcome] {
        var outcomes: [CriterionOutcome] = []
        if let callingAE {
            outcomes.append(
                CriterionOutcome(
                    criterion: "calling_ae", test: callingAE.description,
                    passed: callingAE.matches([facts.callingAE.value]),
                    observed: facts.callingAE.value))
        }
        if let calledAE {
            outcomes.append(
                CriterionOutcome(
                    criterion: "called_ae", test: calledAE.description,
                    passed: calledAE.matches([facts.calledAE.value]),
                    observed: facts.calledAE.value))
        }
        if let sourceIP {
            outcomes.append(
                CriterionOutcome(
                    criterion: "source_ip", test: "in " + sourceIP.map(\.description).joined(separator: ", "),
                    passed: sourceIP.contains { $0.contains(facts.sourceIP) }, observed: facts.sourceIP))
        }
        for attribute in attributes {
            let values = facts.values(of: attribute.tag)
            outcomes.append(
                CriterionOutcome(
                    criterion: DICOMDictionary.name(of: attribute.tag), test: attribute.matcher.description,
                    passed: attribute.matcher.matches(values),
                    observed: values.map { $0.map { "'\($0)'" }.joined(separator: "\\") } ?? "(absent)"))
        }
        if let time {
            let local = clock.local(facts.receivedAt)
            outcomes.append(
                CriterionOutcome(
                    criterion: "time", test: time.map(\.description).joined(separator: " or "),
                    passed: time.contains { $0.contains(local) }, observed: "\(local) \(clock.timeZone.identifier)"))
        }
        return outcomes
    }

    /// True when every criterion holds. Stops at the first that does not.
    public func matches(_ facts: ObjectFacts, clock: SiteClock) -> Bool {
        if let callingAE, !callingAE.matches([facts.callingAE.value]) { return false }
        if let calledAE, !calledAE.matches([facts.calledAE.value]) { return false }
        if let sourceIP, !sourceIP.contains(where: { $0.contains(facts.sourceIP) }) { return false }
        for attribute in attributes where !attribute.matcher.matches(facts.values(of: attribute.tag)) { return false }
        if let time {
            let local = clock.local(facts.receivedAt)
            if !time.contains(where: { $0.contains(local) }) { return false }
        }
        return true
    }
}

/// One criterion's verdict, for `radrelayctl route --dry-run`.
public struct CriterionOutcome: Sendable, Equatable, CustomStringConvertible {
    /// `calling_ae`, `StudyDescription (0008,1030)`, `time`…
    public var criterion: String
    /// The test as configured: `one of [ED_CT]`, `wildcard '*STAT*'`…
    public var test: String
    public var passed: Bool
    /// What the object had.
    public var observed: String

    public var description: String { "\(criterion) \(test): \(passed ? "yes" : "no") (object: \(observed))" }
}

/// One `routes:` entry: when it matches, the object is queued for `destinations` at `priority`.
public struct RouteRule: Sendable, Equatable {
    public var name: String
    public var match: RouteMatch
    public var destinations: [String]
    public var priority: Priority
    /// Stop evaluating further rules when this one matched.
    public var stop: Bool
    /// Queue this rule's deliveries held until the study is stable (no new instance for the
    /// configured quiet time), for destinations that want whole studies.
    public var holdUntilStable: Bool
    /// The default route: evaluated only when no other rule matched, wherever it stands.
    public var fallback: Bool
    /// Normalization profiles applied, after the source's, to the copies this rule sends
    /// (`routes[].normalization`, issue 3's profiles).
    public var normalization: [String] = []

    public init(
        name: String,
        match: RouteMatch,
        destinations: [String],
        priority: Priority = .routine,
        stop: Bool = true,
        holdUntilStable: Bool = false,
        fallback: Bool = false
    ) {
        self.name = name
        self.match = match
        self.destinations = destinations
        self.priority = priority
        self.stop = stop
        self.holdUntilStable = holdUntilStable
        self.fallback = fallback
    }

    /// A rule on calling AE, called AE and Modality only (each empty list: any value).
    public init(
        name: String,
        callingAE: [AETitle] = [],
        calledAE: [AETitle] = [],
        modality: [String] = [],
        destinations: [String],
        priority: Priority = .routine,
        stop: Bool = true
    ) {
        var match = RouteMatch()
        if !callingAE.isEmpty { match.callingAE = ValueMatcher(.oneOf(callingAE.map(\.value)), ignoresCase: false) }
        if !calledAE.isEmpty { match.calledAE = ValueMatcher(.oneOf(calledAE.map(\.value)), ignoresCase: false) }
        if !modality.isEmpty {
            match.attributes = [AttributeCriterion(tag: .modality, matcher: ValueMatcher(.oneOf(modality)))]
        }
        self.init(name: name, match: match, destinations: destinations, priority: priority, stop: stop)
    }

    /// The Modality values an equals / one-of criterion lists (empty when there is none).
    public var modality: [String] {
        match.attributes.first { $0.tag == .modality }?.matcher.listedValues ?? []
    }

    /// Whether the object matches (time windows in `clock`'s zone).
    public func matches(_ facts: ObjectFacts, clock: SiteClock = .utc) -> Bool {
        match.matches(facts, clock: clock)
    }
}

/// How a destination was chosen for one object.
public struct RoutedDestination: Sendable, Equatable {
    public var priority: Priority
    public var holdUntilStable: Bool
}

/// The routing decision for one object: each destination with the highest priority any matching
/// rule (or a priority signal of the object) gave it, the destinations to hold until the study
/// is stable, and the names of the rules that matched (for logs and dry runs). No destination
/// means the object is unrouted and must be refused.
public struct RoutingDecision: Sendable, Equatable {
    public var destinations: [String: Priority]
    public var matchedRules: [String]
    /// Destinations whose deliveries wait until the study is stable.
    public var heldUntilStable: Set<String>
    /// Per destination, the route-level normalization profiles of the matching rules, in rule
    /// order without repeats; destinations without any are absent.
    public var normalization: [String: [String]] = [:]

    public init(destinations: [String: Priority] = [:], matchedRules: [String] = [], heldUntilStable: Set<String> = [])
    {
        self.destinations = destinations
        self.matchedRules = matchedRules
        self.heldUntilStable = heldUntilStable
    }

    /// True when no rule routed the object anywhere.
    public var isUnrouted: Bool { destinations.isEmpty }
}

/// Where priority comes from besides the rules (issue 4, "Priority"): Requested Procedure
/// Priority (0040,1003) when the object has it, and the DIMSE priority of the C-STORE only when
/// it is HIGH (senders almost always send MEDIUM). Signals only ever raise a rule's priority.
public struct PrioritySignals: Sendable, Equatable {
    /// Attributes whose value names a priority (STAT, HIGH, ROUTINE, MEDIUM, LOW).
    public var attributes: [DICOMTag]
    /// Treat a DIMSE priority of HIGH as `.high`.
    public var usesDIMSEPriority: Bool

    public init(attributes: [DICOMTag] = [.requestedProcedurePriority], usesDIMSEPriority: Bool = true) {
        self.attributes = attributes
        self.usesDIMSEPriority = usesDIMSEPriority
    }

    /// The highest priority the object's own signals name, and which signal named it.
    public func priority(of facts: ObjectFacts) -> (priority: Priority, source: String)? {
        var best: (priority: Priority, source: String)?
        for tag in attributes {
            for value in facts.values(of: tag) ?? [] {
                guard let named = Self.priority(named: value) else { continue }
                if best.map({ named > $0.priority }) ?? true { best = (named, DICOMDictionary.name(of: tag)) }
            }
        }
        if usesDIMSEPriority, facts.dimsePriority == 1, best.map({ Priority.high > $0.priority }) ?? true {
            best = (.high, "DIMSE priority HIGH")
        }
        return best
    }

    /// PS3.3 C.4.11 / C.4.10 defined terms for request priorities.
    static func priority(named value: String) -> Priority? {
        switch ValueMatcher.trimPadding(value).uppercased() {
        case "STAT": return .stat
        case "HIGH": return .high
        case "ROUTINE", "MEDIUM": return .routine
        case "LOW": return .low
        default: return nil
        }
    }
}

/// Why the router decided what it did: every rule's verdict in evaluation order.
public struct RoutingExplanation: Sendable, Equatable {
    public struct RuleVerdict: Sendable, Equatable {
        public var rule: String
        /// False for rules never evaluated (after a matching `stop` rule, or a fallback that
        /// was not needed).
        public var evaluated: Bool
        public var matched: Bool
        public var fallback: Bool
        public var outcomes: [CriterionOutcome]
    }

    public var rules: [RuleVerdict]
    /// The signal that raised priorities, if any.
    public var signal: (priority: Priority, source: String)?
    public var decision: RoutingDecision

    public static func == (lhs: RoutingExplanation, rhs: RoutingExplanation) -> Bool {
        lhs.rules == rhs.rules && lhs.decision == rhs.decision && lhs.signal?.priority == rhs.signal?.priority
            && lhs.signal?.source == rhs.signal?.source
    }
}

/// Ordered routing rules as a pure function of the object's facts (DESIGN §2, "Route").
///
/// Rules are evaluated in order; a matching rule queues the object for its destinations at its
/// priority and, with `stop`, ends evaluation. A destination chosen by several rules gets the
/// highest of their priorities and is held if any of them holds. Rules marked `fallback` are
/// evaluated only when no other rule matched. Finally the object's priority signals raise every
/// chosen destination's priority. An object no rule matches is unrouted: ingest refuses it.
public struct Router: Sendable, Equatable {
    public var rules: [RouteRule]
    /// The site's wall clock for time windows.
    public var clock: SiteClock
    public var signals: PrioritySignals

    public init(rules: [RouteRule], clock: SiteClock = .utc, signals: PrioritySignals = PrioritySignals()) {
        self.rules = rules
        self.clock = clock
        self.signals = signals
    }

    /// The attributes ingest must read from each dataset for these rules and signals.
    public var requiredTags: Set<DICOMTag> {
        var tags = Set(signals.attributes)
        for rule in rules { tags.formUnion(rule.match.attributes.map(\.tag)) }
        return tags
    }

    public func route(_ facts: ObjectFacts) -> RoutingDecision {
        evaluate(facts, explaining: false).decision
    }

    /// `route`, with every rule's verdict and each criterion's reason.
    public func explain(_ facts: ObjectFacts) -> RoutingExplanation {
        evaluate(facts, explaining: true)
    }

    private func evaluate(_ facts: ObjectFacts, explaining: Bool) -> RoutingExplanation {
        var decision = RoutingDecision()
        var verdicts: [RoutingExplanation.RuleVerdict] = []
        var stopped = false
        func apply(_ rule: RouteRule) {
            decision.matchedRules.append(rule.name)
            for destination in rule.destinations {
                decision.destinations[destination] = max(
                    decision.destinations[destination] ?? rule.priority, rule.priority)
                if rule.holdUntilStable { decision.heldUntilStable.insert(destination) }
                for profile in rule.normalization where !(decision.normalization[destination] ?? []).contains(profile) {
                    decision.normalization[destination, default: []].append(profile)
                }
            }
        }
        func verdict(_ rule: RouteRule, evaluated: Bool, matched: Bool) {
            guard explaining else { return }
            let outcomes = evaluated ? rule.match.evaluate(facts, clock: clock) : []
            verdicts.append(
                .init(
                    rule: rule.name, evaluated: evaluated, matched: matched, fallback: rule.fallback, outcomes: outcomes
                ))
        }
        for rule in rules where !rule.fallback {
            guard !stopped else {
                verdict(rule, evaluated: false, matched: false)
                continue
            }
            let matched = rule.match.matches(facts, clock: clock)
            verdict(rule, evaluated: true, matched: matched)
            guard matched else { continue }
            apply(rule)
            stopped = rule.stop
        }
        let needsFallback = decision.matchedRules.isEmpty
        var fallbackStopped = false
        for rule in rules where rule.fallback {
            guard needsFallback, !fallbackStopped else {
                verdict(rule, evaluated: false, matched: false)
                continue
            }
            let matched = rule.match.matches(facts, clock: clock)
            verdict(rule, evaluated: true, matched: matched)
            guard matched else { continue }
            apply(rule)
            fallbackStopped = rule.stop
        }
        let signal = decision.isUnrouted ? nil : signals.priority(of: facts)
        if let signal {
            for (destination, priority) in decision.destinations where priority < signal.priority {
                decision.destinations[destination] = signal.priority
            }
        }
        return RoutingExplanation(rules: verdicts, signal: signal, decision: decision)
    }
}

extension DIMSEStatus {
    /// Refused: Not Authorized (PS3.7 C.5.7): radrelay's answer to an object that no routing
    /// rule accepts. A failure status, so the sender does not retry it in a loop; the log says
    /// which object and why.
    public static let notAuthorized = DIMSEStatus(0x0124)
}
