import RadRelayCore
import RadRelayOutbox
import XCTest

final class IngestBatcherTests: OutboxTestCase {
    func testConcurrentSubmitsShareTransactionsAndAllGetTheirResults() async throws {
        let count = 64
        let requests = try (0..<count).map { try makeRequest(uid: "1.2.3.\($0 + 1)", content: "object \($0)") }
        let now = t0
        let batcher = IngestBatcher(outbox: outbox, clock: { now }, syncsSpoolDirectory: true)

        let results = try await withThrowingTaskGroup(of: (Int, IngestResult).self) { group in
            for (index, request) in requests.enumerated() {
                group.addTask { (index, try await batcher.submit(request)) }
            }
            var results: [Int: IngestResult] = [:]
            for try await (index, result) in group { results[index] = result }
            return results
        }

        XCTAssertEqual(results.count, count)
        XCTAssertTrue(results.values.allSatisfy { $0.outcomes == ["pacs-a": .queued] })
        XCTAssertEqual(Set(results.values.compactMap(\.instanceID)).count, count)
        XCTAssertEqual(batcher.requestCount, count)
        XCTAssertLessThan(batcher.transactionCount, count, "requests that arrive during a commit share the next one")
        XCTAssertEqual(try outbox.deliveries().count, count)
        XCTAssertEqual(try outbox.deliveries().map(\.queuedAt), Array(repeating: t0, count: count))
    }

    func testAFailedCommitFailsEveryCallerInIt() async throws {
        let requests = try (0..<8).map { try makeRequest(uid: "1.2.3.\($0 + 1)") }
        let batcher = IngestBatcher(outbox: outbox, clock: { 0 })
        try outbox.close()

        let failures = await withTaskGroup(of: Bool.self) { group in
            for request in requests {
                group.addTask {
                    do {
                        _ = try await batcher.submit(request)
                        return false
                    } catch {
                        return true
                    }
                }
            }
            return await group.reduce(0) { $0 + ($1 ? 1 : 0) }
        }

        XCTAssertEqual(failures, requests.count)
    }

    func testAMalformedRequestFailsAloneBeforeAnyBatch() async throws {
        let batcher = IngestBatcher(outbox: outbox, clock: { 0 })
        var bad = try makeRequest(uid: "1.2.3.1")
        bad.routes = [:]

        do {
            _ = try await batcher.submit(bad)
            XCTFail("accepted a request without destinations")
        } catch {
            XCTAssertEqual(error as? OutboxError, .invalidRequest("no destination"))
        }
        let good = try await batcher.submit(makeRequest(uid: "1.2.3.2"))
        XCTAssertEqual(good.outcomes, ["pacs-a": .queued])
        XCTAssertEqual(batcher.transactionCount, 1)
    }
}
