import Foundation
import RadRelayTestSupport
import XCTest

#if canImport(Glibc)
    import Glibc
#endif

/// Hostile and broken input: malformed PDUs sent raw, truncated data sets, sequences never
/// closed, deep nesting, hostile UIDs, an object over `max_object_size`. Each is refused with the
/// right status or an A-ABORT, the daemon keeps serving the next association, and no file
/// appears outside the spool.
final class BadInputTests: FaultTestCase {
    private var daemon: RadRelayDaemonProcess!
    /// Files in the test's directory before the hostile input (the "no file outside" baseline).
    private var baseline: Set<String> = []

    private func startDaemon(maxObjectSize: String = "8GiB") throws {
        var config = makeConfig(remotePort: freeLoopbackPort())
        config.maxObjectSize = maxObjectSize
        config.acseTimeout = "3s"
        config.dimseTimeout = "2s"
        daemon = try makeDaemon(config)
        baseline = regularFiles(under: temp.url)
    }

    /// Files the daemon may create: its database, lock and log, and spool files for the objects
    /// it acknowledged (checked against rows by the invariants).
    private func allowed(_ path: String) -> Bool {
        path.hasPrefix("state/spool/") && path.hasSuffix(".dcm") && !path.contains("incoming")
            || ["state/radrelay.sqlite", "state/radrelay.sqlite-wal", "state/radrelay.sqlite-shm", "state/radrelay.lock"]
                .contains(path)
            || path.hasPrefix("daemon-") || path.hasPrefix("work/") || path.hasPrefix("data/")
    }

    /// After each hostile input: the daemon is alive, answers a C-ECHO on a new association,
    /// and nothing new lies outside the spool.
    private func assertStillServing(_ what: String, file: StaticString = #filePath, line: UInt = #line) throws {
        XCTAssertTrue(daemon.isRunning, "\(what): daemon died\n\(daemon.failureContext())", file: file, line: line)
        guard daemon.isRunning else { return }
        let client = try RawDICOMClient(port: daemon.port)
        let reply = try client.requestAssociation(calledAE: "RADRELAY", callingAE: "STORESCU")
        XCTAssertTrue(reply.isAccepted, "\(what): next association \(reply)", file: file, line: line)
        if reply.isAccepted {
            XCTAssertEqual(try client.echo(), 0, "\(what): echo after", file: file, line: line)
            try client.release()
        }
        assertNoNewFiles(in: temp.url, since: baseline, allowing: allowed, what, file: file, line: line)
        let incoming = regularFiles(under: daemon.incomingDirectory)
        XCTAssertTrue(incoming.isEmpty, "\(what): partial files \(incoming)", file: file, line: line)
    }

    /// What the peer did after the bytes were sent.
    private enum Answer: Equatable { case aborted, closed, other(UInt8), nothing }

    private func answer(_ client: RawDICOMClient, within seconds: TimeInterval = 5) -> Answer {
        do {
            guard let pdu = try client.readPDU(timeout: seconds) else { return .closed }
            return pdu.type == 0x07 ? .aborted : .other(pdu.type)
        } catch let failure as Socket.Failure where failure.isConnectionReset {
            return .closed
        } catch {
            return .nothing
        }
    }

    // MARK: - Malformed PDUs

