import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A long-running child process of a test (Orthanc, the daemon) whose stdout and stderr go to a
/// log file, controlled by pid: signals, bounded waits, and a log tail for failure messages.
///
/// Every started child is registered so that an `atexit` hook kills whatever a failing test left
/// running; tests still stop their children in `tearDown`.
public final class ChildProcess: @unchecked Sendable {
    /// The program that runs.
    public let executable: URL
    /// Its arguments.
    public let arguments: [String]
    /// stdout and stderr of the child, appended to across restarts.
    public let logURL: URL
    private let environment: [String: String]?
    private let currentDirectory: URL?
    private let lock = NSLock()
    private var process: Process?

    /// Prepares (does not start) a child. `environment` entries are added to this process's own.
    public init(
        executable: URL,
        arguments: [String],
        logURL: URL,
        environment: [String: String]? = nil,
        currentDirectory: URL? = nil
    ) {
        self.executable = executable
        self.arguments = arguments
        self.logURL = logURL
        self.environment = environment
        self.currentDirectory = currentDirectory
    }

    /// Starts the child. A child that is still running is an error.
    public func start() throws {
        lock.lock()
        defer { lock.unlock() }
        if let process, process.isRunning {
            throw HarnessError("\(executable.lastPathComponent) is already running (pid \(process.processIdentifier))")
        }
        if !FileManager.default.fileExists(atPath: logURL.path) {
            _ = FileManager.default.createFile(atPath: logURL.path, contents: nil)
        }
        let log = try FileHandle(forWritingTo: logURL)
        defer { try? log.close() }
        try log.seekToEnd()
        let stamp = "=== \(Date()) starting \(executable.path) \(arguments.joined(separator: " "))\n"
        try log.write(contentsOf: Data(stamp.utf8))

        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        if let environment {
            process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        }
        if let currentDirectory { process.currentDirectoryURL = currentDirectory }
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = log
        process.standardError = log
        try process.run()
        self.process = process
        ChildProcessRegistry.shared.add(process)
    }

    /// The pid of the current (or last) run; 0 before the first start.
    public var pid: Int32 {
        lock.lock()
        defer { lock.unlock() }
        return process?.processIdentifier ?? 0
    }

    /// Whether the child is running now.
    public var isRunning: Bool {
        lock.lock()
        defer { lock.unlock() }
        return process?.isRunning ?? false
    }

    /// Sends `signal` to the child if it is running.
    public func send(signal: Int32) {
        lock.lock()
        defer { lock.unlock() }
        guard let process, process.isRunning else { return }
        kill(process.processIdentifier, signal)
    }

    /// How the last run ended, once it has: the exit code, or 128 + signal number when killed.
    public var exitStatus: Int32? {
        lock.lock()
        defer { lock.unlock() }
        guard let process, !process.isRunning else { return nil }
        switch process.terminationReason {
        case .exit: return process.terminationStatus
        case .uncaughtSignal: return 128 + process.terminationStatus
        @unknown default: return process.terminationStatus
        }
    }

    /// Waits up to `timeout` seconds for the child to exit; returns its `exitStatus`, or nil if it
    /// is still running.
    @discardableResult
    public func waitForExit(timeout: TimeInterval) -> Int32? {
        let deadline = monotonicSeconds() + timeout
        while isRunning {
            if monotonicSeconds() >= deadline { return nil }
            Thread.sleep(forTimeInterval: 0.01)
        }
        lock.lock()
        let pid = process?.processIdentifier ?? 0
        lock.unlock()
        ChildProcessRegistry.shared.remove(pid)
        return exitStatus
    }

    /// SIGTERM, then SIGKILL if the child has not exited after `timeout` seconds. Returns the exit
    /// status (nil if the child never ran).
    @discardableResult
    public func stop(timeout: TimeInterval = 10) -> Int32? {
        guard pid != 0 else { return nil }
        send(signal: SIGTERM)
        if let status = waitForExit(timeout: timeout) { return status }
        send(signal: SIGKILL)
        return waitForExit(timeout: 10)
    }

    /// SIGKILL and wait for the kernel to reap the child.
    public func killNow() {
        send(signal: SIGKILL)
        waitForExit(timeout: 10)
    }

    /// The last lines of the log file.
    public func logTail(lines: Int = 40) -> String { tailOfFile(logURL, lines: lines) }
}

/// Pids of children still running; killed at process exit so a crashed or failed test does not
/// leave Orthanc or a daemon behind on a shared machine.
final class ChildProcessRegistry: @unchecked Sendable {
    static let shared = ChildProcessRegistry()
    private let lock = NSLock()
    private var processes: [Int32: Process] = [:]

    private init() {
        atexit {
            ChildProcessRegistry.shared.killAll()
        }
    }

    func add(_ process: Process) {
        lock.lock()
        processes[process.processIdentifier] = process
        lock.unlock()
    }

    func remove(_ pid: Int32) {
        lock.lock()
        processes[pid] = nil
        lock.unlock()
    }

    func killAll() {
        lock.lock()
        let all = processes.values
        processes.removeAll()
        lock.unlock()
        // Only children that are still running: a reaped child's pid may belong to someone else.
        for process in all where process.isRunning { kill(process.processIdentifier, SIGKILL) }
    }
}
