import Foundation
import RadRelayTestSupport
import XCTest

/// The unit file, checked the way it can be without systemd as PID 1: `systemd-analyze verify`
/// on a copy whose ExecStart points at the built binary (verify fails on a missing path), and
/// `systemd-analyze security --offline=true`, which must rate it 2.0 or better ("OK").
final class SystemdUnitTests: XCTestCase {
    func testUnitVerifiesAndIsHardened() throws {
        let analyze = "/usr/bin/systemd-analyze"
        guard FileManager.default.isExecutableFile(atPath: analyze) else {
            throw HarnessError("systemd-analyze is missing: run scripts/setup.sh --test")
        }
        let temp = try TemporaryDirectory(prefix: "radrelay-unit")
        defer { temp.remove() }
        let repo = ProcessRunner.repositoryRoot
        let unit = try String(contentsOf: repo.appendingPathComponent("systemd/radrelay.service"), encoding: .utf8)
        let binary = try RadRelayDaemonProcess.binaryURL().path
        let copy = temp.file("radrelay.service")
        try unit.replacingOccurrences(of: "/usr/bin/radrelayd", with: binary).write(
            to: copy, atomically: true, encoding: .utf8)

        for required in [
            "Type=notify", "WatchdogSec=", "ExecReload=/usr/bin/radrelayd --check-config", "ExecReload=/bin/kill -HUP",
            "UMask=0077", "LimitCORE=0", "StateDirectory=radrelay", "RuntimeDirectory=radrelay",
            "ConfigurationDirectory=radrelay", "User=radrelay", "Environment=TCP_NODELAY=1",
        ] {
            XCTAssertTrue(unit.contains(required), "unit lacks \(required)")
        }

        let verify = try ProcessRunner.run(analyze, ["verify", copy.path], timeout: 60)
        XCTAssertEqual(verify.exitCode, 0, "systemd-analyze verify:\n\(verify.output)")

        let security = try ProcessRunner.run(analyze, ["security", "--offline=true", copy.path], timeout: 60)
        let line = security.output.split(separator: "\n").first { $0.contains("Overall exposure level") } ?? ""
        let score = line.split(separator: " ").compactMap { Double($0) }.first
        XCTAssertNotNil(score, "no exposure score:\n\(security.output)")
        XCTAssertLessThanOrEqual(score ?? 10, 2.0, "exposure above 2.0:\n\(line)")

        // The sysusers.d and tmpfiles.d snippets parse.
        let sysusers = repo.appendingPathComponent("systemd/radrelay.sysusers")
        let tmpfiles = repo.appendingPathComponent("systemd/radrelay.tmpfiles")
        let users = try ProcessRunner.run(
            "/usr/bin/systemd-sysusers", ["--dry-run", "--root", temp.path, sysusers.path], timeout: 30)
        XCTAssertEqual(users.exitCode, 0, users.output)
        XCTAssertTrue(users.output.contains("radrelay"), users.output)
        let files = try String(contentsOf: tmpfiles, encoding: .utf8)
        XCTAssertTrue(files.contains("/var/lib/radrelay"))
    }

    func testInstallHonoursDestdirAndPrefix() throws {
        let temp = try TemporaryDirectory(prefix: "radrelay-install")
        defer { temp.remove() }
        let binDir = try RadRelayDaemonProcess.binaryURL().deletingLastPathComponent()
        let result = try ProcessRunner.run(
            "/bin/bash", [ProcessRunner.repositoryRoot.appendingPathComponent("scripts/install.sh").path, binDir.path],
            environment: ["DESTDIR": temp.path, "PREFIX": "/opt/rr"], timeout: 60)
        XCTAssertEqual(result.exitCode, 0, result.output)
        for path in [
            "opt/rr/bin/radrelayd", "opt/rr/bin/radrelayctl", "opt/rr/lib/systemd/system/radrelay.service",
            "opt/rr/lib/sysusers.d/radrelay.conf", "opt/rr/lib/tmpfiles.d/radrelay.conf",
            "opt/rr/share/doc/radrelay/operations.md", "opt/rr/share/doc/radrelay/conformance-statement.md",
            "etc/radrelay/radrelay.yaml",
        ] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: temp.file(path).path), "missing \(path)")
        }
        let unit = try String(contentsOf: temp.file("opt/rr/lib/systemd/system/radrelay.service"), encoding: .utf8)
        XCTAssertTrue(unit.contains("ExecStart=/opt/rr/bin/radrelayd"), unit)
        let config = try String(contentsOf: temp.file("etc/radrelay/radrelay.yaml"), encoding: .utf8)
        XCTAssertFalse(config.contains("state_dir: ../var"), "installed config keeps the checkout's state_dir")
    }
}