    func testMalformedPDUsAreAborted() throws {
        try startDaemon()
        let associateRQ = RawDICOMClient.associateRQ(
            calledAE: "RADRELAY", callingAE: "STORESCU",
            contexts: [.verification, .init(id: 3, abstractSyntax: RawDICOMClient.ctImageStorage, transferSyntaxes: [RawDICOMClient.explicitVRLittleEndian])])
        let cases: [(String, associateFirst: Bool, bytes: [UInt8])] = [
            ("A-ASSOCIATE-RQ announcing 4 GB", false, [0x01, 0, 0xFF, 0xFF, 0xFF, 0xF0]),
            ("A-ASSOCIATE-RQ announcing 2 MB", false, [0x01, 0, 0x00, 0x20, 0x00, 0x00] + [UInt8](repeating: 0, count: 1024)),
            ("A-ASSOCIATE-RQ shorter than its fixed fields", false, [0x01, 0, 0, 0, 0, 10] + [UInt8](repeating: 0x20, count: 10)),
            ("A-ASSOCIATE-RQ with an item overrunning the PDU", false,
             Array(associateRQ.prefix(6 + 68)) .enumerated().map { $0.offset == 5 ? UInt8(68 + 4) : $0.element } + [0x10, 0, 0x7F, 0xFF]),
            ("unknown PDU type 0x09 before association", false, [0x09, 0, 0, 0, 0, 0]),
            ("unknown PDU type 0xFF after association", true, [0xFF, 0, 0, 0, 0, 4, 1, 2, 3, 4]),
            ("P-DATA-TF before association", false, [0x04, 0, 0, 0, 0, 6, 0, 0, 0, 2, 1, 3]),
            ("P-DATA-TF announcing 4 GB after association", true, [0x04, 0, 0xFF, 0xFF, 0xFF, 0xFF]),
            ("P-DATA-TF longer than the negotiated maximum", true, [0x04, 0, 0x00, 0x10, 0x00, 0x10] + [UInt8](repeating: 0, count: 4096)),
            ("PDV item overrunning its PDU", true, [0x04, 0, 0, 0, 0, 8, 0, 0, 0x10, 0, 1, 3, 0, 0]),
            ("PDV on a context never proposed", true, RawDICOMClient.pDataTF(contextID: 99, command: true, last: true, data: [0, 0, 0, 0])),
            ("data set fragment before any command", true, RawDICOMClient.pDataTF(contextID: 3, command: false, last: true, data: [8, 0, 0x18, 0])),
            ("garbage command set", true, RawDICOMClient.pDataTF(contextID: 1, command: true, last: true, data: [UInt8](repeating: 0xAB, count: 64))),
            ("A-ASSOCIATE-RQ on an established association", true, associateRQ),
            ("64 bytes of garbage", false, [UInt8](repeating: 0xAB, count: 64)),
        ]
        // An A-ASSOCIATE-RQ longer than the 64 KiB the listener accepts is a well-formed PDU it
        // will not take (PS3.8 sets no maximum): A-ASSOCIATE-RJ 1/3/2 from its header alone.
        let overlong = ["A-ASSOCIATE-RQ announcing 4 GB", "A-ASSOCIATE-RQ announcing 2 MB"]
        var results: [String] = []
        for (name, associateFirst, bytes) in cases {
            let client = try RawDICOMClient(port: daemon.port)
            if associateFirst {
                let reply = try client.requestAssociation(calledAE: "RADRELAY", callingAE: "STORESCU",
                    contexts: [.verification, .init(id: 3, abstractSyntax: RawDICOMClient.ctImageStorage, transferSyntaxes: [RawDICOMClient.explicitVRLittleEndian])])
                XCTAssertTrue(reply.isAccepted, "\(name): \(reply)")
            }
            try? client.send(bytes)
            let got = answer(client)
            if overlong.contains(name) {
                XCTAssertEqual(got, .other(0x03), "\(name): expected A-ASSOCIATE-RJ, got \(got)")
            } else {
                XCTAssertTrue(got == .aborted || got == .closed, "\(name): expected A-ABORT or close, got \(got)")
            }
            results.append("\(name): \(got)")
            client.close()
            try assertStillServing(name)
        }
        var expect = OutboxInvariants.Expectations()
        expect.acknowledged = []
        try assertInvariants(daemon, expect, case: "bad input: malformed PDUs", runs: cases.count,
                             note: results.map { $0.split(separator: ":").last.map(String.init) ?? "" }
                                .reduce(into: [String: Int]()) { $0[$1, default: 0] += 1 }.description)
    }

    // MARK: - Broken data sets

