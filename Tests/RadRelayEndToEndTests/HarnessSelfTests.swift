import Foundation
import RadRelayTestSupport
import XCTest

/// The harness checked on its own against real DCMTK tools and Orthanc, without the daemon: if
/// these fail, an end-to-end failure says nothing about radrelay.
final class HarnessSelfTests: EndToEndTestCase {
    /// Orthanc counts every received C-STORE, re-sends of an existing instance included, and
    /// serves the stored pixel data unchanged.
    func testOrthancCountsEveryCStoreIncludingResends() throws {
        let orthanc = try makeOrthanc()
        let data = try temp.subdirectory("data")
        try TestData.makeCTSeries(count: 3, in: data, rows: 64, columns: 64)
        let digests = try PixelData.digests(
            files: try FileManager.default.contentsOfDirectory(
                at: data, includingPropertiesForKeys: nil
            ).sorted { $0.path < $1.path })

        var result = try StoreSCU.send(files: digests.map(\.file), port: orthanc.dicomPort, calledAE: "ORTHANC")
        XCTAssertEqual(result.exitCode, 0, result.output)
        result = try StoreSCU.send(files: [digests[0].file], port: orthanc.dicomPort, calledAE: "ORTHANC")
        XCTAssertEqual(result.exitCode, 0, result.output)

        let counts = orthanc.receivedStoreCounts()
        XCTAssertEqual(
            counts, [digests[0].sopInstanceUID: 2, digests[1].sopInstanceUID: 1, digests[2].sopInstanceUID: 1])
        XCTAssertEqual(try orthanc.instanceUIDs(), Set(digests.map(\.sopInstanceUID)))
        XCTAssertEqual(try orthanc.pixelDataSHA256(sopInstanceUID: digests[1].sopInstanceUID), digests[1].sha256)
        XCTAssertEqual(
            try orthanc.pixelDataSHA256ByUID(),
            Dictionary(uniqueKeysWithValues: digests.map { ($0.sopInstanceUID, $0.sha256) }))
    }

    /// Orthanc starts with the DICOMweb plugin and answers QIDO-RS at `/dicom-web/`.
    func testOrthancWithDICOMwebPlugin() throws {
        var options = OrthancProcess.Options()
        options.dicomWeb = true
        let orthanc = try OrthancProcess(directory: try temp.subdirectory("orthanc-web"), options: options)
        addCleanup { orthanc.kill() }
        try orthanc.start()
        let response = try SimpleHTTPClient.request(orthanc.endpoint, path: "/dicom-web/studies")
        XCTAssertEqual(response.status, 200, response.text)
    }

    /// The fault proxy forwards, throttles, delays, stalls, resets and refuses as documented.
    func testFaultProxyFaults() throws {
        let orthanc = try makeOrthanc()
        let proxy = try makeProxy(to: orthanc.dicomPort)
        let series = try SharedTestData.shared.ctSeries100()

        // Pass-through.
        var echo = try EchoSCU.echo(port: proxy.port, calledAE: "ORTHANC")
        XCTAssertEqual(echo.exitCode, 0, echo.output)

        // Throttle: 6 slices (~3.1 MB) at 2 MB/s take well over a second.
        proxy.bytesPerSecond = 2_000_000
        let throttled = try StoreSCU.send(files: Array(series.files.prefix(6)), port: proxy.port, calledAE: "ORTHANC")
        XCTAssertEqual(throttled.exitCode, 0, throttled.output)
        XCTAssertGreaterThan(throttled.duration, 1.2, "throttle had no effect")
        XCTAssertLessThan(throttled.duration, 8.0, "throttle far slower than asked")
        proxy.clearFaults()

        // Delay: every chunk waits 0.2 s; an echo needs at least 4 chunks (RQ, AC, C-ECHO, RSP).
        proxy.delay = 0.2
        echo = try EchoSCU.echo(port: proxy.port, calledAE: "ORTHANC")
        XCTAssertEqual(echo.exitCode, 0, echo.output)
        XCTAssertGreaterThan(echo.duration, 0.8)
        proxy.clearFaults()

        // Stall: exactly 100 000 bytes get through, then nothing; storescu's DIMSE timeout fires.
        var before = proxy.statistics.upstreamBytes
        proxy.stallAfter(bytes: 100_000)
        let storesBefore = orthanc.receivedStoreLog().count
        let stalled = try StoreSCU.send(
            files: [series.files[10]], port: proxy.port, calledAE: "ORTHANC",
            extraArguments: ["-to", "2", "-ta", "2", "-td", "2"], timeout: 30)
        XCTAssertNotEqual(stalled.exitCode, 0, "store through a stalled proxy succeeded")
        XCTAssertEqual(proxy.statistics.upstreamBytes - before, 100_000)
        XCTAssertEqual(orthanc.receivedStoreLog().count, storesBefore)
        proxy.clearFaults()

        // Reset after N bytes.
        before = proxy.statistics.upstreamBytes
        let resetsBefore = proxy.statistics.resets
        proxy.resetAfter(bytes: 50_000)
        let reset = try StoreSCU.send(files: [series.files[11]], port: proxy.port, calledAE: "ORTHANC", timeout: 30)
        XCTAssertNotEqual(reset.exitCode, 0, "store through a resetting proxy succeeded")
        XCTAssertEqual(proxy.statistics.upstreamBytes - before, 50_000)
        XCTAssertGreaterThan(proxy.statistics.resets, resetsBefore)
        proxy.clearFaults()

        // Refusals, and recovery on the same port.
        for mode in [TCPFaultProxy.RefuseMode.notListening, .reset, .close] {
            proxy.refuse = mode
            if mode == .notListening {
                try pollUntil("proxy stopped listening", timeout: 2) {
                    (try? Socket.connectTCP(host: "127.0.0.1", port: proxy.port, timeout: 1)).map { close($0) } == nil
                }
            }
            echo = try EchoSCU.echo(port: proxy.port, calledAE: "ORTHANC", timeout: 3)
            XCTAssertNotEqual(echo.exitCode, 0, "echo through refusing proxy (\(mode)) succeeded")
            proxy.refuse = nil
            try pollUntil("proxy accepts again after \(mode)", timeout: 3) {
                (try? EchoSCU.echo(port: proxy.port, calledAE: "ORTHANC", timeout: 3))?.exitCode == 0
            }
        }
        // The last connection winds down once Orthanc has closed its side too.
        try pollUntil("no proxied connection left", timeout: 5, detail: { "\(proxy.statistics)" }) {
            proxy.statistics.active == 0
        }
        proxy.stop()
    }

