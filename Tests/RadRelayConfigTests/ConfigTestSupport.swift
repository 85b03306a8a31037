import Foundation
import XCTest

@testable import RadRelayConfig

/// The smallest valid file: one gateway AE title, one destination, one route.
let minimalYAML = """
    gateway:
      ae_title: RADRELAY
    destinations:
      - name: pacs
        ae_title: PACS
        host: 10.0.0.5
        port: 104
    routes:
      - destinations: [pacs]
    """

/// Loads `yaml` as if it were `/etc/radrelay/radrelay.yaml`, with no systemd variables set.
func load(
    _ yaml: String,
    environment: [String: String] = [:],
    baseDirectory: String = "/etc/radrelay"
) throws(ConfigurationError) -> Configuration {
    try ConfigurationLoader.load(yaml: yaml, baseDirectory: baseDirectory, environment: environment)
}

/// The error that loading `yaml` throws; fails the test when it loads.
func loadError(_ yaml: String, file: StaticString = #filePath, line: UInt = #line) -> ConfigurationError? {
    do throws(ConfigurationError) {
        _ = try load(yaml)
        XCTFail("expected a configuration error", file: file, line: line)
        return nil
    } catch {
        return error
    }
}

/// Asserts that loading `yaml` fails with `kind` at `line`:`column` for `keyPath`, and that the
/// message contains `message`.
func assertError(
    _ yaml: String,
    _ kind: ConfigurationError.Kind,
    line: Int,
    column: Int,
    keyPath: String,
    message: String,
    file: StaticString = #filePath,
    testLine: UInt = #line
) {
    guard let error = loadError(yaml, file: file, line: testLine) else { return }
    XCTAssertEqual(error.kind, kind, "\(error)", file: file, line: testLine)
    XCTAssertEqual(error.line, line, "\(error)", file: file, line: testLine)
    XCTAssertEqual(error.column, column, "\(error)", file: file, line: testLine)
    XCTAssertEqual(error.keyPath, keyPath, "\(error)", file: file, line: testLine)
    XCTAssertTrue(error.message.contains(message), "\(error)", file: file, line: testLine)
    XCTAssertEqual(error.file, "radrelay.yaml", file: file, line: testLine)
}

/// The repository's checkout directory, found from this source file's path.
let repositoryRoot: URL = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent()  // RadRelayConfigTests
    .deletingLastPathComponent()  // Tests
    .deletingLastPathComponent()
