import Foundation
import RadRelayCore
import RadRelayDIMSE
import RadRelayTestSupport
import XCTest

final class InspectorTests: XCTestCase {
    private static let ctImageStorage = "1.2.840.10008.5.1.4.1.1.2"
    nonisolated(unsafe) private static var fixtures: TemporaryDirectory?
    nonisolated(unsafe) private static var slice: URL!
    nonisolated(unsafe) private static var studyUID = ""
    nonisolated(unsafe) private static var instanceUID = ""

    private var directory: TemporaryDirectory!

    override class func setUp() {
        super.setUp()
        do {
            let fixtures = try TemporaryDirectory(prefix: "radrelay-inspector")
            Self.fixtures = fixtures
            Self.studyUID = try TestData.makeCTSeries(count: 1, in: fixtures.url, rows: 64, columns: 64)
            Self.slice = fixtures.file("ct0001.dcm")
            Self.instanceUID = try DICOMFixtures.sopInstanceUID(of: Self.slice)
        } catch {
            XCTFail("fixture generation failed: \(error)")
        }
    }

    override class func tearDown() {
        fixtures?.remove()
        super.tearDown()
    }

    override func setUpWithError() throws {
        try DCMTKRuntime.initialize()
        directory = try TemporaryDirectory()
    }

    override func tearDown() {
        directory?.remove()
    }

    // MARK: - Valid objects

    func testValidCTSliceReportsItsIdentity() throws {
        let object = try DICOMFileInspector.inspect(path: Self.slice.path)
        XCTAssertEqual(object.sopClassUID.value, Self.ctImageStorage)
        XCTAssertEqual(object.sopInstanceUID.value, Self.instanceUID)
        XCTAssertEqual(object.studyInstanceUID, Self.studyUID)
        XCTAssertNotNil(object.seriesInstanceUID)
        XCTAssertEqual(object.modality, "CT")
        XCTAssertEqual(object.transferSyntaxUID, "1.2.840.10008.1.2.1")
        XCTAssertTrue(object.hasPixelData)
        XCTAssertTrue(object.hasMetaHeader)
    }

    func testMatchingExpectationsPass() throws {
        let instance = Self.instanceUID
        let object = try DICOMFileInspector.inspect(
            path: Self.slice.path, expectedSOPClass: Self.ctImageStorage, expectedSOPInstance: instance
        )
        XCTAssertEqual(object.sopInstanceUID.value, instance)
    }

    // MARK: - Truncation

    func testFileMissingItsLast100BytesIsRejected() throws {
        let cut = directory.file("cut.dcm")
        try DICOMFixtures.truncate(Self.slice, to: cut, droppingLast: 100)
        assertThrows(.parseFailed(""), try DICOMFileInspector.inspect(path: cut.path))
    }

    func testFileCutInsideTheLastElementHeaderIsRejected() throws {
        for offset in [2, 6, 10] {
            let cut = directory.file("cut-\(offset).dcm")
            try DICOMFixtures.truncateInsidePixelDataHeader(Self.slice, to: cut, offset: offset)
            assertThrows(.parseFailed(""), try DICOMFileInspector.inspect(path: cut.path), "offset \(offset)")
        }
    }

    func testLastElementHeaderWithoutValueIsRejected() throws {
        let cut = directory.file("header-only.dcm")
        try DICOMFixtures.truncateInsidePixelDataHeader(Self.slice, to: cut, offset: 12)
        assertThrows(.parseFailed(""), try DICOMFileInspector.inspect(path: cut.path))
    }

    func testSequenceWithoutDelimitersIsRejected() throws {
        let whole = directory.file("sequence.dcm")
        try DICOMFixtures.python(
            """
            from pydicom.dataset import Dataset
            from pydicom.sequence import Sequence
            ds = pydicom.dcmread(sys.argv[1])
            del ds.PixelData
            item = Dataset()
            item.CodeValue = "ABC"
            item.is_undefined_length_sequence_item = True
            ds.ConceptNameCodeSequence = Sequence([item])
            ds["ConceptNameCodeSequence"].is_undefined_length = True
            ds.save_as(sys.argv[2], write_like_original=True)
            """,
            [Self.slice.path, whole.path]
        )
        XCTAssertNoThrow(try DICOMFileInspector.inspect(path: whole.path))
        let cut = directory.file("sequence-cut.dcm")
        try DICOMFixtures.truncate(whole, to: cut, droppingLast: 16)  // both delimitation items
        assertThrows(.parseFailed(""), try DICOMFileInspector.inspect(path: cut.path))
    }

    // MARK: - Identity

