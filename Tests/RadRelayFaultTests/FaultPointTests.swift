import Foundation
import RadRelayTestSupport
import XCTest

/// The fault points compiled into test builds (`FaultPoint.hit`, debug builds only), each
/// exercised: the daemon SIGKILLs itself exactly there, is restarted without the fault, and the
/// invariants hold.
final class FaultPointTests: FaultTestCase {
    /// File fsynced and renamed into the spool, no outbox row yet: the object was never
    /// acknowledged, so reconcile deletes the file; the objects before it stay queued.
    func testKillBetweenFsyncAndCommit() throws {
        try requireFaultPoints()
        let files = try series(6)
        let orthanc = try makeOrthanc(start: false)
        let config = makeConfig(remotePort: orthanc.dicomPort)
        let dir = try temp.subdirectory("daemon")
        let faulty = try makeDaemon(
            config, environment: ["RADRELAY_FAULT_POINTS": "ingest-after-fsync-before-commit@3"], directory: dir)
        let first = send(files, port: faulty.port)
        XCTAssertEqual(faulty.waitForExit(timeout: 10), 137, "the fault point did not fire")
        XCTAssertTrue(faulty.logTail().contains("fault point ingest-after-fsync-before-commit hit 3"), faulty.logTail())
        XCTAssertEqual(first.statuses.map(\.uid), files.prefix(2).map(\.sopInstanceUID), "\(first.statuses)")
        XCTAssertEqual(first.inFlight, files[2].sopInstanceUID)
        // The third object's file is durable in spool/ without a row.
        let spooled = regularFiles(under: faulty.spoolDirectory).filter { !$0.hasPrefix("incoming/") }
        XCTAssertEqual(spooled.count, 3, "expected 2 committed files + 1 orphan: \(spooled)")

        let daemon = try makeDaemon(config, directory: dir)
        var expect = OutboxInvariants.Expectations()
        expect.acknowledged = first.acknowledged
        try daemon.waitForStatus("2 queued", timeout: 10) { $0.totalPending == 2 }
        // The sender retries what it was not told: everything is accepted now.
        let second = send(Array(files[2...]), port: daemon.port)
        XCTAssertEqual(second.acknowledged.count, 4, "\(second.statuses) \(second.error ?? "")")
        expect.acknowledged.formUnion(second.acknowledged)
        try orthanc.start()
        try waitFor(daemon, "6 delivered") { $0.totalDelivered == 6 && $0.totalPending == 0 }
        expect.requireDelivered = true
        expect.remoteCounts = orthanc.receivedStoreCounts()
        try assertInvariants(daemon, expect, case: "fault point ingest-after-fsync-before-commit")
    }

    /// Row committed, C-STORE-RSP never sent: the sender saw a failure, but the object is queued
    /// (at-least-once); when the sender re-sends it, dedup keeps it to one delivery.
    func testKillBetweenCommitAndResponse() throws {
        try requireFaultPoints()
        let files = try series(6)
        let orthanc = try makeOrthanc(start: false)
        let config = makeConfig(remotePort: orthanc.dicomPort)
        let dir = try temp.subdirectory("daemon")
        let faulty = try makeDaemon(
            config, environment: ["RADRELAY_FAULT_POINTS": "ingest-after-commit-before-response@3"], directory: dir)
        let first = send(files, port: faulty.port)
        XCTAssertEqual(faulty.waitForExit(timeout: 10), 137, "the fault point did not fire")
        XCTAssertEqual(first.acknowledged.count, 2, "\(first.statuses)")
        XCTAssertEqual(first.inFlight, files[2].sopInstanceUID)

        let daemon = try makeDaemon(config, directory: dir)
        // Committed before the kill: 3 deliveries, although only 2 were acknowledged.
        try daemon.waitForStatus("3 queued", timeout: 10) { $0.totalPending == 3 }
        let second = send(Array(files[2...]), port: daemon.port)
        XCTAssertEqual(second.acknowledged.count, 4, "\(second.statuses)")
        try daemon.waitForStatus("6 queued, the re-sent one deduplicated", timeout: 10) { $0.totalPending == 6 }
        try orthanc.start()
        try waitFor(daemon, "6 delivered") { $0.totalDelivered == 6 && $0.totalPending == 0 }
        var expect = OutboxInvariants.Expectations()
        expect.acknowledged = first.acknowledged.union(second.acknowledged)
        expect.requireDelivered = true
        expect.remoteCounts = orthanc.receivedStoreCounts()
        try assertInvariants(daemon, expect, case: "fault point ingest-after-commit-before-response")
    }

    /// The remote confirmed the object, the delivery is still active: after the restart it is
    /// sent once more (the one re-send DESIGN §1.2 allows), then marked delivered.
    func testKillBetweenSendAndMarkDelivered() throws {
        try requireFaultPoints()
        let files = try series(5)
        let orthanc = try makeOrthanc()
        // One association: exactly one send is in the balance when the point fires.
        let config = makeConfig(remotePort: orthanc.dicomPort, associations: 1)
        let dir = try temp.subdirectory("daemon")
        let faulty = try makeDaemon(
            config, environment: ["RADRELAY_FAULT_POINTS": "forward-after-send-before-mark@2"], directory: dir)
        let first = send(files, port: faulty.port)
        XCTAssertEqual(faulty.waitForExit(timeout: 30), 137, "the fault point did not fire")
        // The kill may interrupt the sender too, if it was still sending.
        let daemon = try makeDaemon(config, directory: dir)
        var acknowledged = first.acknowledged
        let rest = files.filter { !acknowledged.contains($0.sopInstanceUID) }
        if !rest.isEmpty { acknowledged.formUnion(send(rest, port: daemon.port).acknowledged) }
        XCTAssertEqual(acknowledged.count, 5)
        try waitFor(daemon, "5 delivered") { $0.totalDelivered == 5 && $0.totalPending == 0 }
        let counts = orthanc.receivedStoreCounts()
        XCTAssertEqual(counts.values.filter { $0 == 2 }.count, 1, "exactly one object re-sent: \(counts)")
        var expect = OutboxInvariants.Expectations()
        expect.acknowledged = acknowledged
        expect.requireDelivered = true
        expect.remoteCounts = counts
        expect.allowedResends = 1
        expect.maxStoresPerUID = 2
        try assertInvariants(daemon, expect, case: "fault point forward-after-send-before-mark")
    }
}
