import Foundation
import RadRelayTestSupport
import XCTest

@testable import RadRelayDIMSE

/// The non-recursive nesting pre-scan that runs before DCMTK parses a received file (fault suite
/// bug 1: DCMTK's recursive parser overflows its thread's stack at ~10 000 nested sequences).
final class NestingDepthTests: XCTestCase {
    private var directory: TemporaryDirectory!

    override func setUpWithError() throws {
        directory = try TemporaryDirectory(prefix: "radrelay-nesting")
    }

    override func tearDown() {
        directory?.remove()
    }

    private let limit = DICOMFileInspector.maxNestingDepth

    // MARK: - Accepted

    func testShallowRealObjectsPass() throws {
        // pydicom-made CT slices (no sequences) and a 6-level SR-like content tree.
        for slice in try DICOMFixtures.ctSlices(2, in: try directory.subdirectory("ct")) {
            XCTAssertNoThrow(try DICOMFileInspector.inspect(path: slice.path))
        }
        let sr = try write(Encoder().nested(depth: 6, defined: false), name: "sr.dcm")
        XCTAssertNoThrow(try DICOMFileInspector.inspect(path: sr.path))
        XCTAssertEqual(try measuredDepth(sr), 6)
    }

    func testExactlyTheLimitPassesBothInTheScanAndInDCMTK() throws {
        for defined in [false, true] {
            let file = try write(Encoder().nested(depth: limit, defined: defined), name: "limit-\(defined).dcm")
            XCTAssertNoThrow(try DICOMFileInspector.inspect(path: file.path), "defined length: \(defined)")
        }
    }

    /// The scan's model of the element stream must not be stricter than DCMTK's: every file of
    /// pydicom's test corpus (deflated, big endian, implicit, no meta, private and UN sequences,
    /// encapsulated and RLE pixel data…) that DCMTK's dcmdump parses must pass the scan too.
    func testEveryFileDCMTKParsesInPydicomsCorpusPassesTheScan() throws {
        let located = try ProcessRunner.run(
            "/usr/bin/env",
            [
                "python3", "-c",
                "import os, pydicom; print(os.path.join(os.path.dirname(pydicom.__file__), 'data', 'test_files'))",
            ],
            timeout: 30)
        let corpus = located.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        guard located.exitCode == 0, let names = try? FileManager.default.contentsOfDirectory(atPath: corpus) else {
            throw XCTSkip("pydicom's test files are not installed")
        }
        var checked = 0
        for name in names.sorted() where name.hasSuffix(".dcm") {
            let path = corpus + "/" + name
            let dump = try ProcessRunner.run("/usr/bin/dcmdump", ["-q", path], timeout: 30)
            guard dump.exitCode == 0 else { continue }
            checked += 1
            XCTAssertNoThrow(try DICOMFileInspector.checkNestingDepth(path: path, transferSyntaxHint: nil), name)
        }
        XCTAssertGreaterThan(checked, 40)
    }

    // MARK: - Refused

    func testOneLevelBeyondTheLimitIsRefusedForUndefinedAndDefinedLengths() throws {
        for defined in [false, true] {
            let file = try write(Encoder().nested(depth: limit + 1, defined: defined), name: "deep-\(defined).dcm")
            assertThrows(
                .nestingTooDeep(depth: limit + 1, limit: limit), try DICOMFileInspector.inspect(path: file.path))
            // The attribute-reading variant (the one ingest uses) runs the same check.
            XCTAssertThrowsError(try DICOMFileInspector.inspect(path: file.path, attributes: [])) { error in
                XCTAssertEqual((error as? InspectionError)?.nestingDepth, limit + 1)
            }
        }
    }

    func testMixedUndefinedAndDefinedLengthNestingCounts() throws {
        // Undefined-length outside, defined-length inside: the levels add up.
        let e = Encoder()
        let inner = e.nestedBody(depth: 40, defined: true)
        var body = e.header()
        for _ in 0..<30 { body += e.sequenceStart() + e.itemStart() }
        body += inner
        for _ in 0..<30 { body += e.itemEnd() + e.sequenceEnd() }
        let file = try write(e.part10(body), name: "mixed.dcm")
        assertThrows(.nestingTooDeep(depth: 65, limit: 64), try DICOMFileInspector.inspect(path: file.path))
        XCTAssertEqual(try measuredDepth(file, upTo: 80), 70)
    }

