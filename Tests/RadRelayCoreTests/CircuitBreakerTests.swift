import RadRelayCore
import XCTest

/// The circuit breaker, one assertion sequence per (state, event) cell (CONVENTIONS §3).
final class CircuitBreakerTests: XCTestCase {
    /// 3 failures open; probe delays 5, 10, 20, 40, then capped at 60 s; no jitter.
    private let policy = CircuitPolicy(
        failureThreshold: 3, retry: RetryPolicy(baseDelay: 5, maxDelay: 300, jitter: 0.2), maxProbeInterval: 60)
    private let refused = SendOutcome.failed(.connection, status: nil, detail: "connection refused")
    private let rejected = SendOutcome.failed(.associationRejected, status: nil, detail: "1/1/3")
    private let busy = SendOutcome.failed(
        .remoteOutOfResources, status: DIMSEStatus(0xA700), detail: "out of resources")
    private let delivered = SendOutcome.delivered(status: .success)
    private let unreadable = SendOutcome.failed(
        .cannotUnderstand, status: DIMSEStatus(0xC000), detail: "cannot understand")

    private func opened(at now: EpochSeconds = 100) -> CircuitBreaker {
        var breaker = CircuitBreaker()
        for _ in 0..<3 { _ = breaker.sendFinished(refused, now: now, policy: policy, unitRandom: 0) }
        return breaker
    }

    // MARK: - up

    func testUpSendsAndStaysUpOnSuccess() {
        var breaker = CircuitBreaker()
        XCTAssertEqual(breaker.permit(at: 0), .send)
        XCTAssertEqual(breaker.sendFinished(delivered, now: 0, policy: policy, unitRandom: 0), .none)
        XCTAssertEqual(breaker.state, .up)
        XCTAssertEqual(breaker.healthName, "up")
    }

    func testUpDegradesOnADestinationLevelFailure() {
        var breaker = CircuitBreaker()
        XCTAssertEqual(breaker.sendFinished(refused, now: 0, policy: policy, unitRandom: 0), .none)
        XCTAssertEqual(breaker.state, .degraded(failures: 1))
        XCTAssertEqual(breaker.healthName, "degraded")
        XCTAssertEqual(breaker.permit(at: 0), .send, "below the threshold workers keep trying")
        XCTAssertEqual(breaker.lastFailure, .connection)
    }

    func testObjectLevelFailuresSayNothingBadAboutTheDestination() {
        var breaker = CircuitBreaker()
        XCTAssertEqual(breaker.sendFinished(unreadable, now: 0, policy: policy, unitRandom: 0), .none)
        XCTAssertEqual(breaker.state, .up)
    }

    func testLocalFailuresSayNothingAboutTheDestination() {
        var breaker = CircuitBreaker()
        _ = breaker.sendFinished(refused, now: 0, policy: policy, unitRandom: 0)
        let unreadable = SendOutcome.failed(.localError, status: nil, detail: "cannot read the spool file")
        XCTAssertEqual(breaker.sendFinished(unreadable, now: 1, policy: policy, unitRandom: 0), .none)
        XCTAssertEqual(breaker.state, .degraded(failures: 1), "not healed by a failure that never left the gateway")
    }

    // MARK: - degraded

    func testDegradedOpensAtTheThreshold() {
        var breaker = CircuitBreaker()
        _ = breaker.sendFinished(refused, now: 0, policy: policy, unitRandom: 0)
        _ = breaker.sendFinished(rejected, now: 1, policy: policy, unitRandom: 0)
        XCTAssertEqual(
            breaker.sendFinished(busy, now: 2, policy: policy, unitRandom: 0),
            .wentDown(until: 22, failure: .remoteOutOfResources))
        XCTAssertEqual(breaker.state, .down(until: 22, failures: 3), "probe after backoff(3) = 20 s")
        XCTAssertEqual(breaker.healthName, "down")
        XCTAssertEqual(breaker.downUntil, 22)
    }

    func testDegradedHealsOnAnyAnswer() {
        var breaker = CircuitBreaker()
        _ = breaker.sendFinished(refused, now: 0, policy: policy, unitRandom: 0)
        XCTAssertEqual(breaker.sendFinished(unreadable, now: 1, policy: policy, unitRandom: 0), .healthy)
        XCTAssertEqual(breaker.state, .up)
        _ = breaker.sendFinished(refused, now: 2, policy: policy, unitRandom: 0)
        XCTAssertEqual(breaker.sendFinished(delivered, now: 3, policy: policy, unitRandom: 0), .healthy)
        XCTAssertEqual(breaker.state, .up)
        XCTAssertNil(breaker.upSince, "it was never down")
    }

    func testRetryAfterOpensAtOnceUntilTheNamedTime() {
        var breaker = CircuitBreaker()
        let outcome = SendOutcome.failed(.remoteOutOfResources, status: nil, detail: "503")
        XCTAssertEqual(
            breaker.sendFinished(outcome, now: 0, policy: policy, unitRandom: 0, notBefore: 120),
            .wentDown(until: 120, failure: .remoteOutOfResources))
        XCTAssertEqual(breaker.state, .down(until: 120, failures: 1))
    }

    // MARK: - down

    func testDownMakesNoAttemptUntilDueThenGrantsExactlyOneProbe() {
        var breaker = opened(at: 100)
        XCTAssertEqual(breaker.permit(at: 110), .wait(until: 120))
        XCTAssertEqual(breaker.permit(at: 120), .probe)
        XCTAssertEqual(breaker.state, .probing(failures: 3))
        XCTAssertEqual(breaker.permit(at: 120), .wait(until: nil), "the others wait for the probe")
        XCTAssertEqual(breaker.healthName, "down")
    }

