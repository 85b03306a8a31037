@testable import RadRelayDIMSE
import XCTest

/// The presentation contexts a new association proposes (no I/O).
final class SenderPlanTests: XCTestCase {
    private let ct = "1.2.840.10008.5.1.4.1.1.2"
    private let sr = "1.2.840.10008.5.1.4.1.1.88.11"
    private let jpegLS = "1.2.840.10008.1.2.4.80"
    private let explicitLE = "1.2.840.10008.1.2.1"
    private let implicitLE = "1.2.840.10008.1.2"
    private let verification = "1.2.840.10008.1.1"

    func testVerificationFirstThenOwnSyntaxThenExplicitThenImplicit() {
        var plan = PresentationContextPlan()
        plan.note(sopClass: ct, transferSyntax: jpegLS)
        XCTAssertEqual(
            pairs(plan),
            [
                [verification, implicitLE], [ct, jpegLS], [ct, explicitLE], [ct, implicitLE],
            ])
    }

    func testUncompressedSyntaxIsNotProposedTwice() {
        var plan = PresentationContextPlan()
        plan.note(sopClass: ct, transferSyntax: implicitLE)
        XCTAssertEqual(pairs(plan), [[verification, implicitLE], [ct, implicitLE], [ct, explicitLE]])
    }

    func testMostRecentClassComesFirstAndEarlierClassesStay() {
        var plan = PresentationContextPlan()
        plan.note(sopClass: ct, transferSyntax: explicitLE)
        plan.note(sopClass: sr, transferSyntax: explicitLE)
        XCTAssertEqual(pairs(plan).map { $0[0] }, [verification, sr, sr, ct, ct])
        plan.note(sopClass: ct, transferSyntax: jpegLS)
        XCTAssertEqual(
            pairs(plan),
            [
                [verification, implicitLE], [ct, jpegLS], [ct, explicitLE], [ct, implicitLE], [sr, explicitLE],
                [sr, implicitLE],
            ])
    }

    func testAtMost128ContextsAndTheCurrentClassAlwaysFits() {
        var plan = PresentationContextPlan()
        for index in 0..<40 {
            for syntax in ["1.2.3.\(index).1", "1.2.3.\(index).2"] {
                plan.note(sopClass: "1.2.826.0.1.\(index)", transferSyntax: syntax)
            }
        }
        let contexts = plan.contexts()
        XCTAssertLessThanOrEqual(contexts.count, 128)
        XCTAssertEqual(plan.recentClasses.count, PresentationContextPlan.maximumRememberedClasses)
        XCTAssertEqual(contexts[1].abstractSyntax, "1.2.826.0.1.39")
        XCTAssertEqual(contexts[1].transferSyntax, "1.2.3.39.2")
    }

    // MARK: - Reusing an open association

    func testAnObjectInASyntaxNeverProposedRenegotiates() {
        var plan = PresentationContextPlan()
        plan.note(sopClass: ct, transferSyntax: explicitLE)
        let proposed = Set(plan.contexts())
        XCTAssertEqual(decision(ct, explicitLE, proposed), .reuse)
        XCTAssertEqual(decision(ct, implicitLE, proposed), .reuse, "the fallbacks are always proposed")
        XCTAssertEqual(decision(ct, jpegLS, proposed), .renegotiate, "not decompressed onto Explicit VR LE")
        XCTAssertEqual(decision(sr, explicitLE, proposed), .renegotiate, "a class never proposed")
    }

    func testTheRenegotiatedPlanKeepsTheFallbacksAndEarlierSyntaxes() {
        var plan = PresentationContextPlan()
        plan.note(sopClass: ct, transferSyntax: explicitLE)
        plan.note(sopClass: ct, transferSyntax: jpegLS)
        XCTAssertEqual(
            pairs(plan), [[verification, implicitLE], [ct, jpegLS], [ct, explicitLE], [ct, implicitLE]],
            "the remote can still choose uncompressed")
    }

    func testAlternatingSyntaxesRenegotiateOnce() {
        var plan = PresentationContextPlan()
        var proposed: Set<PresentationContextPlan.Context> = []
        var associations = 0
        for syntax in [explicitLE, jpegLS, explicitLE, jpegLS, implicitLE, jpegLS] {
            // As SCUSession.send: decide, note the object, then associate with the plan.
            let renegotiate = decision(ct, syntax, proposed) == .renegotiate
            plan.note(sopClass: ct, transferSyntax: syntax)
            if renegotiate {
                proposed = Set(plan.contexts())
                associations += 1
            }
        }
        XCTAssertEqual(associations, 2)
    }

    func testADeclinedSyntaxDoesNotRenegotiateAgain() {
        // The remote declined (ct, jpegLS) on this association; it was proposed, so the object
        // is converted to the accepted uncompressed syntax instead of reconnecting each time.
        var plan = PresentationContextPlan()
        plan.note(sopClass: ct, transferSyntax: jpegLS)
        XCTAssertEqual(decision(ct, jpegLS, Set(plan.contexts())), .reuse)
    }

    func testNoOpenAssociationProposedNothing() {
        XCTAssertEqual(decision(ct, explicitLE, []), .renegotiate)
    }

    func testDCMTKTimeoutsAreWholeSecondsRoundedUp() {
        XCTAssertEqual(DICOMSenderConfiguration.dcmtkSeconds(0.2), 1)
        XCTAssertEqual(DICOMSenderConfiguration.dcmtkSeconds(1), 1)
        XCTAssertEqual(DICOMSenderConfiguration.dcmtkSeconds(2.5), 3)
        XCTAssertEqual(DICOMSenderConfiguration.dcmtkSeconds(.infinity), 1)
        XCTAssertEqual(DICOMSenderConfiguration.dcmtkSeconds(1e12), Int32.max)
    }

    private func decision(
        _ sopClass: String, _ syntax: String, _ proposed: Set<PresentationContextPlan.Context>
    ) -> PresentationContextPlan.Decision {
        PresentationContextPlan.decision(forSOPClass: sopClass, transferSyntax: syntax, proposed: proposed)
    }

    private func pairs(_ plan: PresentationContextPlan) -> [[String]] {
        plan.contexts().map { [$0.abstractSyntax, $0.transferSyntax] }
    }
}
