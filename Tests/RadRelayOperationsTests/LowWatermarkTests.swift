import Foundation
import RadRelayTestSupport
import XCTest

#if canImport(Glibc)
    import Glibc
#endif

/// The disk low watermark on a real small file system (a 48 MiB tmpfs as the state directory):
/// ingest is refused with 0xA700 before the disk is full, status says so, and objects are
/// accepted again once space is freed above the resume threshold — without a restart.
final class LowWatermarkTests: OperationsTestCase {
    func testRefusesBeforeFullAndResumesWithHysteresis() throws {
        let state = try temp.subdirectory("tmpfs-state")
        let mount = try ProcessRunner.run("/bin/mount", ["-t", "tmpfs", "-o", "size=48m", "tmpfs", state.path])
        guard mount.exitCode == 0 else {
            throw XCTSkip("cannot mount a tmpfs here (needs root / CAP_SYS_ADMIN): \(mount.output)")
        }
        addCleanup { _ = try? ProcessRunner.run("/bin/umount", ["-l", state.path]) }
        var config = makeConfig(remotePort: freeLoopbackPort())
        config.stateDirectory = state.path
        config.minFreeDisk = "16MiB"
        config.extraGatewayLines = ["resume_free_disk: 24MiB"]
        let daemon = try makeDaemon(config)
        let port = try daemon.port()
        let pid = daemon.pid
        let files = try makeSeries(count: 1)
        XCTAssertEqual(try StoreSCU.send(files: files, port: port, calledAE: "RADRELAY").exitCode, 0)

        // Leave ~12 MiB free: below the 16 MiB watermark, far from full.
        let filler = state.appendingPathComponent("filler")
        let free = try freeBytes(state.path)
        try Data(count: Int(free) - 12 * 1024 * 1024).write(to: filler)
        let refused = try StoreSCU.send(files: try makeSeries(count: 1, name: "ct2"), port: port, calledAE: "RADRELAY")
        XCTAssertNotEqual(refused.exitCode, 0, "accepted below the watermark: \(refused.output)")
        try pollUntil("refusal logged", timeout: 5, detail: daemon.logTail()) { daemon.log.contains("Disk below min_free_disk") }
        let status = try daemon.json("/status")
        let disk = status["disk"] as? [String: Any]
        XCTAssertEqual(disk?["low"] as? Bool, true, "\(status)")
        XCTAssertEqual(status["ready"] as? Bool, false)
        XCTAssertGreaterThan(try freeBytes(state.path), 8 * 1024 * 1024, "the disk filled up after all")

        // Hysteresis: 20 MiB free is above the low mark but below resume (24 MiB): still refused.
        try FileHandle(forWritingTo: filler).truncate(atOffset: UInt64(max(0, Int(free) - 20 * 1024 * 1024)))
        let stillRefused = try StoreSCU.send(files: try makeSeries(count: 1, name: "ct3"), port: port, calledAE: "RADRELAY")
        XCTAssertNotEqual(stillRefused.exitCode, 0, "resumed before resume_free_disk: \(stillRefused.output)")

        // Space freed: accepted again, same process.
        try FileManager.default.removeItem(at: filler)
        let accepted = try StoreSCU.send(files: try makeSeries(count: 1, name: "ct4"), port: port, calledAE: "RADRELAY")
        XCTAssertEqual(accepted.exitCode, 0, "not accepted after space was freed: \(accepted.output)")
        XCTAssertEqual(daemon.pid, pid)
        XCTAssertEqual((try daemon.json("/status")["disk"] as? [String: Any])?["low"] as? Bool, false)
        XCTAssertTrue(daemon.log.contains("Disk below min_free_disk"))
        XCTAssertTrue(daemon.log.contains("Disk space recovered"))
    }

    private func freeBytes(_ path: String) throws -> UInt64 {
        var info = statvfs()
        guard statvfs(path, &info) == 0 else { throw HarnessError("statvfs \(path)") }
        return UInt64(info.f_bavail) * UInt64(info.f_frsize)
    }
}
