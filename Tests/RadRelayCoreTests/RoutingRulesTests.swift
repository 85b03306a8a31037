import Foundation
import RadRelayCore
import XCTest

/// Issue 4's routing rules: every criterion, fallback routes, holds, priority signals and the
/// explanation `radrelayctl route --dry-run` prints.
final class RoutingRulesTests: XCTestCase {
    private let studyDescription = DICOMTag(0x0008, 0x1030)
    private let accession = DICOMTag(0x0008, 0x0050)

    private func facts(
        calling: String = "CT1",
        called: String = "GW",
        ip: String = "10.0.0.9",
        modality: String? = "CT",
        attributes: [DICOMTag: [String]] = [:],
        dimsePriority: UInt16? = 0,
        at time: EpochSeconds = 0
    ) throws -> ObjectFacts {
        ObjectFacts(
            callingAE: try AETitle(calling), calledAE: try AETitle(called), sourceIP: ip, modality: modality,
            sopClassUID: try DICOMUID("1.2.840.10008.5.1.4.1.1.2"), attributes: attributes,
            dimsePriority: dimsePriority, receivedAt: time)
    }

    private func rule(
        _ name: String,
        _ match: RouteMatch = RouteMatch(),
        to destinations: [String],
        priority: Priority = .routine,
        stop: Bool = true,
        hold: Bool = false,
        fallback: Bool = false
    ) -> RouteRule {
        RouteRule(
            name: name, match: match, destinations: destinations, priority: priority, stop: stop,
            holdUntilStable: hold, fallback: fallback)
    }

    func testSourceIPMatchesAddressesAndRanges() throws {
        let match = RouteMatch(sourceIP: [AddressRange("10.1.0.0/16")!, AddressRange("192.0.2.7")!])
        XCTAssertTrue(match.matches(try facts(ip: "10.1.200.3"), clock: .utc))
        XCTAssertTrue(match.matches(try facts(ip: "192.0.2.7"), clock: .utc))
        XCTAssertTrue(match.matches(try facts(ip: "::ffff:10.1.0.1"), clock: .utc), "IPv4-mapped IPv6")
        XCTAssertFalse(match.matches(try facts(ip: "10.2.0.1"), clock: .utc))
    }

    func testAttributeCriteriaReadTheObjectsValues() throws {
        let match = RouteMatch(attributes: [
            AttributeCriterion(tag: studyDescription, matcher: ValueMatcher(.wildcard(["*STROKE*"]))),
            AttributeCriterion(tag: accession, matcher: ValueMatcher(.present)),
        ])
        XCTAssertTrue(
            match.matches(
                try facts(attributes: [studyDescription: ["CT Code Stroke"], accession: ["A1"]]), clock: .utc))
        XCTAssertFalse(match.matches(try facts(attributes: [studyDescription: ["CT Code Stroke"]]), clock: .utc))
        XCTAssertFalse(
            match.matches(try facts(attributes: [studyDescription: ["CT HEAD"], accession: ["A1"]]), clock: .utc))
    }

    func testModalityAndSOPClassNeedNoAttributeRead() throws {
        let match = RouteMatch(attributes: [
            AttributeCriterion(tag: .modality, matcher: .equals("ct")),
            AttributeCriterion(tag: .sopClassUID, matcher: ValueMatcher(.wildcard(["1.2.840.10008.5.1.4.1.1.*"]))),
        ])
        XCTAssertTrue(match.matches(try facts(), clock: .utc))
        XCTAssertFalse(match.matches(try facts(modality: nil), clock: .utc))
    }

    func testTimeWindowRoutesDifferentlyOnEitherSideOfItsBoundary() throws {
        // 2025-01-06 (a Monday) 18:00 UTC = 19:00 in Berlin: nights start.
        let boundary: EpochSeconds = 1_736_186_400
        let nights = TimeWindow(
            days: [.monday, .tuesday, .wednesday, .thursday, .friday], from: TimeOfDay(hour: 19, minute: 0),
            to: TimeOfDay(hour: 7, minute: 0))
        let router = Router(
            rules: [
                rule("night", RouteMatch(time: [nights]), to: ["night-reader"]),
                rule("day", to: ["day-reader"]),
            ],
            clock: SiteClock(timeZone: TimeZone(identifier: "Europe/Berlin")!))
        XCTAssertEqual(router.route(try facts(at: boundary - 1)).destinations, ["day-reader": .routine])
        XCTAssertEqual(router.route(try facts(at: boundary)).destinations, ["night-reader": .routine])
        XCTAssertEqual(router.route(try facts(at: boundary + 12 * 3600 - 1)).destinations, ["night-reader": .routine])
        XCTAssertEqual(router.route(try facts(at: boundary + 12 * 3600)).destinations, ["day-reader": .routine])
        // The same instants in UTC are other wall-clock times.
        let utcRouter = Router(rules: router.rules, clock: .utc)
        XCTAssertEqual(utcRouter.route(try facts(at: boundary)).destinations, ["day-reader": .routine])
    }

    func testFallbackRouteIsUsedOnlyWhenNothingElseMatched() throws {
        let router = Router(rules: [
            rule("default", to: ["archive"], fallback: true),
            rule(
                "ct", RouteMatch(attributes: [AttributeCriterion(tag: .modality, matcher: .equals("CT"))]), to: ["a"],
                stop: false),
            rule("mr", RouteMatch(attributes: [AttributeCriterion(tag: .modality, matcher: .equals("MR"))]), to: ["b"]),
        ])
        XCTAssertEqual(
            router.route(try facts(modality: "CT")),
            RoutingDecision(destinations: ["a": .routine], matchedRules: ["ct"]))
        XCTAssertEqual(
            router.route(try facts(modality: "US")),
            RoutingDecision(destinations: ["archive": .routine], matchedRules: ["default"]))
    }

