import RadRelayCore
import RadRelayOutbox
import XCTest

/// Issue 4's study tracking: series and study stability, held-until-stable deliveries and
/// study-level priority inheritance.
final class StudyTrackingTests: OutboxTestCase {
    private let study = "1.2.826.0.1.3680043.10.7"

    private func request(
        _ uid: String, series: String? = nil, routes: [String: Priority] = ["pacs-a": .routine], hold: Set<String> = []
    ) throws -> IngestRequest {
        var request = try makeRequest(uid: uid, content: uid, study: study, routes: routes)
        if let series { request.seriesInstanceUID = try DICOMUID(series) }
        request.holdUntilStable = hold
        return request
    }

    func testSeriesBecomeStableAfterTheQuietTimeAndTheStudyWhenAllAre() throws {
        _ = try ingest(request("1.2.3.1", series: study + ".1"), now: t0)
        _ = try ingest(request("1.2.3.2", series: study + ".2"), now: t0 + 50)
        var sweep = try outbox.markStable(now: t0 + 100, quietTime: 60)
        XCTAssertEqual(sweep.stableSeries, 1, "series 1 has been quiet for 100 s, series 2 for 50 s")
        XCTAssertEqual(sweep.stableStudies, 0, "a series still arriving keeps the study open")
        XCTAssertEqual(sweep.nextCheck, t0 + 110)
        var stability = try XCTUnwrap(outbox.stability(studyInstanceUID: study))
        XCTAssertEqual(stability.series.map(\.stableAt), [t0 + 60, nil])
        XCTAssertNil(stability.stableAt)

        sweep = try outbox.markStable(now: t0 + 110, quietTime: 60)
        XCTAssertEqual(sweep.stableSeries, 1)
        XCTAssertEqual(sweep.stableStudies, 1)
        XCTAssertNil(sweep.nextCheck)
        stability = try XCTUnwrap(outbox.stability(studyInstanceUID: study))
        XCTAssertEqual(stability.stableAt, t0 + 110)
        XCTAssertEqual(stability.series.map(\.instanceCount), [1, 1])
        XCTAssertEqual(try outbox.recentStudies().first?.stableAt, t0 + 110, "status shows it")
    }

    func testANewInstanceMakesAStableSeriesAndStudyUnstableAgain() throws {
        _ = try ingest(request("1.2.3.1", series: study + ".1"), now: t0)
        _ = try outbox.markStable(now: t0 + 100, quietTime: 60)
        _ = try ingest(request("1.2.3.2", series: study + ".1"), now: t0 + 200)
        let stability = try XCTUnwrap(outbox.stability(studyInstanceUID: study))
        XCTAssertNil(stability.stableAt)
        XCTAssertNil(stability.series[0].stableAt)
        XCTAssertEqual(stability.series[0].instanceCount, 2)
        XCTAssertEqual(try outbox.markStable(now: t0 + 201, quietTime: 60).nextCheck, t0 + 260)
    }

    func testHeldUntilStableDeliveriesAreReleasedWhenTheStudyIsStable() throws {
        let first = try ingest(
            request("1.2.3.1", series: study + ".1", routes: ["pacs-a": .routine, "ai": .routine], hold: ["ai"]),
            now: t0)
        let second = try ingest(
            request("1.2.3.2", series: study + ".1", routes: ["pacs-a": .routine, "ai": .routine], hold: ["ai"]),
            now: t0 + 30)
        XCTAssertEqual(try outbox.delivery(id: first.deliveryIDs["pacs-a"]!)?.state, .queued, "streaming route")
        XCTAssertEqual(try outbox.delivery(id: first.deliveryIDs["ai"]!)?.state, .held)
        XCTAssertNil(try outbox.claimNext(destination: "ai", now: t0 + 31, leaseSeconds: 60, query: ClaimQuery()))
        XCTAssertNil(try outbox.nextDueTime(destination: "ai", now: t0 + 31))

        XCTAssertEqual(try outbox.markStable(now: t0 + 60, quietTime: 60).released, [:])
        let sweep = try outbox.markStable(now: t0 + 90, quietTime: 60)
        XCTAssertEqual(sweep.released, ["ai": 2])
        XCTAssertEqual(try outbox.delivery(id: first.deliveryIDs["ai"]!)?.state, .queued)
        XCTAssertEqual(try outbox.delivery(id: second.deliveryIDs["ai"]!)?.state, .queued)
        XCTAssertEqual(try outbox.markStable(now: t0 + 200, quietTime: 60).released, [:], "released once")
    }

