import Foundation
import RadRelayTestSupport
import XCTest

/// Issue 4 end to end, with Orthanc as the remote(s): isolation of a down destination, STAT
/// overtaking a backlog after an outage, a bandwidth cap measured at the remote, a time-window
/// rule on either side of its boundary, fan-out, unrouted refusal and the backlog quota.
final class RoutingAndPriorityTests: EndToEndTestCase {
    // MARK: - Data

    /// `count` small CT slices (64×64) with `description` in `name`, in file order.
    private func slices(_ count: Int, _ name: String, description: String = "CT CHEST", size: Int = 64) throws
        -> [URL]
    {
        let directory = try temp.subdirectory(name)
        try TestData.makeCTSeries(
            count: count, in: directory, rows: size, columns: size,
            extraArguments: ["--study-description", description])
        return try FileManager.default.contentsOfDirectory(at: directory, includingPropertiesForKeys: nil)
            .filter { $0.pathExtension == "dcm" }
            .sorted { $0.path < $1.path }
    }

    private func uids(_ files: [URL]) throws -> [String] {
        try PixelData.digests(files: files).map(\.sopInstanceUID)
    }

    private func destination(_ name: String, port: Int, associations: Int = 2, extra: [String] = [])
        -> RadRelayTestConfig.Destination
    {
        var destination = RadRelayTestConfig.Destination(
            name: name, aeTitle: "ORTHANC", port: port, associations: associations, retryBaseDelay: "1s",
            retryMaxDelay: "2s")
        destination.extraLines = extra
        return destination
    }

    private func config(_ destinations: [RadRelayTestConfig.Destination]) -> RadRelayTestConfig {
        RadRelayTestConfig(stateDirectory: temp.url.appendingPathComponent("state").path, destinations: destinations)
    }

    private func delivered(_ name: String, _ daemon: RadRelayDaemonProcess) -> Int {
        (try? daemon.status().destination(name)?.counts.delivered) ?? 0
    }

    // MARK: - Isolation

    /// One destination refuses every connection: the other receives everything as fast as when
    /// it is alone, the dead one is tried only a handful of times (circuit open, probes with
    /// backoff), and nothing is dead-lettered.
    func testDestinationDownDoesNotSlowTheOther() throws {
        let orthanc = try makeOrthanc()
        let refusing = try makeProxy(to: freeLoopbackPort())
        refusing.refuse = .reset
        let baselineFiles = try slices(100, "baseline")
        let files = try slices(100, "both", description: "CT ABDOMEN")

        // Alone.
        let alone = try makeDaemon(config([destination("up", port: orthanc.dicomPort)]))
        var started = monotonicSeconds()
        try storeOrFail(baselineFiles, to: alone)
        try alone.waitForStatus("100 delivered alone", timeout: 60) { $0.destination("up")?.counts.delivered == 100 }
        let aloneSeconds = monotonicSeconds() - started
        alone.stop()

        // Beside a dead destination (a fresh state directory).
        var both = config([
            destination("up", port: orthanc.dicomPort),
            destination("down", port: refusing.port, extra: ["circuit: { failures: 3, max_probe_interval: 2s }"]),
        ])
        both.stateDirectory = temp.url.appendingPathComponent("state-both").path
        let daemon = try makeDaemon(both)
        started = monotonicSeconds()
        try storeOrFail(files, to: daemon)
        try daemon.waitForStatus("100 delivered beside a dead destination", timeout: 60) {
            $0.destination("up")?.counts.delivered == 100
        }
        let besideSeconds = monotonicSeconds() - started
        try assertOrthancHolds(Set(try uids(baselineFiles + files)), orthanc)

        Thread.sleep(forTimeInterval: 3)  // a measurement window: the dead destination stays quiet
        let status = try daemon.status()
        let down = try XCTUnwrap(status.destination("down"))
        XCTAssertEqual(down.counts.pending, 100, status.json)
        XCTAssertEqual(down.counts.dead, 0, "a destination-level failure dead-lettered objects: \(status.json)")
        let attempts = refusing.statistics.accepted
        let elapsed = monotonicSeconds() - started
        XCTAssertLessThanOrEqual(
            attempts, 2 * 3 + Int(elapsed), "\(attempts) connection attempts in \(Int(elapsed)) s: no circuit breaker?")
        let json = try daemon.statusJSON()
        let health = (json["destinations"] as? [[String: Any]])?.first { $0["name"] as? String == "down" }?["health"]
        XCTAssertEqual(health as? String, "down")
        print(
            String(
                format: "e2e: 100 objects to the healthy destination in %.2f s alone, %.2f s beside a dead one; "
                    + "%d connection attempts to the dead one in %.0f s", aloneSeconds, besideSeconds, attempts, elapsed
            ))
        XCTAssertLessThan(besideSeconds, aloneSeconds * 1.5 + 2, "the dead destination slowed the healthy one")
    }

