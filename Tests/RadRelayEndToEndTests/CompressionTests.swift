import Foundation
import RadRelayTestSupport
import XCTest

/// Lossless compression per destination, end to end (issue 3): storescu → radrelayd → Orthanc.
/// Orthanc stores objects in the syntax they arrived in, so what it holds shows what was sent; its
/// files are decoded with DCMTK's tools and compared with the source pixels.
final class CompressionTests: EndToEndTestCase {
    /// An Orthanc with extra configuration, killed in tearDown.
    private func orthanc(_ name: String, extra: [String: String] = [:]) throws -> OrthancProcess {
        var options = OrthancProcess.Options()
        options.extraConfiguration = extra
        let orthanc = try OrthancProcess(directory: try temp.subdirectory(name), options: options)
        addCleanup { orthanc.kill() }
        try orthanc.start()
        return orthanc
    }

    /// Every stored instance of `orthanc`: its transfer syntax and decoded pixel digest.
    private func stored(_ orthanc: OrthancProcess) throws -> [String: DecodedPixelData.Digest] {
        let scratch = try temp.subdirectory("stored-\(UUID().uuidString)")
        var files: [URL] = []
        for (index, (_, id)) in try orthanc.instanceIDsByUID().enumerated() {
            let file = scratch.appendingPathComponent("i\(index).dcm")
            try orthanc.instanceFile(orthancID: id).write(to: file)
            files.append(file)
        }
        return try DecodedPixelData.byUID(files: files, scratch: scratch.appendingPathComponent("decoded"))
    }