    func testOperatorHeldDestinationStaysHeldWhenTheStudyBecomesStable() throws {
        _ = try outbox.hold(.destination("ai"), byUID: 0, now: t0)
        let result = try ingest(
            request("1.2.3.1", series: study + ".1", routes: ["ai": .routine], hold: ["ai"]), now: t0)
        XCTAssertEqual(try outbox.markStable(now: t0 + 100, quietTime: 60).released, [:])
        XCTAssertEqual(try outbox.delivery(id: result.deliveryIDs["ai"]!)?.state, .held)
    }

    func testRouteProfilesAreStoredWithEachDelivery() throws {
        var request = try request("1.2.3.1", routes: ["pacs-a": .routine, "archive": .low])
        request.routeProfiles = ["pacs-a": ["site-a", "upper"]]
        let result = try ingest(request, now: t0)
        XCTAssertEqual(try outbox.routeProfiles(deliveryID: result.deliveryIDs["pacs-a"]!), ["site-a", "upper"])
        XCTAssertEqual(try outbox.routeProfiles(deliveryID: result.deliveryIDs["archive"]!), [])
    }

    func testTheWholeStudyInheritsTheHighestPrioritySeen() throws {
        let early = try ingest(request("1.2.3.1", routes: ["pacs-a": .routine, "archive": .low]), now: t0)
        let claimed = try XCTUnwrap(
            try outbox.claimNext(destination: "pacs-a", now: t0, leaseSeconds: 60, query: ClaimQuery()))
        XCTAssertEqual(claimed.delivery.deliveryID, early.deliveryIDs["pacs-a"])
        let waiting = try ingest(request("1.2.3.2", routes: ["pacs-a": .routine]), now: t0 + 1)
        // An object of the same study arrives as STAT (e.g. from the ED's CT).
        let stat = try ingest(request("1.2.3.3", routes: ["pacs-a": .stat]), now: t0 + 2)
        XCTAssertEqual(try outbox.delivery(id: waiting.deliveryIDs["pacs-a"]!)?.priority, .stat, "raised")
        XCTAssertEqual(try outbox.delivery(id: early.deliveryIDs["pacs-a"]!)?.priority, .stat, "active, raised too")
        XCTAssertEqual(try outbox.delivery(id: stat.deliveryIDs["pacs-a"]!)?.priority, .stat)
        XCTAssertEqual(
            try outbox.delivery(id: early.deliveryIDs["archive"]!)?.priority, .low,
            "inheritance is per destination: the archive's own order is untouched")
        // Later instances of the study come in at STAT whatever their route says.
        let late = try ingest(request("1.2.3.4", routes: ["pacs-a": .routine]), now: t0 + 3)
        XCTAssertEqual(try outbox.delivery(id: late.deliveryIDs["pacs-a"]!)?.priority, .stat)
        XCTAssertEqual(try outbox.study(uid: DICOMUID(study))?.priority, .stat)
    }

    func testInheritanceNeverLowers() throws {
        let stat = try ingest(request("1.2.3.1", routes: ["pacs-a": .stat]), now: t0)
        _ = try ingest(request("1.2.3.2", routes: ["pacs-a": .low]), now: t0 + 1)
        XCTAssertEqual(try outbox.delivery(id: stat.deliveryIDs["pacs-a"]!)?.priority, .stat)
    }
}