    // MARK: - Priority

    /// The remote is down while 990 routine and then 110 STAT objects (a CODE STROKE study) are
    /// queued; when it comes up, every STAT object reaches it before any routine one (up to the
    /// routine objects the general workers had already started when the last STAT was claimed).
    func testStatOvertakesTheBacklogAfterAnOutage() throws {
        let routine = try slices(990, "routine")
        let stat = try slices(110, "stat", description: "CT HEAD CODE STROKE")
        let routineUIDs = Set(try uids(routine))
        let statUIDs = Set(try uids(stat))
        let orthanc = try makeOrthanc(start: false)
        let associations = 5
        var config = config([
            destination(
                "remote", port: orthanc.dicomPort, associations: associations,
                extra: ["circuit: { max_probe_interval: 1s }"])
        ])
        config.routeLines = [
            "  - name: stroke",
            "    match: { StudyDescription: { wildcard: \"*STROKE*\" } }",
            "    priority: stat",
            "    destinations: [remote]",
            "  - { name: default, destinations: [remote] }",
        ]
        let daemon = try makeDaemon(config)
        try storeOrFail(routine, to: daemon)
        try storeOrFail(stat, to: daemon)
        try daemon.waitForStatus("1100 pending", timeout: 60) { $0.totalPending == 1100 }

        try orthanc.start()
        let up = monotonicSeconds()
        try waitForAllDelivered(1100, daemon: daemon, timeout: 120)
        let drained = monotonicSeconds() - up
        try pollUntil("1100 C-STOREs at Orthanc", timeout: 30) { orthanc.receivedStoreLog().count >= 1100 }

        let log = orthanc.receivedStoreLog()
        XCTAssertEqual(Set(log), routineUIDs.union(statUIDs))
        XCTAssertEqual(log.count, 1100, "every object exactly once")
        let lastStat = try XCTUnwrap(log.lastIndex { statUIDs.contains($0) })
        let routineBeforeLastStat = log[..<lastStat].filter { routineUIDs.contains($0) }.count
        XCTAssertLessThanOrEqual(
            routineBeforeLastStat, associations - 1,
            "\(routineBeforeLastStat) routine objects reached the remote before the last STAT one")
        print(
            "e2e: after the outage, the last of 110 STAT objects was C-STORE #\(lastStat + 1) of 1100 "
                + "(\(routineBeforeLastStat) routine before it); backlog drained in \(String(format: "%.1f", drained)) s"
        )
    }

    // MARK: - Bandwidth

    /// A 4 MB/s cap on ~100 MB: the rate measured at the remote over 20 s is within −25 %/+10 %.
    func testBandwidthCapHoldsAtTheRemote() throws {
        let files = try slices(48, "large", size: 1024)  // 2 MiB each
        let orthanc = try makeOrthanc()
        let meter = try makeProxy(to: orthanc.dicomPort)  // no fault: it only counts bytes
        let cap = 4_000_000.0
        let daemon = try makeDaemon(config([destination("remote", port: meter.port, extra: ["bandwidth: 4MB/s"])]))
        try storeOrFail(files, to: daemon)
        try pollUntil("forwarding started", timeout: 30) { meter.statistics.upstreamBytes > 1_000_000 }
        Thread.sleep(forTimeInterval: 1)  // past the initial burst
        let window = 20.0
        let before = (monotonicSeconds(), meter.statistics.upstreamBytes)
        Thread.sleep(forTimeInterval: window)  // the measurement window
        let after = (monotonicSeconds(), meter.statistics.upstreamBytes)
        let rate = Double(after.1 - before.1) / (after.0 - before.0)
        print(
            String(
                format: "e2e: cap 4.00 MB/s, measured %.3f MB/s at the remote over %.1f s", rate / 1e6,
                after.0 - before.0))
        XCTAssertGreaterThanOrEqual(rate, cap * 0.75)
        XCTAssertLessThanOrEqual(rate, cap * 1.10)
        XCTAssertLessThan(delivered("remote", daemon), files.count, "the transfer must outlast the window")
    }

