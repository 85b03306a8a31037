import Foundation
import RadRelayTestSupport
import XCTest

#if canImport(Glibc)
    import Glibc
#endif

/// Base class of the fault suite: each test gets its own temp dir, ports, peers and daemons,
/// stopped (by pid) in `tearDown`; on failure the logs are printed and the temp dir is kept.
/// Every case ends with `assertInvariants` (see `OutboxInvariants`) and records one line in the
/// tally (`RADRELAY_FAULT_TALLY`, a JSON-lines file that `make faults` summarizes).
class FaultTestCase: DaemonTestCase {
    override func makeFixture() throws -> DaemonTestFixture {
        try DaemonTestFixture(
            prefix: "radrelay-fault",
            requiredTools: [StoreSCU.executable, "/usr/bin/sqlite3", OrthancProcess.executable.path],
            missingToolHint: "run `bash scripts/setup.sh --test`",
            failureLogLines: 60)
    }

    /// A config with state in `stateDirectory` (default: this test's `state`), one `remote`
    /// destination, fast retries, and `ECHOSCU` allowed too.
    func makeConfig(
        remotePort: Int,
        remoteAE: String = "ORTHANC",
        associations: Int = 2,
        stateDirectory: String? = nil
    ) -> RadRelayTestConfig {
        var config = RadRelayTestConfig(
            stateDirectory: stateDirectory ?? fixture!.stateDirectory(),
            destinations: [.init(name: "remote", aeTitle: remoteAE, port: remotePort, associations: associations)]
        )
        config.allowedCallers.append(.init(aeTitle: "ECHOSCU"))
        return config
    }

    // MARK: - Data

    /// `count` generated CT slices of `rows`×`rows` pixels, shared read-only by the tests of a
    /// run (generated once per size and count).
    func series(_ count: Int, rows: Int = 256) throws -> [Part10File] {
        try FaultData.shared.series(count: count, rows: rows)
    }

    // MARK: - Sending

    /// Sends `files` on one association with the raw client and returns each file's status (0x0000
    /// = acknowledged). Stops quietly at the first transport error (the daemon was killed): the
    /// statuses so far are exactly what the sender was told.
    func send(_ files: [Part10File], port: Int, callingAE: String = "STORESCU") -> SendLog {
        let log = SendLog()
        send(files, port: port, callingAE: callingAE, into: log)
        return log
    }

    /// As `send(_:port:)`, recording into `log` as it goes (for a sender running on another
    /// thread while the test kills the daemon).
    func send(_ files: [Part10File], port: Int, callingAE: String = "STORESCU", into log: SendLog) {
        Self.send(files, port: port, callingAE: callingAE, into: log)
    }

    /// The same, callable from any thread.
    static func send(_ files: [Part10File], port: Int, callingAE: String = "STORESCU", into log: SendLog) {
        let opened: (session: RawStoreSession?, reply: RawDICOMClient.AssociationReply)
        do {
            opened = try RawStoreSession.open(port: port, callingAE: callingAE, timeout: 30)
        } catch {
            log.fail("connect: \(error)")
            return
        }
        guard let session = opened.session else {
            log.fail("association: \(opened.reply)")
            return
        }
        for file in files {
            do {
                log.started(file.sopInstanceUID)
                let status = try session.store(file)
                log.record(file.sopInstanceUID, status: status)
            } catch {
                log.fail("store: \(error)")
                session.client.reset()
                return
            }
        }
        _ = try? session.release()
    }

    // MARK: - Invariants

    /// Stops `daemon` gracefully (unless it is already stopped) and runs the invariant check on
    /// its state directory; fails the test on any violation. Records the case in the tally.
    @discardableResult
    func assertInvariants(
        _ daemon: RadRelayDaemonProcess,
        _ expect: OutboxInvariants.Expectations,
        case name: String,
        runs: Int = 1,
        note: String = "",
        file: StaticString = #filePath,
        line: UInt = #line
    ) throws -> String {
        let priorFailures = testRun?.failureCount ?? 0
        if daemon.isRunning {
            do { try daemon.terminate(timeout: 60) } catch { XCTFail("graceful stop failed: \(error)", file: file, line: line) }
        }
        let checker = OutboxInvariants(stateDirectory: daemon.stateDirectory)
        let (violations, summary) = try checker.check(expect)
        for violation in violations {
            XCTFail("\(name): invariant violated: \(violation)", file: file, line: line)
        }
        // "held" means the invariants held and nothing else in the case failed either.
        let held = violations.isEmpty && priorFailures == 0
        FaultTally.record(case: name, runs: runs, held: held, detail: summary + (note.isEmpty ? "" : "; " + note))
        let verdict = violations.isEmpty ? (held ? "held" : "invariants held, case FAILED") : "VIOLATED"
        print("fault: \(name): \(verdict) — \(summary)\(note.isEmpty ? "" : "; " + note)")
        return summary
    }

    /// Checks, while the daemon runs, the part of the invariants that holds at every moment:
    /// integrity, and every acknowledged object has a delivery that is not dead.
    func assertLiveInvariants(
        _ daemon: RadRelayDaemonProcess,
        acknowledged: Set<String>,
        file: StaticString = #filePath,
        line: UInt = #line
    ) throws {
        let checker = OutboxInvariants(stateDirectory: daemon.stateDirectory)
        let integrity = try checker.integrity()
        XCTAssertEqual(integrity, "ok", "integrity_check", file: file, line: line)
        let states = try checker.deliveryStates()
        let lost = acknowledged.filter { (states[$0] ?? []).isEmpty }
        let dead = acknowledged.filter { (states[$0] ?? []).contains("dead") }
        XCTAssertTrue(lost.isEmpty, "\(lost.count) acknowledged objects have no delivery", file: file, line: line)
        XCTAssertTrue(dead.isEmpty, "\(dead.count) acknowledged objects are dead", file: file, line: line)
    }

