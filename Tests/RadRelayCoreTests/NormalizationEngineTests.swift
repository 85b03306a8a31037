import RadRelayCore
import XCTest

/// The pure rule engine: each operation, the net changes a pass records, the variant a delivery
/// needs and the compression policy (issue 3). No I/O.
final class NormalizationEngineTests: XCTestCase {
    private let accession = DICOMTag(0x0008, 0x0050)
    private let institution = DICOMTag(0x0008, 0x0080)
    private let patientName = DICOMTag(0x0010, 0x0010)
    private let patientID = DICOMTag(0x0010, 0x0020)
    private let issuer = DICOMTag(0x0010, 0x0021)

    private func run(_ operation: Normalization.Operation, on value: String?) -> Normalization.RuleOutcome {
        let tag = DICOMTag(0x0008, 0x0050)
        let profile = Normalization.Profile(name: "p", rules: [Normalization.Rule(operation, tag)])
        var values = Normalization.AttributeValues()
        values[tag] = value
        return Normalization.apply(profile, to: values).outcomes[0]
    }

    // MARK: - Operations

    func testSetAndSetIfMissing() {
        XCTAssertEqual(run(.set("X"), on: nil).after, "X")
        XCTAssertEqual(run(.set("X"), on: "Y").after, "X")
        XCTAssertEqual(run(.setIfMissing("X"), on: nil).after, "X")
        XCTAssertEqual(run(.setIfMissing("X"), on: "").after, "X", "present but empty counts as missing")
        XCTAssertEqual(run(.setIfMissing("X"), on: "  ").after, "X")
        XCTAssertEqual(run(.setIfMissing("X"), on: "Y").after, "Y")
    }

    func testRemoveTrimAndCase() {
        XCTAssertNil(run(.remove, on: "Y").after)
        XCTAssertFalse(run(.remove, on: nil).changed)
        XCTAssertEqual(run(.trim, on: "  acc 1  ").after, "acc 1")
        XCTAssertEqual(run(.trim, on: " a \\ b ").after, "a\\b", "each value of a multi-valued attribute")
        XCTAssertEqual(run(.upperCase, on: "müller^jürgen").after, "MÜLLER^JÜRGEN")
        XCTAssertEqual(run(.lowerCase, on: "ACC").after, "acc")
        XCTAssertNil(run(.trim, on: nil).after, "absent stays absent")
    }

    func testRegexReplaceWithTemplates() {
        XCTAssertEqual(run(.replace(pattern: "[^A-Z0-9]", template: ""), on: "ACC-00/42").after, "ACC0042")
        XCTAssertEqual(run(.replace(pattern: "^([A-Z]+)-([0-9]+)$", template: "$2$1"), on: "AB-12").after, "12AB")
        XCTAssertEqual(run(.replace(pattern: "X", template: "$$"), on: "aXb").after, "a$b")
        let invalid = run(.replace(pattern: "(", template: ""), on: "abc")
        XCTAssertEqual(invalid.after, "abc")
        XCTAssertNotNil(invalid.warning)
    }

    func testMapTable() {
        let table = ["SEH": "St. Elsewhere Hospital", "GEN": "General Hospital"]
        XCTAssertEqual(run(.map(table: table, otherwise: nil), on: "SEH").after, "St. Elsewhere Hospital")
        XCTAssertEqual(run(.map(table: table, otherwise: nil), on: " GEN ").after, "General Hospital")
        XCTAssertEqual(run(.map(table: table, otherwise: nil), on: "XYZ").after, "XYZ", "unmatched is kept")
        XCTAssertEqual(run(.map(table: table, otherwise: "Unknown"), on: "XYZ").after, "Unknown")
        XCTAssertNil(run(.map(table: table, otherwise: "Unknown"), on: nil).after)
    }

    func testPrefixIsIdempotent() {
        XCTAssertEqual(run(.prefix("A-"), on: "12345").after, "A-12345")
        XCTAssertEqual(run(.prefix("A-"), on: "A-12345").after, "A-12345")
        XCTAssertEqual(run(.prefix("A-"), on: "").after, "", "an empty ID gets no bare prefix")
        XCTAssertNil(run(.prefix("A-"), on: nil).after)
    }

    func testStripLeading() {
        XCTAssertEqual(run(.stripLeading(characters: "0"), on: "000123").after, "123")
        XCTAssertEqual(run(.stripLeading(characters: "0 "), on: " 0 0123").after, "123")
        XCTAssertEqual(run(.stripLeading(characters: "0"), on: "0001\\0002").after, "1\\2")
    }