    /// The raw client reads A-ASSOCIATE-RJ result/source/reason exactly, and can echo and release.
    func testRawClientAgainstOrthanc() throws {
        var options = OrthancProcess.Options()
        options.extraConfiguration = ["DicomCheckCalledAet": "true"]
        let orthanc = try OrthancProcess(directory: try temp.subdirectory("orthanc-check"), options: options)
        addCleanup { orthanc.stop() }
        try orthanc.start()

        let wrong = try RawDICOMClient(port: orthanc.dicomPort)
        let reply = try wrong.requestAssociation(calledAE: "NOT_ORTHANC", callingAE: "TESTER")
        XCTAssertEqual(reply, .rejected(result: 1, source: 1, reason: 7))

        let client = try RawDICOMClient(port: orthanc.dicomPort)
        let accepted = try client.requestAssociation(calledAE: "ORTHANC", callingAE: "TESTER")
        XCTAssertTrue(accepted.isAccepted, "\(accepted)")
        XCTAssertEqual(try client.echo(), 0x0000)
        XCTAssertTrue(try client.release())
    }

    /// The pynetdicom script crafts each bad object as described and gets a response.
    func testPyNetDICOMCasesAgainstOrthanc() throws {
        let orthanc = try makeOrthanc()
        let data = try temp.subdirectory("data")
        try TestData.makeCTSeries(count: 1, in: data, rows: 64, columns: 64)
        let source = data.appendingPathComponent("ct0001.dcm")
        // Not `.truncated`: Orthanc (DCMTK) waits for the missing bytes until its 30 s DIMSE timeout.
        for c in PyNetDICOMStore.Case.allCases where c != .truncated {
            let r = try PyNetDICOMStore.send(
                c, source: source, workDirectory: temp.url, port: orthanc.dicomPort,
                calledAE: "ORTHANC")
            XCTAssertTrue(r.associated, "\(r)")
            switch c {
            case .good:
                XCTAssertEqual(r.status, 0, "\(r)")
                XCTAssertEqual(r.commandSOPInstanceUID, r.datasetSOPInstanceUID)
            case .traversalUID:
                XCTAssertEqual(r.commandSOPInstanceUID, "../../x")
                XCTAssertEqual(r.datasetSOPInstanceUID, "../../x")
            case .uidMismatch:
                XCTAssertNotEqual(r.commandSOPInstanceUID, r.datasetSOPInstanceUID)
                XCTAssertNotNil(r.datasetSOPInstanceUID)
            case .missingUID:
                XCTAssertNil(r.datasetSOPInstanceUID)
            case .classMismatch:
                XCTAssertEqual(r.commandSOPInstanceUID, r.datasetSOPInstanceUID)
            case .truncated:
                break
            }
            print("harness: Orthanc answered \(r)")
        }
    }
}
