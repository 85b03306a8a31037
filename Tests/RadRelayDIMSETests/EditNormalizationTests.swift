import Foundation
import RadRelayCore
import RadRelayDIMSE
import RadRelayTestSupport
import XCTest

/// Golden normalization cases (issue 3): generated files (`scripts/make-normalization-cases.py`)
/// run through `VariantBuilder` with DCMTK, and the output read back with pydicom, attribute by
/// attribute, Original Attributes Sequence included.
final class EditNormalizationTests: XCTestCase {
    private var directory: TemporaryDirectory!
    private var cases: [String: URL] = [:]

    private static let accession = DICOMTag(0x0008, 0x0050)
    private static let institution = DICOMTag(0x0008, 0x0080)
    private static let referring = DICOMTag(0x0008, 0x0090)
    private static let patientName = DICOMTag(0x0010, 0x0010)
    private static let patientID = DICOMTag(0x0010, 0x0020)
    private static let issuer = DICOMTag(0x0010, 0x0021)

    /// The profile of the golden cases: UTF-8, accession clean-up, site identity, a value map
    /// and Person Name forms.
    private static let siteA = Normalization.Profile(
        name: "site-a",
        rules: [
            .init(.trim, accession), .init(.upperCase, accession),
            .init(.replace(pattern: "[^A-Z0-9]", template: ""), accession),
            .init(.check(pattern: "ACC[0-9]{4}"), accession),
            .init(.setIfMissing("Site A Hospital"), institution),
            .init(.map(table: ["SEH": "St. Elsewhere Hospital"], otherwise: nil), institution),
            .init(.prefix("A-"), patientID), .init(.setIfMissing("SITE_A"), issuer),
            .init(.personName, patientName), .init(.personName, referring),
        ],
        convertToUTF8: true,
        reason: .coerce)

    private static let record = CoercionRecord(
        modifyingSystem: "RADRELAY", sourceOfPreviousValues: "PACS_A", dateTime: "20260102030405.000000+0000")

    /// The generated cases, made once for the whole class (python start-up dominates otherwise).
    nonisolated(unsafe) private static var generated: (directory: TemporaryDirectory, cases: [String: URL])?

    override class func tearDown() {
        generated?.directory.remove()
        generated = nil
        super.tearDown()
    }

    override func setUpWithError() throws {
        try DCMTKRuntime.initialize()
        directory = try TemporaryDirectory(prefix: "radrelay-edit")
        if let generated = Self.generated {
            cases = generated.cases
            return
        }
        let inputs = try TemporaryDirectory(prefix: "radrelay-edit-cases")
        let script = ProcessRunner.repositoryRoot.appendingPathComponent("scripts/make-normalization-cases.py").path
        let result = try ProcessRunner.run("/usr/bin/env", ["python3", script, "--out", inputs.path], timeout: 60)
        guard result.exitCode == 0 else { throw HarnessError("case generator failed:\n\(result.output)") }
        for line in result.stdout.split(separator: "\n") {
            let parts = line.split(separator: " ", maxSplits: 1).map(String.init)
            if parts.count == 2 { cases[parts[0]] = URL(fileURLWithPath: parts[1]) }
        }
        Self.generated = (inputs, cases)
    }

    override func tearDown() {
        directory?.remove()
    }

    // MARK: - Harness

    /// Normalizes one case into `out/<name>.dcm` and returns the report and pydicom's reading.
    private func normalize(
        _ name: String,
        profiles: [Normalization.Profile] = [siteA],
        assumedCharset: String? = "ISO_IR 100",
        target: CompressionTarget = .asReceived
    ) throws -> (VariantReport, Dump) {
        let source = try XCTUnwrap(cases[name], "no case \(name)")
        let output = directory.url.appendingPathComponent("\(name).out.dcm")
        let sourceBytes = try Data(contentsOf: source)
        let report = VariantBuilder.build(
            source: source.path, output: output.path,
            variant: Normalization.Variant(profiles: profiles, assumedCharset: assumedCharset, target: target),
            record: Self.record, verify: true)
        XCTAssertEqual(try Data(contentsOf: source), sourceBytes, "the received original is never modified")
        guard case .written = report.outcome else { return (report, Dump()) }
        return (report, try Dump.read(output))
    }

