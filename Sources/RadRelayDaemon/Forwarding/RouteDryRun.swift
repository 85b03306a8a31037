import Foundation
import RadRelayConfig
import RadRelayCore
import RadRelayDIMSE

/// `radrelayctl route --dry-run --config PATH FILE.dcm` (issue 4): reads one file the way ingest
/// does (the same parse, the same attributes), evaluates the configured routes as if the file
/// had arrived with the given association facts and time, and explains which rule matched and
/// why. Works without a daemon and changes nothing.
public enum RouteDryRun {
    /// The association facts the file is assumed to have arrived with.
    public struct Arrival: Sendable, Equatable {
        /// Default: the first allowed caller's AE title, else `ANY`.
        public var callingAE: String?
        /// Default: `gateway.ae_title`.
        public var calledAE: String?
        /// Default: 127.0.0.1.
        public var sourceIP: String?
        /// Default: now.
        public var at: Date?
        /// The C-STORE's DIMSE priority: 0 medium (default), 1 high, 2 low.
        public var dimsePriority: UInt16?

        public init(
            callingAE: String? = nil, calledAE: String? = nil, sourceIP: String? = nil, at: Date? = nil,
            dimsePriority: UInt16? = nil
        ) {
            self.callingAE = callingAE
            self.calledAE = calledAE
            self.sourceIP = sourceIP
            self.at = at
            self.dimsePriority = dimsePriority
        }
    }

    /// The dry run's findings, also printed as JSON with `--json`.
    public struct Report: Sendable, Codable, Equatable {
        public struct Criterion: Sendable, Codable, Equatable {
            public var criterion: String
            public var test: String
            public var passed: Bool
            public var object: String
        }

        public struct Rule: Sendable, Codable, Equatable {
            public var position: Int
            public var name: String
            /// `matched`, `no match`, `not evaluated` (after a stop rule, or an unneeded fallback).
            public var verdict: String
            public var fallback: Bool
            public var stop: Bool
            public var criteria: [Criterion]
        }

        public struct Destination: Sendable, Codable, Equatable {
            public var name: String
            public var priority: String
            public var holdUntilStable: Bool
            /// Route-level normalization profiles (after the source's).
            public var normalization: [String]
        }

        public var file: String
        public var callingAE: String
        public var calledAE: String
        public var sourceIP: String
        /// The arrival time in the site's time zone (ISO 8601) and the zone's name.
        public var localTime: String
        public var timeZone: String
        public var rules: [Rule]
        public var prioritySignal: String?
        public var destinations: [Destination]
        /// Set when no rule routes the object: what the gateway would answer.
        public var refusal: String?
    }

    /// Inspects `file` and explains the routing decision under `configuration`.
    public static func run(configuration: Configuration, file: String, arrival: Arrival = Arrival()) throws -> Report {
        try DCMTKRuntime.initialize()
        let router = configuration.router
        let (object, attributes) = try DICOMFileInspector.inspect(path: file, attributes: Array(router.requiredTags))
        let callingAE = try AETitle(
            arrival.callingAE ?? configuration.gateway.allowedCallers.first?.aeTitle.value ?? "ANY")
        let calledAE = try AETitle(arrival.calledAE ?? configuration.gateway.aeTitle.value)
        let sourceIP = arrival.sourceIP ?? "127.0.0.1"
        let at = (arrival.at ?? Date()).timeIntervalSince1970
        let facts = ObjectFacts(
            callingAE: callingAE, calledAE: calledAE, sourceIP: sourceIP, modality: object.modality,
            sopClassUID: object.sopClassUID, attributes: attributes, dimsePriority: arrival.dimsePriority,
            receivedAt: at)
        let explanation = router.explain(facts)
        let rulesByName = Dictionary(router.rules.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        let positions = Dictionary(router.rules.enumerated().map { ($1.name, $0 + 1) }, uniquingKeysWith: { a, _ in a })
        let rules = explanation.rules.map { verdict in
            Report.Rule(
                position: positions[verdict.rule] ?? 0,
                name: verdict.rule,
                verdict: verdict.matched ? "matched" : verdict.evaluated ? "no match" : "not evaluated",
                fallback: verdict.fallback,
                stop: rulesByName[verdict.rule]?.stop ?? true,
                criteria: verdict.outcomes.map {
                    Report.Criterion(criterion: $0.criterion, test: $0.test, passed: $0.passed, object: $0.observed)
                })
        }.sorted { $0.position < $1.position }
        let decision = explanation.decision
        let formatter = ISO8601DateFormatter()
        formatter.timeZone = configuration.gateway.timeZone
        return Report(
            file: file,
            callingAE: callingAE.value,
            calledAE: calledAE.value,
            sourceIP: sourceIP,
            localTime: formatter.string(from: Date(timeIntervalSince1970: at)) + " (\(router.clock.local(at).weekday))",
            timeZone: configuration.gateway.timeZone.identifier,
            rules: rules,
            prioritySignal: explanation.signal.map { "\($0.source) raises to \($0.priority)" },
            destinations: decision.destinations.keys.sorted().map {
                Report.Destination(
                    name: $0, priority: decision.destinations[$0]!.description,
                    holdUntilStable: decision.heldUntilStable.contains($0),
                    normalization: decision.normalization[$0] ?? [])
            },
            refusal: decision.isUnrouted
                ? "no route matches: the gateway refuses the object with \(DIMSEStatus.notAuthorized) (Refused: Not Authorized)"
                : nil
        )
    }

    /// The report as text for a terminal.
    public static func text(_ report: Report) -> String {
        var lines = [
            "file \(report.file)",
            "as if sent by \(report.callingAE) to \(report.calledAE) from \(report.sourceIP) at \(report.localTime) "
                + "\(report.timeZone)",
        ]
        for rule in report.rules {
            var flags: [String] = []
            if rule.fallback { flags.append("fallback") }
            if rule.verdict == "matched" { flags.append(rule.stop ? "stop" : "continue") }
            let suffix = flags.isEmpty ? "" : " (\(flags.joined(separator: ", ")))"
            lines.append("rule \(rule.position) \(rule.name): \(rule.verdict)\(suffix)")
            if rule.criteria.isEmpty && rule.verdict != "not evaluated" {
                lines.append("    (no criteria: matches every object)")
            }
            for criterion in rule.criteria {
                lines.append(
                    "    \(criterion.passed ? "yes" : "no ") \(criterion.criterion) \(criterion.test) (object: \(criterion.object))"
                )
            }
        }
        if let signal = report.prioritySignal { lines.append("priority signal: \(signal)") }
        if let refusal = report.refusal {
            lines.append("result: \(refusal)")
        } else {
            let targets = report.destinations.map {
                "\($0.name) at \($0.priority)" + ($0.holdUntilStable ? " (held until the study is stable)" : "")
                    + ($0.normalization.isEmpty ? "" : " with profiles \($0.normalization.joined(separator: ", "))")
            }
            lines.append("result: " + targets.joined(separator: ", "))
        }
        return lines.joined(separator: "\n")
    }
}