    func testTruncatedDataSets() throws {
        try startDaemon()
        let good = try series(1, rows: 64)[0]
        let dataset = try good.dataset()
        var outcomes: [String] = []

        // Pydicom-made: the last element declares more bytes than arrive (the PDV says "last").
        let work = try temp.subdirectory("work")
        let truncated = try PyNetDICOMStore.send(.truncated, source: good.url, workDirectory: work, port: daemon.port, calledAE: "RADRELAY")
        XCTAssertEqual(truncated.status, 0xC000, "\(truncated)")
        outcomes.append("pydicom truncated: \(truncated.statusHex)")
        try assertStillServing("truncated data set")

        // Half the data set, flagged last, by hand.
        var (session, _) = try RawStoreSession.open(port: daemon.port)
        var status = try session!.store(
            sopClassUID: good.sopClassUID, sopInstanceUID: good.sopInstanceUID, dataset: Array(dataset.prefix(dataset.count / 2)))
        XCTAssertEqual(status, 0xC000)
        outcomes.append("half a data set: \(String(format: "0x%04X", status ?? 0))")
        try session!.release()
        try assertStillServing("half a data set")

        // Half a data set, then the connection drops / the peer aborts / the peer goes silent.
        for ending in ["close", "abort", "silence"] {
            (session, _) = try RawStoreSession.open(port: daemon.port)
            try session!.store(
                sopClassUID: good.sopClassUID, sopInstanceUID: good.sopInstanceUID,
                dataset: Array(dataset.prefix(dataset.count / 2)), markLast: false)
            switch ending {
            case "close": session!.client.close()
            case "abort": try session!.client.abort(); session!.client.close()
            default:
                // dimse timeout 2 s: the daemon aborts the association.
                let got = answer(session!.client, within: 6)
                XCTAssertEqual(got, .aborted, "silent peer mid-object")
                outcomes.append("silent mid-object: \(got)")
            }
            // First let the daemon see the end of the association: until then the .part file may
            // not even exist yet, and an "empty" directory would prove nothing.
            try pollUntil("association ended after \(ending)", timeout: 10) {
                ((try? daemon.statusJSON())?["active_associations"] as? Int) == 0
            }
            try pollUntil("partial file removed after \(ending)", timeout: 5) {
                regularFiles(under: daemon.incomingDirectory).isEmpty
            }
            try assertStillServing("data set cut by \(ending)")
        }

        // The data set itself stops in the middle of an element header.
        (session, _) = try RawStoreSession.open(port: daemon.port)
        status = try session!.store(
            sopClassUID: good.sopClassUID, sopInstanceUID: good.sopInstanceUID, dataset: Array(dataset.prefix(301)))
        XCTAssertEqual(status, 0xC000)
        try session!.release()
        try assertStillServing("data set cut inside an element header")

        try assertInvariants(daemon, OutboxInvariants.Expectations(), case: "bad input: truncated data sets", runs: 6,
                             note: outcomes.joined(separator: ", "))
    }

    func testUndefinedLengthSequenceNeverClosed() throws {
        try startDaemon()
        let uid = "1.2.826.0.1.3680043.10.1146.7.2.1"
        var d = DatasetBytes.ctHeader(sopInstanceUID: uid)
        d.sequenceStart(0x0040, 0xA730)  // Content Sequence
        d.itemStart()
        d.element(0x0040, 0xA040, "CS", "TEXT")
        // No item delimiter, no sequence delimiter: the data set ends inside the sequence.
        let (session, _) = try RawStoreSession.open(port: daemon.port)
        let status = try session!.store(sopClassUID: RawDICOMClient.ctImageStorage, sopInstanceUID: uid, dataset: d.bytes)
        try session!.release()
        XCTAssertEqual(status, 0xC000, "a data set ending inside an undefined-length sequence was answered "
            + String(format: "0x%04X", status ?? 0))
        try assertStillServing("undefined-length sequence never closed")
        var expect = OutboxInvariants.Expectations()
        expect.acknowledged = status == 0 ? [uid] : []
        try assertInvariants(daemon, expect, case: "bad input: undefined-length sequence never closed",
                             note: String(format: "status 0x%04X", status ?? 0))
    }

    /// Sequences nested `depth` levels deep (each level 16 bytes, properly closed). Valid DICOM
    /// has no depth limit; the gateway accepts up to `DICOMFileInspector.maxNestingDepth` (64)
    /// levels and refuses deeper ones with 0xC000 before DCMTK's recursive parser sees them.
    func testDeepNesting() throws {
        try deepNesting(depths: [10, 64, 65, 100, 1_000], case: "bad input: deep nesting (up to 1 000 levels)")
    }

    /// DCMTK's parser recurses once per level; ~10 000 levels of nested undefined-length
    /// sequences (160 KB) used to overflow the stack of the validating thread and kill the daemon
    /// (fault suite bug 1). The non-recursive pre-scan refuses them with 0xC000 first.
    func testDeepNestingBeyondTheParsersStack() throws {
        try deepNesting(depths: [3_000, 10_000, 100_000], case: "bad input: deep nesting (3 000 to 100 000 levels)")
    }

