import Foundation
import RadRelayCore
import RadRelayOutbox
import RadRelayTestSupport
import XCTest

/// Base class: each test gets its own state directory and a freshly opened outbox on real SQLite.
class OutboxTestCase: XCTestCase {
    var state: TemporaryDirectory!
    var outbox: Outbox!

    /// A fixed "now" for tests that do not care; tests that do pass their own values.
    let t0: EpochSeconds = 1_750_000_000

    override func setUpWithError() throws {
        state = try TemporaryDirectory(prefix: "radrelay-outbox")
        outbox = try Outbox(stateDirectory: state.path, options: Outbox.Options(dedupWindow: 3600))
    }

    override func tearDown() {
        try? outbox?.close()
        outbox = nil
        state?.remove()
    }

    /// Writes a small durable spool file the way the listener would and returns a request for
    /// it. `content` stands for the data set: equal content gives an equal (fake) hash.
    func makeRequest(
        uid: String,
        content: String = "original",
        study: String? = nil,
        routes: [String: Priority] = ["pacs-a": .routine]
    ) throws -> IngestRequest {
        let slot = outbox.spool.allocate()
        try Data(content.utf8).write(to: URL(fileURLWithPath: slot.partPath))
        try outbox.spool.makeDurable(slot)
        return IngestRequest(
            spoolPath: slot.finalRelativePath,
            sopInstanceUID: try DICOMUID(uid),
            sopClassUID: try DICOMUID("1.2.840.10008.5.1.4.1.1.2"),
            studyInstanceUID: try DICOMUID(study ?? Self.defaultStudy(uid)),
            seriesInstanceUID: try DICOMUID((study ?? Self.defaultStudy(uid)) + ".1"),
            transferSyntaxUID: try DICOMUID("1.2.840.10008.1.2.1"),
            byteSize: UInt64(content.utf8.count),
            sha256: fakeSHA256(content),
            callingAE: try AETitle("MODALITY"),
            calledAE: try AETitle("RADRELAY"),
            sourceIP: "127.0.0.1",
            modality: "CT",
            routes: routes
        )
    }

    /// Each object its own study unless a test says otherwise: a study inherits the highest
    /// priority of its objects (issue 4), which tests of per-object behaviour must not see.
    static func defaultStudy(_ uid: String) -> String { "1.2.826.0.1.3680043.10.1." + uid }

    /// Ingests one request and returns its result.
    @discardableResult
    func ingest(_ request: IngestRequest, now: EpochSeconds? = nil) throws -> IngestResult {
        let results = try outbox.ingest([request], now: now ?? t0)
        XCTAssertEqual(results.count, 1)
        return results[0]
    }

    func fileExists(relative path: String) -> Bool {
        FileManager.default.fileExists(atPath: outbox.spool.absolutePath(relative: path))
    }

    /// 64 hex digits derived from `content` (FNV-1a, repeated): stands in for SHA-256, which the
    /// listener computes; the outbox only compares it.
    func fakeSHA256(_ content: String) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in content.utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x100_0000_01b3
        }
        let hex = String(hash, radix: 16)
        let word = String(repeating: "0", count: 16 - hex.count) + hex
        return String(repeating: word, count: 4)
    }
}