    /// A SIGHUP applies a new cap at once: status shows the cap in force, and the reload does
    /// not ask for a restart for it.
    func testBandwidthCapChangesOnReload() throws {
        var config = config([destination("remote", port: freeLoopbackPort(), extra: ["bandwidth: 4MB/s"])])
        let daemon = try makeDaemon(config)
        func cap() throws -> Double? {
            let destinations = try daemon.statusJSON()["destinations"] as? [[String: Any]]
            return (destinations?.first?["rate"] as? [String: Any])?["cap_bytes_per_second"] as? Double
        }
        try pollUntil("cap 4 MB/s in status", timeout: 10) { try cap() == 4_000_000 }
        config.destinations[0].extraLines = ["bandwidth: { limit: 20Mbit/s, stat: capped }"]
        try config.yaml.write(to: daemon.configURL, atomically: true, encoding: .utf8)
        kill(daemon.pid, SIGHUP)
        try pollUntil("cap 20 Mbit/s after the reload", timeout: 10, detail: daemon.logTail()) {
            try cap() == 2_500_000
        }
        let reloaded = daemon.logTail(lines: 400).split(separator: "\n").last { $0.contains("Configuration reloaded") }
        XCTAssertNotNil(reloaded)
        // The reload line lists what it applied and what waits for a restart, key by key.
        func field(_ name: String) -> String {
            guard let line = reloaded.map(String.init), let start = line.range(of: "\(name)=") else { return "" }
            return String(line[start.upperBound...].prefix { $0 != " " })
        }
        XCTAssertFalse(
            field("RESTART_REQUIRED").contains("destinations"), "a cap change must not need a restart: \(reloaded.map(String.init) ?? "")")
        XCTAssertTrue(field("APPLIED").contains("destinations.remote.bandwidth"), reloaded.map(String.init) ?? "")
    }

    // MARK: - Rules

    /// A rule for "until HH:MM:SS" (the site's zone, Asia/Kolkata here) routes the object sent
    /// before the boundary to one destination and the one sent after it to the other.
    func testTimeWindowRoutesDifferentlyOnEitherSideOfItsBoundary() throws {
        let files = try slices(2, "window")
        let orthanc = try makeOrthanc()
        let zone = TimeZone(identifier: "Asia/Kolkata")!
        let boundary = Date().addingTimeInterval(6).timeIntervalSince1970.rounded(.up)
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = zone
        func local(_ instant: Double) -> String {
            let c = calendar.dateComponents([.hour, .minute, .second], from: Date(timeIntervalSince1970: instant))
            return String(format: "%02d:%02d:%02d", c.hour!, c.minute!, c.second!)
        }
        var config = config([
            destination("before", port: orthanc.dicomPort), destination("after", port: orthanc.dicomPort),
        ])
        config.extraGatewayLines = ["time_zone: Asia/Kolkata"]
        // The window wraps midnight if the boundary is just after it; `daily` keeps that valid.
        config.routeLines = [
            "  - name: until-boundary",
            "    match: { time: { days: daily, from: \"\(local(boundary - 3600))\", to: \"\(local(boundary))\" } }",
            "    destinations: [before]",
            "  - { name: default, destinations: [after] }",
        ]
        let daemon = try makeDaemon(config)
        XCTAssertLessThan(Date().timeIntervalSince1970, boundary - 1, "the daemon took too long to start")
        try storeOrFail([files[0]], to: daemon)
        try daemon.waitForStatus("first object delivered", timeout: 30) { $0.totalDelivered == 1 }
        let wait = boundary + 0.5 - Date().timeIntervalSince1970
        if wait > 0 { Thread.sleep(forTimeInterval: wait) }  // cross the boundary
        try storeOrFail([files[1]], to: daemon)
        let status = try daemon.waitForStatus("second object delivered", timeout: 30) { $0.totalDelivered == 2 }
        XCTAssertEqual(status.destination("before")?.counts.delivered, 1, status.json)
        XCTAssertEqual(status.destination("after")?.counts.delivered, 1, status.json)
    }

