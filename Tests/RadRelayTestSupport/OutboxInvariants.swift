import Foundation

/// The invariant check that ends every fault case (issue 7), made from the outside: the
/// `sqlite3` CLI reads the daemon's database, python hashes the spool files. Nothing here links
/// the daemon's code, so a bug in the outbox cannot hide a bug in the check.
///
/// 1. The database passes `PRAGMA integrity_check` and `PRAGMA foreign_key_check`.
/// 2. Every file in `spool/` belongs to a live instance row (`spool_removed_at IS NULL`), and
///    `spool/incoming/` is empty (after a graceful stop or a restart's reconcile).
/// 3. Every live instance row has its file, with the recorded `byte_size` and `sha256` (SHA-256
///    of the data set without its file meta group; the meta group's length is the UL value at
///    bytes 140..<144, as in `ListenerTests`).
/// 4. Every object that got 0x0000 has a delivery that is queued, active, deferred, held or
///    delivered (dead only where the case expects it).
/// 5. The remote received no SOP Instance UID more often than the kills allow.
public struct OutboxInvariants {
    /// The state directory (holds `radrelay.sqlite` and `spool/`).
    public let stateDirectory: URL

    public init(stateDirectory: URL) { self.stateDirectory = stateDirectory }

    public var databasePath: String { stateDirectory.appendingPathComponent("radrelay.sqlite").path }
    public var spoolDirectory: URL { stateDirectory.appendingPathComponent("spool") }

    // MARK: - SQL through the sqlite3 CLI

    /// Rows of `sql` as `|`-separated fields. Read-only; safe while the daemon runs (WAL readers
    /// do not block its writer).
    public func query(_ sql: String) throws -> [[String]] {
        let result = try ProcessRunner.run(
            "/usr/bin/sqlite3", ["-readonly", "-batch", "-noheader", "-separator", "|", databasePath, sql], timeout: 120)
        guard result.exitCode == 0 else {
            throw HarnessError("sqlite3 failed (\(result.exitCode)) on `\(sql)`: \(result.output)")
        }
        return result.stdout.split(separator: "\n", omittingEmptySubsequences: true).map {
            $0.split(separator: "|", omittingEmptySubsequences: false).map(String.init)
        }
    }

    /// `PRAGMA integrity_check` output ("ok" when sound) plus any foreign key violations.
    public func integrity() throws -> String {
        let check = try query("PRAGMA integrity_check").map { $0.joined(separator: "|") }.joined(separator: "\n")
        let foreign = try query("PRAGMA foreign_key_check").map { $0.joined(separator: "|") }
        return foreign.isEmpty ? check : check + "\nforeign_key_check: " + foreign.joined(separator: "; ")
    }

    /// Delivery states per SOP Instance UID (one entry per delivery row).
    public func deliveryStates() throws -> [String: [String]] {
        var states: [String: [String]] = [:]
        for row in try query("SELECT sop_instance_uid, state FROM delivery") where row.count == 2 {
            states[row[0], default: []].append(row[1])
        }
        return states
    }

    // MARK: - The check

    /// What the case allows.
    public struct Expectations {
        /// SOP Instance UIDs the sender saw acknowledged with 0x0000.
        public var acknowledged: Set<String> = []
        /// Acknowledged UIDs that may legitimately be dead (e.g. the remote rejected them).
        public var mayBeDead: Set<String> = []
        /// Whether acknowledged objects must all be delivered (not merely pending).
        public var requireDelivered = false
        /// C-STOREs the remote received, per UID (nil: not checked).
        public var remoteCounts: [String: Int]? = nil
        /// Re-sends (C-STOREs beyond the first per UID) the kills allow in total.
        public var allowedResends = 0
        /// Most C-STOREs any one UID may have received.
        public var maxStoresPerUID = 1
        /// Check spool files strictly (daemon stopped gracefully or reconciled, nothing in flight).
        public var strictFiles = true
        public init() {}
    }

