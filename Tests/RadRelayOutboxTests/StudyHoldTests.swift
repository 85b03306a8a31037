import RadRelayCore
import RadRelayOutbox
import XCTest

/// Issue 6: `radrelayctl hold --study` holds the study's deliveries, those of objects that
/// arrive later included (`study_hold`, v4), until `release --study`.
final class StudyHoldTests: OutboxTestCase {
    private let study = "1.2.826.0.1.3680043.10.88.1"
    private let other = "1.2.826.0.1.3680043.10.88.2"

    private func state(_ result: IngestResult, _ destination: String = "pacs-a") throws -> DeliveryState? {
        try outbox.delivery(id: try XCTUnwrap(result.deliveryIDs[destination]))?.state
    }

    func testHoldingAStudyHoldsItsLaterObjectsUntilReleased() throws {
        let first = try ingest(makeRequest(uid: "1.2.3.1", study: study))
        XCTAssertEqual(try outbox.hold(.study(study, destination: nil), byUID: 1000, now: t0 + 1), 1)
        XCTAssertEqual(try state(first), .held)
        XCTAssertEqual(
            try outbox.studyHolds(),
            [StudyHold(studyInstanceUID: study, destination: nil, heldAt: t0 + 1, heldByUID: 1000)])

        let later = try ingest(makeRequest(uid: "1.2.3.2", study: study), now: t0 + 2)
        let unrelated = try ingest(makeRequest(uid: "1.2.3.3", study: other), now: t0 + 3)
        XCTAssertEqual(later.outcomes, ["pacs-a": .queued])
        XCTAssertEqual(try state(later), .held, "a later object of the held study")
        XCTAssertEqual(try state(unrelated), .queued, "other studies are not affected")
        let claimed = try outbox.claimDue(destination: "pacs-a", now: t0 + 4, leaseSeconds: 30)
        XCTAssertEqual(claimed?.deliveryID, unrelated.deliveryIDs["pacs-a"])
        XCTAssertNil(try outbox.claimDue(destination: "pacs-a", now: t0 + 5, leaseSeconds: 30))

        // Holding again changes nothing and keeps the first holder.
        XCTAssertEqual(try outbox.hold(.study(study, destination: nil), byUID: 0, now: t0 + 6), 0)
        XCTAssertEqual(try outbox.studyHolds().map(\.heldByUID), [1000])

        XCTAssertEqual(try outbox.release(.study(study, destination: nil), now: t0 + 7), 2)
        XCTAssertEqual(try outbox.studyHolds(), [])
        XCTAssertEqual(try state(first), .queued)
        XCTAssertEqual(try state(later), .queued)
        let afterRelease = try ingest(makeRequest(uid: "1.2.3.4", study: study), now: t0 + 8)
        XCTAssertEqual(try state(afterRelease), .queued)
    }

    func testAStudyHeldForOneDestinationFlowsToTheOthers() throws {
        let routes: [String: Priority] = ["pacs-a": .routine, "pacs-b": .routine]
        _ = try outbox.hold(.study(study, destination: "pacs-b"), byUID: nil, now: t0)
        let result = try ingest(makeRequest(uid: "1.2.3.1", study: study, routes: routes))
        XCTAssertEqual(try state(result, "pacs-a"), .queued)
        XCTAssertEqual(try state(result, "pacs-b"), .held)

        // An all-destination hold on top: releasing pacs-b alone leaves the study held there.
        _ = try outbox.hold(.study(study, destination: nil), byUID: nil, now: t0)
        XCTAssertEqual(try outbox.studyHolds().map(\.destination), [nil, "pacs-b"])
        XCTAssertEqual(try outbox.release(.study(study, destination: "pacs-b"), now: t0 + 1), 0)
        XCTAssertEqual(try state(result, "pacs-b"), .held)
        XCTAssertEqual(try outbox.release(.study(study, destination: nil), now: t0 + 2), 2)
        XCTAssertEqual(try state(result, "pacs-b"), .queued)
    }

    func testRetryRequeueAndReIngestKeepAHeldStudyHeld() throws {
        let first = try ingest(makeRequest(uid: "1.2.3.1", content: "one", study: study))
        let claimed = try XCTUnwrap(outbox.claimDue(destination: "pacs-a", now: t0, leaseSeconds: 30))
        try outbox.deadLetter(
            deliveryID: claimed.deliveryID, failure: .cannotUnderstand, status: nil, detail: "", now: t0)
        let second = try ingest(makeRequest(uid: "1.2.3.2", content: "two", study: study))
        _ = try outbox.hold(.study(study, destination: nil), byUID: nil, now: t0 + 1)

        XCTAssertEqual(try outbox.retryDead(.study(study, destination: nil), now: t0 + 2), 1)
        XCTAssertEqual(try state(first), .held, "retried into the hold")
        XCTAssertEqual(try outbox.requeue(.delivery(second.deliveryIDs["pacs-a"]!), now: t0 + 3), 0)
        XCTAssertEqual(try state(second), .held)

        // The dead row re-sent: re-queued on the same row, into the hold.
        let resendTarget = try ingest(makeRequest(uid: "1.2.3.3", content: "three", study: study))
        let c = try XCTUnwrap(resendTarget.deliveryIDs["pacs-a"])
        _ = try outbox.release(.study(study, destination: nil), now: t0 + 4)
        while let next = try outbox.claimDue(destination: "pacs-a", now: t0 + 5, leaseSeconds: 30) {
            if next.deliveryID == c {
                try outbox.deadLetter(deliveryID: c, failure: .cannotUnderstand, status: nil, detail: "", now: t0 + 5)
            } else {
                try outbox.markDelivered(deliveryID: next.deliveryID, status: .success, now: t0 + 5)
            }
        }
        _ = try outbox.hold(.study(study, destination: nil), byUID: nil, now: t0 + 6)
        let resent = try ingest(makeRequest(uid: "1.2.3.3", content: "three", study: study), now: t0 + 7)
        XCTAssertEqual(resent.deliveryIDs["pacs-a"], c)
        XCTAssertEqual(try state(resent), .held)
    }