    func testTenThousandAndAHundredThousandLevelsAreRefusedWithoutCrashing() throws {
        for depth in [10_000, 100_000] {
            let file = try write(Encoder().nested(depth: depth, defined: false), name: "deep-\(depth).dcm")
            let start = monotonicSeconds()
            assertThrows(
                .nestingTooDeep(depth: limit + 1, limit: limit), try DICOMFileInspector.inspect(path: file.path))
            XCTAssertLessThan(monotonicSeconds() - start, 2, "depth \(depth)")
        }
        // Defined lengths too (10 000 levels, 200 KB).
        let file = try write(Encoder().nested(depth: 10_000, defined: true), name: "deep-defined.dcm")
        assertThrows(.nestingTooDeep(depth: limit + 1, limit: limit), try DICOMFileInspector.inspect(path: file.path))
    }

    func testImplicitVRNestingIsCountedForBothLengthForms() throws {
        let implicit = Encoder(implicit: true)
        for defined in [false, true] {
            let ok = try write(implicit.nested(depth: 10, defined: defined), name: "implicit-ok-\(defined).dcm")
            XCTAssertNoThrow(try DICOMFileInspector.inspect(path: ok.path), "defined length: \(defined)")
            XCTAssertEqual(try measuredDepth(ok), 10)
            let deep = try write(implicit.nested(depth: 5_000, defined: defined), name: "implicit-deep-\(defined).dcm")
            assertThrows(
                .nestingTooDeep(depth: limit + 1, limit: limit), try DICOMFileInspector.inspect(path: deep.path))
        }
    }

    func testBigEndianNestingIsCounted() throws {
        let file = try write(Encoder(bigEndian: true).nested(depth: 1_000, defined: false), name: "big.dcm")
        assertThrows(.nestingTooDeep(depth: limit + 1, limit: limit), try DICOMFileInspector.inspect(path: file.path))
        XCTAssertEqual(
            try measuredDepth(try write(Encoder(bigEndian: true).nested(depth: 3, defined: true), name: "b3.dcm")), 3)
    }

    func testUNOfUndefinedLengthIsScannedAsAnImplicitVRSequence() throws {
        // PS3.5 §6.2.2 (CP-246): UN with undefined length holds Implicit VR Little Endian items,
        // and DCMTK parses it as a sequence — so its nesting counts.
        let explicit = Encoder()
        let implicit = Encoder(implicit: true)
        func file(depth: Int) throws -> URL {
            var body = explicit.header()
            body += explicit.u16(0x0041) + explicit.u16(0x1010) + Array("UN".utf8) + [0, 0] + explicit.u32(0xFFFF_FFFF)
            body += implicit.itemStart() + implicit.nestedBody(depth: depth, defined: false) + implicit.itemEnd()
            body += implicit.sequenceEnd()
            return try write(explicit.part10(body), name: "un-\(depth).dcm")
        }
        XCTAssertEqual(try measuredDepth(try file(depth: 3)), 4)
        assertThrows(
            .nestingTooDeep(depth: limit + 1, limit: limit),
            try DICOMFileInspector.inspect(path: try file(depth: 5_000).path))
    }

    func testDeflatedDataSetsAreScannedThroughTheInflater() throws {
        let shallow = try deflated(Encoder().nested(depth: 3, defined: false), name: "deflated-3.dcm")
        XCTAssertNoThrow(try DICOMFileInspector.inspect(path: shallow.path))
        XCTAssertEqual(try measuredDepth(shallow), 3)
        let deep = try deflated(Encoder().nested(depth: 10_000, defined: false), name: "deflated-deep.dcm")
        assertThrows(.nestingTooDeep(depth: limit + 1, limit: limit), try DICOMFileInspector.inspect(path: deep.path))
    }

    // MARK: - Encapsulated pixel data

    func testEncapsulatedPixelDataIsOneLevelAndItsFragmentsAreNotParsed() throws {
        let e = Encoder()
        // Fragment bytes that look like item tags and delimiters must be skipped, not parsed.
        let decoy =
            (e.itemStart() + e.sequenceStart() + e.itemEnd() + e.sequenceEnd()) + [UInt8](repeating: 0xFE, count: 64)
        var body = e.header()
        body += e.u16(0x7FE0) + e.u16(0x0010) + Array("OB".utf8) + [0, 0] + e.u32(0xFFFF_FFFF)
        body += e.item([])  // empty basic offset table
        for _ in 0..<3 { body += e.item(decoy) }
        body += e.sequenceEnd()
        let file = try write(e.part10(body, transferSyntax: "1.2.840.10008.1.2.4.50"), name: "encapsulated.dcm")
        XCTAssertNoThrow(try DICOMFileInspector.inspect(path: file.path))
        XCTAssertEqual(try measuredDepth(file), 1)
    }

