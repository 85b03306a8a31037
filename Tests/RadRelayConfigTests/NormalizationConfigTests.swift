import RadRelayCore
import XCTest

@testable import RadRelayConfig

/// `normalization_profiles:`, `sources:`, `compression:` and `destinations[].transfer_syntax`
/// (issue 3): what they load into, and the mistakes they refuse with a line and column.
final class NormalizationConfigTests: XCTestCase {
    private let base = """
        gateway:
          ae_title: RADRELAY
        destinations:
          - name: pacs
            ae_title: PACS
            host: 10.0.0.5
            port: 104
            transfer_syntax: jpeg-ls-lossless
        routes:
          - destinations: [pacs]

        """

    func testDefaultsWhenAbsent() throws {
        let configuration = try load(minimalYAML)
        XCTAssertEqual(configuration.normalization, Normalization.Assignment())
        XCTAssertEqual(configuration.compression, Configuration.Compression(workers: 2, verify: true))
        XCTAssertEqual(configuration.destinations[0].transferSyntax, .asReceived)
    }

    func testEveryOperationLoads() throws {
        let yaml =
            base + """
                normalization_profiles:
                  site-a:
                    charset: utf-8
                    reason: correct
                    rules:
                      - set: InstitutionName
                        value: St. Elsewhere Hospital
                      - set_if_missing: IssuerOfPatientID
                        value: SITE_A
                      - remove: "(0009,1001)"
                      - trim: AccessionNumber
                      - upper: AccessionNumber
                      - lower: StudyDescription
                      - replace: AccessionNumber
                        pattern: "[^A-Z0-9]"
                        with: ""
                      - map: InstitutionName
                        table: { SEH: St. Elsewhere Hospital, GEN: General Hospital }
                        otherwise: Unknown
                      - prefix: PatientID
                        value: "A-"
                      - strip_leading: AccessionNumber
                        characters: "0"
                      - person_name: PatientName
                      - check: AccessionNumber
                        pattern: "[A-Z0-9]{4,16}"
                  short:
                    - trim: "0008,0050"
                sources:
                  - calling_ae: PACS_A
                    normalization: [site-a, short]
                    assume_charset: iso_ir 100
                  - calling_ae: PACS_B
                    normalization: short
                compression:
                  workers: 1
                  verify: false
                  max_object_size: 256MiB
                """
        let configuration = try load(yaml)
        XCTAssertEqual(configuration.destinations[0].transferSyntax, .jpegLSLossless)
        XCTAssertEqual(
            configuration.compression, Configuration.Compression(workers: 1, verify: false, maxObjectSize: 256 << 20))
        let profile = try XCTUnwrap(configuration.normalization.profiles["site-a"])
        XCTAssertTrue(profile.convertToUTF8)
        XCTAssertEqual(profile.reason, .correct)
        XCTAssertEqual(
            profile.rules.map(\.summary),
            [
                "set InstitutionName", "set_if_missing IssuerOfPatientID", "remove (0009,1001)", "trim AccessionNumber",
                "upper AccessionNumber", "lower StudyDescription", "replace AccessionNumber", "map InstitutionName",
                "prefix PatientID", "strip_leading AccessionNumber", "person_name PatientName", "check AccessionNumber",
            ])
        XCTAssertEqual(
            profile.rules[7].operation,
            .map(table: ["SEH": "St. Elsewhere Hospital", "GEN": "General Hospital"], otherwise: "Unknown"))
        XCTAssertEqual(profile.rules[6].operation, .replace(pattern: "[^A-Z0-9]", template: ""))
        let short = try XCTUnwrap(configuration.normalization.profiles["short"])
        XCTAssertFalse(short.convertToUTF8)
        XCTAssertEqual(short.reason, .coerce)
        XCTAssertEqual(short.rules, [Normalization.Rule(.trim, DICOMTag(0x0008, 0x0050))])
        XCTAssertEqual(
            configuration.normalization.sources,
            [
                .init(callingAE: try AETitle("PACS_A"), profiles: ["site-a", "short"], assumedCharset: "ISO_IR 100"),
                .init(callingAE: try AETitle("PACS_B"), profiles: ["short"]),
            ])
    }

