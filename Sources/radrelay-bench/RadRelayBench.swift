import Foundation
import GRDB
import RadRelayCore
import RadRelayOutbox

/// `radrelay-bench`: the Swift side of the benchmark suite (issue 7; driven by
/// `scripts/bench/outbox.py`). It fills an outbox with queued deliveries through the real
/// schema (the migrations in `RadRelayOutbox/Schema.swift`, applied by opening an `Outbox`) and
/// times the outbox's own intent methods (`claimDue`, `status`, `nextWakeUp`) on it.
///
///     radrelay-bench populate STATE_DIR DELIVERIES [--files] [--destination NAME]
///     radrelay-bench claim STATE_DIR COUNT [--destination NAME]
///     radrelay-bench status STATE_DIR COUNT
///
/// Not part of the daemon and not run by `swift test`; build it with
/// `swift build -c release --scratch-path .build-release --product radrelay-bench`.
@main
struct RadRelayBench {
    static func main() throws {
        var args = Array(CommandLine.arguments.dropFirst())
        func option(_ name: String) -> String? {
            guard let i = args.firstIndex(of: name), i + 1 < args.count else { return nil }
            let value = args[i + 1]
            args.removeSubrange(i...(i + 1))
            return value
        }
        func flag(_ name: String) -> Bool {
            guard let i = args.firstIndex(of: name) else { return false }
            args.remove(at: i)
            return true
        }
        let destination = option("--destination") ?? "remote"
        let files = flag("--files")
        guard args.count == 3, let count = Int(args[2]) else {
            FileHandle.standardError.write(Data("usage: radrelay-bench populate|claim|status STATE_DIR N [--files] [--destination NAME]\n".utf8))
            exit(2)
        }
        let state = args[1]
        switch args[0] {
        case "populate": try populate(state: state, deliveries: count, destination: destination, files: files)
        case "claim": try claim(state: state, count: count, destination: destination)
        case "status": try status(state: state, count: count)
        default:
            FileHandle.standardError.write(Data("unknown command \(args[0])\n".utf8))
            exit(2)
        }
    }

    /// Creates the outbox with the real migrations, then inserts `deliveries` instances, one
    /// queued delivery each, in one transaction (triggers keep `delivery_priority_stats` as
    /// ingest would).
    /// With `files`, creates the empty spool files the rows name, so the daemon's startup
    /// reconcile finds them.
    static func populate(state: String, deliveries: Int, destination: String, files: Bool) throws {
        try FileManager.default.createDirectory(atPath: state, withIntermediateDirectories: true)
        let started = Date()
        try Outbox(stateDirectory: state).close()
        var configuration = Configuration()
        configuration.prepareDatabase { db in
            // Bulk load only: the rows' durability is not what is measured.
            try db.execute(sql: "PRAGMA synchronous = OFF")
        }
        let queue = try DatabaseQueue(path: state + "/" + Outbox.databaseFileName, configuration: configuration)
        let now = Date().timeIntervalSince1970 - Double(deliveries) / 1000
        try queue.inTransaction { db in
            let instance = try db.makeStatement(
                sql: """
                    INSERT INTO instance (id, sop_instance_uid, sop_class_uid, study_instance_uid, series_instance_uid,
                        transfer_syntax_uid, spool_path, byte_size, sha256, calling_ae, called_ae, source_ip, modality,
                        received_at, priority)
                    VALUES (?, ?, '1.2.840.10008.5.1.4.1.1.2', ?, ?, '1.2.840.10008.1.2.1', ?, 525000, ?, 'STORESCU',
                        'RADRELAY', '127.0.0.1', 'CT', ?, 1)
                    """)
            let delivery = try db.makeStatement(
                sql: """
                    INSERT INTO delivery (instance_id, destination, sop_instance_uid, sha256, byte_size, priority, state,
                        attempts, queued_at)
                    VALUES (?, ?, ?, ?, 525000, 1, 'queued', 0, ?)
                    """)
            let study = try db.makeStatement(
                sql: """
                    INSERT INTO study (study_instance_uid, first_received_at, last_received_at, instance_count, priority)
                    VALUES (?, ?, ?, ?, 1)
                    """)
            for n in 1...max(deliveries, 1) {
                let uid = "1.2.826.0.1.3680043.10.1146.99.\(n)"
                let studyUID = "1.2.826.0.1.3680043.10.1146.98.\(n / 500)"
                let sha = String(repeating: "0", count: 48) + String(format: "%016x", n)
                let at = now + Double(n) / 1000
                try instance.execute(arguments: [n, uid, studyUID, studyUID + ".1", "spool/bench-\(n).dcm", sha, at])
                try delivery.execute(arguments: [n, destination, uid, sha, at])
                if n % 500 == 0 || n == deliveries { try study.execute(arguments: [studyUID, at, at, min(500, n)]) }
            }
            return .commit
        }
        try queue.close()
        let inserted = Date().timeIntervalSince(started)
        var created = 0
        if files {
            let spool = state + "/spool/"
            for n in 1...max(deliveries, 1) {
                let fd = open(spool + "bench-\(n).dcm", O_WRONLY | O_CREAT | O_CLOEXEC, 0o600)
                if fd >= 0 {
                    close(fd)
                    created += 1
                }
            }
        }
        print(String(format: "populate: %d queued deliveries in %.1f s (+%d spool files in %.1f s)",
                     deliveries, inserted, created, Date().timeIntervalSince(started) - inserted))
    }

