#if canImport(Glibc)
import Glibc
#endif

/// Process-wide preparation that must happen before any thread starts.
public enum ProcessSetup {
    /// Unblocks SIGTERM, SIGINT and SIGHUP. A parent that spawns us from a thread with those
    /// signals blocked (Swift concurrency and Dispatch threads do) passes its mask on through
    /// exec; without this, `systemctl stop` or a test's SIGTERM would be held back until the
    /// service manager's SIGKILL, skipping the graceful drain. Threads created later inherit
    /// the unblocked mask.
    public static func unblockShutdownSignals() {
        var set = sigset_t()
        sigemptyset(&set)
        sigaddset(&set, SIGTERM)
        sigaddset(&set, SIGINT)
        sigaddset(&set, SIGHUP)
        pthread_sigmask(SIG_UNBLOCK, &set, nil)
    }
}
