import RadRelayCore
import RadRelayDICOMweb
import RadRelayTestSupport
import XCTest

/// One assertion per (HTTP status, body) cell of the STOW-RS judgement (PS3.18 §10.5.3).
final class STOWJudgementTests: XCTestCase {
    let sent = ["1.1", "1.2", "1.3"].map {
        STOWInstance(path: "/x", sopInstanceUID: $0, sopClassUID: "1.2", studyInstanceUID: "9", byteSize: 10)
    }
    let now: EpochSeconds = 1_000_000

    private func judge(_ status: Int, _ body: String, retryAfter: String? = nil, contentType: String? = "application/dicom+json")
        -> [STOWInstanceResult]
    {
        switch STOWJudgement.judge(
            status: status, retryAfter: retryAfter, body: Array(body.utf8), contentType: contentType, sent: sent, now: now)
        {
        case .perInstance(let results): return results
        case .halveBatch: XCTFail("unexpected halving"); return []
        }
    }

    private func failure(_ result: STOWInstanceResult) -> FailureClass? {
        if case .failed(let failure, _, _) = result.outcome { return failure }
        return nil
    }

    func testAllStoredIsDeliveredWithWarningsRecorded() {
        var body = ScriptedHTTPPeerBody.make(uids: ["1.1", "1.2", "1.3"], failures: [:])
        body = body.replacingOccurrences(
            of: "\"Value\":[\"1.2\"]}", with: "\"Value\":[\"1.2\"]},\"00081196\":{\"vr\":\"US\",\"Value\":[45056]}")
        let results = judge(200, body)
        XCTAssertEqual(results.map(\.outcome), [
            .delivered(status: .success), .delivered(status: DIMSEStatus(0xB000)), .delivered(status: .success),
        ])
    }

    func testFailureReasonsClassify() {
        let body = ScriptedHTTPPeerBody.make(uids: ["1.1", "1.2", "1.3"], failures: ["1.1": 0xA900, "1.2": 0xC122, "1.3": 0xC000])
        let results = judge(202, body)
        XCTAssertEqual(results.map(failure), [.dataSetMismatch, .transferSyntaxNotSupported, .cannotUnderstand])
        let policy = RetryPolicy()
        let first = results.map { policy.disposition(for: $0.outcome, attempt: 1, now: now, unitRandom: 0) }
        guard case .dead = first[0], case .dead = first[1], case .deferred = first[2] else {
            return XCTFail("0xA9xx and 0xC122 are dead at once, others retried: \(first)")
        }
        guard case .dead = policy.disposition(for: results[2].outcome, attempt: 3, now: now, unitRandom: 0) else {
            return XCTFail("dead after 3 attempts")
        }
        XCTAssertEqual(FailureClass.forSTOWFailureReason(0x0122), .sopClassNotSupported)
        XCTAssertEqual(FailureClass.forSTOWFailureReason(0xA700), .remoteOutOfResources)
    }

    func testAbsentInstanceAndUnparsableBodyDefer() {
        let body = ScriptedHTTPPeerBody.make(uids: ["1.1", "1.3"], failures: [:])
        XCTAssertEqual(judge(200, body).map(failure), [nil, .unparsableResponse, nil])
        XCTAssertEqual(judge(200, "<html>oops</html>", contentType: "text/html").map(failure), Array(repeating: .unparsableResponse, count: 3))
        XCTAssertEqual(judge(200, "").map(failure), Array(repeating: .unparsableResponse, count: 3))
        XCTAssertEqual(judge(200, "{\"00081199\": 7}").map(failure), Array(repeating: .unparsableResponse, count: 3))
        XCTAssertTrue(FailureClass.unparsableResponse.isDestinationLevel)
    }

    func testConflictIsNeverDelivered() {
        let body = ScriptedHTTPPeerBody.make(uids: ["1.1", "1.2", "1.3"], failures: ["1.2": 0xC000])
        XCTAssertEqual(judge(409, body).map(failure), [.unparsableResponse, .cannotUnderstand, .unparsableResponse])
        XCTAssertEqual(judge(409, "").map(failure), Array(repeating: .unparsableResponse, count: 3))
    }

