import Foundation
import RadRelayTestSupport
import XCTest

/// DCMTK storescu → radrelayd → Orthanc on loopback: the happy path, the allowlist, idle
/// connections and refused objects (issue 2, "Tests that must exist and pass").
final class IngestAndForwardTests: EndToEndTestCase {
    /// 100 CT slices (512×512, 16-bit) arrive at Orthanc once each, with the same SOP Instance UIDs
    /// and byte-identical Pixel Data.
    func testCTSeriesArrivesWithIdenticalPixels() throws {
        let series = try SharedTestData.shared.ctSeries100()
        let orthanc = try makeOrthanc()
        let daemon = try makeDaemon(try makeConfig(remotePort: orthanc.dicomPort))

        let started = monotonicSeconds()
        let store = try storeOrFail(series.files, to: daemon)
        let ingestSeconds = monotonicSeconds() - started
        try waitForAllDelivered(100, daemon: daemon, timeout: 120)
        try pollUntil("100 instances received by Orthanc", timeout: 30, detail: { daemon.failureContext() }) {
            orthanc.receivedStoreLog().count >= 100
        }
        let endToEndSeconds = monotonicSeconds() - started

        try assertOrthancHolds(series.uids, orthanc)
        let counts = orthanc.receivedStoreCounts()
        let notOnce = counts.filter { $0.value != 1 }
        XCTAssertTrue(notOnce.isEmpty, "C-STOREs per UID other than 1: \(notOnce)")
        XCTAssertEqual(Set(counts.keys), series.uids)

        let stored = try orthanc.pixelDataSHA256ByUID()
        let differing = series.pixelHashes.filter { stored[$0.key] != $0.value }
        XCTAssertTrue(
            differing.isEmpty,
            "\(differing.count) instances with different pixel data, e.g. \(differing.keys.prefix(3))")

        let status = try daemon.status()
        XCTAssertEqual(status.totalDead, 0, status.json)
        XCTAssertEqual(daemon.spoolFiles().filter { $0.hasPrefix("incoming/") }, [], "partial files left")
        print(
            String(
                format:
                    "e2e: storescu ingest of 100 slices %.2f s (storescu run %.2f s), "
                    + "last object at Orthanc after %.2f s, daemon peak RSS %d KiB",
                ingestSeconds, store.duration, endToEndSeconds, (try? daemon.peakRSSKiB()) ?? -1))
    }

    /// A calling AE that is not on the allowlist (or is, but from another host) is refused at
    /// association time with A-ASSOCIATE-RJ 1/1/3, and nothing reaches the spool or the queue.
    func testCallerNotOnAllowlistIsRejected() throws {
        let series = try SharedTestData.shared.ctSeries100()
        var config = try makeConfig(remotePort: freeLoopbackPort())
        config.allowedCallers.append(.init(aeTitle: "ELSEWHERE", hosts: ["192.0.2.1"]))
        let daemon = try makeDaemon(config)

        let intruder = try StoreSCU.send(
            files: [series.files[0]], port: daemon.port, calledAE: "RADRELAY",
            callingAE: "INTRUDER", timeout: 30)
        XCTAssertNotEqual(intruder.exitCode, 0, "storescu as INTRUDER succeeded:\n\(intruder.output)")
        XCTAssertTrue(intruder.output.contains("Association Rejected"), intruder.output)
        XCTAssertTrue(intruder.output.contains("Calling AE Title Not Recognized"), intruder.output)

        for calling in ["INTRUDER", "ELSEWHERE"] {
            let client = try RawDICOMClient(port: daemon.port)
            let reply = try client.requestAssociation(
                calledAE: "RADRELAY", callingAE: calling,
                contexts: [
                    .verification,
                    .init(
                        id: 3, abstractSyntax: RawDICOMClient.ctImageStorage,
                        transferSyntaxes: [RawDICOMClient.explicitVRLittleEndian]),
                ]
            )
            XCTAssertEqual(reply, .rejected(result: 1, source: 1, reason: 3), "calling AE \(calling)")
        }

        XCTAssertEqual(daemon.spoolFiles(), [], "spool not empty after rejected associations")
        let status = try daemon.status()
        XCTAssertEqual(status.destinations.map(\.counts.total).reduce(0, +), 0, "deliveries exist: \(status.json)")

        // The allowed caller still gets in.
        let allowed = try RawDICOMClient(port: daemon.port)
        let reply = try allowed.requestAssociation(calledAE: "RADRELAY", callingAE: "STORESCU")
        XCTAssertTrue(reply.isAccepted, "STORESCU: \(reply)\n\(daemon.failureContext())")
        if reply.isAccepted {
            XCTAssertEqual(try allowed.echo(), 0x0000)
            try allowed.release()
        }
    }

