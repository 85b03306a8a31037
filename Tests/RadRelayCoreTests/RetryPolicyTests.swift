import RadRelayCore
import XCTest

/// The backoff table and dispositions documented on `RetryPolicy` (DESIGN §4, CONVENTIONS §9).
final class RetryPolicyTests: XCTestCase {
    private let policy = RetryPolicy()
    private let now: EpochSeconds = 1_700_000_000

    // MARK: - Backoff

    func testDefaults() {
        XCTAssertEqual(policy, RetryPolicy(baseDelay: 5, maxDelay: 300, jitter: 0.2, maxObjectAttempts: 3))
    }

    func testBackoffTableWithoutJitter() {
        let table: [(attempt: Int, delay: Double)] = [
            (1, 5), (2, 10), (3, 20), (4, 40), (5, 80), (6, 160), (7, 300), (8, 300), (20, 300),
        ]
        for row in table {
            XCTAssertEqual(
                policy.backoff(afterAttempt: row.attempt, unitRandom: 0), row.delay, "attempt \(row.attempt)")
        }
    }

    func testBackoffTableWithFullJitterRemovesTheJitterFraction() {
        let table: [(attempt: Int, delay: Double)] = [
            (1, 4), (2, 8), (3, 16), (4, 32), (5, 64), (6, 128), (7, 240), (8, 240),
        ]
        for row in table {
            XCTAssertEqual(
                policy.backoff(afterAttempt: row.attempt, unitRandom: 1),
                row.delay,
                accuracy: 1e-9,
                "attempt \(row.attempt)"
            )
        }
    }

    func testJitterStaysWithinItsBand() {
        for unitRandom in stride(from: 0.0, through: 1.0, by: 0.125) {
            let delay = policy.backoff(afterAttempt: 3, unitRandom: unitRandom)
            XCTAssertTrue((16...20).contains(delay), "\(unitRandom) → \(delay)")
        }
        XCTAssertEqual(policy.backoff(afterAttempt: 3, unitRandom: -5), 20, "out-of-range randomness is clamped")
        XCTAssertEqual(policy.backoff(afterAttempt: 3, unitRandom: 7), 16, accuracy: 1e-9)
    }

    func testHugeAttemptCountsDoNotOverflow() {
        XCTAssertEqual(policy.backoff(afterAttempt: 10_000, unitRandom: 0), 300)
        XCTAssertEqual(policy.backoff(afterAttempt: Int.max, unitRandom: 0), 300)
    }

    func testAttemptsBelowOneCountAsTheFirst() {
        XCTAssertEqual(policy.backoff(afterAttempt: 0, unitRandom: 0), 5)
        XCTAssertEqual(policy.backoff(afterAttempt: -3, unitRandom: 0), 5)
    }

    // MARK: - Dispositions

    private func disposition(_ failure: FailureClass, attempt: Int, status: UInt16? = nil) -> DeliveryDisposition {
        policy.disposition(
            for: .failed(failure, status: status.map(DIMSEStatus.init(_:)), detail: "d"),
            attempt: attempt,
            now: now,
            unitRandom: 0
        )
    }

    func testSuccessAndWarningsAreDelivered() {
        for code: UInt16 in [0x0000, 0xB000, 0xB006, 0xB007] {
            let outcome = SendOutcome.delivered(status: DIMSEStatus(code))
            XCTAssertEqual(
                policy.disposition(for: outcome, attempt: 1, now: now, unitRandom: 0.5),
                .delivered(status: DIMSEStatus(code))
            )
        }
    }

    func testDestinationLevelFailuresAreDeferredNeverDead() {
        let destinationLevel = FailureClass.allCases.filter(\.isDestinationLevel)
        XCTAssertEqual(destinationLevel.count, 10)  // 6 DICOM + 4 HTTP (issue 5)
        for failure in destinationLevel {
            for attempt in [1, 3, 4, 1000] {
                guard case .deferred(let notBefore, let deferredFailure, _) = disposition(failure, attempt: attempt)
                else {
                    XCTFail("\(failure) at attempt \(attempt) must be deferred")
                    continue
                }
                XCTAssertEqual(deferredFailure, failure)
                XCTAssertEqual(notBefore, now + policy.backoff(afterAttempt: attempt, unitRandom: 0))
            }
        }
    }

    func testRemoteOutOfResourcesIsDeferredAtAttempt1000() {
        let status = DIMSEStatus(0xA700)
        XCTAssertEqual(
            disposition(FailureClass.forStoreStatus(status), attempt: 1000, status: 0xA700),
            .deferred(notBefore: now + 300, failure: .remoteOutOfResources, detail: "d")
        )
    }

    func testDataSetMismatchAndSOPClassNotSupportedAreDeadAtOnce() {
        for code: UInt16 in [0xA900, 0xA9FF, 0x0122] {
            let failure = FailureClass.forStoreStatus(DIMSEStatus(code))
            XCTAssertEqual(disposition(failure, attempt: 1, status: code), .dead(failure: failure, detail: "d"))
        }
    }

    func testSpoolMissingAndExpiredAreDeadAtOnce() {
        XCTAssertEqual(disposition(.spoolMissing, attempt: 1), .dead(failure: .spoolMissing, detail: "d"))
        XCTAssertEqual(disposition(.expired, attempt: 1), .dead(failure: .expired, detail: "d"))
    }

    func testOtherObjectFailuresAreDeadAtTheThirdAttempt() {
        for code: UInt16 in [0xC000, 0xCFFF, 0x0110, 0x0211] {
            let failure = FailureClass.forStoreStatus(DIMSEStatus(code))
            XCTAssertEqual(
                disposition(failure, attempt: 1, status: code),
                .deferred(notBefore: now + 5, failure: failure, detail: "d")
            )
            XCTAssertEqual(
                disposition(failure, attempt: 2, status: code),
                .deferred(notBefore: now + 10, failure: failure, detail: "d")
            )
            XCTAssertEqual(disposition(failure, attempt: 3, status: code), .dead(failure: failure, detail: "d"))
        }
    }

    func testLocalErrorsFollowTheObjectAttemptLimit() {
        XCTAssertEqual(
            disposition(.localError, attempt: 2), .deferred(notBefore: now + 10, failure: .localError, detail: "d"))
        XCTAssertEqual(disposition(.localError, attempt: 3), .dead(failure: .localError, detail: "d"))
    }

    func testMaxObjectAttemptsIsConfigurable() {
        let patient = RetryPolicy(maxObjectAttempts: 5)
        let outcome = SendOutcome.failed(.cannotUnderstand, status: DIMSEStatus(0xC000), detail: "d")
        XCTAssertNotEqual(
            patient.disposition(for: outcome, attempt: 4, now: now, unitRandom: 0),
            .dead(failure: .cannotUnderstand, detail: "d")
        )
        XCTAssertEqual(
            patient.disposition(for: outcome, attempt: 5, now: now, unitRandom: 0),
            .dead(failure: .cannotUnderstand, detail: "d")
        )
    }
}