    func testEncapsulatedPixelDataInsideAnIconImageSequence() throws {
        // Icon Image Sequence (0088,0200) holding encapsulated pixel data: two levels.
        let e = Encoder()
        var body = e.header()
        body += e.u16(0x0088) + e.u16(0x0200) + Array("SQ".utf8) + [0, 0] + e.u32(0xFFFF_FFFF) + e.itemStart()
        body += e.u16(0x7FE0) + e.u16(0x0010) + Array("OB".utf8) + [0, 0] + e.u32(0xFFFF_FFFF)
        body += e.item([]) + e.item([UInt8](repeating: 0xE0, count: 100)) + e.sequenceEnd()
        body += e.itemEnd() + e.sequenceEnd()
        let file = try write(e.part10(body, transferSyntax: "1.2.840.10008.1.2.4.50"), name: "icon.dcm")
        XCTAssertNoThrow(try DICOMFileInspector.inspect(path: file.path))
        XCTAssertEqual(try measuredDepth(file), 2)
    }

    // MARK: - Broken streams

    func testTruncatedFilesAreRefusedAsUnparseable() throws {
        let e = Encoder()
        let whole = e.nested(depth: 10, defined: false)
        let nestingStart = e.part10(e.header()).count
        for cut in stride(from: nestingStart + 1, to: whole.count, by: 3) {
            let file = try write(Array(whole.prefix(cut)), name: "cut-\(cut).dcm")
            assertThrows(.parseFailed(""), try DICOMFileInspector.inspect(path: file.path), "cut at \(cut)")
        }
        // Defined lengths announcing more than the file holds.
        let defined = e.nested(depth: 10, defined: true)
        let file = try write(Array(defined.dropLast(5)), name: "cut-defined.dcm")
        assertThrows(.parseFailed(""), try DICOMFileInspector.inspect(path: file.path))
        // A deep file cut in its middle is refused for its depth (the scan gets there first).
        let deep = e.nested(depth: 10_000, defined: false)
        let half = try write(Array(deep.prefix(deep.count / 3)), name: "cut-deep.dcm")
        assertThrows(.nestingTooDeep(depth: limit + 1, limit: limit), try DICOMFileInspector.inspect(path: half.path))
    }

    func testItemsAndDelimitersOutOfPlaceAreRefusedAsUnparseable() throws {
        let e = Encoder()
        let cases: [(String, [UInt8])] = [
            ("item at top level", e.itemStart() + e.itemEnd()),
            ("sequence delimiter at top level", e.sequenceEnd()),
            (
                "element directly inside a sequence",
                e.sequenceStart() + e.element(0x0040, 0xA040, "CS", "TEXT") + e.sequenceEnd()
            ),
            ("item delimiter closing a sequence", e.sequenceStart() + e.itemStart() + e.sequenceEnd()),
            (
                "defined-length item overrunning its sequence",
                e.u16(0x0040) + e.u16(0xA730) + Array("SQ".utf8) + [0, 0] + e.u32(8) + e.u16(0xFFFE) + e.u16(0xE000)
                    + e.u32(12)
                    + e.element(0x0040, 0xA040, "CS", "TEXT")
            ),
        ]
        for (name, tail) in cases {
            let file = try write(e.part10(e.header() + tail), name: "broken.dcm")
            assertThrows(.parseFailed(""), try DICOMFileInspector.inspect(path: file.path), name)
        }
    }

    func testLargeValuesAreSkippedNotRead() throws {
        // A 4 GB pixel data value in a sparse file: the scan seeks over it.
        let e = Encoder()
        var body = e.header()
        let length: UInt32 = 0xFFFF_FFF0
        body += e.u16(0x7FE0) + e.u16(0x0010) + Array("OW".utf8) + [0, 0] + e.u32(length)
        let file = try write(e.part10(body), name: "sparse.dcm")
        let handle = try FileHandle(forWritingTo: file)
        try handle.truncate(atOffset: UInt64(e.part10(body).count) + UInt64(length))
        try handle.close()
        let start = monotonicSeconds()
        XCTAssertNoThrow(try DICOMFileInspector.checkNestingDepth(path: file.path, transferSyntaxHint: nil))
        XCTAssertLessThan(monotonicSeconds() - start, 1)
    }