    // MARK: - Golden cases

    func testLatin1DeclaredBecomesUTF8WithOriginalAttributes() throws {
        let (report, dump) = try normalize("latin1-declared")
        XCTAssertNil(report.fallback)
        XCTAssertEqual(report.passes.count, 1)
        XCTAssertTrue(report.passes[0].convertedCharset)
        XCTAssertEqual(report.passes[0].previousCharset, "ISO_IR 100")
        XCTAssertEqual(dump.top["SpecificCharacterSet"], "ISO_IR 192")
        XCTAssertEqual(dump.top["PatientName"], "Müller^Jürgen")
        XCTAssertEqual(dump.top["AccessionNumber"], "ACC0042")
        XCTAssertEqual(dump.top["InstitutionName"], "Site A Hospital")
        XCTAssertEqual(dump.top["PatientID"], "A-12345")
        XCTAssertEqual(dump.top["IssuerOfPatientID"], "SITE_A")
        XCTAssertEqual(dump.top["InstanceCoercionDateTime"], "20260102030405.000000+0000")
        XCTAssertEqual(dump.top["SOPInstanceUID"], dump.sourceUID(cases["latin1-declared"]!))
        XCTAssertEqual(dump.items.count, 1)
        let item = dump.items[0]
        XCTAssertEqual(item.fields["ModifyingSystem"], "RADRELAY")
        XCTAssertEqual(item.fields["SourceOfPreviousValues"], "PACS_A")
        XCTAssertEqual(item.fields["ReasonForTheAttributeModification"], "COERCE")
        XCTAssertEqual(item.fields["AttributeModificationDateTime"], "20260102030405.000000+0000")
        // Only the attributes the rules changed, plus the old character set; PatientName was only
        // converted, so it is not recorded.
        XCTAssertEqual(
            Set(item.modified.keys),
            ["SpecificCharacterSet", "AccessionNumber", "InstitutionName", "PatientID", "IssuerOfPatientID"])
        XCTAssertEqual(item.modified["SpecificCharacterSet"], "ISO_IR 100")
        XCTAssertEqual(item.modified["AccessionNumber"], " acc-0042")
        XCTAssertEqual(item.modified["InstitutionName"], "", "absent before: zero length")
        XCTAssertEqual(item.modified["IssuerOfPatientID"], "")
        XCTAssertEqual(item.modified["PatientID"], "12345")
    }

    func testLatin1WithoutDeclarationUsesTheSourceAssumption() throws {
        let (report, dump) = try normalize("latin1-undeclared")
        XCTAssertNil(report.fallback)
        XCTAssertEqual(dump.top["SpecificCharacterSet"], "ISO_IR 192")
        XCTAssertEqual(dump.top["PatientName"], "Gonçalves^José")
        XCTAssertEqual(dump.top["AccessionNumber"], "ACC0043")
        XCTAssertEqual(dump.top["InstitutionName"], "Site A Hospital", "present: set_if_missing keeps it")
        let item = try XCTUnwrap(dump.items.last)
        XCTAssertEqual(item.modified["SpecificCharacterSet"], "", "it was absent: zero length")
        XCTAssertNil(item.modified["InstitutionName"])
        XCTAssertNil(item.modified["PatientName"])
    }

    func testLatin1WithoutDeclarationOrAssumptionIsLeftUnconverted() throws {
        let (report, dump) = try normalize("latin1-undeclared", assumedCharset: nil)
        XCTAssertNil(report.fallback)
        XCTAssertTrue(report.passes[0].charsetUnknown)
        XCTAssertFalse(report.passes[0].convertedCharset)
        XCTAssertNil(dump.top["SpecificCharacterSet"])
        XCTAssertEqual(dump.top["AccessionNumber"], "ACC0043", "the other rules still apply")
        XCTAssertEqual(dump.rawPatientName, Array("Gonçalves^José".data(using: .isoLatin1)!))
    }