    /// One route, two destinations: each Orthanc receives each object exactly once.
    func testFanOutDeliversOnceToEachDestination() throws {
        let files = try slices(5, "fanout")
        let expected = Set(try uids(files))
        let first = try makeOrthanc()
        let second = try makeOrthanc()
        let daemon = try makeDaemon(
            config([destination("first", port: first.dicomPort), destination("second", port: second.dicomPort)]))
        try storeOrFail(files, to: daemon)
        try waitForAllDelivered(10, daemon: daemon, timeout: 30)
        for orthanc in [first, second] {
            try pollUntil("5 C-STOREs", timeout: 10) { orthanc.receivedStoreLog().count >= 5 }
            XCTAssertEqual(orthanc.receivedStoreCounts(), Dictionary(uniqueKeysWithValues: expected.map { ($0, 1) }))
        }
    }

    /// A route with `hold_until_stable` forwards nothing while the study is still arriving, then
    /// the whole study once it has been quiet for `outbox.stable_after`.
    func testHoldUntilStableReleasesTheWholeStudy() throws {
        let files = try slices(6, "study")
        let orthanc = try makeOrthanc()
        var config = config([destination("whole", port: orthanc.dicomPort)])
        config.routeLines = ["  - { destinations: [whole], hold_until_stable: true }"]
        config.extraYAML = "outbox:\n  stable_after: 3s\n"
        let daemon = try makeDaemon(config)
        try storeOrFail(Array(files.prefix(3)), to: daemon)
        Thread.sleep(forTimeInterval: 1.5)  // still arriving: part of the quiet time only
        try storeOrFail(Array(files.suffix(3)), to: daemon)
        let sent = monotonicSeconds()
        let held = try daemon.status()
        XCTAssertEqual(held.destination("whole")?.counts.held, 6, held.json)
        XCTAssertEqual(orthanc.receivedStoreLog(), [], "forwarded before the study was stable")
        try waitForAllDelivered(6, daemon: daemon, timeout: 30)
        let waited = monotonicSeconds() - sent
        XCTAssertGreaterThanOrEqual(waited, 2.5, "released before 3 s of quiet")
        try assertOrthancHolds(Set(try uids(files)), orthanc)
    }

    /// No rule matches: the object is refused with 0x0124 and nothing is kept.
    func testUnroutedObjectIsRefused() throws {
        let files = try slices(1, "unrouted")
        var config = config([destination("remote", port: freeLoopbackPort())])
        config.routeLines = ["  - { match: { Modality: MR }, destinations: [remote] }"]
        let daemon = try makeDaemon(config)
        let result = try PyNetDICOMStore.send(
            .good, source: files[0], workDirectory: try temp.subdirectory("work"), port: daemon.port,
            calledAE: "RADRELAY")
        XCTAssertEqual(result.status, 0x0124, "\(result)")
        XCTAssertEqual(daemon.spoolFiles(), [], "an unrouted object left files behind")
        XCTAssertEqual(try daemon.status().destinations.map(\.counts.total).reduce(0, +), 0)
        XCTAssertTrue(daemon.logTail(lines: 200).contains("no route matches"))
    }

