import Logging
import RadRelaySystemd
import XCTest

/// The journal handler's field rules, without a journal.
final class JournalEntryTests: XCTestCase {
    let phi: Set<String> = ["patient_name", "patient_id", "patient_birth_date"]

    func testPrioritiesFollowSyslog() {
        XCTAssertEqual(JournalEntry.priority(.trace), 7)
        XCTAssertEqual(JournalEntry.priority(.debug), 7)
        XCTAssertEqual(JournalEntry.priority(.info), 6)
        XCTAssertEqual(JournalEntry.priority(.notice), 5)
        XCTAssertEqual(JournalEntry.priority(.warning), 4)
        XCTAssertEqual(JournalEntry.priority(.error), 3)
        XCTAssertEqual(JournalEntry.priority(.critical), 2)
    }

    func testFieldNamesAreUpperCaseAndSafe() {
        XCTAssertEqual(JournalEntry.fieldName("dicom_calling_aet"), "DICOM_CALLING_AET")
        XCTAssertEqual(JournalEntry.fieldName("message_id"), "MESSAGE_ID")
        XCTAssertEqual(JournalEntry.fieldName("event"), "RADRELAY_EVENT")
        XCTAssertEqual(JournalEntry.fieldName("retry-in.s"), "RETRY_IN_S")
        XCTAssertEqual(JournalEntry.fieldName("_hidden"), "HIDDEN")
        XCTAssertEqual(JournalEntry.fieldName("9lives"), "LIVES")
        XCTAssertEqual(JournalEntry.fieldName("priority"), "M_PRIORITY", "metadata must not override PRIORITY")
        XCTAssertEqual(JournalEntry.fieldName("message"), "M_MESSAGE")
        XCTAssertNil(JournalEntry.fieldName("__"))
        XCTAssertEqual(JournalEntry.fieldName(String(repeating: "a", count: 100))?.count, 64)
    }

    func testPHIIsDroppedUnlessAllowedAndNeverAboveDebug() {
        let metadata: Logger.Metadata = ["patient_name": "DOE^JANE", "destination": "pacs", "study_uid": "1.2.3"]
        let off = JournalLogSettings.Snapshot(level: .trace, allowPHI: false, phiKeys: phi)
        for level in Logger.Level.allCases {
            let kept = JournalEntry.filter(metadata, level: level, settings: off)
            XCTAssertNil(kept["patient_name"], "PHI kept at \(level) with log_phi off")
            XCTAssertEqual(kept["destination"], "pacs")
        }
        let on = JournalLogSettings.Snapshot(level: .trace, allowPHI: true, phiKeys: phi)
        XCTAssertNotNil(JournalEntry.filter(metadata, level: .debug, settings: on)["patient_name"])
        XCTAssertNotNil(JournalEntry.filter(metadata, level: .trace, settings: on)["patient_name"])
        XCTAssertNil(JournalEntry.filter(metadata, level: .info, settings: on)["patient_name"], "PHI above debug")
        let suppressed = JournalLogSettings.Snapshot(level: .info, phiKeys: phi, suppressedKeys: ["study_uid"])
        XCTAssertNil(JournalEntry.filter(metadata, level: .info, settings: suppressed)["study_uid"])
    }

    func testFieldsAndStderrLine() {
        let fields = JournalEntry.fields(
            level: .warning, message: "Association rejected", metadata: ["dicom_calling_aet": "X Y", "b": "1"],
            identifier: "radrelayd", file: "f.swift", function: "g()", line: 7)
        let names = fields.map(\.name)
        XCTAssertEqual(Array(names.prefix(3)), ["MESSAGE", "PRIORITY", "SYSLOG_IDENTIFIER"])
        XCTAssertTrue(fields.contains { $0 == ("PRIORITY", "4") })
        XCTAssertTrue(fields.contains { $0 == ("DICOM_CALLING_AET", "X Y") })
        XCTAssertTrue(fields.contains { $0 == ("CODE_LINE", "7") })
        let line = JournalEntry.stderrLine(level: .error, message: "Disk low\nsecond", metadata: ["dicom_calling_aet": "X Y"])
        XCTAssertEqual(line, "<3>Disk low second DICOM_CALLING_AET=\"X Y\"\n")
    }

    func testLevelComesFromSharedSettingsUntilOverridden() {
        let settings = JournalLogSettings(.init(level: .warning))
        var handler = JournalLogHandler(label: "t", identifier: "t", settings: settings, output: .stderr)
        XCTAssertEqual(handler.logLevel, .warning)
        settings.update(.init(level: .debug))
        XCTAssertEqual(handler.logLevel, .debug, "a reload must reach existing loggers")
        handler.logLevel = .error
        XCTAssertEqual(handler.logLevel, .error)
    }

    func testOutputIsJournalOnlyWhenJournalStreamNamesStderr() {
        XCTAssertEqual(JournalLogHandler.Output.detect(environment: [:]), .stderr)
        XCTAssertEqual(JournalLogHandler.Output.detect(environment: ["JOURNAL_STREAM": "garbage"]), .stderr)
        var info = stat()
        fstat(2, &info)
        XCTAssertEqual(
            JournalLogHandler.Output.detect(environment: ["JOURNAL_STREAM": "\(info.st_dev):\(info.st_ino)"]), .journal)
        XCTAssertEqual(
            JournalLogHandler.Output.detect(environment: ["JOURNAL_STREAM": "\(info.st_dev):\(info.st_ino + 1)"]), .stderr)
    }
}

/// The watchdog's liveness rule.
final class HeartbeatTableTests: XCTestCase {
    func testOneSilentLoopMakesTheTableStale() {
        // Every loop is allowed 5 units of silence.
        var table = HeartbeatTable<Int>()
        table.register("accept", aliveUntil: 5)
        table.register("forwarder.pacs.0", aliveUntil: 5)
        XCTAssertEqual(table.stale(at: 5), [])
        table.tick("accept", aliveUntil: 15)
        XCTAssertEqual(table.stale(at: 10), ["forwarder.pacs.0"])
        table.tick("forwarder.pacs.0", aliveUntil: 16)
        XCTAssertEqual(table.stale(at: 10), [])
        table.unregister("accept")
        XCTAssertEqual(table.stale(at: 25), ["forwarder.pacs.0"])
        XCTAssertEqual(table.names, ["forwarder.pacs.0"])
    }

    func testALoopWaitingOnAPeerGetsItsOwnDeadline() {
        var table = HeartbeatTable<Int>()
        table.register("forwarder.pacs.0", aliveUntil: 5)
        // About to wait for a C-STORE response: allowed until the DIMSE timeout (60) passes.
        table.tick("forwarder.pacs.0", aliveUntil: 60)
        XCTAssertEqual(table.stale(at: 40), [])
        XCTAssertEqual(table.stale(at: 61), ["forwarder.pacs.0"])
        // Back to normal ticking: the short allowance applies again.
        table.tick("forwarder.pacs.0", aliveUntil: 47)
        XCTAssertEqual(table.stale(at: 50), ["forwarder.pacs.0"])
    }
}