    /// Times `count` claims through `Outbox.claimDue` (each a write transaction with a FULL
    /// commit, as a worker does), and `nextWakeUp`.
    static func claim(state: String, count: Int, destination: String) throws {
        let outbox = try Outbox(stateDirectory: state)
        var claims: [Double] = []
        var wakeUps: [Double] = []
        for _ in 0..<count {
            let now = Date().timeIntervalSince1970
            var t = DispatchTime.now().uptimeNanoseconds
            let claimed = try outbox.claimDue(destination: destination, now: now, leaseSeconds: 600)
            claims.append(Double(DispatchTime.now().uptimeNanoseconds - t) / 1e6)
            guard claimed != nil else { break }
            t = DispatchTime.now().uptimeNanoseconds
            _ = try outbox.nextWakeUp(destination: destination, now: now)
            wakeUps.append(Double(DispatchTime.now().uptimeNanoseconds - t) / 1e6)
        }
        try outbox.close()
        print("claim_ms " + summary(claims))
        print("next_wake_up_ms " + summary(wakeUps))
    }

    /// Times `Outbox.status` and `Outbox.pendingByPriority` (the outbox reads behind
    /// `radrelayctl status`) in process.
    static func status(state: String, count: Int) throws {
        let outbox = try Outbox(stateDirectory: state)
        var times: [Double] = []
        var byPriorityTimes: [Double] = []
        var pending = 0
        var pendingByPriority = 0
        for _ in 0..<count {
            var t = DispatchTime.now().uptimeNanoseconds
            let rows = try outbox.status(now: Date().timeIntervalSince1970)
            times.append(Double(DispatchTime.now().uptimeNanoseconds - t) / 1e6)
            pending = rows.map(\.pending).reduce(0, +)
            t = DispatchTime.now().uptimeNanoseconds
            let buckets = try outbox.pendingByPriority()
            byPriorityTimes.append(Double(DispatchTime.now().uptimeNanoseconds - t) / 1e6)
            pendingByPriority = buckets.values.flatMap(\.values).reduce(0) { $0 + $1.count }
        }
        try outbox.close()
        print("status_ms " + summary(times) + " pending=\(pending)")
        print("pending_by_priority_ms " + summary(byPriorityTimes) + " pending=\(pendingByPriority)")
    }

    /// "n=… min=… p50=… p95=… max=…" in milliseconds.
    static func summary(_ values: [Double]) -> String {
        guard !values.isEmpty else { return "n=0" }
        let sorted = values.sorted()
        func q(_ p: Double) -> Double { sorted[min(sorted.count - 1, Int(Double(sorted.count - 1) * p))] }
        return String(format: "n=%d min=%.3f p50=%.3f p95=%.3f max=%.3f", sorted.count, sorted[0], q(0.5), q(0.95), sorted.last!)
    }
}
