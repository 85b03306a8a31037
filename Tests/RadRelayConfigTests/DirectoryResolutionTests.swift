import Foundation
import RadRelayConfig
import XCTest

final class DirectoryResolutionTests: XCTestCase {
    private func yaml(gatewayExtra: String) -> String {
        minimalYAML.replacingOccurrences(of: "  ae_title: RADRELAY", with: "  ae_title: RADRELAY\n" + gatewayExtra)
    }

    func testStateDirectoryDefaultsToSystemdsStateDirectory() throws {
        let config = try load(minimalYAML, environment: ["STATE_DIRECTORY": "/var/lib/radrelay-a"])
        XCTAssertEqual(config.gateway.stateDirectory, "/var/lib/radrelay-a")
    }

    func testOnlyTheFirstOfSeveralSystemdStateDirectoriesIsUsed() throws {
        let environment = ["STATE_DIRECTORY": "/var/lib/radrelay:/var/lib/radrelay-extra"]
        XCTAssertEqual(try load(minimalYAML, environment: environment).gateway.stateDirectory, "/var/lib/radrelay")
    }

    func testEmptyStateDirectoryVariableIsIgnored() throws {
        let config = try load(minimalYAML, environment: ["STATE_DIRECTORY": ""])
        XCTAssertEqual(config.gateway.stateDirectory, ConfigurationLoader.defaultStateDirectory)
    }

    func testExplicitStateDirectoryWinsOverSystemd() throws {
        let config = try load(
            yaml(gatewayExtra: "  state_dir: /data/rr"), environment: ["STATE_DIRECTORY": "/var/lib/x"])
        XCTAssertEqual(config.gateway.stateDirectory, "/data/rr")
    }

    func testRelativeStateDirectoryIsRelativeToTheConfigFilesDirectory() throws {
        let table = [
            ("../var", "/srv/var"), ("state", "/srv/conf/state"), ("./a/../b/", "/srv/conf/b"),
            ("../../../..", "/"), ("/abs//x/./y", "/abs/x/y"),
        ]
        for (written, resolved) in table {
            let config = try load(yaml(gatewayExtra: "  state_dir: \(written)"), baseDirectory: "/srv/conf")
            XCTAssertEqual(config.gateway.stateDirectory, resolved, written)
        }
    }

    func testRuntimeDirectoryDefaultsToSystemdsRuntimeDirectoryElseNil() throws {
        XCTAssertNil(try load(minimalYAML).gateway.runtimeDirectory)
        let environment = ["RUNTIME_DIRECTORY": "/run/radrelay:/run/other"]
        XCTAssertEqual(try load(minimalYAML, environment: environment).gateway.runtimeDirectory, "/run/radrelay")
        let relative = try load(yaml(gatewayExtra: "  runtime_dir: ../run"), baseDirectory: "/srv/conf")
        XCTAssertEqual(relative.gateway.runtimeDirectory, "/srv/run")
    }

    func testLoadingAFileResolvesAgainstItsDirectoryAndNamesIt() throws {
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("radrelay-config-\(UUID().uuidString)/conf", isDirectory: true)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory.deletingLastPathComponent()) }
        let path = directory.appendingPathComponent("radrelay.yaml").path
        try yaml(gatewayExtra: "  state_dir: ../state").write(toFile: path, atomically: true, encoding: .utf8)

        let config = try ConfigurationLoader.load(path: path, environment: [:])
        XCTAssertEqual(config.gateway.stateDirectory, directory.deletingLastPathComponent().path + "/state")

        try "gateway: {ae_title: GW}\nrouts: []\n".write(toFile: path, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try ConfigurationLoader.load(path: path, environment: [:])) { error in
            XCTAssertEqual((error as? ConfigurationError)?.file, path)
            XCTAssertEqual((error as? ConfigurationError)?.line, 2)
        }
    }

    func testUnreadableFiles() {
        let missing = "/nonexistent/radrelay.yaml"
        XCTAssertThrowsError(try ConfigurationLoader.load(path: missing, environment: [:])) { error in
            XCTAssertEqual(
                error as? ConfigurationError,
                ConfigurationError(
                    file: missing, line: 1, column: 1, keyPath: "", message: "no such file", kind: .unreadable)
            )
            XCTAssertEqual("\(error)", "/nonexistent/radrelay.yaml:1:1: no such file")
        }
        XCTAssertThrowsError(try ConfigurationLoader.load(path: "/", environment: [:])) { error in
            XCTAssertEqual((error as? ConfigurationError)?.kind, .unreadable)
        }
    }
}
