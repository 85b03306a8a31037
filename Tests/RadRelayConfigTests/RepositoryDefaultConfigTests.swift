import Foundation
import RadRelayCore
import XCTest

@testable import RadRelayConfig

/// `etc/radrelay.yaml` must load as is on a fresh machine and document every key.
final class RepositoryDefaultConfigTests: XCTestCase {
    private let path = repositoryRoot.appendingPathComponent("etc/radrelay.yaml").path

    func testRepositoryDefaultValidatesAndStartsOnLoopback() throws {
        let config = try ConfigurationLoader.load(path: path, environment: [:])
        XCTAssertEqual(config.gateway.stateDirectory, repositoryRoot.standardizedFileURL.path + "/var")
        XCTAssertNil(config.gateway.runtimeDirectory)
        XCTAssertEqual(config.gateway.bind, "127.0.0.1")
        XCTAssertEqual(config.gateway.port, 11112)
        XCTAssertEqual(config.gateway.aeTitle.value, "RADRELAY")
    }

    func testRepositoryDefaultAdmitsStorescuFromThisMachineOnly() throws {
        let callers = try ConfigurationLoader.load(path: path, environment: [:]).gateway.allowedCallers
        XCTAssertEqual(callers.map(\.aeTitle.value), ["STORESCU"], "DCMTK storescu's default calling AE title")
        let hosts = callers[0].hosts
        XCTAssertTrue(hosts.contains { $0.contains("127.0.0.1") })
        XCTAssertFalse(hosts.contains { $0.contains("10.0.0.1") })
    }

    func testRepositoryDefaultForwardsToALoopbackDestination() throws {
        let config = try ConfigurationLoader.load(path: path, environment: [:])
        XCTAssertEqual(config.destinations.count, 1)
        let destination = config.destinations[0]
        XCTAssertEqual(destination.aeTitle.value, "ORTHANC")
        XCTAssertEqual(destination.host, "127.0.0.1")
        XCTAssertEqual(destination.port, 4242)
        XCTAssertEqual(config.routes.flatMap(\.destinations), [destination.name])
    }

    func testRepositoryDefaultSpellsOutTheDefaults() throws {
        let config = try ConfigurationLoader.load(path: path, environment: [:])
        let defaults = try load(minimalYAML)
        XCTAssertEqual(config.gateway.timeouts, defaults.gateway.timeouts)
        XCTAssertEqual(config.gateway.minFreeDisk, defaults.gateway.minFreeDisk)
        XCTAssertEqual(config.gateway.maxObjectSize, defaults.gateway.maxObjectSize)
        XCTAssertEqual(config.gateway.maxPDULength, defaults.gateway.maxPDULength)
        XCTAssertEqual(config.destinations[0].retry, defaults.destinations[0].retry)
        XCTAssertEqual(config.outbox, defaults.outbox)
        XCTAssertEqual(config.logging, defaults.logging)
    }

    /// Each key the loader accepts appears in the file, set or commented out, so the file stays
    /// the reference for admins when keys are added.
    func testRepositoryDefaultDocumentsEveryKey() throws {
        let text = try String(contentsOfFile: path, encoding: .utf8)
        let keys =
            ConfigurationParser.rootKeys + ConfigurationParser.gatewayKeys + ConfigurationParser.allowedCallerKeys
            + ConfigurationParser.timeoutKeys + ConfigurationParser.dicomDestinationKeys
            + ConfigurationParser.retryKeys + ConfigurationParser.routeKeys + ConfigurationParser.matchKeys
            + ConfigurationParser.outboxKeys + ConfigurationParser.loggingKeys
        for key in Set(keys) where key != "Modality" {
            XCTAssertTrue(text.contains("\(key):"), "etc/radrelay.yaml does not document '\(key)'")
        }
    }
}