    func testMissingFileIsUnreadable() {
        assertThrows(
            .unreadable(""),
            try DICOMFileInspector.checkNestingDepth(path: directory.file("absent").path, transferSyntaxHint: nil))
    }

    func testDescriptionIsConstantAndFitsAStatusComment() {
        let a = InspectionError.nestingTooDeep(depth: 65, limit: 64)
        let b = InspectionError.nestingTooDeep(depth: 9_999, limit: 64)
        XCTAssertEqual(a.description, b.description)
        XCTAssertLessThanOrEqual(a.statusComment.utf8.count, 64)
        XCTAssertEqual(a.nestingDepth, 65)
        XCTAssertNil(InspectionError.parseFailed("x").nestingDepth)
    }

    // MARK: - Helpers

    /// The depth the scan sees: the smallest limit it accepts (up to `upTo`).
    private func measuredDepth(_ file: URL, upTo: Int = 70) throws -> Int {
        for candidate in 0...upTo {
            if (try? DICOMFileInspector.checkNestingDepth(path: file.path, transferSyntaxHint: nil, limit: candidate))
                != nil
            {
                return candidate
            }
        }
        throw HarnessError("deeper than \(upTo)")
    }

    private func write(_ bytes: [UInt8], name: String) throws -> URL {
        let url = directory.file(name)
        try Data(bytes).write(to: url)
        return url
    }

    /// A Deflated Explicit VR Little Endian file of the same data set (raw deflate, PS3.5 A.5).
    private func deflated(_ part10: [UInt8], name: String) throws -> URL {
        let e = Encoder()
        let datasetStart = e.part10([]).count
        let raw = try write(Array(part10.dropFirst(datasetStart)), name: name + ".raw")
        let packed = directory.file(name + ".deflate")
        let result = try ProcessRunner.run(
            "/usr/bin/env",
            [
                "python3", "-c",
                "import sys, zlib\nc = zlib.compressobj(9, zlib.DEFLATED, -15)\n"
                    + "open(sys.argv[2], 'wb').write(c.compress(open(sys.argv[1], 'rb').read()) + c.flush())",
                raw.path, packed.path,
            ],
            timeout: 30)
        guard result.exitCode == 0 else { throw HarnessError("python failed: \(result.stderr)") }
        let body = [UInt8](try Data(contentsOf: packed))
        return try write(e.part10(body, transferSyntax: "1.2.840.10008.1.2.1.99"), name: name)
    }

    private func assertThrows<T>(
        _ expected: InspectionError, _ body: @autoclosure () throws -> T, _ message: String = "",
        file: StaticString = #filePath, line: UInt = #line
    ) {
        do {
            _ = try body()
            XCTFail("no error; expected \(expected) \(message)", file: file, line: line)
        } catch let error as InspectionError {
            switch (expected, error) {
            case (.parseFailed, .parseFailed), (.unreadable, .unreadable): break
            default: XCTAssertEqual(error, expected, message, file: file, line: line)
            }
        } catch {
            XCTFail("unexpected \(error) \(message)", file: file, line: line)
        }
    }
}

/// Encodes test data sets: explicit or implicit VR, little or big endian, sequences of defined
/// or undefined length. Built iteratively, so 100 000 levels need no recursion here either.
private struct Encoder {
    var implicit = false
    var bigEndian = false

    static let ctImageStorage = "1.2.840.10008.5.1.4.1.1.2"
    static let instanceUID = "1.2.826.0.1.3680043.10.1146.9.1"

    var transferSyntax: String {
        implicit ? "1.2.840.10008.1.2" : bigEndian ? "1.2.840.10008.1.2.2" : "1.2.840.10008.1.2.1"
    }

    func u16(_ v: UInt16) -> [UInt8] {
        bigEndian ? [UInt8(v >> 8), UInt8(v & 0xFF)] : [UInt8(v & 0xFF), UInt8(v >> 8)]
    }

    func u32(_ v: UInt32) -> [UInt8] {
        let le = [UInt8(v & 0xFF), UInt8((v >> 8) & 0xFF), UInt8((v >> 16) & 0xFF), UInt8(v >> 24)]
        return bigEndian ? le.reversed() : le
    }

