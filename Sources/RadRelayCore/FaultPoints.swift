#if RADRELAY_FAULT_INJECTION
    #if canImport(Glibc)
        import Glibc
    #endif
    import Synchronization
#endif

/// Crash points for the fault-injection suite (issue 7): `FaultPoint.hit("name")` marks a place
/// where a `kill -9` is most interesting (between the commit and the C-STORE-RSP, between a send
/// and its bookkeeping…). When the point is armed, the process SIGKILLs itself there, exactly as
/// an operator's `kill -9` or a power cut would stop it.
///
/// **It cannot fire in a production build.** The body exists only when the compilation condition
/// `RADRELAY_FAULT_INJECTION` is set, which `Package.swift` sets for *debug* builds only
/// (`.define(…, .when(configuration: .debug))`). A release build (`swift build -c release`,
/// what the benchmark and any package use) compiles `hit` to an empty inlined function: no
/// environment lookup, no branch, and the variable name does not appear in the binary (the
/// benchmark script checks that). Even in a debug build nothing happens unless the process was
/// started with `RADRELAY_FAULT_POINTS` naming the point. A compile-time switch driven by an
/// environment variable at build time was rejected: SwiftPM's shared build directory would mix
/// objects built with and without it.
///
/// `RADRELAY_FAULT_POINTS` is a comma-separated list of `name` (fire on the first hit) or
/// `name@N` (fire on the N-th hit, counting every hit of that point in this process), e.g.
/// `ingest-after-commit-before-response@3`. Just before the kill, one line
/// `radrelay fault point <name> hit <n>: SIGKILL` goes to stderr, so a test can tell the
/// injected crash from a real one.
///
/// The points in the code (each a single line, so daemon owners can move them freely):
/// - `ingest-after-fsync-before-commit` (`IngestPipeline`): file durable and renamed, no row yet.
/// - `ingest-after-commit-before-response` (`IngestPipeline`): row committed, no C-STORE-RSP.
/// - `forward-after-send-before-mark` (`DestinationForwarder`): the remote confirmed, the
///   delivery is still `active` in the outbox.
public enum FaultPoint {
    #if RADRELAY_FAULT_INJECTION
        /// True in builds where fault points can fire (debug builds); tests skip otherwise.
        public static let isCompiledIn = true

        private struct Armed: Sendable {
            var fireAt: [String: Int] = [:]
            var hits: [String: Int] = [:]
        }

        private static let armed: Mutex<Armed> = Mutex(Armed(fireAt: parse(getenv("RADRELAY_FAULT_POINTS"))))

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
            let key = name.description
            let fire: Int? = armed.withLock { state in
                guard let target = state.fireAt[key] else { return nil }
                let count = state.hits[key, default: 0] + 1
                state.hits[key] = count
                return count == target ? count : nil
            }
            guard let count = fire else { return }
            let line = "radrelay fault point \(key) hit \(count): SIGKILL\n"
            _ = line.utf8CString.withUnsafeBufferPointer { write(2, $0.baseAddress, $0.count - 1) }
            kill(getpid(), SIGKILL)
        }
    #else
        /// True in builds where fault points can fire (debug builds); tests skip otherwise.
        public static let isCompiledIn = false

        /// Does nothing: fault injection is compiled out of this build.
        @inline(__always)
        public static func hit(_ name: StaticString) {}
    #endif
}