    /// JPEG-LS, RLE and JPEG lossless destinations each store the syntax they were configured
    /// with, and decoded pixels equal the original's; a remote that refuses JPEG-LS at association
    /// still gets every object (uncompressed). Derived files are removed once delivered.
    func testEachTargetArrivesLosslessAndRefusingRemoteStillGetsObjects() throws {
        let series = try SharedTestData.shared.ctSeries100().prefix(8)
        let jpegLS = try orthanc("jpeg-ls")
        let rle = try orthanc("rle")
        let jpegLossless = try orthanc("jpeg-lossless")
        let refusing = try orthanc(
            "refuses-jpeg-ls", extra: ["AcceptedTransferSyntaxes": #"["1.2.840.10008.1.2", "1.2.840.10008.1.2.1"]"#])
        var config = try makeConfig(remotePort: jpegLS.dicomPort)
        config.destinations = [
            ("ls", jpegLS, "jpeg-ls-lossless"), ("rle", rle, "rle"), ("jpeg", jpegLossless, "jpeg-lossless"),
            ("refusing", refusing, "jpeg-ls-lossless"),
        ].map { name, orthanc, syntax in
            var destination = RadRelayTestConfig.Destination(name: name, port: orthanc.dicomPort, associations: 2)
            destination.extraLines = ["transfer_syntax: \(syntax)"]
            return destination
        }
        config.extraYAML = "compression:\n  workers: 2\n  verify: true\n"
        let daemon = try makeDaemon(config)

        try storeOrFail(series.files, to: daemon)
        try waitForAllDelivered(4 * series.files.count, daemon: daemon, timeout: 90)
        XCTAssertEqual(try daemon.status().totalDead, 0)

        let expectations: [(OrthancProcess, Set<String>)] = [
            (jpegLS, ["1.2.840.10008.1.2.4.80"]), (rle, ["1.2.840.10008.1.2.5"]),
            (jpegLossless, ["1.2.840.10008.1.2.4.70"]),
            (refusing, ["1.2.840.10008.1.2", "1.2.840.10008.1.2.1"]),
        ]
        for (orthanc, syntaxes) in expectations {
            let digests = try stored(orthanc)
            XCTAssertEqual(Set(digests.keys), series.uids, "\(orthanc.directory.lastPathComponent): UIDs")
            for (uid, digest) in digests {
                XCTAssertTrue(
                    syntaxes.contains(digest.transferSyntaxUID),
                    "\(orthanc.directory.lastPathComponent) stored \(digest.transferSyntaxUID)")
                XCTAssertEqual(
                    digest.sha256, series.pixelHashes[uid], "\(orthanc.directory.lastPathComponent): pixels differ")
            }
        }
        let variants = daemon.spoolDirectory.appendingPathComponent("variants")
        try pollUntil("derived files removed after delivery", timeout: 30) {
            ((try? FileManager.default.contentsOfDirectory(atPath: variants.path)) ?? []).isEmpty
        }
    }

    /// Images the codec cannot encode (YBR_FULL_422 for JPEG-LS) or cannot encode losslessly (bits
    /// above High Bit: JPEG-LS keeps only Bits Stored, caught by the verifying decode) are
    /// delivered as received, and each fallback is logged with its reason and counted.
    func testCodecFailuresAreDeliveredAsReceivedAndCounted() throws {
        let source = try SharedTestData.shared.ctSeries100().files[0]
        let ybr = temp.url.appendingPathComponent("ybr.dcm")
        let highBits = temp.url.appendingPathComponent("high-bits.dcm")
        let made = try ProcessRunner.run(
            "/usr/bin/env",
            [
                "python3", "-c",
                """
                import sys, uuid, numpy as np, pydicom
                def fresh(ds):
                    uid = "2.25." + str(uuid.uuid4().int)
                    ds.SOPInstanceUID = uid; ds.file_meta.MediaStorageSOPInstanceUID = uid
                    return ds
                ds = fresh(pydicom.dcmread(sys.argv[1]))
                ds.PhotometricInterpretation = "YBR_FULL_422"; ds.SamplesPerPixel = 3; ds.PlanarConfiguration = 0
                ds.BitsAllocated = 8; ds.BitsStored = 8; ds.HighBit = 7
                ds.PixelData = (np.arange(ds.Rows * ds.Columns * 2) % 251).astype(np.uint8).tobytes()
                ds.save_as(sys.argv[2], write_like_original=False)
                ds = fresh(pydicom.dcmread(sys.argv[1]))
                arr = np.frombuffer(ds.PixelData, dtype=np.uint16).copy(); arr[::7] |= 0xF000
                ds.PixelData = arr.tobytes()
                ds.save_as(sys.argv[3], write_like_original=False)
                """,
                source.path, ybr.path, highBits.path,
            ])
        XCTAssertEqual(made.exitCode, 0, made.output)
        let expected = try PixelData.sha256BySOPInstanceUID(files: [ybr, highBits])

        let orthanc = try orthanc("remote")
        var config = try makeConfig(remotePort: orthanc.dicomPort)
        config.destinations[0].extraLines = ["transfer_syntax: jpeg-ls-lossless"]
        let daemon = try makeDaemon(config)
        try storeOrFail([ybr, highBits], to: daemon)
        try waitForAllDelivered(2, daemon: daemon, timeout: 60)

        let stored = try stored(orthanc)
        XCTAssertEqual(Set(stored.keys), Set(expected.keys))
        for (uid, digest) in stored {
            XCTAssertEqual(digest.transferSyntaxUID, "1.2.840.10008.1.2.1", "sent as received")
            XCTAssertEqual(digest.sha256, expected[uid], "pixels unchanged")
        }
        let log = (try? String(contentsOf: daemon.logURL, encoding: .utf8)) ?? ""
        // Field names' case depends on the log backend (stderr or journal style).
        let fallbacks = log.split(separator: "\n").filter { $0.contains("Variant fell back") }.map { $0.lowercased() }
        XCTAssertEqual(fallbacks.count, 2, daemon.logTail())
        XCTAssertTrue(fallbacks.contains { $0.contains("reason=codec_failed") }, fallbacks.joined(separator: "\n"))
        XCTAssertTrue(
            fallbacks.contains { $0.contains("reason=verification_failed") }, fallbacks.joined(separator: "\n"))
        XCTAssertTrue(fallbacks.contains { $0.contains("fallbacks_total=2") }, fallbacks.joined(separator: "\n"))
    }

    /// A pass-through destination fed a mixed stream on one association: an uncompressed slice
    /// first, then JPEG-LS and uncompressed slices alternating. Each arrives in the syntax it was
    /// received in: the open association, negotiated for the uncompressed slice, is renegotiated
    /// for JPEG-LS rather than the JPEG-LS slices being decompressed.
    func testMixedStreamKeepsEachObjectsSyntaxOnAnOpenAssociation() throws {
        let series = try SharedTestData.shared.ctSeries100().prefix(4)
        let compressedDirectory = try temp.subdirectory("jpeg-ls")
        let files = try series.files.enumerated().map { index, file -> URL in
            guard index % 2 == 1 else { return file }
            let compressed = compressedDirectory.appendingPathComponent(file.lastPathComponent)
            let run = try ProcessRunner.run("/usr/bin/dcmcjpls", [file.path, compressed.path], timeout: 60)
            guard run.exitCode == 0 else { throw HarnessError(run.output) }
            return compressed
        }
        let remote = try orthanc("remote")
        let config = try makeConfig(remotePort: remote.dicomPort, associations: 1)
        let daemon = try makeDaemon(config)

        // The first delivery opens the association (idle release 60 s) before the rest arrive.
        try storeOrFail([files[0]], to: daemon)
        try waitForAllDelivered(1, daemon: daemon, timeout: 60)
        // pynetdicom proposes exactly the files' (class, syntax) pairs, so the JPEG-LS slices
        // arrive as JPEG-LS (it exits 0 on failure too: the delivered count below is the check).
        let rest = try ProcessRunner.run(
            "/usr/bin/env",
            ["python3", "-m", "pynetdicom", "storescu", "-aec", "RADRELAY", "-cx", "127.0.0.1", String(daemon.port)]
                + files.dropFirst().map(\.path),
            timeout: 60)
        XCTAssertEqual(rest.exitCode, 0, rest.output + daemon.failureContext())
        try waitForAllDelivered(files.count, daemon: daemon, timeout: 60)

        let jpegLS = "1.2.840.10008.1.2.4.80"
        let digests = try stored(remote)
        XCTAssertEqual(Set(digests.keys), series.uids)
        for (index, uid) in series.digests.map(\.sopInstanceUID).enumerated() {
            let digest = try XCTUnwrap(digests[uid])
            if index % 2 == 1 {
                XCTAssertEqual(digest.transferSyntaxUID, jpegLS, "slice \(index) kept its compression")
            } else {
                XCTAssertNotEqual(digest.transferSyntaxUID, jpegLS, "slice \(index) as received")
            }
            XCTAssertEqual(digest.sha256, series.pixelHashes[uid], "slice \(index): pixels differ")
        }
    }
}
