#if RADRELAY_FAULT_INJECTION
    #if canImport(Glibc)
        import Glibc
    #endif
    import Synchronization
#endif

/// Crash and stall points for the fault-injection suite (issues 6 and 7).
///
/// - `FaultPoint.hit("name")` marks a place where a `kill -9` is most interesting (between the
///   commit and the C-STORE-RSP, between a send and its bookkeeping…). When the point is armed,
///   the process SIGKILLs itself there, exactly as an operator's `kill -9` or a power cut would
///   stop it.
/// - `await FaultPoint.stall("name")` marks a place where a loop can get stuck (a send that never
///   returns). When the point is armed, the calling task suspends there forever: the loop stops
///   ticking its heartbeat, which is what the systemd watchdog must notice (issue 6: a stuck
///   daemon stops sending `WATCHDOG=1`). It suspends the *task* rather than blocking its
///   thread, because that is what a stuck send is in this daemon (a task waiting on a
///   continuation that a DCMTK thread never resumes); blocking a cooperative-pool thread instead
///   would also starve unrelated tasks (two cores: two threads) and test something else. The
///   task ignores cancellation, so a graceful shutdown hangs at the stalled send, as it would
///   with a real one: a test ends such a daemon with SIGKILL.
///
/// **Neither can fire in a production build.** The bodies exist only when the compilation
/// condition `RADRELAY_FAULT_INJECTION` is set, which `Package.swift` sets for *debug* builds
/// only (`.define(…, .when(configuration: .debug))`). A release build (`swift build -c release`,
/// what the benchmark and any package use) compiles `hit` and `stall` to empty inlined
/// functions: no environment lookup, no branch, and the variable names do not appear in the
/// binary (the benchmark script checks that). Even in a debug build nothing happens unless the
/// process was started with `RADRELAY_FAULT_POINTS` (crashes) or `RADRELAY_FAULT_STALLS`
/// (stalls) naming the point. A compile-time switch driven by an environment variable at build
/// time was rejected: SwiftPM's shared build directory would mix objects built with and without
/// it.
///
/// Both variables are comma-separated lists of `name` (fire on the first hit) or `name@N` (fire
/// on the N-th hit, counting every hit of that point in this process), e.g.
/// `RADRELAY_FAULT_POINTS=ingest-after-commit-before-response@3` or
/// `RADRELAY_FAULT_STALLS=forward-before-send@1`. When a point fires, one line goes to stderr
/// first — `radrelay fault point <name> hit <n>: SIGKILL` or `…: stalled` — so a test can tell
/// the injected fault from a real one.
///
/// The points in the code (each a single line, so daemon owners can move them freely):
/// - `ingest-after-fsync-before-commit` (`IngestPipeline`, crash): file durable and renamed, no
///   row yet.
/// - `ingest-after-commit-before-response` (`IngestPipeline`, crash): row committed, no
///   C-STORE-RSP.
/// - `forward-after-send-before-mark` (`DestinationForwarder`, crash): the remote confirmed, the
///   delivery is still `active` in the outbox.
/// - `forward-before-send` (`DestinationForwarder`, stall): a worker has claimed and prepared a
///   delivery and never sends it, so its heartbeat (`forwarder.<destination>.<worker>`) stops.
public enum FaultPoint {
    #if RADRELAY_FAULT_INJECTION
        /// True in builds where fault points can fire (debug builds); tests skip otherwise.
        public static let isCompiledIn = true

        private struct Armed: Sendable {
            var fireAt: [String: Int] = [:]
            var hits: [String: Int] = [:]
        }

        private static let armed: Mutex<Armed> = Mutex(Armed(fireAt: parse(getenv("RADRELAY_FAULT_POINTS"))))
        private static let stalls: Mutex<Armed> = Mutex(Armed(fireAt: parse(getenv("RADRELAY_FAULT_STALLS"))))

        private static func parse(_ raw: UnsafeMutablePointer<CChar>?) -> [String: Int] {
            guard let raw else { return [:] }
            var result: [String: Int] = [:]
            for entry in String(cString: raw).split(separator: ",") {
                let parts = entry.split(separator: "@", maxSplits: 1)
                let name = stripSpaces(parts[0])
                guard !name.isEmpty else { continue }
                let count = parts.count == 2 ? Int(stripSpaces(parts[1])) ?? 1 : 1
                result[name] = max(1, count)
            }
            return result
        }

        private static func stripSpaces(_ text: Substring) -> String {
            String(text.drop(while: { $0 == " " }).reversed().drop(while: { $0 == " " }).reversed())
        }

        /// Kills the process with SIGKILL if `name` is armed and this is the hit it waits for.
        public static func hit(_ name: StaticString) {
            guard let count = fires(name.description, in: armed) else { return }
            say("radrelay fault point \(name.description) hit \(count): SIGKILL\n")
            kill(getpid(), SIGKILL)
        }

        /// Suspends the calling task forever (ignoring cancellation) if `name` is armed in
        /// `RADRELAY_FAULT_STALLS` and this is the hit it waits for; returns at once otherwise.
        public static func stall(_ name: StaticString) async {
            guard let count = fires(name.description, in: stalls) else { return }
            say("radrelay fault point \(name.description) hit \(count): stalled\n")
            // Never resumed on purpose. An unsafe continuation has no leak check to complain.
            await withUnsafeContinuation { (_: UnsafeContinuation<Void, Never>) in }
        }

        /// Counts a hit of `key`; the hit number when this is the one the point waits for.
        private static func fires(_ key: String, in table: borrowing Mutex<Armed>) -> Int? {
            table.withLock { state in
                guard let target = state.fireAt[key] else { return nil }
                let count = state.hits[key, default: 0] + 1
                state.hits[key] = count
                return count == target ? count : nil
            }
        }

        private static func say(_ line: String) {
            _ = line.utf8CString.withUnsafeBufferPointer { write(2, $0.baseAddress, $0.count - 1) }
        }
    #else
        /// True in builds where fault points can fire (debug builds); tests skip otherwise.
        public static let isCompiledIn = false

        /// Does nothing: fault injection is compiled out of this build.
        @inline(__always)
        public static func hit(_ name: StaticString) {}

        /// Does nothing: fault injection is compiled out of this build.
        @inline(__always)
        public static func stall(_ name: StaticString) async {}
    #endif
}
