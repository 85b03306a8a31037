import Foundation
import RadRelayTestSupport
import XCTest

/// The state directory on a 20 MB tmpfs: objects that do not fit are refused with 0xA700, leave
/// no partial file, and once deliveries free the space the gateway accepts again without a
/// restart. Needs `mount` (root); skipped with a message otherwise.
final class DiskFullTests: FaultTestCase {
    private func mountSmallFileSystem(megabytes: Int = 20) throws -> URL {
        let mountPoint = try temp.subdirectory("statefs")
        let result = try ProcessRunner.run(
            "/bin/mount", ["-t", "tmpfs", "-o", "size=\(megabytes)m,mode=0700", "tmpfs", mountPoint.path], timeout: 10)
        guard result.exitCode == 0 else {
            throw XCTSkip("cannot mount a tmpfs (\(result.output.trimmingCharacters(in: .whitespacesAndNewlines))); "
                + "run the fault suite as root to test a full disk")
        }
        addCleanup { _ = try? ProcessRunner.run("/bin/umount", ["-l", mountPoint.path], timeout: 10) }
        return mountPoint
    }

    /// No watermark to speak of (1%): the disk really fills, writes fail with ENOSPC mid-object,
    /// and each such object gets 0xA700.
    func testDiskFullRefusesWithA700AndRecoversWithoutRestart() throws {
        try runDiskFull(minFreeDisk: "1%", case: "disk full (ENOSPC while writing)")
    }

    /// A watermark of 30%: objects are refused with 0xA700 before anything is written.
    func testLowWatermarkRefusesWithA700AndRecoversWithoutRestart() throws {
        try runDiskFull(minFreeDisk: "30%", case: "disk below min_free_disk")
    }

    private func runDiskFull(minFreeDisk: String, case name: String) throws {
        let fs = try mountSmallFileSystem()
        // 512×512 slices (~0.5 MB): 60 of them are 30 MB, far more than 20 MB.
        let files = try series(70, rows: 512)
        let orthanc = try makeOrthanc(start: false)
        var config = makeConfig(remotePort: orthanc.dicomPort, stateDirectory: fs.appendingPathComponent("state").path)
        config.minFreeDisk = minFreeDisk
        let daemon = try makeDaemon(config)
        let pid = daemon.pid

        let first = send(Array(files.prefix(60)), port: daemon.port)
        XCTAssertNil(first.error, "the association broke instead of refusing: \(first.error ?? "")")
        let statuses = first.statuses.map(\.status)
        let accepted = statuses.filter { $0 == 0 }.count
        let refused = statuses.filter { $0 == 0xA700 }.count
        XCTAssertGreaterThan(accepted, 10, "statuses: \(statuses)")
        XCTAssertGreaterThan(refused, 0, "nothing was refused: the disk never filled")
        XCTAssertEqual(accepted + refused, statuses.count, "statuses other than 0x0000 and 0xA700: \(Set(statuses))")
        if let firstRefusal = statuses.firstIndex(of: 0xA700) {
            XCTAssertFalse(statuses[firstRefusal...].contains(0), "accepted again while the disk was still full")
        }
        XCTAssertTrue(daemon.isRunning, daemon.failureContext())
        let incoming = regularFiles(under: daemon.incomingDirectory)
        XCTAssertTrue(incoming.isEmpty, "partial files left: \(incoming)")
        try assertLiveInvariants(daemon, acknowledged: first.acknowledged)

        // The remote comes up: deliveries drain, their files go, space returns; no restart.
        try orthanc.start()
        try waitFor(daemon, "backlog delivered", timeout: 120) { $0.totalPending == 0 && $0.totalDelivered == accepted }
        let second = send(Array(files[60...]), port: daemon.port)
        XCTAssertEqual(second.acknowledged.count, 10, "after space came back: \(second.statuses) \(second.error ?? "")")
        XCTAssertEqual(daemon.pid, pid, "the daemon was restarted")
        try waitFor(daemon, "all delivered", timeout: 60) { $0.totalPending == 0 }

        var expect = OutboxInvariants.Expectations()
        expect.acknowledged = first.acknowledged.union(second.acknowledged)
        expect.requireDelivered = true
        expect.remoteCounts = orthanc.receivedStoreCounts()
        try assertInvariants(
            daemon, expect, case: name, note: "\(accepted) accepted, \(refused) refused 0xA700, then 10 accepted again")
    }
}
