import RadRelayCore
import XCTest

/// Ordered routing rules as a pure function of the object's facts.
final class RouterTests: XCTestCase {
    private func facts(calling: String = "CT1", called: String = "GW", modality: String? = "CT") throws -> ObjectFacts {
        ObjectFacts(
            callingAE: try AETitle(calling),
            calledAE: try AETitle(called),
            sourceIP: "10.0.0.9",
            modality: modality,
            sopClassUID: try DICOMUID("1.2.840.10008.5.1.4.1.1.2")
        )
    }

    func testEmptyMatchMatchesEverything() throws {
        let rule = RouteRule(name: "all", destinations: ["a"])
        XCTAssertTrue(rule.matches(try facts()))
        XCTAssertTrue(rule.matches(try facts(modality: nil)))
    }

    func testCriteriaAreAndedAndValuesOred() throws {
        let rule = RouteRule(
            name: "r",
            callingAE: [try AETitle("CT1"), try AETitle("CT2")],
            modality: ["CT", "PT"],
            destinations: ["a"]
        )
        XCTAssertTrue(rule.matches(try facts(calling: "CT2", modality: "PT")))
        XCTAssertFalse(rule.matches(try facts(calling: "MR1", modality: "CT")))
        XCTAssertFalse(rule.matches(try facts(calling: "CT1", modality: "MR")))
    }

    func testModalityComparesCaseInsensitivelyAndNeedsAValue() throws {
        let rule = RouteRule(name: "r", modality: ["ct"], destinations: ["a"])
        XCTAssertTrue(rule.matches(try facts(modality: "CT")))
        XCTAssertFalse(rule.matches(try facts(modality: nil)))
    }

    func testCalledAEMatch() throws {
        let rule = RouteRule(name: "r", calledAE: [try AETitle("GW_STAT")], destinations: ["a"])
        XCTAssertTrue(rule.matches(try facts(called: "GW_STAT")))
        XCTAssertFalse(rule.matches(try facts(called: "GW")))
    }

    func testFirstMatchingStopRuleEndsEvaluation() throws {
        let router = Router(rules: [
            RouteRule(name: "mr", modality: ["MR"], destinations: ["mr-archive"]),
            RouteRule(name: "ct", modality: ["CT"], destinations: ["a"], priority: .high),
            RouteRule(name: "default", destinations: ["b"]),
        ])
        XCTAssertEqual(router.route(try facts()), RoutingDecision(destinations: ["a": .high], matchedRules: ["ct"]))
    }

    func testContinueRulesFanOutAndTheHighestPriorityWins() throws {
        let router = Router(rules: [
            RouteRule(name: "ed", callingAE: [try AETitle("CT1")], destinations: ["a"], priority: .stat, stop: false),
            RouteRule(name: "copy", destinations: ["a", "b"], priority: .low, stop: false),
            RouteRule(name: "default", destinations: ["c"]),
            RouteRule(name: "never", destinations: ["d"]),
        ])
        let decision = router.route(try facts())
        XCTAssertEqual(decision.destinations, ["a": .stat, "b": .low, "c": .routine])
        XCTAssertEqual(decision.matchedRules, ["ed", "copy", "default"])
    }

    func testNoMatchingRuleGivesAnEmptyDecision() throws {
        let router = Router(rules: [RouteRule(name: "mr", modality: ["MR"], destinations: ["a"])])
        XCTAssertEqual(router.route(try facts()), RoutingDecision())
    }
}