    func testUnknownTransferSyntaxName() {
        assertError(
            minimalYAML.replacingOccurrences(of: "port: 104", with: "port: 104\n    transfer_syntax: jpeg2000"),
            .invalidValue, line: 8, column: 22, keyPath: "destinations[0].transfer_syntax",
            message: "as-received, jpeg-ls-lossless, jpeg-lossless, rle, deflate, explicit-le")
    }

    func testUIDRulesAreRefused() {
        assertError(
            base + "normalization_profiles:\n  p:\n    - set: SOPInstanceUID\n      value: 1.2.3\n",
            .invalidValue, line: 13, column: 12, keyPath: "normalization_profiles.p[0].set",
            message: "UIDs are never changed")
        assertError(
            base + "normalization_profiles:\n  p:\n    - remove: \"(0020,000D)\"\n", .invalidValue, line: 13,
            column: 15, keyPath: "normalization_profiles.p[0].remove", message: "UIDs are never changed")
        assertError(
            base + "normalization_profiles:\n  p:\n    - set: SpecificCharacterSet\n      value: ISO_IR 192\n",
            .invalidValue, line: 13, column: 12, keyPath: "normalization_profiles.p[0].set", message: "charset")
    }

    func testRuleShapeMistakes() {
        assertError(
            base + "normalization_profiles:\n  p:\n    - trim: NoSuchKeyword\n", .invalidValue, line: 13, column: 13,
            keyPath: "normalization_profiles.p[0].trim", message: "unknown attribute")
        assertError(
            base + "normalization_profiles:\n  p:\n    - trim: PatientID\n      upper: PatientID\n", .invalidValue,
            line: 13, column: 7, keyPath: "normalization_profiles.p[0]", message: "one operation, found trim and upper")
        assertError(
            base + "normalization_profiles:\n  p:\n    - set: PatientID\n", .missingKey, line: 13, column: 7,
            keyPath: "normalization_profiles.p[0].value", message: "required key is missing")
        assertError(
            base + "normalization_profiles:\n  p:\n    - trim: PatientID\n      value: x\n", .unknownKey, line: 14,
            column: 14, keyPath: "normalization_profiles.p[0].value", message: "'trim' takes no 'value'")
        assertError(
            base + "normalization_profiles:\n  p:\n    - check: PatientID\n      pattern: \"([\"\n", .invalidValue,
            line: 14, column: 16, keyPath: "normalization_profiles.p[0].pattern", message: "regular expression")
        assertError(
            base + "normalization_profiles:\n  p:\n    - trimm: PatientID\n", .unknownKey, line: 13, column: 7,
            keyPath: "normalization_profiles.p[0].trimm", message: "did you mean 'trim'?")
        assertError(
            base + "normalization_profiles:\n  p: []\n", .invalidValue, line: 12, column: 6,
            keyPath: "normalization_profiles.p", message: "at least one rule")
    }

    func testSourceMistakes() {
        assertError(
            base + "sources:\n  - calling_ae: PACS_A\n    normalization: missing\n", .unknownReference, line: 13,
            column: 20, keyPath: "sources[0].normalization", message: "no normalization profile is named 'missing'")
        assertError(
            base + "sources:\n  - calling_ae: PACS_A\n    assume_charset: latin1\n", .invalidValue, line: 13,
            column: 21, keyPath: "sources[0].assume_charset", message: "ISO_IR 100")
        assertError(
            base + "sources:\n  - calling_ae: PACS_A\n  - calling_ae: PACS_A\n", .duplicateValue, line: 13, column: 17,
            keyPath: "sources[1].calling_ae", message: "already listed on line 12")
        assertError(
            base + "compression:\n  workers: 0\n", .invalidValue, line: 12, column: 12,
            keyPath: "compression.workers", message: "whole number from 1 to 64")
    }
}