    /// An A-ASSOCIATE-RQ for a called AE title the gateway does not answer to gets 1/1/7.
    func testUnknownCalledAEIsRejected() throws {
        let daemon = try makeDaemon(try makeConfig(remotePort: freeLoopbackPort()))
        let client = try RawDICOMClient(port: daemon.port)
        let reply = try client.requestAssociation(calledAE: "NOT_RADRELAY", callingAE: "STORESCU")
        XCTAssertEqual(reply, .rejected(result: 1, source: 1, reason: 7))
    }

    /// Associations beyond `max_associations` (global or per caller) get A-ASSOCIATE-RJ 2/3/2
    /// (transient, service-provider presentation, local limit exceeded); a freed slot is reusable.
    func testAssociationsOverTheLimitAreRejectedTransiently() throws {
        var config = try makeConfig(remotePort: freeLoopbackPort())
        config.maxAssociations = 2
        config.allowedCallers.append(.init(aeTitle: "LIMITED", maxAssociations: 1))
        let daemon = try makeDaemon(config)

        let limited = try RawDICOMClient(port: daemon.port)
        XCTAssertTrue(try limited.requestAssociation(calledAE: "RADRELAY", callingAE: "LIMITED").isAccepted)
        let limitedAgain = try RawDICOMClient(port: daemon.port)
        XCTAssertEqual(
            try limitedAgain.requestAssociation(calledAE: "RADRELAY", callingAE: "LIMITED"),
            .rejected(result: 2, source: 3, reason: 2), "per-caller limit")

        let second = try RawDICOMClient(port: daemon.port)
        XCTAssertTrue(try second.requestAssociation(calledAE: "RADRELAY", callingAE: "STORESCU").isAccepted)
        let third = try RawDICOMClient(port: daemon.port)
        XCTAssertEqual(
            try third.requestAssociation(calledAE: "RADRELAY", callingAE: "STORESCU"),
            .rejected(result: 2, source: 3, reason: 2), "global limit")

        XCTAssertTrue(try second.release())
        second.close()
        try pollUntil("a slot is free again", timeout: 5) {
            let client = try RawDICOMClient(port: daemon.port)
            return try client.requestAssociation(calledAE: "RADRELAY", callingAE: "STORESCU").isAccepted
        }
        limited.close()
    }

    /// 100 TCP connections that never send a byte do not delay a C-ECHO: one echo per second for
    /// ~10 s, each answered within 1 s.
    func testIdleConnectionsDoNotDelayEcho() throws {
        var config = try makeConfig(remotePort: freeLoopbackPort())
        config.allowedCallers.append(.init(aeTitle: "ECHOSCU"))
        // Keep the idle sockets open for the whole test (the gateway may close them after the ACSE
        // timeout; they are topped up every round anyway).
        config.acseTimeout = "30s"
        let daemon = try makeDaemon(config)

        var idle: [Int32] = []
        addCleanup { for fd in idle { close(fd) } }
        func topUp() throws {
            idle.removeAll { fd in
                // A closed-by-peer socket reads EOF (or an error) without blocking.
                var byte: UInt8 = 0
                let n = recv(fd, &byte, 1, Int32(MSG_DONTWAIT) | Int32(MSG_PEEK))
                if n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
                    close(fd)
                    return true
                }
                return false
            }
            while idle.count < 100 {
                idle.append(try Socket.connectTCP(host: "127.0.0.1", port: daemon.port, timeout: 5))
            }
        }
        try topUp()
        // The daemon has accepted them (they are not just waiting in the kernel's backlog).
        try pollUntil(
            "daemon holds the 100 idle connections", timeout: 5,
            detail: { "daemon sockets: \(daemon.openSocketCount())" }
        ) {
            daemon.openSocketCount() >= 100
        }