    func testPersonNameForms() {
        XCTAssertEqual(run(.personName, on: "Doe, John").after, "Doe^John")
        XCTAssertEqual(run(.personName, on: " Smith ^ Anna ^^^ ").after, "Smith^Anna")
        XCTAssertEqual(run(.personName, on: "DOE^JOHN^^^").after, "DOE^JOHN")
        XCTAssertEqual(run(.personName, on: "Yamada^Tarou=山田^太郎==").after, "Yamada^Tarou=山田^太郎")
        XCTAssertEqual(run(.personName, on: "A, B, C").after, "A, B, C", "two commas: not a Family, Given form")
        XCTAssertEqual(run(.personName, on: "DOE^JOHN").changed, false)
    }

    func testCheckWarnsWithoutChanging() {
        let good = run(.check(pattern: "[A-Z]{3}[0-9]{4}"), on: "ACC0042")
        XCTAssertNil(good.warning)
        XCTAssertFalse(good.changed)
        let bad = run(.check(pattern: "[A-Z]{3}[0-9]{4}"), on: "acc-42")
        XCTAssertFalse(bad.changed)
        XCTAssertEqual(bad.warning, "value does not match '[A-Z]{3}[0-9]{4}'")
        XCTAssertNil(run(.check(pattern: "x"), on: nil).warning, "an absent value is not checked")
    }

    // MARK: - Passes

    /// The accession clean-up chain of the issue: trim, case, strip padding, pattern check; and
    /// site identity: prefix plus issuer. The net changes list each attribute once, with the value
    /// before the whole pass.
    func testPassRecordsNetChangesOnly() {
        let profile = Normalization.Profile(
            name: "site-a",
            rules: [
                .init(.trim, accession), .init(.upperCase, accession),
                .init(.replace(pattern: "[^A-Z0-9]", template: ""), accession),
                .init(.check(pattern: "ACC[0-9]{4}"), accession),
                .init(.prefix("A-"), patientID), .init(.setIfMissing("SITE_A"), issuer),
                .init(.setIfMissing("Site A"), institution), .init(.personName, patientName),
            ],
            reason: .coerce)
        let pass = Normalization.apply(
            profile,
            to: Normalization.AttributeValues([
                accession: " acc-0042 ", patientID: "12345", institution: "Existing", patientName: "DOE^JOHN",
            ]))
        XCTAssertEqual(pass.outcomes.count, 8)
        XCTAssertEqual(pass.outcomes.map(\.after)[0...2], [" acc-0042 ".trimmed, "ACC-0042", "ACC0042"])
        XCTAssertEqual(pass.warnings, [])
        XCTAssertEqual(
            pass.changes,
            [
                .init(tag: accession, before: " acc-0042 ", after: "ACC0042"),
                .init(tag: patientID, before: "12345", after: "A-12345"),
                .init(tag: issuer, before: nil, after: "SITE_A"),
            ])
    }

    func testAChangeUndoneLaterInThePassIsNoChange() {
        let profile = Normalization.Profile(
            name: "p", rules: [.init(.upperCase, accession), .init(.lowerCase, accession)])
        let pass = Normalization.apply(profile, to: Normalization.AttributeValues([accession: "acc"]))
        XCTAssertEqual(pass.outcomes.filter(\.changed).count, 2)
        XCTAssertEqual(pass.changes, [])
    }

    // MARK: - Variants

    func testVariantAppliesSourceProfilesThenRouteProfilesOnce() throws {
        let a = Normalization.Profile(name: "a", rules: [.init(.trim, accession)])
        let b = Normalization.Profile(name: "b", rules: [.init(.upperCase, accession)], convertToUTF8: true)
        let assignment = Normalization.Assignment(
            profiles: ["a": a, "b": b],
            sources: [.init(callingAE: try AETitle("PACS_A"), profiles: ["a"], assumedCharset: "ISO_IR 100")])
        let fromA = assignment.variant(callingAE: try AETitle("PACS_A"), routeProfiles: ["b", "a"], target: .rle)
        XCTAssertEqual(fromA.profiles.map(\.name), ["a", "b"])
        XCTAssertEqual(fromA.assumedCharset, "ISO_IR 100")
        let other = assignment.variant(callingAE: try AETitle("OTHER"), routeProfiles: [], target: .asReceived)
        XCTAssertTrue(other.isIdentity)
        XCTAssertNil(other.assumedCharset)
    }

    func testVariantKeyIsStableAndDistinguishesVariants() {
        let table1 = Dictionary(uniqueKeysWithValues: (0..<50).map { ("K\($0)", "V\($0)") })
        var table2: [String: String] = [:]
        for index in (0..<50).reversed() { table2["K\(index)"] = "V\(index)" }
        let p1 = Normalization.Profile(name: "p", rules: [.init(.map(table: table1, otherwise: nil), institution)])
        let p2 = Normalization.Profile(name: "p", rules: [.init(.map(table: table2, otherwise: nil), institution)])
        let key = Normalization.Variant(profiles: [p1], target: .jpegLSLossless).key
        XCTAssertEqual(key, Normalization.Variant(profiles: [p2], target: .jpegLSLossless).key)
        XCTAssertEqual(key.count, 16)
        XCTAssertTrue(key.allSatisfy(\.isHexDigit))
        XCTAssertNotEqual(key, Normalization.Variant(profiles: [p1], target: .rle).key)
        XCTAssertNotEqual(
            key, Normalization.Variant(profiles: [p1], assumedCharset: "ISO_IR 100", target: .jpegLSLossless).key)
        let p3 = Normalization.Profile(name: "p", rules: [.init(.map(table: table1, otherwise: "x"), institution)])
        XCTAssertNotEqual(key, Normalization.Variant(profiles: [p3], target: .jpegLSLossless).key)
    }

