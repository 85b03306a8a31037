import Foundation
import RadRelayTestSupport
import XCTest

/// Native journal entries as journald receives them (a fake journal socket in the daemon's own
/// mount namespace): priorities, identifiers, MESSAGE_IDs, upper-case DICOM fields, one study
/// followable from received to queued — and no PHI at any level.
final class JournalTests: OperationsTestCase {
    static let sentinel = "SENTINEL^PHI^NAME"
    static let sentinelID = "SENTINEL-PID-4711"

    func testNativeFieldsPrioritiesAndNoPHIAtTraceLevel() throws {
        var config = makeConfig(remotePort: freeLoopbackPort())
        config.extraYAML = "logging:\n  level: trace\n  log_phi: false\n"
        let daemon = try makeDaemon(config, fakeJournal: true)
        let journal = try XCTUnwrap(daemon.journal)
        let port = try daemon.port()

        let files = try makeSeries(count: 2)
        XCTAssertEqual(try StoreSCU.send(files: files, port: port, calledAE: "RADRELAY").exitCode, 0)
        // A rejected caller: warning priority with its own MESSAGE_ID.
        _ = try EchoSCU.echo(port: port, calledAE: "RADRELAY", callingAE: "INTRUDER")

        let stored = try journal.waitFor("Object stored") { JournalRecord($0.bytes)["MESSAGE"] == "Object stored" }
        let record = JournalRecord(stored.datagram.bytes)
        XCTAssertEqual(record["PRIORITY"], "6")
        XCTAssertEqual(record["SYSLOG_IDENTIFIER"], "radrelayd")
        XCTAssertEqual(record["MESSAGE_ID"], "97e1ace37c7545498ac08b34630ebd96")
        XCTAssertEqual(record["RADRELAY_EVENT"], "object-stored")
        XCTAssertEqual(record["DICOM_CALLING_AET"], "STORESCU")
        XCTAssertEqual(record["DIMSE_STATUS"], "0x0000")
        XCTAssertNotNil(record["CODE_FILE"])
        let studyKey = try XCTUnwrap(record["STUDY_KEY"], "no STUDY_KEY: \(record)")
        XCTAssertNil(record["STUDY_UID"], "STUDY_UID logged although log_uids is off")
        XCTAssertNil(record["SOP_INSTANCE_UID"])

        let accepted = try journal.waitFor("Association accepted") {
            JournalRecord($0.bytes)["MESSAGE"] == "Association accepted"
        }
        let acceptedRecord = JournalRecord(accepted.datagram.bytes)
        XCTAssertEqual(acceptedRecord["MESSAGE_ID"], "0199bdc096ad4eee97057efc43bec30c")
        XCTAssertEqual(acceptedRecord["DICOM_PEER_IP"], "127.0.0.1")

        let rejected = try journal.waitFor("Association rejected") {
            JournalRecord($0.bytes)["MESSAGE"] == "Association rejected"
        }
        let rejectedRecord = JournalRecord(rejected.datagram.bytes)
        XCTAssertEqual(rejectedRecord["PRIORITY"], "4")
        XCTAssertEqual(rejectedRecord["MESSAGE_ID"], "279245e307cb43209757ca2643c5e15a")
        XCTAssertEqual(rejectedRecord["DICOM_CALLING_AET"], "INTRUDER")

        // The same study, queued for its destination, by the same key, with a delivery id.
        let queued = try journal.waitFor("Object queued for destination") {
            let r = JournalRecord($0.bytes)
            return r["MESSAGE"] == "Object queued for destination" && r["STUDY_KEY"] == studyKey
        }
        let queuedRecord = JournalRecord(queued.datagram.bytes)
        XCTAssertEqual(queuedRecord["DESTINATION"], "remote")
        XCTAssertNotNil(queuedRecord["DELIVERY"])
        XCTAssertEqual(queuedRecord["MESSAGE_ID"], "b731076f32874975b1fcca1820592edb")

        // Trace level produced entries of every priority the daemon used; none holds PHI.
        let records = journal.datagrams.map { JournalRecord($0.bytes) }
        XCTAssertTrue(records.contains { $0["PRIORITY"] == "7" } || records.count > 5, "few entries at trace")
        for datagram in journal.datagrams {
            XCTAssertFalse(datagram.text.contains("SENTINEL"), "PHI in a journal entry: \(datagram.text)")
        }
        XCTAssertFalse(daemon.log.contains("SENTINEL"), "PHI on stderr")
        // Native entries, not stream lines: nothing of this went to stderr as a "<6>" line.
        XCTAssertFalse(daemon.log.contains("<6>Object stored"), "entries went to stderr, not the journal")
    }