    /// Runs every check; returns the violations (empty when all hold) and a one-line summary.
    public func check(_ expect: Expectations) throws -> (violations: [String], summary: String) {
        var violations: [String] = []
        let integrity = try self.integrity()
        if integrity != "ok" { violations.append("integrity_check: \(integrity.prefix(500))") }

        // Instances and files.
        var live: [String: (uid: String, size: Int, sha: String)] = [:]
        var released = Set<String>()
        for row in try query("SELECT spool_path, sop_instance_uid, byte_size, sha256, spool_removed_at IS NULL FROM instance")
        where row.count == 5 {
            if row[4] == "1" {
                live[row[0]] = (row[1], Int(row[2]) ?? -1, row[3])
            } else {
                released.insert(row[0])
            }
        }
        let files = regularFiles(under: spoolDirectory)
        let incoming = files.filter { $0.hasPrefix("incoming/") }
        let stored = Set(files.subtracting(incoming).map { "spool/" + $0 })
        if expect.strictFiles {
            if !incoming.isEmpty { violations.append("partial files left in spool/incoming: \(incoming.sorted().prefix(5))") }
            let orphans = stored.subtracting(live.keys)
            if !orphans.isEmpty { violations.append("\(orphans.count) spool files without a live row: \(orphans.sorted().prefix(5))") }
        }
        let missing = Set(live.keys).subtracting(stored)
        if !missing.isEmpty { violations.append("\(missing.count) live rows without their file: \(missing.sorted().prefix(5))") }
        let present = live.keys.filter { stored.contains($0) }.sorted()
        let digests = try Self.datasetDigests(present.map { stateDirectory.appendingPathComponent($0).path })
        var badFiles: [String] = []
        for path in present {
            let row = live[path]!
            guard let digest = digests[stateDirectory.appendingPathComponent(path).path] else {
                badFiles.append("\(path): unreadable")
                continue
            }
            if digest.size != row.size { badFiles.append("\(path): size \(digest.size) ≠ recorded \(row.size)") }
            if digest.sha256 != row.sha { badFiles.append("\(path): data set hash differs from the row's") }
        }
        if !badFiles.isEmpty { violations.append("\(badFiles.count) files differ from their rows: \(badFiles.prefix(5))") }

        // Acknowledged objects.
        let states = try deliveryStates()
        var lost: [String] = []
        var dead: [String] = []
        var undelivered: [String] = []
        let pending: Set<String> = ["queued", "active", "deferred", "held"]
        for uid in expect.acknowledged {
            let s = states[uid] ?? []
            if s.isEmpty {
                lost.append(uid)
            } else if s.contains("dead") && !expect.mayBeDead.contains(uid) {
                dead.append(uid)
            } else if expect.requireDelivered && s.contains(where: pending.contains) {
                undelivered.append(uid)
            }
        }
        if !lost.isEmpty { violations.append("\(lost.count) acknowledged objects have no delivery: \(lost.prefix(3))") }
        if !dead.isEmpty { violations.append("\(dead.count) acknowledged objects dead-lettered: \(dead.prefix(3))") }
        if !undelivered.isEmpty { violations.append("\(undelivered.count) acknowledged objects not delivered") }

        // What the remote received.
        var resends = 0
        if let counts = expect.remoteCounts {
            resends = counts.values.reduce(0) { $0 + max(0, $1 - 1) }
            let tooMany = counts.filter { $0.value > expect.maxStoresPerUID }
            if !tooMany.isEmpty {
                violations.append("UIDs received more than \(expect.maxStoresPerUID)×: \(tooMany.prefix(3))")
            }
            if resends > expect.allowedResends {
                violations.append("\(resends) re-sends at the remote, more than the \(expect.allowedResends) the kills allow")
            }
            if expect.requireDelivered {
                let notArrived = expect.acknowledged.subtracting(expect.mayBeDead).subtracting(counts.keys)
                if !notArrived.isEmpty { violations.append("\(notArrived.count) acknowledged objects never reached the remote") }
            }
        }
        let summary =
            "integrity=\(integrity == "ok" ? "ok" : "BAD") live rows=\(live.count) released=\(released.count) "
            + "spool files=\(stored.count) incoming=\(incoming.count) acknowledged=\(expect.acknowledged.count) "
            + "re-sends=\(resends)"
        return (violations, summary)
    }

    /// File size and SHA-256 of the data set after the file meta group, per path (one python run).
    public static func datasetDigests(_ paths: [String]) throws -> [String: (size: Int, sha256: String)] {
        guard !paths.isEmpty else { return [:] }
        let list = FileManager.default.temporaryDirectory.appendingPathComponent("radrelay-digest-\(UUID().uuidString)")
        try paths.joined(separator: "\n").write(to: list, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: list) }
        let script = """
            import hashlib, os, struct, sys
            for path in open(sys.argv[1]).read().split("\\n"):
                if not path: continue
                try:
                    data = open(path, "rb").read()
                except OSError:
                    continue
                if data[128:132] != b"DICM" or data[132:136] != b"\\x02\\x00\\x00\\x00":
                    print(len(data), "not-part10", path); continue
                offset = 144 + struct.unpack("<I", data[140:144])[0]
                print(len(data), hashlib.sha256(data[offset:]).hexdigest(), path)
            """
        let result = try ProcessRunner.run("/usr/bin/env", ["python3", "-c", script, list.path], timeout: 600)
        guard result.exitCode == 0 else { throw HarnessError("hashing spool files failed: \(result.output)") }
        var digests: [String: (Int, String)] = [:]
        for line in result.stdout.split(separator: "\n") {
            let parts = line.split(separator: " ", maxSplits: 2)
            guard parts.count == 3, let size = Int(parts[0]) else { continue }
            digests[String(parts[2])] = (size, String(parts[1]))
        }
        return digests
    }
}
