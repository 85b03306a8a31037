import Foundation

/// The result of running a command to completion.
public struct ProcessResult: Sendable {
    public let exitCode: Int32
    public let stdout: String
    public let stderr: String
    /// True when the run was killed because it exceeded its timeout.
    public var timedOut = false
    /// Wall time from start to exit, in seconds.
    public var duration: Double = 0

    /// stdout and stderr together, for failure messages.
    public var output: String { stdout + (stderr.isEmpty ? "" : "\n[stderr]\n" + stderr) }
}

/// Runs external programs (DCMTK tools, python, the built daemon) for integration tests.
public enum ProcessRunner {
    /// Runs `executable` with `arguments` to completion and captures its output. With a
    /// `timeout`, a child still running after that many seconds is killed (SIGKILL) and the
    /// result says `timedOut`.
    @discardableResult
    public static func run(
        _ executable: String,
        _ arguments: [String],
        environment: [String: String]? = nil,
        currentDirectory: URL? = nil,
        timeout: TimeInterval? = nil
    ) throws -> ProcessResult {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        if let environment {
            process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        }
        if let currentDirectory { process.currentDirectoryURL = currentDirectory }
        let outPipe = Pipe()
        let errPipe = Pipe()
        process.standardOutput = outPipe
        process.standardError = errPipe
        let started = monotonicSeconds()
        try process.run()
        let killer = TimeoutKiller()
        if let timeout {
            let pid = process.processIdentifier
            DispatchQueue.global().asyncAfter(deadline: .now() + timeout) {
                killer.fire(pid: pid)
            }
        }
        // Read both pipes concurrently so a chatty child never blocks on a full pipe.
        let group = DispatchGroup()
        nonisolated(unsafe) var errData = Data()
        group.enter()
        DispatchQueue.global().async {
            errData = errPipe.fileHandleForReading.readDataToEndOfFile()
            group.leave()
        }
        let outData = outPipe.fileHandleForReading.readDataToEndOfFile()
        group.wait()
        process.waitUntilExit()
        let timedOut = killer.finish()
        var result = ProcessResult(
            exitCode: process.terminationStatus,
            stdout: String(decoding: outData, as: UTF8.self),
            stderr: String(decoding: errData, as: UTF8.self)
        )
        result.timedOut = timedOut
        result.duration = monotonicSeconds() - started
        return result
    }

    /// The repository root, found from this source file's location (tests run from anywhere).
    public static var repositoryRoot: URL {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url
    }
}

/// Kills a child once its timeout passes, unless the run finished first (then the pid may
/// already belong to another process, so it must not be signalled).
private final class TimeoutKiller: @unchecked Sendable {
    private let lock = NSLock()
    private var finished = false
    private var fired = false

    func fire(pid: Int32) {
        lock.lock()
        defer { lock.unlock() }
        guard !finished else { return }
        fired = true
        kill(pid, SIGKILL)
    }

    /// Marks the run finished; returns whether the timeout had fired.
    func finish() -> Bool {
        lock.lock()
        defer { lock.unlock() }
        finished = true
        return fired
    }
}

/// Generates synthetic DICOM test data with `scripts/make-ct-series.py` (pydicom).
public enum TestData {
    /// Writes `count` CT slices (512×512 16-bit by default) into `directory`; returns the
    /// Study Instance UID.
    @discardableResult
    public static func makeCTSeries(
        count: Int,
        in directory: URL,
        rows: Int = 512,
        columns: Int = 512,
        extraArguments: [String] = []
    ) throws -> String {
        let script = ProcessRunner.repositoryRoot.appendingPathComponent("scripts/make-ct-series.py").path
        let result = try ProcessRunner.run(
            "/usr/bin/env",
            [
                "python3", script, "--out", directory.path, "--count", String(count), "--rows", String(rows),
                "--cols", String(columns),
            ] + extraArguments
        )
        guard result.exitCode == 0 else {
            throw TestDataError.generatorFailed(result.stderr)
        }
        return result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    public enum TestDataError: Error { case generatorFailed(String) }
}
