import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// The daemon's status document (`GET /status` on `<state_dir>/control.sock`), decoded leniently:
/// missing counters read as 0 so a test fails on its own assertion, not on decoding.
public struct DaemonStatus: Decodable, Sendable, CustomStringConvertible {
    /// Where the DICOM listener is bound.
    public struct Listener: Decodable, Sendable {
        public var address: String
        public var port: Int
    }

    /// Deliveries of one destination by state.
    public struct Counts: Decodable, Sendable {
        public var queued = 0
        public var active = 0
        public var deferred = 0
        public var held = 0
        public var delivered = 0
        public var dead = 0

        /// Not yet delivered and not dead.
        public var pending: Int { queued + active + deferred + held }
        /// Everything the destination has.
        public var total: Int { pending + delivered + dead }

        public init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            queued = try c.decodeIfPresent(Int.self, forKey: .queued) ?? 0
            active = try c.decodeIfPresent(Int.self, forKey: .active) ?? 0
            deferred = try c.decodeIfPresent(Int.self, forKey: .deferred) ?? 0
            held = try c.decodeIfPresent(Int.self, forKey: .held) ?? 0
            delivered = try c.decodeIfPresent(Int.self, forKey: .delivered) ?? 0
            dead = try c.decodeIfPresent(Int.self, forKey: .dead) ?? 0
        }

        enum CodingKeys: String, CodingKey { case queued, active, deferred, held, delivered, dead }
    }

    /// One destination's state.
    public struct Destination: Decodable, Sendable {
        public var name: String
        public var counts: Counts
        public var queuedBytes: Int?
        public var oldestPendingAgeSeconds: Double?
        public var lastError: String?

        enum CodingKeys: String, CodingKey {
            case name, counts
            case queuedBytes = "queued_bytes"
            case oldestPendingAgeSeconds = "oldest_pending_age_seconds"
            case lastError = "last_error"
        }

        public init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            name = try c.decode(String.self, forKey: .name)
            counts = try c.decode(Counts.self, forKey: .counts)
            queuedBytes = try c.decodeIfPresent(Int.self, forKey: .queuedBytes)
            oldestPendingAgeSeconds = try c.decodeIfPresent(Double.self, forKey: .oldestPendingAgeSeconds)
            // last_error may be a string or an object in later versions; keep its JSON text.
            if let text = try? c.decodeIfPresent(String.self, forKey: .lastError) {
                lastError = text
            } else {
                lastError = nil
            }
        }
    }

    public var version: String?
    public var listener: Listener
    public var destinations: [Destination]
    /// The raw JSON text, for failure messages.
    public var json: String = ""

    enum CodingKeys: String, CodingKey { case version, listener, destinations }

    /// The destination called `name`.
    public func destination(_ name: String) -> Destination? { destinations.first { $0.name == name } }

    /// Sum of every destination's counts by state.
    public var totalPending: Int { destinations.map(\.counts.pending).reduce(0, +) }
    public var totalDelivered: Int { destinations.map(\.counts.delivered).reduce(0, +) }
    public var totalDead: Int { destinations.map(\.counts.dead).reduce(0, +) }

    public var description: String { json }
}

/// The built `radrelayd`, run as a child process of a test, driven only through its config file,
/// its port, its control socket and its state directory.
///
/// The binary is `$RADRELAY_BIN_DIR/radrelayd`, else next to the running test bundle, else
/// `<repo>/.build/debug/radrelayd`. The config is written to `<directory>/radrelay.yaml`, stdout
/// and stderr go to `<directory>/radrelayd.log` (appended across restarts; `logTail()` for failure
/// messages).
public final class RadRelayDaemonProcess: @unchecked Sendable {
    /// The test's directory for this daemon (config, log).
    public let directory: URL
    /// The config file.
    public let configURL: URL
    /// The state directory from the config.
    public let stateDirectory: URL
    /// The control socket (`<state_dir>/control.sock` unless set otherwise).
    public var controlSocketPath: String
    /// The daemon's stdout+stderr.
    public let logURL: URL
    /// The executable.
    public let binary: URL
    private let child: ChildProcess
    private var lastPort = 0