    func testUnroutedObjectGetsNoDestination() throws {
        let router = Router(rules: [
            rule("mr", RouteMatch(attributes: [AttributeCriterion(tag: .modality, matcher: .equals("MR"))]), to: ["b"])
        ])
        XCTAssertTrue(router.route(try facts()).isUnrouted)
    }

    func testHoldUntilStableIsPerDestination() throws {
        let router = Router(rules: [
            rule("whole-studies", to: ["ai"], stop: false, hold: true),
            rule("streaming", to: ["telerad"]),
        ])
        let decision = router.route(try facts())
        XCTAssertEqual(decision.destinations, ["ai": .routine, "telerad": .routine])
        XCTAssertEqual(decision.heldUntilStable, ["ai"])
    }

    func testRouteLevelNormalizationProfilesArePerDestinationInRuleOrder() throws {
        var ct = rule(
            "ct", RouteMatch(attributes: [AttributeCriterion(tag: .modality, matcher: .equals("CT"))]), to: ["a", "b"],
            stop: false)
        ct.normalization = ["site", "upper"]
        var all = rule("all", to: ["a"])
        all.normalization = ["upper", "trim"]
        let decision = Router(rules: [ct, all]).route(try facts())
        XCTAssertEqual(decision.normalization, ["a": ["site", "upper", "trim"], "b": ["site", "upper"]])
        XCTAssertEqual(Router(rules: [rule("plain", to: ["a"])]).route(try facts()).normalization, [:])
    }

    func testRequestedProcedurePriorityRaisesButNeverLowers() throws {
        let router = Router(rules: [rule("all", to: ["a"]), rule("never", to: ["b"])])
        XCTAssertEqual(
            router.route(try facts(attributes: [.requestedProcedurePriority: ["STAT"]])).destinations, ["a": .stat])
        XCTAssertEqual(
            router.route(try facts(attributes: [.requestedProcedurePriority: ["high "]])).destinations, ["a": .high])
        let statRule = Router(rules: [rule("ed", to: ["a"], priority: .stat)])
        XCTAssertEqual(
            statRule.route(try facts(attributes: [.requestedProcedurePriority: ["LOW"]])).destinations, ["a": .stat])
        XCTAssertEqual(
            router.route(try facts(attributes: [.requestedProcedurePriority: ["SOON"]])).destinations, ["a": .routine],
            "an unknown term is ignored")
        XCTAssertTrue(router.requiredTags.contains(.requestedProcedurePriority))
    }

    func testDIMSEPriorityCountsOnlyWhenHigh() throws {
        let router = Router(rules: [rule("all", to: ["a"])])
        XCTAssertEqual(router.route(try facts(dimsePriority: 1)).destinations, ["a": .high])
        XCTAssertEqual(router.route(try facts(dimsePriority: 0)).destinations, ["a": .routine], "MEDIUM")
        XCTAssertEqual(router.route(try facts(dimsePriority: 2)).destinations, ["a": .routine], "LOW is ignored")
        let noSignals = Router(rules: router.rules, signals: PrioritySignals(attributes: [], usesDIMSEPriority: false))
        XCTAssertEqual(noSignals.route(try facts(dimsePriority: 1)).destinations, ["a": .routine])
    }

    func testRequiredTagsListEveryAttributeCriterion() {
        let router = Router(rules: [
            rule(
                "r",
                RouteMatch(attributes: [AttributeCriterion(tag: studyDescription, matcher: ValueMatcher(.present))]),
                to: ["a"])
        ])
        XCTAssertEqual(router.requiredTags, [studyDescription, .requestedProcedurePriority])
    }

    func testExplanationGivesEveryRulesVerdictAndReason() throws {
        let router = Router(rules: [
            RouteRule(name: "ed-stat", callingAE: [try AETitle("ED_CT")], destinations: ["telerad"], priority: .stat),
            rule(
                "stroke",
                RouteMatch(attributes: [
                    AttributeCriterion(tag: studyDescription, matcher: ValueMatcher(.wildcard(["*STROKE*"])))
                ]),
                to: ["telerad"], priority: .stat),
            rule("default", to: ["telerad"]),
            rule("spare", to: ["x"], fallback: true),
        ])
        let explanation = router.explain(try facts(attributes: [studyDescription: ["CODE STROKE"]]))
        XCTAssertEqual(explanation.rules.map(\.rule), ["ed-stat", "stroke", "default", "spare"])
        XCTAssertEqual(explanation.rules.map(\.matched), [false, true, false, false])
        XCTAssertEqual(explanation.rules.map(\.evaluated), [true, true, false, false])
        XCTAssertEqual(
            explanation.rules[0].outcomes.map(\.description), ["calling_ae equals 'ED_CT': no (object: CT1)"])
        XCTAssertEqual(
            explanation.rules[1].outcomes.map(\.description),
            ["StudyDescription (0008,1030) wildcard '*STROKE*': yes (object: 'CODE STROKE')"])
        XCTAssertEqual(
            explanation.decision, RoutingDecision(destinations: ["telerad": .stat], matchedRules: ["stroke"]))
    }
}
