import Foundation
import Logging
import RadRelayCore
@testable import RadRelayDIMSE
import RadRelayTestSupport
import XCTest

/// DCMTK's own log (oflog) routed into a swift-log handler: real DCMTK messages from a real
/// parse, the level filter, one line per message, and no element values.
final class DCMTKLogRoutingTests: XCTestCase {
    static let sentinel = "SENTINEL^PHI^NAME"

    private var directory: TemporaryDirectory!

    override func setUpWithError() throws {
        directory = try TemporaryDirectory(prefix: "radrelay-dcmtklog")
    }

    override func tearDown() {
        // Later tests in this process get DCMTK's warnings on stderr again, as before.
        var stderrLogger = Logger(label: "dcmtk", factory: { StreamLogHandler.standardError(label: $0) })
        stderrLogger.logLevel = .warning
        DCMTKRuntime.routeLogs(to: stderrLogger)
        directory?.remove()
    }

    func testWarningArrivesAtWarningLevelWithFieldsAndNoValues() throws {
        let capture = LogCapture()
        DCMTKRuntime.routeLogs(to: capture.logger)
        let file = try writeDuplicateElementFile()

        // DCMTK keeps the first of two equal tags and warns; the object itself is fine.
        _ = try? DICOMFileInspector.inspect(path: file.path)

        let entries = capture.entries
        let warning = try XCTUnwrap(
            entries.first { $0.text("dcmtk_message").contains("found twice") }, "no DCMTK warning in \(entries)")
        XCTAssertEqual(warning.level, .warning)
        XCTAssertEqual(warning.message, "DCMTK reported a problem")
        XCTAssertEqual(warning.text("dcmtk_logger"), "dcmtk.dcmdata")
        XCTAssertTrue(warning.text("dcmtk_message").contains("(0010,0010)"), warning.text("dcmtk_message"))
        XCTAssertEqual(warning.text("message_id"), LogEvent.dcmtkMessage.messageID)
        XCTAssertEqual(warning.text("event"), "dcmtk-message")
        // The default level: DCMTK's debug and trace output (it logs every read step) stays out.
        XCTAssertFalse(entries.contains { $0.level < .warning }, "below warning: \(entries)")
        for entry in entries {
            XCTAssertFalse(entry.description.contains("SENTINEL"), "an element value was logged: \(entry)")
        }
    }

    func testDebugMessagesArriveOnlyWhenAskedFor() throws {
        let file = try writeDuplicateElementFile()

        // Asked for debug: DCMTK reports each file's transfer syntax at debug level.
        let verbose = LogCapture()
        DCMTKRuntime.routeLogs(to: verbose.logger, minimumLevel: .debug)
        _ = try? DICOMFileInspector.inspect(path: file.path)
        let debug = verbose.entries.filter { $0.level == .debug }
        XCTAssertTrue(
            debug.contains { $0.text("dcmtk_message").contains("TransferSyntax") },
            "no debug message: \(verbose.entries)")
        XCTAssertTrue(debug.allSatisfy { $0.message == "DCMTK log message" })
        XCTAssertFalse(verbose.entries.contains { $0.level == .trace }, "trace although debug was asked for")

        // Back at the default, the same parse yields the warning and nothing less severe.
        let quiet = LogCapture()
        DCMTKRuntime.routeLogs(to: quiet.logger)
        let verboseCount = verbose.entries.count
        _ = try? DICOMFileInspector.inspect(path: file.path)
        XCTAssertTrue(quiet.entries.contains { $0.level == .warning }, "\(quiet.entries)")
        XCTAssertFalse(quiet.entries.contains { $0.level < .warning }, "\(quiet.entries)")
        XCTAssertEqual(verbose.entries.count, verboseCount, "the replaced logger still receives DCMTK's messages")
    }

    func testMessagesAreOneBoundedLine() throws {
        let capture = LogCapture()
        DCMTKRuntime.routeLogs(to: capture.logger, minimumLevel: .trace)
        _ = try? DICOMFileInspector.inspect(path: try writeDuplicateElementFile().path)
        let entries = capture.entries
        XCTAssertTrue(entries.contains { $0.level == .trace }, "no trace output at trace level")
        for entry in entries {
            let message = entry.text("dcmtk_message")
            XCTAssertFalse(message.contains("\n") || message.contains("\r"), "multi-line: \(message)")
            XCTAssertLessThanOrEqual(message.utf8.count, 1024 + " [...]".utf8.count)
        }
    }

