import Foundation
import RadRelayTestSupport

/// A generated CT series: files in order, with each file's SOP Instance UID and Pixel Data digest.
struct CTSeries: Sendable {
    let directory: URL
    let digests: [PixelData.Digest]

    var files: [URL] { digests.map(\.file) }
    var uids: Set<String> { Set(digests.map(\.sopInstanceUID)) }
    var pixelHashes: [String: String] {
        Dictionary(uniqueKeysWithValues: digests.map { ($0.sopInstanceUID, $0.sha256) })
    }

    /// The first `count` slices.
    func prefix(_ count: Int) -> CTSeries { CTSeries(directory: directory, digests: Array(digests.prefix(count))) }
}

/// Test data shared by the end-to-end tests of one test run: generated once, read-only, removed
/// at process exit. Each test still has its own temp dir, ports, Orthanc and daemon.
final class SharedTestData: @unchecked Sendable {
    static let shared = SharedTestData()

    private let lock = NSLock()
    private var directory: TemporaryDirectory?
    private var series: CTSeries?

    private init() {
        atexit {
            SharedTestData.shared.removeAll()
        }
    }

    /// A 100-slice CT series, 512×512, 16-bit.
    func ctSeries100() throws -> CTSeries {
        lock.lock()
        defer { lock.unlock() }
        if let series { return series }
        let base = try directory ?? TemporaryDirectory(prefix: "radrelay-e2e-data")
        directory = base
        let dir = try base.subdirectory("ct100")
        try TestData.makeCTSeries(count: 100, in: dir)
        let files = try FileManager.default.contentsOfDirectory(at: dir, includingPropertiesForKeys: nil)
            .filter { $0.pathExtension == "dcm" }
            .sorted { $0.path < $1.path }
        let made = CTSeries(directory: dir, digests: try PixelData.digests(files: files))
        guard made.digests.count == 100, made.uids.count == 100 else {
            throw HarnessError("CT series generation gave \(made.digests.count) files, \(made.uids.count) UIDs")
        }
        series = made
        return made
    }

    private func removeAll() {
        lock.lock()
        directory?.remove()
        lock.unlock()
    }
}