    /// A dead destination with a backlog quota refuses new objects routed to it (0xA700), while
    /// objects for another destination are still accepted.
    func testBacklogQuotaRefusesOnlyObjectsForTheFullDestination() throws {
        let files = try slices(1, "quota")
        let orthanc = try makeOrthanc()
        var config = config([
            destination("dead", port: freeLoopbackPort(), extra: ["backlog_quota: 20k"]),
            destination("alive", port: orthanc.dicomPort),
        ])
        config.allowedCallers.append(.init(aeTitle: "OTHERPACS"))
        config.routeLines = [
            "  - { match: { calling_ae: STORESCU }, destinations: [dead] }",
            "  - { match: { calling_ae: OTHERPACS }, destinations: [alive] }",
        ]
        let daemon = try makeDaemon(config)
        let work = try temp.subdirectory("work")
        var statuses: [Int?] = []
        for _ in 0..<4 {
            let result = try PyNetDICOMStore.send(
                .good, source: files[0], workDirectory: work, port: daemon.port, calledAE: "RADRELAY")
            statuses.append(result.status)
        }
        XCTAssertEqual(statuses.prefix(2), [0x0000, 0x0000], "objects below the quota are accepted")
        XCTAssertEqual(statuses.last, 0xA700, "once ~20 kB wait, new objects for it are refused: \(statuses)")
        let other = try PyNetDICOMStore.send(
            .good, source: files[0], workDirectory: work, port: daemon.port, calledAE: "RADRELAY",
            callingAE: "OTHERPACS")
        XCTAssertEqual(other.status, 0x0000, "the other destination is not affected")
        try daemon.waitForStatus("alive delivered", timeout: 30) { $0.destination("alive")?.counts.delivered == 1 }
    }
}

/// The figures issue 4's closing note asks for, measured on the built daemon with Orthanc:
/// CPU while a destination is down for 5 minutes, throttle accuracy over 30 s, and STAT latency
/// while a routine backlog of ≥ 1000 objects drains. Long (about 8 minutes), so it runs only
/// with `RADRELAY_MEASURE=1`:
///
///     RADRELAY_MEASURE=1 swift test --skip-build --filter RoutingMeasurements
final class RoutingMeasurements: EndToEndTestCase {
    override func setUpWithError() throws {
        guard ProcessInfo.processInfo.environment["RADRELAY_MEASURE"] == "1" else {
            throw XCTSkip("set RADRELAY_MEASURE=1 to run the issue 4 measurements (about 8 minutes)")
        }
        try super.setUpWithError()
    }

    private func slices(_ count: Int, _ name: String, size: Int, description: String = "CT CHEST") throws -> [URL] {
        let directory = try temp.subdirectory(name)
        try TestData.makeCTSeries(
            count: count, in: directory, rows: size, columns: size,
            extraArguments: ["--study-description", description])
        return try FileManager.default.contentsOfDirectory(at: directory, includingPropertiesForKeys: nil)
            .filter { $0.pathExtension == "dcm" }.sorted { $0.path < $1.path }
    }

    private func config(_ name: String, port: Int, associations: Int = 2, extra: [String] = []) -> RadRelayTestConfig {
        var destination = RadRelayTestConfig.Destination(
            name: name, aeTitle: "ORTHANC", port: port, associations: associations, retryBaseDelay: nil,
            retryMaxDelay: nil)
        destination.extraLines = extra
        return RadRelayTestConfig(
            stateDirectory: temp.url.appendingPathComponent("state-\(name)").path, destinations: [destination])
    }

    /// Default retry and circuit settings, 50 objects waiting, nothing listening: CPU over 300 s.
    func testCPUWhileADestinationIsDownForFiveMinutes() throws {
        let files = try slices(50, "down", size: 64)
        let daemon = try makeDaemon(config("down", port: freeLoopbackPort()))
        try storeOrFail(files, to: daemon)
        try daemon.waitForStatus("50 pending", timeout: 30) { $0.totalPending == 50 }
        Thread.sleep(forTimeInterval: 5)  // let the first attempts fail and the circuit open
        let before = try daemon.cpuSeconds()
        Thread.sleep(forTimeInterval: 300)  // the measurement window
        let cpu = try daemon.cpuSeconds() - before
        let status = try daemon.status()
        print(
            String(format: "measure: daemon CPU while a destination was down for 300 s: %.3f s (%.4f %%)", cpu, cpu / 3)
        )
        XCTAssertEqual(status.totalDead, 0)
        XCTAssertLessThan(cpu, 1.5)
    }