    func testOnlyTheFirstLineCutAtOneKiBWithoutSplittingACharacter() {
        let capture = LogCapture()
        DCMTKRuntime.routeLogs(to: capture.logger)

        // A dump below a header line, as DCMTK writes status details and data sets.
        DCMTKRuntime.emit(
            oflogLevel: 30000, loggerName: "dcmtk.dcmnet",
            message: "Status Detail:\n(0010,0010) PN [\(Self.sentinel)]\n(0010,0020) LO [X]")
        // 1023 ASCII bytes, then a 2-byte character that straddles the 1 KiB limit.
        DCMTKRuntime.emit(
            oflogLevel: 40000, loggerName: "dcmtk.dcmdata", message: String(repeating: "a", count: 1023) + "é tail")
        // A tab and trailing blank lines are not content: kept as a space, dropped without a marker.
        DCMTKRuntime.emit(oflogLevel: 50000, loggerName: "dcmtk.dcmnet", message: "one\ttwo  \r\n\n")
        // Below the level: never reaches the sink.
        DCMTKRuntime.emit(oflogLevel: 20000, loggerName: "dcmtk.dcmnet", message: "info")

        let entries = capture.entries
        XCTAssertEqual(entries.map(\.level), [.warning, .error, .critical], "\(entries)")
        guard entries.count == 3 else { return }
        XCTAssertEqual(entries[0].text("dcmtk_message"), "Status Detail: [...]")
        XCTAssertEqual(entries[0].text("dcmtk_logger"), "dcmtk.dcmnet")
        XCTAssertEqual(entries[1].text("dcmtk_message"), String(repeating: "a", count: 1023) + " [...]")
        XCTAssertEqual(entries[2].text("dcmtk_message"), "one two")
        XCTAssertEqual(entries[2].message, "DCMTK reported a problem")
        XCTAssertFalse(entries.contains { $0.description.contains("SENTINEL") })
    }

    func testLevelMapping() {
        XCTAssertEqual(DCMTKRuntime.logLevel(oflogLevel: 50000), .critical)
        XCTAssertEqual(DCMTKRuntime.logLevel(oflogLevel: 40000), .error)
        XCTAssertEqual(DCMTKRuntime.logLevel(oflogLevel: 30000), .warning)
        XCTAssertEqual(DCMTKRuntime.logLevel(oflogLevel: 20000), .info)
        XCTAssertEqual(DCMTKRuntime.logLevel(oflogLevel: 10000), .debug)
        XCTAssertEqual(DCMTKRuntime.logLevel(oflogLevel: 0), .trace)
        XCTAssertEqual(DCMTKRuntime.oflogLevel(.warning), 30000)
        XCTAssertEqual(DCMTKRuntime.oflogLevel(.notice), 30000, "oflog INFO maps below notice")
        XCTAssertEqual(DCMTKRuntime.oflogLevel(.info), 20000)
        XCTAssertEqual(DCMTKRuntime.oflogLevel(.critical), 50000)
        XCTAssertEqual(DCMTKRuntime.oflogLevel(.trace), 0)
    }

    // MARK: - Helpers

    /// A Part 10 CT header whose Patient's Name appears twice (both the sentinel): DCMTK warns
    /// "Element (0010,0010) found twice in one data set or item, ignoring second entry".
    private func writeDuplicateElementFile() throws -> URL {
        let sopInstanceUID = "1.2.826.0.1.3680043.10.1146.99.1"
        var dataset = DatasetBytes()
        dataset.element(0x0008, 0x0016, "UI", RawDICOMClient.ctImageStorage)
        dataset.element(0x0008, 0x0018, "UI", sopInstanceUID)
        dataset.element(0x0008, 0x0060, "CS", "CT")
        dataset.element(0x0010, 0x0010, "PN", Self.sentinel)
        dataset.element(0x0010, 0x0010, "PN", Self.sentinel)
        dataset.element(0x0020, 0x000D, "UI", "1.2.826.0.1.3680043.10.1146.99")
        dataset.element(0x0020, 0x000E, "UI", "1.2.826.0.1.3680043.10.1146.99.2")
        var meta = DatasetBytes()
        meta.element(0x0002, 0x0001, "OB", [0, 1])
        meta.element(0x0002, 0x0002, "UI", RawDICOMClient.ctImageStorage)
        meta.element(0x0002, 0x0003, "UI", sopInstanceUID)
        meta.element(0x0002, 0x0010, "UI", RawDICOMClient.explicitVRLittleEndian)
        let length = UInt32(meta.bytes.count)
        var groupLength = DatasetBytes()
        groupLength.element(0x0002, 0x0000, "UL", (0..<4).map { UInt8((length >> (8 * $0)) & 0xFF) })
        let bytes =
            [UInt8](repeating: 0, count: 128) + Array("DICM".utf8) + groupLength.bytes + meta.bytes
            + dataset.bytes
        let url = directory.file("duplicate.dcm")
        try Data(bytes).write(to: url)
        return url
    }
}

/// A swift-log handler that keeps every entry, for assertions.
final class LogCapture: @unchecked Sendable {
    struct Entry: CustomStringConvertible {
        var level: Logger.Level
        var message: String
        var metadata: Logger.Metadata

        func text(_ key: String) -> String { metadata[key].map { "\($0)" } ?? "" }
        var description: String { "[\(level)] \(message) \(metadata)" }
    }

    private let lock = NSLock()
    private var stored: [Entry] = []

    /// A logger at trace level whose entries land here.
    var logger: Logger {
        var logger = Logger(label: "test.dcmtk", factory: { _ in Handler(capture: self) })
        logger.logLevel = .trace
        return logger
    }

    var entries: [Entry] {
        lock.lock()
        defer { lock.unlock() }
        return stored
    }

    fileprivate func append(_ entry: Entry) {
        lock.lock()
        stored.append(entry)
        lock.unlock()
    }

    private struct Handler: LogHandler {
        let capture: LogCapture
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .trace

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }

        func log(
            level: Logger.Level, message: Logger.Message, metadata explicit: Logger.Metadata?, source: String,
            file: String, function: String, line: UInt
        ) {
            capture.append(Entry(level: level, message: message.description, metadata: explicit ?? [:]))
        }
    }
}