    /// The nesting limit the daemon enforces (`DICOMFileInspector.maxNestingDepth`).
    private static let nestingLimit = 64

    private func deepNesting(depths: [Int], case name: String) throws {
        try startDaemon()
        var outcomes: [String] = []
        var acknowledged = Set<String>()
        var refused = 0
        let override = ProcessInfo.processInfo.environment["RADRELAY_FAULT_NEST_DEPTHS"]?
            .split(separator: ",").compactMap { Int($0) }
        for depth in override ?? depths {
            let uid = "1.2.826.0.1.3680043.10.1146.7.3.\(depth)"
            var d = DatasetBytes.ctHeader(sopInstanceUID: uid)
            for _ in 0..<depth {
                d.sequenceStart(0x0040, 0xA730)
                d.itemStart()
            }
            for _ in 0..<depth {
                d.itemEnd()
                d.sequenceEnd()
            }
            let (session, _) = try RawStoreSession.open(port: daemon.port)
            let status = try? session!.store(sopClassUID: RawDICOMClient.ctImageStorage, sopInstanceUID: uid, dataset: d.bytes)
            _ = try? session!.release()
            outcomes.append("depth \(depth): " + (status.map { String(format: "0x%04X", $0 ?? 0) } ?? "no response"))
            // Within the limit: a valid object, accepted. Beyond it: refused as "cannot
            // understand" (never 0xA7xx, which a sender would retry forever).
            let expected: UInt16 = depth <= Self.nestingLimit ? 0x0000 : 0xC000
            XCTAssertEqual(status, expected, "depth \(depth): \(outcomes.last!)")
            if status == 0x0000 { acknowledged.insert(uid) }
            if status == 0xC000 { refused += 1 }
            // No response: give a crashed daemon time to be reaped before judging.
            if status == nil { _ = daemon.waitForExit(timeout: 3) }
            if !daemon.isRunning {
                XCTFail("depth \(depth): the daemon died (exit \(daemon.exitStatus.map(String.init) ?? "?"))")
                outcomes.append("daemon died (exit \(daemon.exitStatus.map(String.init) ?? "?")), restarted")
                // Durability still holds after the crash: restart (reconcile) and check.
                try daemon.start()
                break
            }
            try assertStillServing("nesting depth \(depth)")
        }
        if refused > 0 {
            // The refusal is logged with a constant message and the depth in its metadata.
            let log = (try? String(contentsOf: daemon.logURL, encoding: .utf8)) ?? ""
            // The journal-style log upper-cases field names: NESTING_DEPTH=65.
            XCTAssertTrue(log.uppercased().contains("NESTING_DEPTH=\(Self.nestingLimit + 1)"),
                          "no nesting depth in the daemon's log\n\(daemon.failureContext())")
        }
        var expect = OutboxInvariants.Expectations()
        expect.acknowledged = acknowledged
        try assertInvariants(daemon, expect, case: name, runs: outcomes.count, note: outcomes.joined(separator: ", "))
    }

    func testHostileUIDs() throws {
        try startDaemon()
        let valid = "1.2.826.0.1.3680043.10.1146.7.4.1"
        let hostile = [
            "../../x", "..", "/etc/passwd", "1.2.3/../../x",
            String(repeating: "1", count: 65), "1." + String(repeating: "2", count: 70),
            "1.2.abc", "1.2.840.10008.", "1..2", "1.02.3", "", "1.2.3\u{0}../x", "1.2.3 4",
        ]
        var outcomes: [String: Int] = [:]
        for uid in hostile {
            // In the command and the data set.
            var d = DatasetBytes.ctHeader(sopInstanceUID: uid)
            var (session, _) = try RawStoreSession.open(port: daemon.port)
            var status = try? session!.store(sopClassUID: RawDICOMClient.ctImageStorage, sopInstanceUID: uid, dataset: d.bytes)
            _ = try? session!.release()
            XCTAssertEqual(status, 0xC000, "UID \(uid.debugDescription) in command and data set")
            outcomes[String(format: "command 0x%04X", (status ?? nil) ?? 0), default: 0] += 1
            // Only in the data set; the command carries a valid UID.
            d = DatasetBytes.ctHeader(sopInstanceUID: uid)
            (session, _) = try RawStoreSession.open(port: daemon.port)
            status = try? session!.store(sopClassUID: RawDICOMClient.ctImageStorage, sopInstanceUID: valid, dataset: d.bytes)
            _ = try? session!.release()
            XCTAssertEqual(status, 0xC000, "UID \(uid.debugDescription) only in the data set")
            outcomes[String(format: "data set 0x%04X", (status ?? nil) ?? 0), default: 0] += 1
            try assertStillServing("hostile UID \(uid.debugDescription)")
        }
        // The same through pynetdicom (command from the file meta).
        let good = try series(1, rows: 64)[0]
        let traversal = try PyNetDICOMStore.send(.traversalUID, source: good.url, workDirectory: try temp.subdirectory("work"),
                                                 port: daemon.port, calledAE: "RADRELAY")
        XCTAssertEqual(traversal.status, 0xC000, "\(traversal)")
        try assertStillServing("pynetdicom ../../x")
        try assertInvariants(daemon, OutboxInvariants.Expectations(), case: "bad input: hostile UIDs",
                             runs: hostile.count * 2 + 1, note: outcomes.description)
    }