    /// Configured vs measured rate at the remote over 30 s, for 4 MB/s and 20 Mbit/s.
    func testThrottleAccuracyOverThirtySeconds() throws {
        let orthanc = try makeOrthanc()
        for (label, cap, count) in [("4MB/s", 4_000_000.0, 64), ("20Mbit/s", 2_500_000.0, 42)] {
            let files = try slices(count, "cap-\(count)", size: 1024)
            let meter = try makeProxy(to: orthanc.dicomPort)
            let daemon = try makeDaemon(config("cap\(count)", port: meter.port, extra: ["bandwidth: \(label)"]))
            try storeOrFail(files, to: daemon)
            try pollUntil("forwarding started", timeout: 30) { meter.statistics.upstreamBytes > 1_000_000 }
            Thread.sleep(forTimeInterval: 1)
            let before = (monotonicSeconds(), meter.statistics.upstreamBytes)
            Thread.sleep(forTimeInterval: 30)  // the measurement window
            let after = (monotonicSeconds(), meter.statistics.upstreamBytes)
            let rate = Double(after.1 - before.1) / (after.0 - before.0)
            print(
                String(
                    format: "measure: cap %@ (%.3f MB/s): measured %.3f MB/s over %.1f s (%+.2f %%)", label, cap / 1e6,
                    rate / 1e6, after.0 - before.0, (rate / cap - 1) * 100))
            XCTAssertEqual(rate, cap, accuracy: cap * 0.1)
            daemon.stop()
        }
    }

    /// 1400 routine objects (256×256) drain through a 2 MB/s cap (16 Mbit/s, a thin link); 10
    /// STAT objects arrive one a second meanwhile. Latency: C-STORE acknowledged → the object at Orthanc.
    func testStatLatencyWhileARoutineBacklogDrains() throws {
        let routine = try slices(1400, "routine", size: 256)
        let stat = try slices(10, "stat", size: 256, description: "CT HEAD CODE STROKE")
        let statUIDs = try PixelData.digests(files: stat).map(\.sopInstanceUID)
        let orthanc = try makeOrthanc()
        var config = config("drain", port: orthanc.dicomPort, associations: 3, extra: ["bandwidth: 2MB/s"])
        config.routeLines = [
            "  - { name: stroke, match: { StudyDescription: { wildcard: \"*STROKE*\" } }, priority: stat, destinations: [drain] }",
            "  - { name: default, destinations: [drain] }",
        ]
        let daemon = try makeDaemon(config)
        try storeOrFail(routine, to: daemon)
        try pollUntil("draining", timeout: 30) { orthanc.receivedStoreLog().count > 20 }
        var latencies: [Double] = []
        var backlogs: [Int] = []
        for (file, uid) in zip(stat, statUIDs) {
            backlogs.append((try? daemon.status().totalPending) ?? -1)
            // From before storescu starts: an upper bound on acknowledgement → remote (it adds
            // storescu's start-up and association set-up; the acknowledgement itself is not
            // visible from outside, and storescu often exits after the object has arrived).
            let sent = monotonicSeconds()
            try storeOrFail([file], to: daemon)
            try pollUntil("STAT object at Orthanc", timeout: 60, interval: 0.005) {
                orthanc.receivedStoreLog().contains(uid)
            }
            latencies.append(monotonicSeconds() - sent)
            Thread.sleep(forTimeInterval: 1)
        }
        let sorted = latencies.sorted()
        print(
            String(
                format: "measure: STAT latency (storescu start → at the remote, an upper bound on arrival → delivered) "
                    + "with %d–%d routine objects pending under a 2 MB/s cap: min %.3f s, median %.3f s, max %.3f s",
                backlogs.min() ?? 0, backlogs.max() ?? 0, sorted.first ?? 0, sorted[sorted.count / 2], sorted.last ?? 0)
        )
        XCTAssertGreaterThanOrEqual(backlogs.min() ?? 0, 1000, "the backlog must still be ≥ 1000 objects")
        XCTAssertLessThan(sorted.last ?? 99, 2.0)
    }
}