    func testDestinationLevelStatusesDeferWithRetryAfter() {
        let cases: [(Int, FailureClass)] = [
            (401, .httpAuthentication), (403, .httpAuthentication), (407, .httpAuthentication), (404, .httpNotFound),
            (408, .timeout), (429, .httpUnavailable), (500, .httpUnavailable), (503, .httpUnavailable),
            (302, .httpUnavailable),
        ]
        for (status, expected) in cases {
            let results = judge(status, "{}", retryAfter: "120")
            XCTAssertEqual(results.map(failure), Array(repeating: expected, count: 3), "\(status)")
            XCTAssertEqual(results.first?.notBefore, now + 120, "\(status)")
            XCTAssertTrue(expected.isDestinationLevel)
            let disposition = RetryPolicy().disposition(
                for: results[0].outcome, attempt: 1, now: now, unitRandom: 0, notBefore: results[0].notBefore)
            XCTAssertEqual(disposition, .deferred(notBefore: now + 120, failure: expected, detail: "HTTP \(status), Retry-After 120s"))
        }
    }

    func testPayloadTooLargeHalvesThenFailsAlone() {
        XCTAssertEqual(
            STOWJudgement.judge(status: 413, retryAfter: nil, body: [], contentType: nil, sent: sent, now: now), .halveBatch)
        let alone = STOWJudgement.judge(status: 413, retryAfter: nil, body: [], contentType: nil, sent: [sent[0]], now: now)
        guard case .perInstance(let results) = alone else { return XCTFail() }
        XCTAssertEqual(results.map(failure), [.payloadTooLarge])
    }

    func testArrayWrappedResponseParses() {
        let body = "[" + ScriptedHTTPPeerBody.make(uids: ["1.1", "1.2", "1.3"], failures: [:]) + "]"
        XCTAssertEqual(judge(200, body).map(failure), [nil, nil, nil])
    }

    func testRetryAfterForms() {
        XCTAssertEqual(RetryAfter.parse("30", now: now), now + 30)
        XCTAssertEqual(RetryAfter.parse(" 0 ", now: now), now)
        XCTAssertEqual(RetryAfter.parse("99999999", now: now), now + RetryAfter.maximumDelay)
        XCTAssertEqual(RetryAfter.parse("Sun, 06 Nov 1994 08:49:37 GMT", now: 784_111_000), 784_111_777)
        XCTAssertEqual(RetryAfter.parse("Sun, 06 Nov 1994 08:49:37 GMT", now: now * 1000), now * 1000)
        XCTAssertNil(RetryAfter.parse("soon", now: now))
        XCTAssertNil(RetryAfter.parse("-5", now: now))
        // The later of backoff and Retry-After wins: Retry-After 0 is no tight loop.
        let outcome = SendOutcome.failed(.httpUnavailable, status: nil, detail: "HTTP 503")
        XCTAssertEqual(
            RetryPolicy().disposition(for: outcome, attempt: 1, now: now, unitRandom: 0, notBefore: now),
            .deferred(notBefore: now + 5, failure: .httpUnavailable, detail: "HTTP 503"))
        // (The destination-wide effect of Retry-After is CircuitBreakerTests' business.)
    }

    func testBatchingByLimits() {
        let instances = (1...7).map {
            STOWInstance(path: "/x", sopInstanceUID: "\($0)", sopClassUID: "1", studyInstanceUID: $0 < 5 ? "A" : "B", byteSize: 100)
        }
        XCTAssertEqual(STOWBatching.requests(instances, maxInstances: 3, maxBytes: 10_000, byStudy: false).map(\.count), [3, 3, 1])
        XCTAssertEqual(STOWBatching.requests(instances, maxInstances: 50, maxBytes: 250, byStudy: false).map(\.count), [2, 2, 2, 1])
        XCTAssertEqual(STOWBatching.requests(instances, maxInstances: 50, maxBytes: 10_000, byStudy: true).map(\.count), [4, 3])
        XCTAssertEqual(STOWBatching.requests(instances, maxInstances: 50, maxBytes: 50, byStudy: false).map(\.count), Array(repeating: 1, count: 7))
    }

    func testHTTPStatusTable() {
        XCTAssertNil(FailureClass.forHTTPStatus(200))
        XCTAssertNil(FailureClass.forHTTPStatus(202))
        XCTAssertNil(FailureClass.forHTTPStatus(409))
        XCTAssertNil(FailureClass.forHTTPStatus(400))
        XCTAssertNil(FailureClass.forHTTPStatus(413))
        XCTAssertEqual(FailureClass.forHTTPStatus(502), .httpUnavailable)
    }
}

/// The scripted peer's DICOM JSON builder, reused for judgement tests.
enum ScriptedHTTPPeerBody {
    static func make(uids: [String], failures: [String: UInt16]) -> String {
        ScriptedHTTPPeer.stowBody(uids: uids, failures: failures)
    }
}
