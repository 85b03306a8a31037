import Foundation
import RadRelayTestSupport
import XCTest

/// Metadata normalization end to end (issue 3): per-source profiles applied to what a destination
/// receives, the original in the spool untouched, and `radrelayctl normalize --dry-run`.
final class NormalizationTests: EndToEndTestCase {
    private static let profiles = """
        normalization_profiles:
          site-a:
            charset: utf-8
            rules:
              - trim: AccessionNumber
              - upper: AccessionNumber
              - replace: AccessionNumber
                pattern: "[^A-Z0-9]"
                with: ""
              - check: AccessionNumber
                pattern: "ACC[0-9]{4}"
              - set_if_missing: InstitutionName
                value: Site A Hospital
              - map: InstitutionName
                table: { SEH: St. Elsewhere Hospital }
              - prefix: PatientID
                value: "A-"
              - set_if_missing: IssuerOfPatientID
                value: SITE_A
              - person_name: PatientName
        sources:
          - calling_ae: STORESCU
            normalization: site-a
            assume_charset: ISO_IR 100

        """

    private func cases() throws -> [String: URL] {
        let script = ProcessRunner.repositoryRoot.appendingPathComponent("scripts/make-normalization-cases.py").path
        let result = try ProcessRunner.run(
            "/usr/bin/env", ["python3", script, "--out", try temp.subdirectory("cases").path], timeout: 60)
        guard result.exitCode == 0 else { throw HarnessError("case generator failed:\n\(result.output)") }
        var cases: [String: URL] = [:]
        for line in result.stdout.split(separator: "\n") {
            let parts = line.split(separator: " ", maxSplits: 1).map(String.init)
            if parts.count == 2 { cases[parts[0]] = URL(fileURLWithPath: parts[1]) }
        }
        return cases
    }

    /// Latin-1 without a declared character set, odd names and codes arrive at Orthanc normalized,
    /// in UTF-8, with an Original Attributes Sequence item and unchanged UIDs; the spool keeps the
    /// object as received until delivered; JPEG-LS applies on top.
    func testProfilesApplyPerSourceOnTheWayToTheRemote() throws {
        let cases = try cases()
        let orthanc = try makeOrthanc()
        var config = try makeConfig(remotePort: orthanc.dicomPort)
        config.destinations[0].extraLines = ["transfer_syntax: jpeg-ls-lossless"]
        config.extraYAML = Self.profiles
        let daemon = try makeDaemon(config)
        let files = ["latin1-undeclared", "odd-names", "no-pixel-data"].compactMap { cases[$0] }
        try storeOrFail(files, to: daemon)
        try waitForAllDelivered(files.count, daemon: daemon, timeout: 60)

        let scratch = try temp.subdirectory("stored")
        var stored: [URL] = []
        for (index, (_, id)) in try orthanc.instanceIDsByUID().enumerated() {
            let file = scratch.appendingPathComponent("i\(index).dcm")
            try orthanc.instanceFile(orthancID: id).write(to: file)
            stored.append(file)
        }
        let script = """
            import json, sys, warnings
            warnings.simplefilter("ignore")
            import pydicom
            out = {}
            for path in sys.argv[1:]:
                ds = pydicom.dcmread(path)
                item = ds.OriginalAttributesSequence[-1]
                out[str(ds.AccessionNumber)] = {
                    "uid": ds.SOPInstanceUID, "syntax": str(ds.file_meta.TransferSyntaxUID),
                    "charset": str(ds.get("SpecificCharacterSet", "")), "name": str(ds.PatientName),
                    "id": ds.PatientID, "issuer": ds.IssuerOfPatientID, "institution": ds.InstitutionName,
                    "system": item.ModifyingSystem, "source": item.SourceOfPreviousValues,
                    "reason": item.ReasonForTheAttributeModification,
                    "modified": sorted(e.keyword for e in item.ModifiedAttributesSequence[0]),
                    "coerced": "InstanceCoercionDateTime" in ds}
            print(json.dumps(out))
            """
        let read = try ProcessRunner.run("/usr/bin/env", ["python3", "-c", script] + stored.map(\.path))
        let json = try XCTUnwrap(
            try JSONSerialization.jsonObject(with: Data(read.stdout.utf8)) as? [String: [String: Any]], read.output)
        let sourceUIDs = try PixelData.sha256BySOPInstanceUID(files: files.filter { !$0.path.contains("no-pixel") })

        let latin = try XCTUnwrap(json["ACC0043"], "\(json.keys)")
        XCTAssertEqual(latin["name"] as? String, "Gonçalves^José")
        XCTAssertEqual(latin["charset"] as? String, "ISO_IR 192")
        XCTAssertEqual(latin["id"] as? String, "A-12345")
        XCTAssertEqual(latin["issuer"] as? String, "SITE_A")
        XCTAssertEqual(latin["syntax"] as? String, "1.2.840.10008.1.2.4.80")
        XCTAssertEqual(latin["system"] as? String, "RADRELAY")
        XCTAssertEqual(latin["source"] as? String, "STORESCU")
        XCTAssertEqual(latin["reason"] as? String, "COERCE")
        XCTAssertEqual(
            latin["modified"] as? [String],
            ["AccessionNumber", "IssuerOfPatientID", "PatientID", "SpecificCharacterSet"])
        XCTAssertEqual(latin["coerced"] as? Bool, true)
        XCTAssertNotNil(sourceUIDs[latin["uid"] as? String ?? ""], "SOP Instance UID unchanged")

        let odd = try XCTUnwrap(json["ACC0044"])
        XCTAssertEqual(odd["name"] as? String, "Doe^John")
        XCTAssertEqual(odd["institution"] as? String, "St. Elsewhere Hospital")
        XCTAssertEqual(odd["syntax"] as? String, "1.2.840.10008.1.2.4.80")

        let report = try XCTUnwrap(json["ACC0047"])
        XCTAssertEqual(report["syntax"] as? String, "1.2.840.10008.1.2.1", "no pixel data: never transcoded")
        XCTAssertEqual(report["institution"] as? String, "Site A Hospital")

        // Every variant was made as asked: no fallback was logged.
        let log = (try? String(contentsOf: daemon.logURL, encoding: .utf8)) ?? ""
        XCTAssertFalse(log.contains("Variant fell back"), daemon.logTail())
    }

