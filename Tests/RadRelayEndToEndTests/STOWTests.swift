import Foundation
import RadRelayTestSupport
import XCTest

/// DICOMweb STOW-RS destinations end to end (issue 5) against Orthanc's DICOMweb plugin: the
/// CT series arrives with identical pixel data, batched by the configured limits, streamed
/// from the spool (memory stays flat), next to a DICOM destination.
final class STOWTests: EndToEndTestCase {
    private func makeDICOMwebOrthanc() throws -> OrthancProcess {
        var options = OrthancProcess.Options()
        options.dicomWeb = true
        let orthanc = try OrthancProcess(directory: try temp.subdirectory("orthanc-web"), options: options)
        try orthanc.start()
        addCleanup { orthanc.stop() }
        return orthanc
    }

    private func stowLines(name: String, url: String, extra: [String]) -> [String] {
        ["  - name: \"\(name)\"", "    kind: stow", "    url: \"\(url)\"", "    associations: 1",
         "    retry: { base_delay: \"1s\", max_delay: \"2s\" }"]
            + extra.map { "    " + $0 }
    }

    private func logText(_ daemon: RadRelayDaemonProcess) -> String {
        (try? String(contentsOf: daemon.logURL, encoding: .utf8)) ?? ""
    }

    /// 40 CT slices through the gateway to Orthanc over STOW-RS (10 instances per request) and
    /// over DICOM to a second Orthanc: both hold every instance with identical pixel data.
    func testCTSeriesArrivesOverSTOWInSeveralRequestsBesideDICOM() throws {
        let web = try makeDICOMwebOrthanc()
        let dicom = try makeOrthanc()
        let series = try SharedTestData.shared.ctSeries100().prefix(40)
        var config = try makeConfig(remotePort: dicom.dicomPort, associations: 1)
        config.extraDestinationLines = stowLines(
            name: "cloud", url: "http://127.0.0.1:\(web.httpPort)/dicom-web",
            extra: ["max_instances_per_request: 10", "max_bytes_per_request: 64MB"])
        config.extraDestinationNames = ["cloud"]
        let daemon = try makeDaemon(config)
        try storeOrFail(series.files, to: daemon)
        try waitForAllDelivered(80, daemon: daemon, timeout: 60)
        try assertOrthancHolds(series.uids, web)
        try assertOrthancHolds(series.uids, dicom)
        XCTAssertEqual(try web.pixelDataSHA256ByUID(), series.pixelHashes, "identical pixel data over STOW-RS")
        XCTAssertEqual(try dicom.pixelDataSHA256ByUID(), series.pixelHashes)
        // Request sizes (limits, 413 halving) are checked against ScriptedHTTPPeer in
        // RadRelayDICOMwebTests; the forwarder's log line carries no batch size.
    }

    /// A ~60 MB study in requests of up to 1 GB: bodies stream from the spool files, so the
    /// daemon's peak RSS (ingest included) grows by far less than the study.
    func testLargeRequestStreamsWithFlatMemory() throws {
        let web = try makeDICOMwebOrthanc()
        let dir = try temp.subdirectory("big")
        try TestData.makeCTSeries(count: 60, in: dir, rows: 1024, columns: 512)  // 1 MiB pixel data each
        let files = try FileManager.default.contentsOfDirectory(at: dir, includingPropertiesForKeys: nil)
            .filter { $0.pathExtension == "dcm" }.sorted { $0.path < $1.path }
        var config = try makeConfig(remotePort: freeLoopbackPort())
        config.destinations = []
        config.extraDestinationLines = stowLines(
            name: "cloud", url: "http://127.0.0.1:\(web.httpPort)/dicom-web",
            extra: ["max_instances_per_request: 100", "max_bytes_per_request: 1GB"])
        config.extraDestinationNames = ["cloud"]
        config.routes = [["cloud"]]
        let daemon = try makeDaemon(config)
        let beforeSend = try daemon.peakRSSKiB()
        try storeOrFail(files, to: daemon)
        try waitForAllDelivered(60, daemon: daemon, timeout: 60)
        let peak = try daemon.peakRSSKiB()
        let requestBytes = files.reduce(0) { $0 + ((try? $1.resourceValues(forKeys: [.fileSizeKey]).fileSize) ?? 0) }
        XCTAssertGreaterThan(requestBytes, 60_000_000)
        XCTAssertLessThan(
            (peak - beforeSend) * 1024, requestBytes / 2,
            "peak RSS grew \(peak - beforeSend) KiB for a \(requestBytes / 1_000_000) MB request")
        XCTAssertEqual(try web.instanceUIDs().count, 60)
    }

    /// A 2 MB/s cap on a STOW-RS destination (`bandwidth`, paced per body chunk): ~9.5 MB in
    /// requests of 3 instances reach Orthanc at an effective rate within −50 %/+15 % of the cap,
    /// all of it. Measured from the first byte on the wire (a counting proxy in front of
    /// Orthanc's HTTP port) until Orthanc holds every instance.
    func testBandwidthCapPacesSTOW() throws {
        let web = try makeDICOMwebOrthanc()
        let meter = try makeProxy(to: web.httpPort)  // no fault: it only counts bytes
        let dir = try temp.subdirectory("capped")
        try TestData.makeCTSeries(count: 9, in: dir, rows: 1024, columns: 512)  // 1 MiB pixel data each
        let files = try FileManager.default.contentsOfDirectory(at: dir, includingPropertiesForKeys: nil)
            .filter { $0.pathExtension == "dcm" }.sorted { $0.path < $1.path }
        let uids = Set(try PixelData.digests(files: files).map(\.sopInstanceUID))
        let cap = 2_000_000.0
        var config = try makeConfig(remotePort: freeLoopbackPort())
        config.destinations = []
        config.extraDestinationLines = stowLines(
            name: "cloud", url: "http://127.0.0.1:\(meter.port)/dicom-web",
            extra: ["max_instances_per_request: 3", "bandwidth: 2MB/s"])
        config.extraDestinationNames = ["cloud"]
        config.routes = [["cloud"]]
        let daemon = try makeDaemon(config)
        func stored() -> Int {
            let statistics = try? SimpleHTTPClient.getJSON(web.endpoint, path: "/statistics") as? [String: Any]
            return (statistics?["CountInstances"] as? Int) ?? 0
        }
        try storeOrFail(files, to: daemon)
        try pollUntil("first STOW-RS bytes", timeout: 10, interval: 0.005) { meter.statistics.upstreamBytes > 0 }
        let started = monotonicSeconds()
        try pollUntil("every instance at Orthanc", timeout: 30, interval: 0.05, detail: daemon.logTail()) {
            stored() >= files.count
        }
        let elapsed = monotonicSeconds() - started
        let bytes = Double(meter.statistics.upstreamBytes)
        let rate = bytes / elapsed
        print(
            String(
                format: "e2e: STOW-RS cap 2.00 MB/s: %.2f MB in %.2f s = %.3f MB/s (%.2f × cap)", bytes / 1e6, elapsed,
                rate / 1e6, rate / cap))
        XCTAssertGreaterThan(bytes, 9_000_000)
        XCTAssertLessThanOrEqual(rate, cap * 1.15, "the cap does not pace STOW-RS")
        XCTAssertGreaterThanOrEqual(rate, cap * 0.5, "far slower than the cap")
        try waitForAllDelivered(files.count, daemon: daemon, timeout: 10)
        try assertOrthancHolds(uids, web)
        XCTAssertEqual(try daemon.status().totalDead, 0)
    }
}