    func testTraversalSOPInstanceUIDIsInvalid() throws {
        let edited = directory.file("traversal.dcm")
        try DICOMFixtures.edit(Self.slice, to: edited, keyword: "SOPInstanceUID", value: "../../x")
        assertThrows(.invalidUID(""), try DICOMFileInspector.inspect(path: edited.path))
    }

    func testMissingSOPInstanceUID() throws {
        let edited = directory.file("no-instance.dcm")
        try DICOMFixtures.edit(Self.slice, to: edited, keyword: "SOPInstanceUID", value: nil)
        assertThrows(.missingSOPInstance, try DICOMFileInspector.inspect(path: edited.path))
    }

    func testMissingSOPClassUID() throws {
        let edited = directory.file("no-class.dcm")
        try DICOMFixtures.edit(Self.slice, to: edited, keyword: "SOPClassUID", value: nil)
        assertThrows(.missingSOPClass, try DICOMFileInspector.inspect(path: edited.path))
    }

    func testMismatchesAreReportedDistinctly() throws {
        let instance = Self.instanceUID
        let mrImageStorage = "1.2.840.10008.5.1.4.1.1.4"
        assertThrows(
            .sopClassMismatch,
            try DICOMFileInspector.inspect(
                path: Self.slice.path, expectedSOPClass: mrImageStorage,
                expectedSOPInstance: instance)
        )
        assertThrows(
            .sopInstanceMismatch,
            try DICOMFileInspector.inspect(
                path: Self.slice.path, expectedSOPClass: Self.ctImageStorage,
                expectedSOPInstance: instance + "9")
        )
    }

    // MARK: - Not DICOM

    func testTextFileIsRejected() throws {
        let text = directory.file("notes.dcm")
        try Data("This is not a DICOM file, just some text.\n".utf8).write(to: text)
        XCTAssertThrowsError(try DICOMFileInspector.inspect(path: text.path))
    }

    func testEmptyFileIsRejected() throws {
        let empty = directory.file("empty.dcm")
        try Data().write(to: empty)
        assertThrows(.parseFailed(""), try DICOMFileInspector.inspect(path: empty.path))
    }

    func testMissingFileAndDirectoryAreUnreadable() throws {
        assertThrows(.unreadable(""), try DICOMFileInspector.inspect(path: directory.file("absent.dcm").path))
        assertThrows(.unreadable(""), try DICOMFileInspector.inspect(path: directory.path))
    }

    func testDescriptionsAreConstantAndFitAStatusComment() {
        XCTAssertEqual(InspectionError.parseFailed("x").description, InspectionError.parseFailed("y").description)
        XCTAssertEqual(InspectionError.invalidUID("SOPInstanceUID: …").detail, "SOPInstanceUID: …")
        let all: [InspectionError] = [
            .unreadable(""), .parseFailed(""), .missingSOPClass, .missingSOPInstance, .invalidUID(""),
            .sopClassMismatch, .sopInstanceMismatch,
        ]
        XCTAssertEqual(Set(all.map(\.description)).count, all.count)
        for error in all { XCTAssertLessThanOrEqual(error.statusComment.utf8.count, 64) }
    }

    // MARK: - SOP classes

    func testStorageSOPClassClassification() {
        XCTAssertTrue(DICOMFileInspector.isStorageSOPClass(Self.ctImageStorage))
        XCTAssertTrue(DICOMFileInspector.isStorageSOPClass("1.2.840.10008.5.1.4.1.1.88.11"))  // Basic Text SR
        XCTAssertFalse(DICOMFileInspector.isStorageSOPClass("1.2.840.10008.1.1"))  // Verification
        XCTAssertFalse(DICOMFileInspector.isStorageSOPClass("1.2.3.4"))
        XCTAssertTrue(DICOMFileInspector.isStandardUID("1.2.840.10008.1.1"))
        XCTAssertFalse(DICOMFileInspector.isStandardUID("1.2.3.4"))
    }

    // MARK: - Helpers

    /// Asserts that `body` throws the same case as `expected` (associated values are not compared).
    private func assertThrows(
        _ expected: InspectionError,
        _ body: @autoclosure () throws(InspectionError) -> InspectedObject,
        _ message: String = "",
        file: StaticString = #filePath,
        line: UInt = #line
    ) {
        do {
            let object = try body()
            XCTFail("expected \(expected), got \(object) \(message)", file: file, line: line)
        } catch {
            // Descriptions are constant and distinct per case, so they compare cases.
            XCTAssertEqual(
                error.description, expected.description, "\(error.detail ?? "") \(message)",
                file: file, line: line)
        }
    }
}