    func testOddPersonNamesAndPaddedAccession() throws {
        let (report, dump) = try normalize("odd-names")
        XCTAssertNil(report.fallback)
        XCTAssertEqual(dump.top["PatientName"], "Doe^John")
        XCTAssertEqual(dump.top["ReferringPhysicianName"], "Smith^Anna")
        XCTAssertEqual(dump.top["AccessionNumber"], "ACC0044")
        XCTAssertEqual(dump.top["InstitutionName"], "St. Elsewhere Hospital", "mapped through the table")
        XCTAssertNil(dump.top["SpecificCharacterSet"], "ASCII only: nothing to convert")
        let item = try XCTUnwrap(dump.items.last)
        XCTAssertEqual(item.modified["PatientName"], "Doe, John")
        XCTAssertEqual(item.modified["ReferringPhysicianName"], " Smith ^ Anna ^^^")
        XCTAssertEqual(item.modified["InstitutionName"], "SEH")
        XCTAssertNil(item.modified["SpecificCharacterSet"])
    }

    func testExistingOriginalAttributesItemsArePreserved() throws {
        let (report, dump) = try normalize("existing-original-attributes")
        XCTAssertNil(report.fallback)
        XCTAssertEqual(dump.items.count, 2)
        XCTAssertEqual(dump.items[0].fields["ModifyingSystem"], "EARLIER")
        XCTAssertEqual(dump.items[0].fields["ReasonForTheAttributeModification"], "CORRECT")
        XCTAssertEqual(dump.items[0].modified, ["PatientName": "ROE^J"])
        XCTAssertEqual(dump.items[1].fields["ModifyingSystem"], "RADRELAY")
        XCTAssertEqual(dump.items[1].modified["InstitutionName"], "SEH")
        XCTAssertEqual(dump.top["InstitutionName"], "St. Elsewhere Hospital")
    }

    func testUTF8ObjectIsNotConvertedAgain() throws {
        let (report, dump) = try normalize("utf8")
        XCTAssertNil(report.fallback)
        XCTAssertFalse(report.passes[0].convertedCharset)
        XCTAssertEqual(dump.top["PatientName"], "Ødegård^Åse")
        XCTAssertEqual(dump.top["AccessionNumber"], "ACC0046")
        XCTAssertNil(dump.items.last?.modified["SpecificCharacterSet"])
    }

    /// A second pass appends a second item; each records only its own changes.
    func testEachPassAppendsOneItem() throws {
        let correction = Normalization.Profile(
            name: "fix", rules: [.init(.set("CT CHEST LOW DOSE"), DICOMTag(0x0008, 0x1030))], reason: .correct)
        let (report, dump) = try normalize("odd-names", profiles: [Self.siteA, correction])
        XCTAssertEqual(report.passes.map(\.recorded), [true, true])
        XCTAssertEqual(dump.items.count, 2)
        XCTAssertEqual(dump.items[1].fields["ReasonForTheAttributeModification"], "CORRECT")
        XCTAssertEqual(dump.items[1].modified, ["StudyDescription": ""])
        XCTAssertEqual(dump.top["StudyDescription"], "CT CHEST LOW DOSE")
    }

    func testNothingToChangeMeansNoDerivedFile() throws {
        let noop = Normalization.Profile(name: "noop", rules: [.init(.trim, DICOMTag(0x0008, 0x1030))])
        let (report, _) = try normalize("utf8", profiles: [noop], assumedCharset: nil)
        XCTAssertEqual(report.outcome, .unchanged)
        XCTAssertNil(report.fallback)
        XCTAssertFalse(report.passes[0].recorded)
    }

    func testNoPixelDataIsNormalizedButNotTranscoded() throws {
        let (report, dump) = try normalize("no-pixel-data", target: .jpegLSLossless)
        XCTAssertEqual(report.transcode, .keep(.noPixelData))
        XCTAssertNil(report.fallback)
        XCTAssertEqual(dump.top["AccessionNumber"], "ACC0047")
        XCTAssertEqual(dump.transferSyntax, "1.2.840.10008.1.2.1")
    }

