import Foundation
import RadRelayTestSupport
import XCTest

/// `radrelayctl` against a live daemon, every command, human tables and `--json`, with the
/// queue effects checked through the status and the caller's uid in the log.
final class ControlCommandTests: OperationsTestCase {
    func testEveryCommandHumanAndJSON() throws {
        // The remote answers 0xC000 (cannot understand): object-level, dead after one attempt.
        let remote = try ScriptedStoreSCP(directory: try temp.subdirectory("remote"), status: 0xC000)
        try remote.start()
        addCleanup { remote.stop() }
        var config = makeConfig(remotePort: remote.port)
        config.destinations[0].aeTitle = remote.aeTitle
        config.destinations[0].retryBaseDelay = nil
        config.destinations[0].retryMaxDelay = nil
        config.destinations[0].extraLines = ["retry: { base_delay: 1s, max_delay: 2s, max_object_attempts: 1 }"]
        config.destinations.append(.init(name: "offline", aeTitle: "NOBODY", port: freeLoopbackPort(), associations: 1))
        config.routes = [["remote"]]
        let daemon = try makeDaemon(config)
        let files = try makeSeries(count: 3)
        XCTAssertEqual(try StoreSCU.send(files: files, port: try daemon.port(), calledAE: "RADRELAY").exitCode, 0)
        try pollUntil("3 dead letters", timeout: 30, detail: daemon.logTail()) {
            ((try? daemon.json("/status"))?["dead_letters"] as? Int) == 3
        }

        // status
        let status = try daemon.ctl(["status"])
        XCTAssertEqual(status.exitCode, 0, status.output)
        XCTAssertTrue(status.stdout.contains("DESTINATION") && status.stdout.contains("remote"), status.stdout)
        XCTAssertTrue(status.stdout.contains("dead letters 3"), status.stdout)
        let statusJSON = try json(try daemon.ctl(["status", "--json"]))
        XCTAssertEqual(statusJSON["dead_letters"] as? Int, 3)
        XCTAssertNotNil(statusJSON["disk"] as? [String: Any])
        let destinations = statusJSON["destinations"] as? [[String: Any]] ?? []
        XCTAssertNotNil(destinations.first?["pending_by_priority"] as? [String: Any])

        // queue (filters) and studies
        let queue = try daemon.ctl(["queue", "--destination", "remote", "--state", "dead"])
        XCTAssertEqual(queue.exitCode, 0, queue.output)
        XCTAssertEqual(queue.stdout.split(separator: "\n").filter { $0.contains(" dead ") }.count, 3, queue.stdout)
        let queueJSON = try json(try daemon.ctl(["queue", "--json", "--state", "dead"]))
        let deliveries = queueJSON["deliveries"] as? [[String: Any]] ?? []
        XCTAssertEqual(deliveries.count, 3)
        let firstID = try XCTUnwrap(deliveries.first?["id"] as? Int)
        let studies = try daemon.ctl(["studies"])
        XCTAssertEqual(studies.exitCode, 0, studies.output)
        XCTAssertTrue(studies.stdout.contains("remote 0/3 (3 dead)"), studies.stdout)
        let studiesJSON = try json(try daemon.ctl(["studies", "--json"]))
        let study = try XCTUnwrap((studiesJSON["studies"] as? [[String: Any]])?.first)
        let studyUID = try XCTUnwrap(study["study_instance_uid"] as? String)

        // retry one delivery: the remote now accepts, so it is delivered.
        try remote.setStatus(0x0000)
        let retryOne = try daemon.ctl(["retry", "--delivery", String(firstID)])
        XCTAssertEqual(retryOne.exitCode, 0, retryOne.output)
        XCTAssertTrue(retryOne.stdout.contains("1 deliveries changed"), retryOne.stdout)
        try waitForCounts(daemon, "remote", ["delivered": 1, "dead": 2])

        // hold the destination, then retry the study: the two come back held, not sent.
        let hold = try json(try daemon.ctl(["hold", "--destination", "remote", "--json"]))
        XCTAssertEqual(hold["command"] as? String, "hold")
        let retryStudy = try json(try daemon.ctl(["retry", "--study", studyUID, "--json"]))
        XCTAssertEqual(retryStudy["changed"] as? Int, 2)
        try waitForCounts(daemon, "remote", ["held": 2])
        let held = try daemon.json("/status")
        let remoteStatus = (held["destinations"] as? [[String: Any]])?.first { $0["name"] as? String == "remote" }
        XCTAssertEqual(remoteStatus?["held"] as? Bool, true)
        XCTAssertEqual(remoteStatus?["health"] as? String, "held")

        // release: both are delivered.
        let release = try daemon.ctl(["release", "--destination", "remote"])
        XCTAssertEqual(release.exitCode, 0, release.output)
        try waitForCounts(daemon, "remote", ["delivered": 3])

        // requeue and hold on the offline destination (nothing routed there: 0 changed).
        let requeue = try json(try daemon.ctl(["requeue", "--destination", "offline", "--json"]))
        XCTAssertEqual(requeue["changed"] as? Int, 0)
        XCTAssertEqual(try daemon.ctl(["release", "--destination", "offline"]).exitCode, 0)

        // purge: without --yes and without a terminal it refuses; with --yes it deletes.
        let purgeRefused = try daemon.ctl(["purge", "--destination", "remote", "--state", "delivered"])
        XCTAssertEqual(purgeRefused.exitCode, 1, purgeRefused.output)
        XCTAssertTrue(purgeRefused.stderr.contains("confirm with --yes"), purgeRefused.output)
        let purge = try json(try daemon.ctl(["purge", "--destination", "remote", "--state", "delivered", "--yes", "--json"]))
        XCTAssertEqual(purge["changed"] as? Int, 3)
        XCTAssertEqual(purge["dry_run"] as? Bool, false)
        try waitForCounts(daemon, "remote", ["delivered": 0])

        // echo: the scripted SCP answers C-ECHO; nobody listens for "offline".
        let echo = try daemon.ctl(["echo", "remote"])
        XCTAssertEqual(echo.exitCode, 0, echo.output)
        XCTAssertTrue(echo.stdout.contains("echo OK"), echo.stdout)
        let echoFailed = try daemon.ctl(["echo", "offline", "--json"])
        XCTAssertEqual(echoFailed.exitCode, 1, echoFailed.output)
        XCTAssertEqual(try json(echoFailed)["ok"] as? Bool, false)

        // check-config, locally and by the daemon.
        let check = try daemon.ctl(["check-config", "--config", daemon.configURL.path])
        XCTAssertEqual(check.exitCode, 0, check.output)
        XCTAssertTrue(check.stdout.contains("configuration is valid"))
        let checkJSON = try json(try daemon.ctl(["check-config", "--daemon", "--json"]))
        XCTAssertEqual(checkJSON["valid"] as? Bool, true)

        // Unknown destination: a clear error, exit 1.
        let unknown = try daemon.ctl(["hold", "--destination", "nope"])
        XCTAssertEqual(unknown.exitCode, 1)
        XCTAssertTrue(unknown.stderr.contains("no destination named"), unknown.output)

        // Every changing command is logged with the caller's uid (SO_PEERCRED).
        let uid = getuid()
        let operatorLines = daemon.log.split(separator: "\n").filter { $0.contains("Operator command") }
        XCTAssertTrue(operatorLines.contains { $0.contains("COMMAND=hold") && $0.contains("CALLER_UID=\(uid)") }, "\(operatorLines)")
        XCTAssertTrue(operatorLines.contains { $0.contains("COMMAND=purge") })
        XCTAssertTrue(operatorLines.contains { $0.contains("COMMAND=retry") })
    }

