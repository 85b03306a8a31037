import NIOPosix

#if canImport(Glibc)
    import Glibc
#endif

/// A bounded pool of OS threads for DCMTK's blocking codec and dataset work (`VariantBuilder`),
/// so CPU-heavy transcoding never occupies Swift's cooperative pool and never runs more than
/// `workers` jobs at once (`compression.workers`). Jobs queue in submission order.
///
/// The threads run at a lower CPU priority (nice +10, per thread): compression happens after
/// the acknowledgement, and on a small machine it must not take the cores the ingest path
/// (parsing, fsync, commit, C-STORE-RSP) needs.
public final class TransformPool: Sendable {
    /// Threads in the pool.
    public let workers: Int
    private let pool: NIOThreadPool

    /// Starts `workers` threads (at least one).
    public init(workers: Int) {
        self.workers = max(1, workers)
        pool = NIOThreadPool(numberOfThreads: self.workers)
        pool.start()
    }

    /// Runs `body` on a pool thread and returns its result; nil once the pool is shut down.
    public func run<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T? {
        try? await pool.runIfActive {
            Self.lowerThisThreadsPriority()
            return body()
        }
    }

    /// On Linux the nice value is per thread, and `who` 0 names the calling thread only
    /// (setpriority(2), "BUGS"). Best effort: a refusal leaves the thread as it was.
    private static func lowerThisThreadsPriority() {
        #if os(Linux)
            let which = __priority_which_t(PRIO_PROCESS.rawValue)
            if getpriority(which, 0) < backgroundNice { _ = setpriority(which, 0, backgroundNice) }
        #endif
    }

    private static let backgroundNice: Int32 = 10

    /// Lets queued jobs finish and stops the threads.
    public func shutdown() async {
        try? await pool.shutdownGracefully()
    }
}