    /// Normalization and JPEG-LS in one variant: the record survives transcoding.
    func testNormalizedAndTranscodedTogether() throws {
        let (report, dump) = try normalize("latin1-declared", target: .jpegLSLossless)
        XCTAssertNil(report.fallback)
        XCTAssertTrue(report.transcoded)
        XCTAssertTrue(report.verified)
        XCTAssertEqual(dump.transferSyntax, "1.2.840.10008.1.2.4.80")
        XCTAssertEqual(dump.top["AccessionNumber"], "ACC0042")
        XCTAssertEqual(dump.items.count, 1)
    }

    func testRuleWarningsAreReported() throws {
        let strict = Normalization.Profile(
            name: "strict", rules: [.init(.check(pattern: "[0-9]{8}"), Self.accession)])
        let (report, _) = try normalize("odd-names", profiles: [strict], assumedCharset: nil)
        XCTAssertEqual(report.outcome, .unchanged)
        XCTAssertEqual(report.passes[0].pass.warnings, ["check AccessionNumber: value does not match '[0-9]{8}'"])
    }

    func testDryRunWritesNothing() throws {
        let source = try XCTUnwrap(cases["latin1-declared"])
        let before = try FileManager.default.contentsOfDirectory(atPath: directory.url.path)
        let report = try VariantBuilder.dryRun(
            source: source.path, variant: Normalization.Variant(profiles: [Self.siteA], assumedCharset: nil),
            record: Self.record)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: directory.url.path), before)
        let accession = report.passes[0].pass.outcomes.filter { $0.rule.tag == Self.accession }
        XCTAssertEqual(accession.map(\.after), ["acc-0042", "ACC-0042", "ACC0042", "ACC0042"])
        XCTAssertTrue(report.passes[0].convertedCharset)
    }
}

/// An output file as pydicom reads it: top-level text attributes, the Original Attributes
/// Sequence items (their fields and Modified Attributes Sequence values).
private struct Dump {
    struct Item {
        var fields: [String: String] = [:]
        var modified: [String: String] = [:]
    }

    var top: [String: String] = [:]
    var items: [Item] = []
    var transferSyntax = ""
    var rawPatientName: [UInt8] = []

    static let script = """
        import json, sys, warnings
        warnings.simplefilter("ignore")
        import pydicom
        def text(element):
            value = element.value
            if value is None:
                return ""
            if isinstance(value, (list, pydicom.multival.MultiValue)):
                return "\\\\".join(str(v) for v in value)
            return str(value)
        def plain(ds):
            return {e.keyword: text(e) for e in ds if e.VR not in ("SQ", "OB", "OW", "UN") and e.keyword}
        ds = pydicom.dcmread(sys.argv[1])
        items = []
        for item in ds.get("OriginalAttributesSequence", []):
            modified = item.ModifiedAttributesSequence[0] if "ModifiedAttributesSequence" in item else {}
            items.append({"fields": plain(item), "modified": plain(modified) if modified else {}})
        raw = ds["PatientName"].value.original_string if "PatientName" in ds else b""
        print(json.dumps({"top": plain(ds), "items": items, "syntax": str(ds.file_meta.TransferSyntaxUID),
                          "raw": list(raw)}))
        """

    static func read(_ file: URL) throws -> Dump {
        let result = try ProcessRunner.run("/usr/bin/env", ["python3", "-c", script, file.path], timeout: 30)
        guard result.exitCode == 0, let data = result.stdout.data(using: .utf8),
            let json = try JSONSerialization.jsonObject(with: data) as? [String: Any]
        else { throw HarnessError("pydicom dump failed:\n\(result.output)") }
        var dump = Dump()
        dump.top = json["top"] as? [String: String] ?? [:]
        dump.transferSyntax = json["syntax"] as? String ?? ""
        dump.rawPatientName = (json["raw"] as? [Int] ?? []).map { UInt8($0) }
        for item in json["items"] as? [[String: Any]] ?? [] {
            dump.items.append(
                Item(
                    fields: item["fields"] as? [String: String] ?? [:],
                    modified: item["modified"] as? [String: String] ?? [:]))
        }
        return dump
    }

    func sourceUID(_ file: URL) -> String? {
        try? Dump.read(file).top["SOPInstanceUID"]
    }
}