    func testReleasingTheDestinationOrTheStabilitySweepLeavesAHeldStudyHeld() throws {
        var held = try makeRequest(uid: "1.2.3.1", study: study, routes: ["ai": .routine])
        held.holdUntilStable = ["ai"]
        let heldResult = try ingest(held)
        let free = try ingest(makeRequest(uid: "1.2.3.2", study: other, routes: ["ai": .routine]))
        _ = try outbox.hold(.study(study, destination: "ai"), byUID: nil, now: t0)
        _ = try outbox.hold(.destination("ai"), byUID: nil, now: t0)

        XCTAssertEqual(try outbox.release(.destination("ai"), now: t0 + 1), 1)
        XCTAssertEqual(try state(free, "ai"), .queued)
        XCTAssertEqual(try state(heldResult, "ai"), .held)
        XCTAssertEqual(try outbox.markStable(now: t0 + 1000, quietTime: 60).released, [:])
        XCTAssertEqual(try state(heldResult, "ai"), .held, "the operator's hold outlasts the route's")
        XCTAssertEqual(try outbox.release(.delivery(heldResult.deliveryIDs["ai"]!), now: t0 + 1001), 0)
        XCTAssertEqual(try outbox.release(.study(study, destination: "ai"), now: t0 + 1002), 1)
        XCTAssertEqual(try state(heldResult, "ai"), .queued)
    }

    /// A delivery on the wire when its study is held finishes its attempt; if that fails, or
    /// the process dies meanwhile, it waits as held instead of being retried.
    func testAnAttemptInFlightWhenTheStudyIsHeldEndsHeld() throws {
        let first = try ingest(makeRequest(uid: "1.2.3.1", content: "one", study: study))
        let second = try ingest(makeRequest(uid: "1.2.3.2", content: "two", study: study))
        let claimed = try XCTUnwrap(outbox.claimDue(destination: "pacs-a", now: t0, leaseSeconds: 30))
        XCTAssertEqual(claimed.deliveryID, first.deliveryIDs["pacs-a"])
        XCTAssertEqual(try outbox.hold(.study(study, destination: nil), byUID: nil, now: t0 + 1), 1, "the queued one")
        XCTAssertTrue(
            try outbox.deferDelivery(
                deliveryID: claimed.deliveryID, until: t0 + 60, failure: .connection, status: nil, detail: "",
                now: t0 + 2))
        let record = try XCTUnwrap(outbox.delivery(id: claimed.deliveryID))
        XCTAssertEqual(record.state, .held)
        XCTAssertNil(record.nextAttemptAt)
        XCTAssertNil(try outbox.nextDueTime(destination: "pacs-a", now: t0 + 100))

        _ = try outbox.release(.study(study, destination: nil), now: t0 + 3)
        let again = try XCTUnwrap(outbox.claimDue(destination: "pacs-a", now: t0 + 4, leaseSeconds: 30))
        _ = try outbox.hold(.study(study, destination: nil), byUID: nil, now: t0 + 5)
        XCTAssertEqual(try outbox.reconcile(now: t0 + 6).requeuedActive, 1)
        XCTAssertEqual(try outbox.delivery(id: again.deliveryID)?.state, .held)
        XCTAssertEqual(try state(second), .held)
    }

    /// Retention keeps a study hold while anything of the study is kept (held deliveries are
    /// pending, so never pruned); once nothing is left, a hold older than the cutoff goes.
    func testRetentionDropsAStudyHoldOnlyWhenNothingOfTheStudyIsLeft() throws {
        let result = try ingest(makeRequest(uid: "1.2.3.1", study: study))
        _ = try outbox.hold(.study(study, destination: nil), byUID: nil, now: t0)
        let early = "1.2.826.0.1.3680043.10.88.9"
        _ = try outbox.hold(.study(early, destination: nil), byUID: nil, now: t0 + 500)

        var report = try outbox.prune(deliveredBefore: t0 + 100, deadBefore: t0 + 100, now: t0 + 1000)
        XCTAssertEqual(report.studyHoldsRemoved, 0, "the held study still has its delivery")
        XCTAssertEqual(try outbox.studyHolds().count, 2)

        XCTAssertEqual(try outbox.purge(.study(study, destination: nil), states: [.held], now: t0 + 1000), 1)
        XCTAssertNil(try outbox.delivery(id: result.deliveryIDs["pacs-a"]!))
        report = try outbox.prune(deliveredBefore: nil, deadBefore: nil, now: t0 + 1000)
        XCTAssertEqual(report.studiesRemoved, 1)
        XCTAssertEqual(report.studyHoldsRemoved, 0, "no retention configured: kept until released")
        report = try outbox.prune(deliveredBefore: nil, deadBefore: t0 + 100, now: t0 + 1000)
        XCTAssertEqual(report.studyHoldsRemoved, 1)
        XCTAssertEqual(
            try outbox.studyHolds().map(\.studyInstanceUID), [early],
            "a hold made ahead of its study, newer than the cutoff, waits for it")
    }
}