    /// Fails unless `directory` holds nothing new except the listed exceptions (the "no file
    /// outside the spool" check). Compares relative paths.
    func assertNoNewFiles(
        in directory: URL,
        since before: Set<String>,
        allowing allowed: (String) -> Bool,
        _ what: String,
        file: StaticString = #filePath,
        line: UInt = #line
    ) {
        let now = regularFiles(under: directory)
        let new = now.subtracting(before).filter { !allowed($0) }
        XCTAssertTrue(new.isEmpty, "\(what): new files outside the spool: \(new.sorted().prefix(10))", file: file, line: line)
    }

    /// Whether the daemon binary has fault points compiled in (a debug build).
    func requireFaultPoints() throws {
        let binary = try RadRelayDaemonProcess.binaryURL()
        let data = try Data(contentsOf: binary, options: .alwaysMapped)
        guard data.range(of: Data("RADRELAY_FAULT_POINTS".utf8)) != nil else {
            throw XCTSkip("\(binary.path) has no fault points (a release build?): build it in debug to run this case")
        }
    }

    /// Waits until the status satisfies `condition`.
    @discardableResult
    func waitFor(
        _ daemon: RadRelayDaemonProcess,
        _ what: String,
        timeout: TimeInterval = 60,
        _ condition: (DaemonStatus) -> Bool
    ) throws -> DaemonStatus {
        try daemon.waitForStatus(what, timeout: timeout, condition)
    }
}

/// What one sender was told: the status of each C-STORE, in order, and how it ended.
final class SendLog: @unchecked Sendable {
    private let lock = NSLock()
    private var _statuses: [(uid: String, status: UInt16)] = []
    private var _inFlight: String?
    private var _error: String?

    func started(_ uid: String) { lock.withLock { _inFlight = uid } }
    func record(_ uid: String, status: UInt16) {
        lock.withLock {
            _statuses.append((uid, status))
            _inFlight = nil
        }
    }
    func fail(_ error: String) { lock.withLock { _error = error } }

    /// UIDs answered 0x0000.
    var acknowledged: Set<String> { lock.withLock { Set(_statuses.filter { $0.status == 0 }.map(\.uid)) } }
    /// Every status received.
    var statuses: [(uid: String, status: UInt16)] { lock.withLock { _statuses } }
    /// Status per UID.
    var statusByUID: [String: UInt16] {
        lock.withLock { Dictionary(_statuses.map { ($0.uid, $0.status) }, uniquingKeysWith: { $1 }) }
    }
    /// The store that was under way when the sender stopped, if any.
    var inFlight: String? { lock.withLock { _error == nil ? nil : _inFlight } }
    var error: String? { lock.withLock { _error } }
}

/// The tally of fault cases run (what was tried, how many times, what held), appended as JSON
/// lines to `$RADRELAY_FAULT_TALLY` when set.
enum FaultTally {
    static func record(case name: String, runs: Int, held: Bool, detail: String) {
        guard let path = ProcessInfo.processInfo.environment["RADRELAY_FAULT_TALLY"], !path.isEmpty else { return }
        let entry: [String: Any] = ["case": name, "runs": runs, "held": held, "detail": detail]
        guard var line = try? JSONSerialization.data(withJSONObject: entry, options: [.sortedKeys]) else { return }
        line.append(0x0A)
        if let handle = FileHandle(forWritingAtPath: path) {
            handle.seekToEndOfFile()
            handle.write(line)
            try? handle.close()
        } else {
            FileManager.default.createFile(atPath: path, contents: line)
        }
    }
}

/// Generated test data shared by the fault tests of one run, removed at exit.
final class FaultData: @unchecked Sendable {
    static let shared = FaultData()
    private let lock = NSLock()
    private var base: TemporaryDirectory?
    private var cache: [String: [Part10File]] = [:]

    private init() {
        atexit { FaultData.shared.removeAll() }
    }

    func series(count: Int, rows: Int) throws -> [Part10File] {
        lock.lock()
        defer { lock.unlock() }
        let key = "\(count)x\(rows)"
        if let cached = cache[key] { return cached }
        let dir = try (base ?? TemporaryDirectory(prefix: "radrelay-fault-data"))
        base = dir
        let out = try dir.subdirectory(key)
        try TestData.makeCTSeries(count: count, in: out, rows: rows, columns: rows)
        let files = try FileManager.default.contentsOfDirectory(at: out, includingPropertiesForKeys: nil)
            .filter { $0.pathExtension == "dcm" }
            .sorted { $0.path < $1.path }
            .map { try Part10File(url: $0) }
        guard files.count == count else { throw HarnessError("generated \(files.count) of \(count) slices") }
        cache[key] = files
        return files
    }

    private func removeAll() {
        lock.lock()
        base?.remove()
        lock.unlock()
    }
}

/// Resident set size (VmRSS) of a process in KiB.
func residentKiB(pid: Int32) -> Int {
    guard let text = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return -1 }
    for line in text.split(separator: "\n") where line.hasPrefix("VmRSS:") {
        return line.split(separator: " ").compactMap { Int($0) }.first ?? -1
    }
    return -1
}
