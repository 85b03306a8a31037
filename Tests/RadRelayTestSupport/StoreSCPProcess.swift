import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// DCMTK's `storescp` (always `/usr/bin/storescp`; pynetdicom shadows the name on PATH) as a real
/// storage peer: listens on a free loopback port, writes what it receives into its own directory,
/// verbose log in a file. Accepts every storage class it knows, in every transfer syntax it
/// supports (`+xa`) or only uncompressed ones. Stop it with `stop()` (by pid) in the test's
/// teardown.
public final class StoreSCPProcess: @unchecked Sendable {
    public static let executable = "/usr/bin/storescp"

    /// The AE title it answers to (storescp does not check the called AE title).
    public let aeTitle: String
    /// Where received objects land.
    public let outputDirectory: URL
    /// The verbose log.
    public let logURL: URL
    private let acceptAllTransferSyntaxes: Bool
    private let extraArguments: [String]
    private var child: ChildProcess?
    private(set) public var port = 0

    /// Prepares (does not start) a peer. `directory` gets `received/` and `storescp.log`.
    /// `extraArguments` are storescp options such as `--abort-after` or `--sleep-after 3`.
    public init(
        aeTitle: String = "STORESCP",
        directory: URL,
        acceptAllTransferSyntaxes: Bool = true,
        extraArguments: [String] = []
    ) throws {
        self.aeTitle = aeTitle
        outputDirectory = directory.appendingPathComponent("received", isDirectory: true)
        try FileManager.default.createDirectory(at: outputDirectory, withIntermediateDirectories: true)
        logURL = directory.appendingPathComponent("storescp.log")
        self.acceptAllTransferSyntaxes = acceptAllTransferSyntaxes
        self.extraArguments = extraArguments
    }

    /// Starts storescp on a free port and returns once it accepts TCP connections. Retries on
    /// another port when the one picked was taken meanwhile.
    public func start(timeout: TimeInterval = 10) throws {
        for _ in 0..<3 {
            let port = freeLoopbackPort()
            let syntaxes = acceptAllTransferSyntaxes ? ["+xa"] : []
            let child = ChildProcess(
                executable: URL(fileURLWithPath: Self.executable),
                arguments: ["-v"] + syntaxes + ["-aet", aeTitle, "-od", outputDirectory.path] + extraArguments
                    + [String(port)],
                logURL: logURL,
                environment: ["TCP_NODELAY": "1"]
            )
            try child.start()
            self.child = child
            self.port = port
            if try waitUntilAccepting(child: child, port: port, timeout: timeout) { return }
        }
        throw HarnessError("storescp did not start\n" + tailOfFile(logURL))
    }

    /// SIGKILL by pid, and waits for the kernel to reap it. Not SIGTERM: a child started from a
    /// Swift concurrency or Dispatch thread inherits that thread's signal mask, with SIGTERM
    /// blocked, so storescp would ignore it; nothing of storescp's needs a clean exit.
    public func stop() {
        child?.killNow()
    }

    /// The files received so far.
    public func receivedFiles() -> [URL] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: outputDirectory.path)) ?? []
        return names.sorted().map { outputDirectory.appendingPathComponent($0) }
    }

    /// The log so far.
    public func log() -> String {
        (try? String(contentsOf: logURL, encoding: .utf8)) ?? ""
    }

    /// TCP connections to its port in state ESTABLISHED, as `ss` reports them (server side).
    public func establishedConnections() throws -> Int {
        let result = try ProcessRunner.run("/usr/bin/ss", ["-Htn", "state", "established", "( sport = :\(port) )"])
        return result.stdout.split(separator: "\n").filter { !$0.isEmpty }.count
    }

    /// True once a probe connects; false when the child exited first (port taken).
    private func waitUntilAccepting(child: ChildProcess, port: Int, timeout: TimeInterval) throws -> Bool {
        let deadline = monotonicSeconds() + timeout
        while monotonicSeconds() < deadline {
            if !child.isRunning { return false }
            if let fd = try? Socket.connectTCP(host: "127.0.0.1", port: port, timeout: 1) {
                close(fd)
                return true
            }
            Thread.sleep(forTimeInterval: 0.02)
        }
        throw HarnessError("storescp did not accept connections within \(timeout) s\n" + tailOfFile(logURL))
    }
}
