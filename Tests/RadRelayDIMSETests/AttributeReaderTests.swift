import Foundation
import RadRelayCore
import RadRelayDIMSE
import RadRelayTestSupport
import XCTest

/// Issue 4: the ingest parse also returns the attributes routing rules ask for.
final class AttributeReaderTests: XCTestCase {
    private var directory: TemporaryDirectory!

    override func setUpWithError() throws {
        try DCMTKRuntime.initialize()
        directory = try TemporaryDirectory(prefix: "radrelay-attributes")
    }

    override func tearDown() {
        directory?.remove()
    }

    func testReadsRequestedAttributesInTheSameParse() throws {
        let source = try XCTUnwrap(
            try DICOMFixtures.ctSlices(1, in: directory.url.appendingPathComponent("gen")).first)
        let file = directory.file("edited.dcm")
        try DICOMFixtures.python(
            """
            ds = pydicom.dcmread(sys.argv[1])
            ds.StudyDescription = "CT HEAD CODE STROKE"
            ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
            ds.add_new((0x0040, 0x1003), "SH", "STAT")
            ds.AccessionNumber = ""
            ds.add_new((0x0009, 0x0010), "LO", "ACME")
            ds.save_as(sys.argv[2], write_like_original=True)
            """, [source.path, file.path])
        let studyDescription = DICOMTag(0x0008, 0x1030)
        let imageType = DICOMTag(0x0008, 0x0008)
        let accession = DICOMTag(0x0008, 0x0050)
        let privateCreator = DICOMTag(0x0009, 0x0010)
        let rows = DICOMTag(0x0028, 0x0010)
        let missing = DICOMTag(0x0010, 0x4000)
        let (object, values) = try DICOMFileInspector.inspect(
            path: file.path,
            attributes: [
                studyDescription, imageType, .requestedProcedurePriority, accession, privateCreator, rows, missing,
            ])
        XCTAssertEqual(object.modality, "CT")
        XCTAssertEqual(object.sopClassUID.value, "1.2.840.10008.5.1.4.1.1.2")
        XCTAssertEqual(values[studyDescription], ["CT HEAD CODE STROKE"])
        XCTAssertEqual(values[imageType], ["ORIGINAL", "PRIMARY", "AXIAL"])
        XCTAssertEqual(values[.requestedProcedurePriority]?.map { $0.trimmingCharacters(in: .whitespaces) }, ["STAT"])
        XCTAssertEqual(values[accession], [], "present but empty")
        XCTAssertEqual(values[privateCreator]?.first?.trimmingCharacters(in: .whitespaces), "ACME")
        XCTAssertEqual(values[rows], ["64"], "binary VRs come back as text")
        XCTAssertNil(values[missing])

        // The routing facts built from them drive a rule.
        let facts = ObjectFacts(
            callingAE: try AETitle("CT1"), calledAE: try AETitle("GW"), sourceIP: "127.0.0.1",
            modality: object.modality, sopClassUID: object.sopClassUID, attributes: values)
        let router = Router(rules: [
            RouteRule(
                name: "stroke",
                match: RouteMatch(attributes: [
                    AttributeCriterion(tag: studyDescription, matcher: ValueMatcher(.wildcard(["*STROKE*"])))
                ]),
                destinations: ["telerad"])
        ])
        XCTAssertEqual(router.route(facts).destinations, ["telerad": .stat], "the STAT priority attribute raised it")
    }

    func testValidationStillRefusesBrokenFiles() throws {
        let source = try XCTUnwrap(try DICOMFixtures.ctSlices(1, in: directory.url.appendingPathComponent("gen")).first)
        let cut = directory.file("cut.dcm")
        try DICOMFixtures.truncate(source, to: cut, droppingLast: 100)
        XCTAssertThrowsError(try DICOMFileInspector.inspect(path: cut.path, attributes: [.modality]))
        XCTAssertThrowsError(
            try DICOMFileInspector.inspect(path: source.path, expectedSOPInstance: "1.2.3", attributes: [])
        ) { error in
            XCTAssertEqual(error as? InspectionError, .sopInstanceMismatch)
        }
    }
}