        let start = monotonicSeconds()
        var durations: [Double] = []
        for round in 0..<10 {
            // One echo per second: wait for the round's slot (pacing, not synchronization).
            let slot = start + Double(round)
            let now = monotonicSeconds()
            if slot > now { Thread.sleep(forTimeInterval: slot - now) }
            try topUp()
            let echo = try EchoSCU.echo(port: daemon.port, calledAE: "RADRELAY", callingAE: "ECHOSCU", timeout: 5)
            durations.append(echo.duration)
            XCTAssertEqual(echo.exitCode, 0, "echo \(round) failed:\n\(echo.output)")
            XCTAssertLessThan(echo.duration, 1.0, "echo \(round) took \(echo.duration) s with 100 idle connections")
        }
        print("e2e: C-ECHO durations with 100 idle connections: \(durations.map { String(format: "%.3f", $0) })")
        XCTAssertTrue(daemon.isRunning)
    }

    /// Each bad object gets its status and leaves nothing in the spool or the queue; the gateway
    /// keeps serving the next association.
    func testBadObjectsAreRefusedAndLeaveNothing() throws {
        let orthanc = try makeOrthanc()
        let daemon = try makeDaemon(try makeConfig(remotePort: orthanc.dicomPort))
        let data = try temp.subdirectory("data")
        try TestData.makeCTSeries(count: 1, in: data, rows: 64, columns: 64)
        let source = data.appendingPathComponent("ct0001.dcm")
        let work = try temp.subdirectory("work")

        let expectations: [(PyNetDICOMStore.Case, Int)] = [
            (.truncated, 0xC000),
            (.traversalUID, 0xC000),
            (.uidMismatch, 0xC000),
            (.missingUID, 0xC000),
            (.classMismatch, 0xA900),
        ]
        let baseline = daemon.spoolFiles()
        XCTAssertTrue(baseline.isEmpty, "spool not empty at start: \(baseline)")
        for (badCase, expected) in expectations {
            let result = try PyNetDICOMStore.send(
                badCase, source: source, workDirectory: work, port: daemon.port,
                calledAE: "RADRELAY")
            XCTAssertTrue(result.associated, "\(result)")
            XCTAssertEqual(
                result.status, expected,
                "\(badCase.rawValue): expected 0x\(String(expected, radix: 16, uppercase: true)), got \(result)")
            // The refusal and its clean-up may finish just after the response: poll briefly.
            var leftover = Set<String>()
            do {
                try pollUntil("spool back to empty after \(badCase.rawValue)", timeout: 2) {
                    leftover = daemon.spoolFiles().subtracting(baseline)
                    return leftover.isEmpty
                }
            } catch {
                XCTFail("\(badCase.rawValue) left files in the spool: \(leftover)")
            }
            let status = try daemon.status()
            XCTAssertEqual(
                status.destinations.map(\.counts.total).reduce(0, +), 0,
                "\(badCase.rawValue) created deliveries: \(status.json)")
            XCTAssertTrue(daemon.isRunning, "daemon died after \(badCase.rawValue)\n\(daemon.failureContext())")
        }

        let good = try PyNetDICOMStore.send(
            .good, source: source, workDirectory: work, port: daemon.port,
            calledAE: "RADRELAY")
        XCTAssertEqual(good.status, 0x0000, "good object after the bad ones: \(good)")
        try waitForAllDelivered(1, daemon: daemon, timeout: 30)
        try assertOrthancHolds([good.datasetSOPInstanceUID ?? "?"], orthanc)
        XCTAssertEqual(
            Set(orthanc.receivedStoreCounts().keys), [good.datasetSOPInstanceUID ?? "?"],
            "something other than the good object reached the remote")
    }
}