    // MARK: - What may be touched

    func testUIDsAndBookkeepingAttributesAreProtected() {
        XCTAssertEqual(Normalization.protectionReason(DICOMTag(0x0008, 0x0018)), "UIDs are never changed")
        XCTAssertEqual(Normalization.protectionReason(DICOMTag(0x0020, 0x000D)), "UIDs are never changed")
        XCTAssertNotNil(Normalization.protectionReason(DICOMTag(0x0002, 0x0010)))
        XCTAssertNotNil(Normalization.protectionReason(Normalization.specificCharacterSet))
        XCTAssertNotNil(Normalization.protectionReason(Normalization.originalAttributesSequence))
        XCTAssertNotNil(Normalization.protectionReason(DICOMTag(0x7FE0, 0x0010)))
        XCTAssertNotNil(Normalization.protectionReason(DICOMTag(0x0010, 0x0000)))
        XCTAssertNil(Normalization.protectionReason(patientID))
        XCTAssertNil(Normalization.protectionReason(DICOMTag(0x0009, 0x1001)))
    }

    // MARK: - Compression policy

    func testTranscodeDecisions() {
        let explicit = CompressionTarget.Syntax.explicitLittleEndian
        XCTAssertEqual(
            TranscodeDecision.decide(sourceSyntax: explicit, target: .jpegLSLossless, hasPixelData: true),
            .transcode(toSyntax: "1.2.840.10008.1.2.4.80"))
        XCTAssertEqual(
            TranscodeDecision.decide(sourceSyntax: "1.2.840.10008.1.2", target: .jpegLossless, hasPixelData: true),
            .transcode(toSyntax: "1.2.840.10008.1.2.4.70"))
        XCTAssertEqual(
            TranscodeDecision.decide(sourceSyntax: "1.2.840.10008.1.2.5", target: .jpegLSLossless, hasPixelData: true),
            .transcode(toSyntax: "1.2.840.10008.1.2.4.80"), "lossless to lossless goes through a decode")
        XCTAssertEqual(
            TranscodeDecision.decide(sourceSyntax: explicit, target: .asReceived, hasPixelData: true),
            .keep(.asReceivedRequested))
        XCTAssertEqual(
            TranscodeDecision.decide(sourceSyntax: explicit, target: .rle, hasPixelData: false), .keep(.noPixelData))
        XCTAssertEqual(
            TranscodeDecision.decide(
                sourceSyntax: "1.2.840.10008.1.2.4.50", target: .jpegLSLossless, hasPixelData: true),
            .keep(.lossySource))
        XCTAssertEqual(
            TranscodeDecision.decide(sourceSyntax: "1.2.840.10008.1.2.4.91", target: .explicitLE, hasPixelData: true),
            .keep(.lossySource))
        XCTAssertEqual(
            TranscodeDecision.decide(
                sourceSyntax: "1.2.840.10008.1.2.4.90", target: .jpegLSLossless, hasPixelData: true),
            .keep(.noCodec), "JPEG 2000 has no codec in Debian's DCMTK")
        XCTAssertEqual(
            TranscodeDecision.decide(
                sourceSyntax: "1.2.840.10008.1.2.4.80", target: .jpegLSLossless, hasPixelData: true),
            .keep(.alreadyInTarget))
    }

    func testTargetNamesAreTheContract() {
        XCTAssertEqual(
            CompressionTarget.allCases.map(\.rawValue),
            ["as-received", "jpeg-ls-lossless", "jpeg-lossless", "rle", "deflate", "explicit-le"])
        XCTAssertEqual(CompressionTarget.jpegLSLossless.transferSyntaxUID, "1.2.840.10008.1.2.4.80")
        XCTAssertEqual(CompressionTarget.jpegLossless.transferSyntaxUID, "1.2.840.10008.1.2.4.70")
        XCTAssertEqual(CompressionTarget.rle.transferSyntaxUID, "1.2.840.10008.1.2.5")
        XCTAssertEqual(CompressionTarget.deflate.transferSyntaxUID, "1.2.840.10008.1.2.1.99")
        XCTAssertEqual(CompressionTarget.explicitLE.transferSyntaxUID, "1.2.840.10008.1.2.1")
    }
}

extension String {
    fileprivate var trimmed: String { String(drop { $0 == " " }.reversed().drop { $0 == " " }.reversed()) }
}