    func element(_ group: UInt16, _ element: UInt16, _ vr: String, _ text: String) -> [UInt8] {
        var value = Array(text.utf8)
        if value.count % 2 == 1 { value.append(vr == "UI" ? 0 : 0x20) }
        if implicit { return u16(group) + u16(element) + u32(UInt32(value.count)) + value }
        return u16(group) + u16(element) + Array(vr.utf8) + u16(UInt16(value.count)) + value
    }

    /// Content Sequence (0040,A730) of undefined length.
    func sequenceStart() -> [UInt8] { sequenceHeader(length: 0xFFFF_FFFF) }
    func sequenceHeader(length: UInt32) -> [UInt8] {
        implicit
            ? u16(0x0040) + u16(0xA730) + u32(length)
            : u16(0x0040) + u16(0xA730) + Array("SQ".utf8) + [0, 0] + u32(length)
    }
    var sequenceHeaderSize: Int { implicit ? 8 : 12 }
    func itemStart() -> [UInt8] { u16(0xFFFE) + u16(0xE000) + u32(0xFFFF_FFFF) }
    func itemEnd() -> [UInt8] { u16(0xFFFE) + u16(0xE00D) + u32(0) }
    func sequenceEnd() -> [UInt8] { u16(0xFFFE) + u16(0xE0DD) + u32(0) }
    func item(_ content: [UInt8]) -> [UInt8] { u16(0xFFFE) + u16(0xE000) + u32(UInt32(content.count)) + content }

    /// SOP class and instance, study and series, modality: what the inspector requires.
    func header() -> [UInt8] {
        element(0x0008, 0x0016, "UI", Self.ctImageStorage) + element(0x0008, 0x0018, "UI", Self.instanceUID)
            + element(0x0008, 0x0060, "CS", "SR") + element(0x0020, 0x000D, "UI", "1.2.826.0.1.3680043.10.1146.9.2")
            + element(0x0020, 0x000E, "UI", "1.2.826.0.1.3680043.10.1146.9.3")
    }

    /// `depth` nested Content Sequences, one item each, a text element in the innermost item.
    func nestedBody(depth: Int, defined: Bool) -> [UInt8] {
        let leaf = element(0x0040, 0xA040, "CS", "TEXT")
        if !defined {
            let open = sequenceStart() + itemStart()
            let close = itemEnd() + sequenceEnd()
            var out: [UInt8] = []
            out.reserveCapacity(depth * (open.count + close.count) + leaf.count)
            for _ in 0..<depth { out += open }
            out += leaf
            for _ in 0..<depth { out += close }
            return out
        }
        // Lengths from the inside out; headers written from the outside in.
        var headers: [[UInt8]] = []
        var inner = leaf.count
        for _ in 0..<depth {
            let sequenceLength = 8 + inner
            headers.append(
                sequenceHeader(length: UInt32(sequenceLength)) + u16(0xFFFE) + u16(0xE000) + u32(UInt32(inner)))
            inner = sequenceHeaderSize + sequenceLength
        }
        return headers.reversed().flatMap { $0 } + leaf
    }

    func nested(depth: Int, defined: Bool) -> [UInt8] {
        part10(header() + nestedBody(depth: depth, defined: defined))
    }

    /// Preamble, "DICM", and the meta group (always Explicit VR Little Endian), then `dataset`.
    func part10(_ dataset: [UInt8], transferSyntax: String? = nil) -> [UInt8] {
        let meta = Encoder()
        var group = meta.u16(0x0002) + meta.u16(0x0001) + Array("OB".utf8) + [0, 0] + meta.u32(2) + [0, 1]
        group += meta.element(0x0002, 0x0002, "UI", Self.ctImageStorage)
        group += meta.element(0x0002, 0x0003, "UI", Self.instanceUID)
        group += meta.element(0x0002, 0x0010, "UI", transferSyntax ?? self.transferSyntax)
        group += meta.element(0x0002, 0x0012, "UI", "1.2.826.0.1.3680043.10.1146.9")
        let length =
            meta.u16(0x0002) + meta.u16(0x0000) + Array("UL".utf8) + meta.u16(4) + meta.u32(UInt32(group.count))
        return [UInt8](repeating: 0, count: 128) + Array("DICM".utf8) + length + group + dataset
    }
}