    /// Writes `config` to `<directory>/radrelay.yaml` and prepares (does not start) the daemon.
    public init(config: RadRelayTestConfig, directory: URL, environment: [String: String] = [:]) throws {
        self.directory = directory
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        configURL = directory.appendingPathComponent("radrelay.yaml")
        try config.yaml.write(to: configURL, atomically: true, encoding: .utf8)
        stateDirectory = URL(fileURLWithPath: config.stateDirectory)
        controlSocketPath = stateDirectory.appendingPathComponent("control.sock").path
        logURL = directory.appendingPathComponent("radrelayd.log")
        binary = try Self.binaryURL()
        child = ChildProcess(
            executable: binary,
            arguments: ["--config", configURL.path],
            logURL: logURL,
            environment: ["TCP_NODELAY": "1"].merging(environment) { $1 }
        )
    }

    /// Where the `radrelayd` binary is (see the type's documentation).
    public static func binaryURL(named name: String = "radrelayd") throws -> URL {
        var candidates: [URL] = []
        if let dir = ProcessInfo.processInfo.environment["RADRELAY_BIN_DIR"], !dir.isEmpty {
            candidates.append(URL(fileURLWithPath: dir).appendingPathComponent(name))
        }
        if let exe = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") {
            // The test bundle runs from .build/<triple>/debug/<package>PackageTests.xctest.
            candidates.append(URL(fileURLWithPath: exe).deletingLastPathComponent().appendingPathComponent(name))
        }
        candidates.append(ProcessRunner.repositoryRoot.appendingPathComponent(".build/debug/\(name)"))
        for url in candidates where FileManager.default.isExecutableFile(atPath: url.path) { return url }
        throw HarnessError(
            "no \(name) binary; looked at \(candidates.map(\.path)). Run `swift build --product \(name)`.")
    }

    // MARK: - Lifecycle

    /// Starts the daemon and waits until its control socket answers with a listener port.
    public func start(timeout: TimeInterval = 60) throws {
        try child.start()
        try waitUntilReady(timeout: timeout)
    }

    /// Starts the process without waiting for readiness (for tests of start-up failures).
    public func launch() throws {
        try child.start()
    }

    /// Waits up to `timeout` s for the process to exit; its exit status, or nil if still running.
    @discardableResult
    public func waitForExit(timeout: TimeInterval) -> Int32? {
        child.waitForExit(timeout: timeout)
    }

    /// Waits until the status answers with a non-zero listener port.
    public func waitUntilReady(timeout: TimeInterval = 60) throws {
        let deadline = monotonicSeconds() + timeout
        var lastError = ""
        while true {
            do {
                let s = try status(timeout: 2)
                if s.listener.port > 0 {
                    lastPort = s.listener.port
                    return
                }
                lastError = "status has no listener port yet: \(s.json)"
            } catch {
                lastError = "\(error)"
            }
            if !child.isRunning {
                throw HarnessError(
                    "radrelayd exited (status \(exitText)) during start-up.\n\(failureContext())"
                )
            }
            if monotonicSeconds() > deadline {
                throw HarnessError("radrelayd not ready within \(timeout) s (last: \(lastError)).\n\(failureContext())")
            }
            Thread.sleep(forTimeInterval: 0.05)
        }
    }

    /// SIGKILL, and wait until the kernel has reaped it.
    public func kill9() {
        child.killNow()
    }

    /// SIGTERM and wait up to `timeout` s; returns the exit status (128+n when killed by signal n),
    /// or throws if it did not exit in time (it is then killed).
    @discardableResult
    public func terminate(timeout: TimeInterval = 30) throws -> Int32 {
        child.send(signal: SIGTERM)
        if let status = child.waitForExit(timeout: timeout) { return status }
        child.killNow()
        throw HarnessError("radrelayd did not exit within \(timeout) s of SIGTERM.\n\(failureContext())")
    }

    /// Stops the daemon for teardown: SIGTERM, then SIGKILL after `timeout` s. Never throws.
    public func stop(timeout: TimeInterval = 15) {
        child.stop(timeout: timeout)
    }

    /// Starts it again with the same config (after `kill9()` or `terminate()`).
    public func restart(timeout: TimeInterval = 60) throws {
        if child.isRunning { try terminate() }
        try start(timeout: timeout)
    }

    /// The daemon's pid (0 before start).
    public var pid: Int32 { child.pid }

    /// Whether it is running.
    public var isRunning: Bool { child.isRunning }

    /// The exit status after it ended.
    public var exitStatus: Int32? { child.exitStatus }

    /// The DICOM port from the last successful readiness check.
    public var port: Int { lastPort }

    // MARK: - Observing

    /// The raw status response (`GET /status` over the control socket).
    public func statusJSON(timeout: TimeInterval = 5) throws -> [String: Any] {
        guard
            let object = try SimpleHTTPClient.getJSON(.unix(path: controlSocketPath), path: "/status", timeout: timeout)
                as? [String: Any]
        else { throw HarnessError("status is not a JSON object") }
        return object
    }

    /// The decoded status.
    public func status(timeout: TimeInterval = 5) throws -> DaemonStatus {
        let response = try SimpleHTTPClient.request(.unix(path: controlSocketPath), path: "/status", timeout: timeout)
        guard response.status == 200 else {
            throw HarnessError("status answered HTTP \(response.status): \(response.text.prefix(500))")
        }
        do {
            var decoded = try JSONDecoder().decode(DaemonStatus.self, from: response.body)
            decoded.json = response.text
            return decoded
        } catch {
            throw HarnessError("cannot decode status (\(error)): \(response.text.prefix(1000))")
        }
    }

    /// Polls the status until `condition` holds; returns that status. Status errors count as "not
    /// yet" (the socket may be briefly busy); a daemon that exits fails at once.
    @discardableResult
    public func waitForStatus(
        _ what: String,
        timeout: TimeInterval,
        interval: TimeInterval = 0.1,
        _ condition: (DaemonStatus) -> Bool
    ) throws -> DaemonStatus {
        var last: DaemonStatus?
        var lastError = ""
        try pollUntil(
            what, timeout: timeout, interval: interval,
            detail: { "last status: \(last?.json ?? lastError)\n\(failureContext())" }
        ) {
            guard child.isRunning else {
                throw HarnessError(
                    "radrelayd exited (status \(exitText)) while waiting for: \(what)\n\(failureContext())"
                )
            }
            do {
                let s = try status(timeout: 2)
                last = s
                return condition(s)
            } catch {
                lastError = "\(error)"
                return false
            }
        }
        return last!
    }

    /// CPU time (user + system) used so far, in seconds, from /proc/PID/stat.
    public func cpuSeconds() throws -> Double {
        let text = try String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)
        // Fields after the command name, which is in parentheses and may contain spaces.
        guard let close = text.lastIndex(of: ")") else { throw HarnessError("bad /proc/\(pid)/stat") }
        let fields = text[text.index(after: close)...].split(separator: " ")
        // fields[0] is field 3 (state); utime is field 14, stime field 15.
        guard fields.count > 12, let utime = Double(fields[11]), let stime = Double(fields[12]) else {
            throw HarnessError("bad /proc/\(pid)/stat")
        }
        return (utime + stime) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }

    /// Peak resident set size (VmHWM) in KiB, from /proc/PID/status.
    public func peakRSSKiB() throws -> Int {
        let text = try String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)
        for line in text.split(separator: "\n") where line.hasPrefix("VmHWM:") {
            if let value = line.split(separator: " ").dropFirst().first(where: { Int($0) != nil }).flatMap({ Int($0) })
            {
                return value
            }
        }
        throw HarnessError("no VmHWM in /proc/\(pid)/status")
    }

    /// Open socket descriptors of the daemon (listeners, connections, control socket), from
    /// /proc/PID/fd.
    public func openSocketCount() -> Int {
        let dir = "/proc/\(pid)/fd"
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: dir) else { return 0 }
        return entries.filter {
            (try? FileManager.default.destinationOfSymbolicLink(atPath: dir + "/" + $0))?.hasPrefix("socket:") == true
        }.count
    }

    /// The last lines of the daemon's stdout+stderr.
    public func logTail(lines: Int = 60) -> String { child.logTail(lines: lines) }

    /// Log tail with a header, for test failure messages.
    public func failureContext(lines: Int = 60) -> String {
        "--- radrelayd log (\(logURL.path)), last \(lines) lines ---\n\(logTail(lines: lines))\n"
            + "--- end of radrelayd log ---"
    }

    /// The exit status as text ("?" while running).
    private var exitText: String { child.exitStatus.map(String.init) ?? "?" }

    // MARK: - State directory

    /// The spool directory (`<state_dir>/spool`).
    public var spoolDirectory: URL { stateDirectory.appendingPathComponent("spool") }

    /// Partial files (`<state_dir>/spool/incoming`).
    public var incomingDirectory: URL { spoolDirectory.appendingPathComponent("incoming") }

    /// Every regular file in the spool, incoming included (relative paths).
    public func spoolFiles() -> Set<String> { regularFiles(under: spoolDirectory) }

    /// Runs `radrelayd --check-config --config FILE`.
    public static func checkConfig(_ configURL: URL) throws -> ProcessResult {
        try ProcessRunner.run(try binaryURL().path, ["--check-config", "--config", configURL.path], timeout: 60)
    }
}