    /// `hold --study` also holds objects of the study that arrive later (issue 6, `study_hold`):
    /// they wait as held, not sent, until `release --study`; other studies flow meanwhile.
    func testHoldingAStudyHoldsItsLaterObjectsUntilReleased() throws {
        let remote = try ScriptedStoreSCP(directory: try temp.subdirectory("remote"), status: 0x0000)
        try remote.start()
        addCleanup { remote.stop() }
        var config = makeConfig(remotePort: remote.port)
        config.destinations[0].aeTitle = remote.aeTitle
        let daemon = try makeDaemon(config)
        let files = try makeSeries(count: 3)
        let otherStudy = try makeSeries(count: 1, name: "other")

        // The first object is delivered; then the operator holds its study.
        XCTAssertEqual(try StoreSCU.send(files: [files[0]], port: try daemon.port(), calledAE: "RADRELAY").exitCode, 0)
        try waitForCounts(daemon, "remote", ["delivered": 1])
        let studies = try json(try daemon.ctl(["studies", "--json"]))
        let studyUID = try XCTUnwrap((studies["studies"] as? [[String: Any]])?.first?["study_instance_uid"] as? String)
        let hold = try daemon.ctl(["hold", "--study", studyUID])
        XCTAssertEqual(hold.exitCode, 0, hold.output)

        // Later objects of the study are held; another study's object is delivered.
        XCTAssertEqual(
            try StoreSCU.send(files: Array(files[1...]), port: try daemon.port(), calledAE: "RADRELAY").exitCode, 0)
        XCTAssertEqual(try StoreSCU.send(files: otherStudy, port: try daemon.port(), calledAE: "RADRELAY").exitCode, 0)
        try waitForCounts(daemon, "remote", ["held": 2, "delivered": 2, "queued": 0, "active": 0])
        Thread.sleep(forTimeInterval: 1)  // a worker that wrongly took a held object would have sent it by now
        XCTAssertEqual(remote.receivedStores().count, 2, "held objects reached the remote")
        try waitForCounts(daemon, "remote", ["held": 2, "delivered": 2])

        // Status and studies show the hold.
        let statusJSON = try json(try daemon.ctl(["status", "--json"]))
        let holds = statusJSON["study_holds"] as? [[String: Any]] ?? []
        XCTAssertEqual(holds.count, 1)
        XCTAssertEqual(holds.first?["study_instance_uid"] as? String, studyUID)
        XCTAssertNil(holds.first?["destination"] as? String, "held for every destination")
        XCTAssertEqual(holds.first?["held_by_uid"] as? Int, Int(getuid()))
        let status = try daemon.ctl(["status"])
        XCTAssertTrue(status.stdout.contains("HELD STUDY KEY") && status.stdout.contains(studyUID), status.stdout)
        let studyList = try daemon.ctl(["studies"])
        XCTAssertTrue(studyList.stdout.contains("all destinations"), studyList.stdout)

        // Release: every object of the study is delivered, each once.
        let release = try daemon.ctl(["release", "--study", studyUID])
        XCTAssertEqual(release.exitCode, 0, release.output)
        XCTAssertTrue(release.stdout.contains("2 deliveries changed"), release.stdout)
        try waitForCounts(daemon, "remote", ["held": 0, "delivered": 4])
        XCTAssertEqual(Set(remote.receivedStoreCounts().values), [1])
        XCTAssertEqual(remote.receivedStoreCounts().count, 4)
        XCTAssertEqual((try json(try daemon.ctl(["status", "--json"]))["study_holds"] as? [Any])?.count ?? 0, 0)

        // A study UID no object can carry is refused, not stored as a hold that never applies.
        let invalid = try daemon.ctl(["hold", "--study", "not a UID"])
        XCTAssertEqual(invalid.exitCode, 1, invalid.output)
        XCTAssertTrue(invalid.stderr.contains("not a valid Study Instance UID"), invalid.output)
    }

    private func json(_ result: ProcessResult) throws -> [String: Any] {
        guard let object = try? JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any] else {
            throw HarnessError("not JSON (exit \(result.exitCode)): \(result.output)")
        }
        return object
    }

    private func waitForCounts(_ daemon: OperationsDaemon, _ name: String, _ expected: [String: Int]) throws {
        var last: [String: Any] = [:]
        try pollUntil("\(name) counts \(expected)", timeout: 30, detail: "\(last)\n\(daemon.logTail())") {
            guard let status = try? daemon.json("/status"),
                let destination = (status["destinations"] as? [[String: Any]])?.first(where: { $0["name"] as? String == name }),
                let counts = destination["counts"] as? [String: Int]
            else { return false }
            last = counts
            return expected.allSatisfy { counts[$0.key] == $0.value }
        }
    }
}
