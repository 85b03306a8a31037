import Foundation
import RadRelayCore
import RadRelayDIMSE
import RadRelayTestSupport
import XCTest

/// Lossless transcoding with DCMTK's codecs and the verifying decode (issue 3). Decoded pixels are
/// compared with DCMTK's command-line decoders and pydicom, independently of the code under test.
final class TranscodeTests: XCTestCase {
    private var directory: TemporaryDirectory!
    private var slices: [URL] = []

    private static let record = CoercionRecord(
        modifyingSystem: "RADRELAY", sourceOfPreviousValues: "TEST", dateTime: "20260102030405.000000+0000")

    override func setUpWithError() throws {
        try DCMTKRuntime.initialize()
        directory = try TemporaryDirectory(prefix: "radrelay-transcode")
        slices = try DICOMFixtures.ctSlices(3, in: try directory.subdirectory("ct"), size: 64)
    }

    override func tearDown() {
        directory?.remove()
    }

    private func build(
        _ source: URL,
        _ target: CompressionTarget,
        profiles: [Normalization.Profile] = [],
        verify: Bool = true,
        name: String = UUID().uuidString
    ) -> (VariantReport, URL) {
        let output = directory.url.appendingPathComponent(name + ".dcm")
        let report = VariantBuilder.build(
            source: source.path, output: output.path,
            variant: Normalization.Variant(profiles: profiles, target: target),
            record: Self.record, verify: verify)
        return (report, output)
    }

    /// Writes a copy of `source` edited by a pydicom snippet (`ds` is the dataset).
    private func variantOfSlice(_ name: String, _ edit: String) throws -> URL {
        let output = directory.url.appendingPathComponent(name + ".dcm")
        try DICOMFixtures.python(
            """
            import numpy as np
            ds = pydicom.dcmread(sys.argv[1])
            \(edit)
            ds.save_as(sys.argv[2], write_like_original=False)
            """, [slices[0].path, output.path])
        return output
    }

    // MARK: - Every target

    func testEveryLosslessTargetDecodesToTheSourcePixels() throws {
        let sources = try PixelData.sha256BySOPInstanceUID(files: slices)
        for target in [CompressionTarget.jpegLSLossless, .jpegLossless, .rle, .deflate, .explicitLE] {
            var outputs: [URL] = []
            for slice in slices {
                let (report, output) = build(slice, target)
                XCTAssertNil(report.fallback, "\(target): \(String(describing: report.fallback))")
                if target == .explicitLE {
                    XCTAssertEqual(report.transcode, .keep(.alreadyInTarget), "the slices are Explicit VR LE already")
                    continue
                }
                XCTAssertTrue(report.transcoded, "\(target)")
                XCTAssertTrue(report.verified, "\(target)")
                XCTAssertEqual(
                    report.outcome, .written(transferSyntaxUID: target.transferSyntaxUID!, byteSize: fileSize(output)))
                outputs.append(output)
            }
            let decoded = try DecodedPixelData.byUID(
                files: outputs, scratch: directory.url.appendingPathComponent("d-\(target)"))
            XCTAssertEqual(
                Set(decoded.keys), target == .explicitLE ? [] : Set(sources.keys), "UIDs unchanged (\(target))")
            for (uid, digest) in decoded {
                XCTAssertEqual(digest.transferSyntaxUID, target.transferSyntaxUID, "\(target)")
                XCTAssertEqual(digest.sha256, sources[uid], "decoded pixels differ for \(target)")
            }
        }
    }

    /// DCMTK's JPEG encoder notes itself in Derivation Description even for lossless coding;
    /// transcoding must change nothing but the encoding.
    func testTranscodingChangesNoAttribute() throws {
        let (report, output) = build(slices[0], .jpegLossless)
        XCTAssertTrue(report.transcoded)
        let script = """
            import sys, pydicom
            a = pydicom.dcmread(sys.argv[1]); b = pydicom.dcmread(sys.argv[2])
            ka = {e.tag: e.value for e in a if e.tag != 0x7FE00010}
            kb = {e.tag: e.value for e in b if e.tag != 0x7FE00010}
            print("same" if ka == kb else "differ: %s" % sorted(set(ka.items()) ^ set(kb.items()), key=str)[:5])
            """
        let result = try ProcessRunner.run("/usr/bin/env", ["python3", "-c", script, slices[0].path, output.path])
        XCTAssertEqual(result.stdout.trimmingCharacters(in: .whitespacesAndNewlines), "same", result.output)
    }

    func testImplicitSourceAndLosslessCompressedSourceTranscode() throws {
        let implicit = try variantOfSlice(
            "implicit", "ds.file_meta.TransferSyntaxUID = pydicom.uid.ImplicitVRLittleEndian; ds.is_implicit_VR = True")
        let (fromImplicit, jpegLS) = build(implicit, .jpegLSLossless)
        XCTAssertTrue(fromImplicit.transcoded)
        // RLE → JPEG-LS goes through a decode of the RLE data.
        let (toRLE, rle) = build(slices[1], .rle)
        XCTAssertTrue(toRLE.transcoded)
        let (fromRLE, rleToJPEGLS) = build(rle, .jpegLSLossless)
        XCTAssertTrue(fromRLE.transcoded)
        XCTAssertTrue(fromRLE.verified)
        let expected = try PixelData.sha256BySOPInstanceUID(files: [implicit, slices[1]])
        let decoded = try DecodedPixelData.byUID(
            files: [jpegLS, rleToJPEGLS], scratch: directory.url.appendingPathComponent("d"))
        XCTAssertEqual(decoded.mapValues(\.sha256), expected)
    }