    func testDownIgnoresALateFailureOfASendAlreadyOnTheWire() {
        var breaker = opened(at: 100)
        XCTAssertEqual(breaker.sendFinished(refused, now: 101, policy: policy, unitRandom: 0), .none)
        XCTAssertEqual(breaker.state, .down(until: 120, failures: 3))
    }

    func testDownComesUpWhenALateSendSucceeds() {
        var breaker = opened(at: 100)
        XCTAssertEqual(breaker.sendFinished(delivered, now: 101, policy: policy, unitRandom: 0), .cameUp)
        XCTAssertEqual(breaker.state, .up)
        XCTAssertEqual(breaker.upSince, 101)
    }

    // MARK: - probing

    func testFailedProbeStaysDownWithALongerBackoffCappedAtTheMaximum() {
        var breaker = opened(at: 100)
        var now: EpochSeconds = 120
        var waits: [Double] = []
        for _ in 0..<4 {
            XCTAssertEqual(breaker.permit(at: now), .probe)
            guard case .stayedDown(let until) = breaker.probeFinished(refused, now: now, policy: policy, unitRandom: 0)
            else { return XCTFail("expected stayedDown") }
            waits.append(until - now)
            now = until
        }
        XCTAssertEqual(waits, [40, 60, 60, 60])
        XCTAssertEqual(breaker.consecutiveFailures, 7)
    }

    func testJitterShortensProbeDelays() {
        var breaker = opened(at: 100)
        _ = breaker.permit(at: 120)
        XCTAssertEqual(breaker.probeFinished(refused, now: 120, policy: policy, unitRandom: 1), .stayedDown(until: 152))
    }

    func testSuccessfulProbeRecoversAndTheNextSendDecides() {
        var breaker = opened(at: 100)
        _ = breaker.permit(at: 120)
        XCTAssertEqual(breaker.probeFinished(delivered, now: 121, policy: policy, unitRandom: 0), .cameUp)
        XCTAssertEqual(breaker.state, .recovering(failures: 3))
        XCTAssertEqual(breaker.upSince, 121)
        XCTAssertEqual(breaker.permit(at: 121), .send)
        XCTAssertEqual(breaker.sendFinished(delivered, now: 122, policy: policy, unitRandom: 0), .healthy)
        XCTAssertEqual(breaker.state, .up)
    }

    func testProbeThatGetsAnObjectLevelAnswerCountsAsUp() {
        var breaker = opened(at: 100)
        _ = breaker.permit(at: 120)
        let noVerification = SendOutcome.failed(.sopClassNotSupported, status: nil, detail: "no presentation context")
        XCTAssertEqual(breaker.probeFinished(noVerification, now: 121, policy: policy, unitRandom: 0), .cameUp)
    }

    func testProbeResultAfterASendAlreadyClosedTheCircuitIsIgnored() {
        var breaker = opened(at: 100)
        _ = breaker.permit(at: 120)
        XCTAssertEqual(breaker.sendFinished(delivered, now: 121, policy: policy, unitRandom: 0), .cameUp)
        XCTAssertEqual(breaker.probeFinished(refused, now: 122, policy: policy, unitRandom: 0), .none)
        XCTAssertEqual(breaker.state, .up)
    }

    func testSendFailureWhileProbingLeavesTheDecisionToTheProbe() {
        var breaker = opened(at: 100)
        _ = breaker.permit(at: 120)
        XCTAssertEqual(breaker.sendFinished(refused, now: 121, policy: policy, unitRandom: 0), .none)
        XCTAssertEqual(breaker.state, .probing(failures: 3))
    }

    // MARK: - recovering

    func testRecoveringReopensAtTheFirstFailureWithTheLongerBackoff() {
        var breaker = opened(at: 100)
        _ = breaker.permit(at: 120)
        _ = breaker.probeFinished(delivered, now: 120, policy: policy, unitRandom: 0)
        XCTAssertEqual(
            breaker.sendFinished(busy, now: 121, policy: policy, unitRandom: 0),
            .wentDown(until: 161, failure: .remoteOutOfResources))
        XCTAssertEqual(breaker.state, .down(until: 161, failures: 4))
    }

    // MARK: - persistence

    func testRestoringFromTheDatabase() {
        XCTAssertEqual(
            CircuitBreaker(restoring: "down", downUntil: 500, failures: 4).state, .down(until: 500, failures: 4))
        XCTAssertEqual(CircuitBreaker(restoring: "degraded", downUntil: nil, failures: 2).state, .degraded(failures: 2))
        XCTAssertEqual(CircuitBreaker(restoring: "up", downUntil: nil, failures: 0).state, .up)
        XCTAssertEqual(
            CircuitBreaker(restoring: "down", downUntil: nil, failures: 0).state, .down(until: 0, failures: 1))
        XCTAssertEqual(CircuitBreaker(restoring: "bogus", downUntil: nil, failures: 9).state, .up)
        var restored = CircuitBreaker(restoring: "down", downUntil: 500, failures: 4)
        XCTAssertEqual(restored.permit(at: 499), .wait(until: 500), "a restart does not hammer a down remote")
        XCTAssertEqual(restored.permit(at: 500), .probe)
    }

    func testPolicyProbeDelayTable() {
        XCTAssertEqual((3...7).map { policy.probeDelay(afterFailures: $0, unitRandom: 0) }, [20, 40, 60, 60, 60])
    }
}