    /// An object whose Study Instance UID is missing or not a UID is the sender's fault: it must
    /// get a failure status the sender will not retry forever (0xC000), not 0xA700.
    func testMissingOrInvalidStudyUIDIsRefusedAsTheObjectsFault() throws {
        try startDaemon()
        var statuses: [String] = []
        for (n, study) in ["", "not-a-uid", "../../x", String(repeating: "9", count: 65)].enumerated() {
            let uid = "1.2.826.0.1.3680043.10.1146.7.6.\(n)"
            var d = DatasetBytes()
            d.element(0x0008, 0x0016, "UI", RawDICOMClient.ctImageStorage)
            d.element(0x0008, 0x0018, "UI", uid)
            d.element(0x0008, 0x0060, "CS", "CT")
            if !study.isEmpty { d.element(0x0020, 0x000D, "UI", study) }
            let (session, _) = try RawStoreSession.open(port: daemon.port)
            let status = try session!.store(sopClassUID: RawDICOMClient.ctImageStorage, sopInstanceUID: uid, dataset: d.bytes)
            _ = try? session!.release()
            statuses.append("\(study.isEmpty ? "missing" : study.prefix(12).description): " + String(format: "0x%04X", status ?? 0))
            XCTAssertEqual(status, 0xC000, "Study Instance UID \(study.debugDescription)")
            try assertStillServing("study UID \(study.debugDescription)")
        }
        try assertInvariants(daemon, OutboxInvariants.Expectations(), case: "bad input: missing/invalid Study Instance UID",
                             runs: 4, note: statuses.joined(separator: ", "))
    }

    func testObjectLargerThanMaxObjectSize() throws {
        try startDaemon(maxObjectSize: "1MiB")
        let big = "1.2.826.0.1.3680043.10.1146.7.5.1"
        var d = DatasetBytes.ctHeader(sopInstanceUID: big)
        d.element(0x7FE0, 0x0010, "OW", [UInt8](repeating: 0x11, count: 3 << 20))
        var (session, _) = try RawStoreSession.open(port: daemon.port)
        let status = try session!.store(sopClassUID: RawDICOMClient.ctImageStorage, sopInstanceUID: big, dataset: d.bytes)
        XCTAssertEqual(status, 0xA700, "3 MiB object over a 1 MiB limit")
        // The same association goes on: a small object is accepted.
        let small = try series(1, rows: 64)[0]
        XCTAssertEqual(try session!.store(small), 0x0000)
        try session!.release()
        try assertStillServing("object over max_object_size")
        // A 1 MiB + 1 byte object on a fresh association.
        (session, _) = try RawStoreSession.open(port: daemon.port)
        var edge = DatasetBytes.ctHeader(sopInstanceUID: big + ".2")
        edge.element(0x7FE0, 0x0010, "OW", [UInt8](repeating: 0x22, count: (1 << 20) + 2))
        XCTAssertEqual(try session!.store(sopClassUID: RawDICOMClient.ctImageStorage, sopInstanceUID: big + ".2", dataset: edge.bytes), 0xA700)
        try session!.release()
        var expect = OutboxInvariants.Expectations()
        expect.acknowledged = [small.sopInstanceUID]
        try assertInvariants(daemon, expect, case: "bad input: object over max_object_size", runs: 2)
    }
}