    // MARK: - What is not transcoded

    func testLossyAndJPEG2000SourcesPassThrough() throws {
        let eightBit = try variantOfSlice(
            "eight-bit",
            """
            ds.BitsAllocated = 8; ds.BitsStored = 8; ds.HighBit = 7
            ds.PixelData = (np.arange(64 * 64) % 251).astype(np.uint8).tobytes()
            """)
        let lossy = directory.url.appendingPathComponent("lossy.dcm")
        let encoded = try ProcessRunner.run("/usr/bin/dcmcjpeg", ["+eb", eightBit.path, lossy.path])
        XCTAssertEqual(encoded.exitCode, 0, encoded.output)
        let (lossyReport, lossyOutput) = build(lossy, .jpegLSLossless)
        XCTAssertEqual(lossyReport.transcode, .keep(.lossySource))
        XCTAssertEqual(lossyReport.outcome, .unchanged)
        XCTAssertFalse(FileManager.default.fileExists(atPath: lossyOutput.path))

        let j2k = try variantOfSlice(
            "j2k",
            """
            from pydicom.encaps import encapsulate
            ds.file_meta.TransferSyntaxUID = "1.2.840.10008.1.2.4.90"
            ds.PixelData = encapsulate([b"\\xff\\x4f\\xff\\x51" + b"\\0" * 60])
            ds["PixelData"].VR = "OB"
            """)
        let (j2kReport, _) = build(j2k, .rle)
        XCTAssertEqual(j2kReport.transcode, .keep(.noCodec))
        XCTAssertEqual(j2kReport.outcome, .unchanged)
        XCTAssertNil(j2kReport.fallback)
    }

    // MARK: - Codec failures fall back, never drop

    func testUnsupportedPhotometricInterpretationFallsBack() throws {
        let ybr = try variantOfSlice(
            "ybr422",
            """
            ds.PhotometricInterpretation = "YBR_FULL_422"; ds.SamplesPerPixel = 3; ds.PlanarConfiguration = 0
            ds.BitsAllocated = 8; ds.BitsStored = 8; ds.HighBit = 7
            ds.PixelData = (np.arange(64 * 64 * 2) % 251).astype(np.uint8).tobytes()
            """)
        let (report, output) = build(ybr, .jpegLossless)
        guard case .codecFailed(let detail) = report.fallback else {
            return XCTFail("expected a codec failure, got \(String(describing: report.fallback))")
        }
        XCTAssertFalse(detail.isEmpty)
        XCTAssertEqual(report.outcome, .unchanged, "nothing was normalized: the object goes as received")
        XCTAssertFalse(FileManager.default.fileExists(atPath: output.path), "no half-made file is left")
    }

    /// JPEG-LS keeps only Bits Stored: values with bits above High Bit do not survive. The
    /// verifying decode catches it; without it the corrupted file would be sent.
    func testVerificationCatchesBitsAboveHighBit() throws {
        let highBits = try variantOfSlice(
            "high-bits",
            """
            arr = np.frombuffer(ds.PixelData, dtype=np.uint16).copy(); arr[::7] |= 0xF000
            ds.PixelData = arr.tobytes()
            """)
        let (checked, checkedOutput) = build(highBits, .jpegLSLossless)
        guard case .verificationFailed = checked.fallback else {
            return XCTFail("expected a verification failure, got \(String(describing: checked.fallback))")
        }
        XCTAssertEqual(checked.outcome, .unchanged)
        XCTAssertFalse(FileManager.default.fileExists(atPath: checkedOutput.path))

        let (unchecked, _) = build(highBits, .jpegLSLossless, verify: false)
        XCTAssertTrue(unchecked.transcoded, "the encoder itself reports success")
        XCTAssertFalse(unchecked.verified)
    }

    /// A codec failure with normalization: the object goes normalized, in its own syntax.
    func testCodecFailureKeepsTheNormalization() throws {
        let deep = try variantOfSlice(
            "32-bit",
            """
            ds.BitsAllocated = 32; ds.BitsStored = 32; ds.HighBit = 31
            ds.PixelData = (np.arange(64 * 64, dtype=np.uint32) * 7919).astype(np.uint32).tobytes()
            """)
        let profile = Normalization.Profile(name: "p", rules: [.init(.set("SITE_A"), DICOMTag(0x0010, 0x0021))])
        let (report, output) = build(deep, .jpegLSLossless, profiles: [profile])
        guard case .codecFailed = report.fallback else {
            return XCTFail("expected a codec failure, got \(String(describing: report.fallback))")
        }
        guard case .written(let syntax, _) = report.outcome else { return XCTFail("expected a normalized file") }
        XCTAssertEqual(syntax, CompressionTarget.Syntax.explicitLittleEndian)
        XCTAssertFalse(report.transcoded)
        let check = try ProcessRunner.run(
            "/usr/bin/env",
            ["python3", "-c", "import sys,pydicom; print(pydicom.dcmread(sys.argv[1]).IssuerOfPatientID)", output.path])
        XCTAssertEqual(check.stdout.trimmingCharacters(in: .whitespacesAndNewlines), "SITE_A", check.output)
        let pixels = try PixelData.sha256BySOPInstanceUID(files: [deep, output])
        XCTAssertEqual(pixels.count, 1, "same UID")
        XCTAssertEqual(try PixelData.digests(files: [deep])[0].sha256, try PixelData.digests(files: [output])[0].sha256)
    }

    private func fileSize(_ url: URL) -> UInt64 {
        ((try? FileManager.default.attributesOfItem(atPath: url.path))?[.size] as? NSNumber)?.uint64Value ?? 0
    }
}
