import Dispatch
import RadRelayCore
import RadRelayOutbox
import Synchronization
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

    /// The listener's path: submitters on blocking threads, the first of which commits on its own
    /// thread ("leader") while the others only queue and are called back by whoever commits.
    func testSubmittingThreadsCommitThemselvesAndShareTransactions() throws {
        let count = 64
        let requests = try (0..<count).map { try makeRequest(uid: "1.2.3.\($0 + 1)", content: "object \($0)") }
        let batcher = IngestBatcher(outbox: outbox, clock: { 0 }, syncsSpoolDirectory: true)
        let results = Mutex<[Int: IngestResult]>([:])
        let failures = Mutex(0)
        let done = DispatchGroup()
        for _ in 0..<count { done.enter() }
        DispatchQueue.concurrentPerform(iterations: count) { index in
            batcher.submit(requests[index], commitOnCallingThread: true) { outcome in
                switch outcome {
                case .success(let result): results.withLock { $0[index] = result }
                case .failure: failures.withLock { $0 += 1 }
                }
                done.leave()
            }
        }
        XCTAssertEqual(done.wait(timeout: .now() + 30), .success)
        XCTAssertEqual(failures.withLock { $0 }, 0)
        let all = results.withLock { $0 }
        XCTAssertEqual(all.count, count)
        XCTAssertTrue(all.values.allSatisfy { $0.outcomes == ["pacs-a": .queued] })
        XCTAssertEqual(batcher.requestCount, count)
        XCTAssertEqual(try outbox.deliveries().count, count)
    }

    /// A lone request with `commitOnCallingThread` is committed before `submit` returns, on the
    /// caller's thread; a malformed one fails at once without a transaction.
    func testALoneRequestCommitsBeforeSubmitReturns() throws {
        let batcher = IngestBatcher(outbox: outbox, clock: { 0 })
        let outcome = Mutex<Result<IngestResult, any Error>?>(nil)
        batcher.submit(try makeRequest(uid: "1.2.3.1"), commitOnCallingThread: true) { result in
            outcome.withLock { $0 = result }
        }
        let result = try XCTUnwrap(outcome.withLock { $0 }).get()
        XCTAssertEqual(result.outcomes, ["pacs-a": .queued])
        XCTAssertEqual(batcher.transactionCount, 1)

        var bad = try makeRequest(uid: "1.2.3.2")
        bad.routes = [:]
        let failed = Mutex(false)
        batcher.submit(bad, commitOnCallingThread: true) { result in
            if case .failure = result { failed.withLock { $0 = true } }
        }
        XCTAssertTrue(failed.withLock { $0 })
        XCTAssertEqual(batcher.transactionCount, 1)
    }

    /// The watchdog's probe runs only after a commit in flight on a submitting thread has ended.
    func testProbeWaitsForACommitOnASubmittingThread() throws {
        let batcher = IngestBatcher(outbox: outbox, clock: { 0 })
        let probed = Mutex(false)
        let inCommit = DispatchSemaphore(value: 0)
        let release = DispatchSemaphore(value: 0)
        let finished = DispatchSemaphore(value: 0)
        let request = try makeRequest(uid: "1.2.3.1")
        DispatchQueue.global().async {
            batcher.submit(request, commitOnCallingThread: true) { _ in
                // Completions run on the committing thread, inside its drain.
                inCommit.signal()
                release.wait()
            }
            finished.signal()
        }
        inCommit.wait()
        let ran = DispatchSemaphore(value: 0)
        batcher.probe {
            probed.withLock { $0 = true }
            ran.signal()
        }
        XCTAssertEqual(ran.wait(timeout: .now() + 0.3), .timedOut, "probe ran while the commit was in flight")
        release.signal()
        XCTAssertEqual(finished.wait(timeout: .now() + 10), .success)
        XCTAssertEqual(ran.wait(timeout: .now() + 10), .success)
        XCTAssertTrue(probed.withLock { $0 })
    }
}
