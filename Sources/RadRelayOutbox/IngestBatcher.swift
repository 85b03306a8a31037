import Dispatch
import RadRelayCore
import Synchronization

/// Group commit across concurrent associations (FIELD-NOTES, "What durability costs"): requests
/// that arrive while a commit is in flight are committed together by the next one, in one
/// `Outbox.ingest` transaction, so one flush covers them all. Each caller resumes only after the
/// commit that covers its own request; if that commit fails, every caller in the batch gets the
/// error (and must refuse its object).
///
/// Commits run on a dedicated serial dispatch queue, because SQLite blocks its thread through
/// the fsync and Swift's cooperative pool must never be blocked. A lone request is committed at
/// once: batching only ever gathers what arrived during the previous commit, so it adds no
/// latency.
///
/// With `syncsSpoolDirectory`, each batch fsyncs `spool/` once before its commit; callers may
/// then use `Spool.makeDurable(_:syncDirectory: false)` and pay one directory flush per batch
/// instead of one per object.
public final class IngestBatcher: Sendable {
    private struct Waiter {
        var request: IngestRequest
        var continuation: CheckedContinuation<IngestResult, any Error>
    }

    private struct State {
        var waiting: [Waiter] = []
        var committing = false
        var transactions = 0
        var committedRequests = 0
    }

    private let outbox: Outbox
    private let clock: @Sendable () -> EpochSeconds
    private let maxBatchSize: Int
    private let syncsSpoolDirectory: Bool
    private let queue = DispatchQueue(label: "radrelay.outbox.ingest", qos: .userInitiated)
    private let state = Mutex(State())

    /// Creates a batcher committing into `outbox`, taking `now` from `clock` at each commit, at
    /// most `maxBatchSize` requests per transaction.
    public init(
        outbox: Outbox,
        clock: @escaping @Sendable () -> EpochSeconds,
        maxBatchSize: Int = 256,
        syncsSpoolDirectory: Bool = false
    ) {
        precondition(maxBatchSize > 0, "maxBatchSize must be positive")
        self.outbox = outbox
        self.clock = clock
        self.maxBatchSize = maxBatchSize
        self.syncsSpoolDirectory = syncsSpoolDirectory
    }

    /// Records `request` and returns once the transaction covering it has committed: from then
    /// on the object may be acknowledged. A malformed request fails alone, before any batch.
    /// Not cancellable: once submitted, the commit decides.
    public func submit(_ request: IngestRequest) async throws -> IngestResult {
        try request.validate()
        return try await withCheckedThrowingContinuation { continuation in
            let startsDrain = state.withLock { state in
                state.waiting.append(Waiter(request: request, continuation: continuation))
                guard !state.committing else { return false }
                state.committing = true
                return true
            }
            if startsDrain { queue.async { self.drain() } }
        }
    }

    /// Runs `body` on the commit queue after every commit already started: the watchdog's
    /// liveness probe of the commit path (issue 6). A commit that hangs keeps `body` from running.
    public func probe(_ body: @escaping @Sendable () -> Void) {
        queue.async(execute: body)
    }

    /// Ingest transactions committed (or attempted) so far.
    public var transactionCount: Int { state.withLock { $0.transactions } }

    /// Requests covered by those transactions.
    public var requestCount: Int { state.withLock { $0.committedRequests } }

    // MARK: - Internals

    private func drain() {
        while true {
            let batch: [Waiter] = state.withLock { state in
                guard !state.waiting.isEmpty else {
                    state.committing = false
                    return []
                }
                let count = min(maxBatchSize, state.waiting.count)
                let batch = Array(state.waiting.prefix(count))
                state.waiting.removeFirst(count)
                state.transactions += 1
                state.committedRequests += count
                return batch
            }
            guard !batch.isEmpty else { return }
            commit(batch)
        }
    }

    private func commit(_ batch: [Waiter]) {
        do {
            // The renames this batch's objects made must be durable before their rows commit;
            // otherwise a crash could leave committed rows without files.
            if syncsSpoolDirectory { try outbox.spool.syncDirectory() }
            let results = try outbox.ingest(batch.map(\.request), now: clock())
            for (waiter, result) in zip(batch, results) { waiter.continuation.resume(returning: result) }
        } catch {
            for waiter in batch { waiter.continuation.resume(throwing: error) }
        }
    }
}