    /// `radrelayctl normalize --dry-run` prints each rule's before → after for one file, and
    /// touches nothing.
    func testDryRunShowsEachRule() throws {
        let cases = try cases()
        let file = try XCTUnwrap(cases["latin1-declared"])
        var config = try makeConfig(remotePort: freeLoopbackPort())
        config.destinations[0].extraLines = ["transfer_syntax: rle"]
        config.extraYAML = Self.profiles
        let configURL = temp.url.appendingPathComponent("radrelay.yaml")
        try config.yaml.write(to: configURL, atomically: true, encoding: .utf8)
        let before = try Data(contentsOf: file)
        let ctl = try RadRelayDaemonProcess.binaryURL(named: "radrelayctl")
        let result = try ProcessRunner.run(
            ctl.path,
            [
                "normalize", "--dry-run", "--config", configURL.path, "--calling-ae", "STORESCU", "--destination",
                "remote", file.path,
            ])
        XCTAssertEqual(result.exitCode, 0, result.output)
        let out = result.stdout
        XCTAssertTrue(out.contains("profile site-a (reason COERCE)"), out)
        XCTAssertTrue(out.contains("1. trim AccessionNumber"), out)
        XCTAssertTrue(out.contains(#"upper AccessionNumber: "acc-0042" → "ACC-0042""#), out)
        XCTAssertTrue(out.contains(#"replace AccessionNumber: "ACC-0042" → "ACC0042""#), out)
        XCTAssertTrue(out.contains(#"set_if_missing InstitutionName: (absent) → "Site A Hospital""#), out)
        XCTAssertTrue(out.contains(#"prefix PatientID: "12345" → "A-12345""#), out)
        XCTAssertTrue(out.contains("character set: ISO_IR 100 → ISO_IR 192"), out)
        XCTAssertTrue(out.contains("Original Attributes Sequence: new item (COERCE)"), out)
        XCTAssertTrue(out.contains("transfer syntax: transcoded to 1.2.840.10008.1.2.5"), out)
        XCTAssertEqual(try Data(contentsOf: file), before, "the file is not modified")

        let json = try ProcessRunner.run(
            ctl.path,
            ["normalize", "--dry-run", "--json", "--config", configURL.path, "--profile", "site-a", file.path])
        XCTAssertEqual(json.exitCode, 0, json.output)
        XCTAssertTrue(json.stdout.contains("\"recordedAttributes\""), json.output)

        let refused = try ProcessRunner.run(ctl.path, ["normalize", "--config", configURL.path, file.path])
        XCTAssertNotEqual(refused.exitCode, 0, "without --dry-run nothing runs")
    }
}
