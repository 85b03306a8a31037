import Dispatch
import RadRelayCore
import Synchronization

/// Group commit across concurrent associations (FIELD-NOTES, "What durability costs"): requests
/// that arrive while a commit is in flight are committed together by the next one, in one
/// `Outbox.ingest` transaction, so one flush covers them all. Each caller resumes only after the
/// commit that covers its own request; if that commit fails, every caller in the batch gets the
/// error (and must refuse its object).
///
/// Who commits ("leader" group commit): a request submitted with
/// `submit(_:commitOnCallingThread:completion:)` while no commit is in flight is committed on
/// the submitting thread itself — which must then be a thread that may block (the listener's
/// blocking pool, never an event loop or Swift's cooperative pool) — and that thread goes on
/// committing whatever arrived meanwhile until nothing waits. This saves the hand-off to another
/// thread and back per object (docs/benchmarks.md, "Where targets are missed"). Requests that
/// arrive while a commit is in flight are only queued; their callers return at once and are
/// called back by the committing thread. `submit(_:) async` commits on a dedicated serial
/// dispatch queue instead, because SQLite blocks its thread through the fsync and Swift's
/// cooperative pool must never be blocked. Either way at most one commit runs at a time, and a
/// lone request is committed at once: batching only ever gathers what arrived during the
/// previous commit, so it adds no latency.
///
/// With `syncsSpoolDirectory`, each batch fsyncs `spool/` once before its commit; callers may
/// then use `Spool.makeDurable(_:syncDirectory: false)` and pay one directory flush per batch
/// instead of one per object.
public final class IngestBatcher: Sendable {
    /// Called once with the outcome of the commit that covered the request, on the thread that
    /// ran that commit. Keep it short: other callers' completions wait behind it.
    public typealias Completion = @Sendable (Result<IngestResult, any Error>) -> Void

    private struct Waiter {
        var request: IngestRequest
        var completion: Completion
    }

    private struct State {
        var waiting: [Waiter] = []
        var committing = false
        var transactions = 0
        var committedRequests = 0
        /// Watchdog probes waiting for the commits in flight to end.
        var probes: [@Sendable () -> Void] = []
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
    /// Not cancellable: once submitted, the commit decides. Commits on the batcher's queue.
    public func submit(_ request: IngestRequest) async throws -> IngestResult {
        try await withCheckedThrowingContinuation { continuation in
            submit(request, commitOnCallingThread: false) { continuation.resume(with: $0) }
        }
    }

    /// Records `request` and calls `completion` once the transaction covering it has committed
    /// (or failed): only a success lets the object be acknowledged. A malformed request fails
    /// alone, at once, before any batch.
    ///
    /// With `commitOnCallingThread` and no commit in flight, the commit — and any that follow for
    /// requests arriving meanwhile — runs on the calling thread before this returns, so the
    /// caller must be allowed to block on disk I/O. Otherwise this returns at once and the
    /// commit runs on the batcher's queue or on the thread already committing.
    public func submit(_ request: IngestRequest, commitOnCallingThread: Bool, completion: @escaping Completion) {
        do {
            try request.validate()
        } catch {
            completion(.failure(error))
            return
        }
        let startsDrain = state.withLock { state in
            state.waiting.append(Waiter(request: request, completion: completion))
            guard !state.committing else { return false }
            state.committing = true
            return true
        }
        guard startsDrain else { return }
        if commitOnCallingThread {
            drain()
        } else {
            queue.async { self.drain() }
        }
    }

    /// Runs `body` on the commit queue after every commit already started: the watchdog's
    /// liveness probe of the commit path (issue 6). A commit that hangs keeps `body` from running.
    public func probe(_ body: @escaping @Sendable () -> Void) {
        // Commits may run on submitting threads: while one is in flight, the probe waits for the
        // drain that runs it to finish, then goes through the queue (after any queued drain).
        let runNow = state.withLock { state in
            guard state.committing else { return true }
            state.probes.append(body)
            return false
        }
        if runNow { queue.async(execute: body) }
    }

    /// Ingest transactions committed (or attempted) so far.
    public var transactionCount: Int { state.withLock { $0.transactions } }

    /// Requests covered by those transactions.
    public var requestCount: Int { state.withLock { $0.committedRequests } }

    // MARK: - Internals

    private func drain() {
        while true {
            let (batch, probes): ([Waiter], [@Sendable () -> Void]) = state.withLock { state in
                guard !state.waiting.isEmpty else {
                    state.committing = false
                    let probes = state.probes
                    state.probes = []
                    return ([], probes)
                }
                let count = min(maxBatchSize, state.waiting.count)
                let batch = Array(state.waiting.prefix(count))
                state.waiting.removeFirst(count)
                state.transactions += 1
                state.committedRequests += count
                // Probes that waited for the commit in flight are answered by the end of this
                // one: under sustained load the drain may never find the queue empty, and a
                // busy commit path must not look stuck to the watchdog.
                let probes = state.probes
                state.probes = []
                return (batch, probes)
            }
            guard !batch.isEmpty else {
                for body in probes { queue.async(execute: body) }
                return
            }
            commit(batch)
            for body in probes { queue.async(execute: body) }
        }
    }

    private func commit(_ batch: [Waiter]) {
        do {
            // The renames this batch's objects made must be durable before their rows commit;
            // otherwise a crash could leave committed rows without files.
            if syncsSpoolDirectory { try outbox.spool.syncDirectory() }
            let results = try outbox.ingest(batch.map(\.request), now: clock())
            for (waiter, result) in zip(batch, results) { waiter.completion(.success(result)) }
        } catch {
            for waiter in batch { waiter.completion(.failure(error)) }
        }
    }
}