    func testUIDsOnlyWhenConfiguredAndStderrFallback() throws {
        var config = makeConfig(remotePort: freeLoopbackPort())
        config.extraYAML = "logging:\n  level: debug\n  log_phi: true\n  log_uids: true\n"
        let daemon = try makeDaemon(config, fakeJournal: true)
        let files = try makeSeries(count: 1)
        XCTAssertEqual(try StoreSCU.send(files: files, port: try daemon.port(), calledAE: "RADRELAY").exitCode, 0)
        let stored = try XCTUnwrap(daemon.journal).waitFor("Object stored") {
            JournalRecord($0.bytes)["MESSAGE"] == "Object stored"
        }
        let record = JournalRecord(stored.datagram.bytes)
        XCTAssertNotNil(record["STUDY_UID"], "log_uids: true but no STUDY_UID: \(record)")
        XCTAssertNotNil(record["SOP_INSTANCE_UID"])

        // Without JOURNAL_STREAM: stderr lines with <N> priority prefixes, same fields.
        var plain = makeConfig(remotePort: freeLoopbackPort(), name: "state-plain")
        plain.extraYAML = "logging:\n  level: info\n"
        let second = try makeDaemon(plain)
        XCTAssertEqual(try StoreSCU.send(files: files, port: try second.port(), calledAE: "RADRELAY").exitCode, 0)
        try pollUntil("stderr line for the stored object", timeout: 10, detail: second.logTail()) {
            second.log.contains("<6>Object stored ") && second.log.contains("DICOM_CALLING_AET=STORESCU")
        }
        XCTAssertTrue(second.log.contains("<6>Association accepted"))
        XCTAssertFalse(second.log.contains("STUDY_UID="), "UIDs on stderr although log_uids is off")
    }

    /// Issue 6: DCMTK's own warnings reach the journal as native entries (warning priority, the
    /// DCMTK logger and message as fields), not DCMTK's console lines on stderr, and without the
    /// element values of the data set DCMTK complained about.
    func testDCMTKWarningsGoToTheJournal() throws {
        var config = makeConfig(remotePort: freeLoopbackPort())
        config.extraYAML = "logging:\n  level: info\n  log_phi: false\n"
        let daemon = try makeDaemon(config, fakeJournal: true)
        let journal = try XCTUnwrap(daemon.journal)

        // Patient's Name twice: DCMTK's parse of the received object keeps the first and warns
        // "Element (0010,0010) found twice in one data set or item, ignoring second entry".
        let sopInstanceUID = "1.2.826.0.1.3680043.10.1146.98.1"
        var dataset = DatasetBytes()
        dataset.element(0x0008, 0x0016, "UI", RawDICOMClient.ctImageStorage)
        dataset.element(0x0008, 0x0018, "UI", sopInstanceUID)
        dataset.element(0x0008, 0x0060, "CS", "CT")
        dataset.element(0x0010, 0x0010, "PN", Self.sentinel)
        dataset.element(0x0010, 0x0010, "PN", Self.sentinel)
        dataset.element(0x0010, 0x0020, "LO", Self.sentinelID)
        dataset.element(0x0020, 0x000D, "UI", "1.2.826.0.1.3680043.10.1146.98")
        dataset.element(0x0020, 0x000E, "UI", "1.2.826.0.1.3680043.10.1146.98.2")
        let (opened, reply) = try RawStoreSession.open(port: try daemon.port())
        let session = try XCTUnwrap(opened, "association not accepted: \(reply)")
        _ = try session.store(
            sopClassUID: RawDICOMClient.ctImageStorage, sopInstanceUID: sopInstanceUID, dataset: dataset.bytes)
        _ = try? session.release()

        let found = try journal.waitFor("DCMTK's warning in the journal") {
            let record = JournalRecord($0.bytes)
            return record["MESSAGE_ID"] == "af67b881e5d4444d8a54c8cd56c25e2d"
                && record["DCMTK_MESSAGE"]?.contains("found twice") == true
        }
        let record = JournalRecord(found.datagram.bytes)
        XCTAssertEqual(record["PRIORITY"], "4", "\(record)")
        XCTAssertEqual(record["MESSAGE"], "DCMTK reported a problem")
        XCTAssertEqual(record["RADRELAY_EVENT"], "dcmtk-message")
        XCTAssertEqual(record["DCMTK_LOGGER"], "dcmtk.dcmdata")
        XCTAssertEqual(record["SYSLOG_IDENTIFIER"], "radrelayd")
        let message = try XCTUnwrap(record["DCMTK_MESSAGE"])
        XCTAssertTrue(message.contains("(0010,0010)"), message)
        XCTAssertFalse(message.contains("\n"), "a multi-line DCMTK message: \(message)")

        // Only warnings and above: DCMTK's debug and trace output (a step-by-step account of the
        // parse) never reaches the journal, and no entry or stderr line holds the data set's values.
        let dcmtk = journal.datagrams.map { JournalRecord($0.bytes) }.filter { $0["RADRELAY_EVENT"] == "dcmtk-message" }
        XCTAssertTrue(dcmtk.allSatisfy { ($0["PRIORITY"].flatMap { Int($0) } ?? 7) <= 4 }, "\(dcmtk)")
        for datagram in journal.datagrams {
            XCTAssertFalse(datagram.text.contains("SENTINEL"), "PHI in a journal entry: \(datagram.text)")
        }
        XCTAssertFalse(daemon.log.contains("SENTINEL"), "PHI on stderr")
        // Not through DCMTK's console appender any more.
        XCTAssertFalse(daemon.log.contains("found twice"), "DCMTK still writes to stderr: \(daemon.logTail())")
    }
}
