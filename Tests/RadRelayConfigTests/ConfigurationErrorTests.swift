@testable import RadRelayConfig
import XCTest

/// One test per kind of mistake, each checking the exact line and column reported.
final class ConfigurationErrorTests: XCTestCase {
    // MARK: - Description

    func testDescriptionIsFileLineColumnKeyPathMessage() {
        let yaml = """
            gateway:
              ae_title: RADRELAY
              allowed_callers:
                - ae_title: ABCDEFGHIJKLMNOPQ
            """
        XCTAssertEqual(
            loadError(yaml)?.description,
            "radrelay.yaml:4:17: gateway.allowed_callers[0].ae_title: AE title has 17 characters (at most 16)"
        )
    }

    // MARK: - Whole file

    func testSyntaxErrorNamesItsLine() {
        let yaml = """
            gateway:
              ae_title: RADRELAY
               port: 104
            """
        guard let error = loadError(yaml) else { return }
        XCTAssertEqual(error.kind, .syntax)
        XCTAssertEqual(error.line, 3)
        XCTAssertEqual(error.keyPath, "")
        XCTAssertTrue(error.description.hasPrefix("radrelay.yaml:3:"), error.description)
    }

    func testUnclosedFlowListIsASyntaxError() {
        assertError(
            "gateway:\n  ae_title: GW\n  additional_ae_titles: [A, B\n", .syntax, line: 4, column: 1, keyPath: "",
            message: "not valid YAML")
    }

    func testEmptyFile() {
        assertError("# only a comment\n", .missingKey, line: 1, column: 1, keyPath: "", message: "the file is empty")
    }

    func testTopLevelMustBeAMapping() {
        assertError("\n- gateway\n", .wrongType, line: 2, column: 1, keyPath: "", message: "expected a mapping")
    }

    // MARK: - Keys

    func testUnknownKeyWithSuggestion() {
        let yaml = """
            gateway:
              ae_title: RADRELAY
              max_asociations: 4
            """
        assertError(
            yaml, .unknownKey, line: 3, column: 3, keyPath: "gateway.max_asociations",
            message: "did you mean 'max_associations'?")
    }

    func testUnknownKeyWithoutCloseMatchListsTheKnownKeys() {
        let yaml = minimalYAML + "\nzzz_unrelated: {}\n"
        assertError(
            yaml, .unknownKey, line: 10, column: 1, keyPath: "zzz_unrelated",
            message: "expected one of: " + ConfigurationParser.rootKeys.joined(separator: ", ")
        )
    }

    func testUnknownKeyDeepInsideARoute() {
        let yaml = """
            gateway: { ae_title: GW }
            destinations: [{ name: a, ae_title: A, host: h, port: 1 }]
            routes:
              - destinations: [a]
                match:
                  calling-ae: CT1
            """
        assertError(
            yaml, .unknownKey, line: 6, column: 7, keyPath: "routes[0].match.calling-ae",
            message: "did you mean 'calling_ae'?")
    }

    func testDuplicateKey() {
        let yaml = """
            gateway:
              ae_title: RADRELAY
              port: 104
              port: 11112
            """
        assertError(yaml, .duplicateKey, line: 4, column: 3, keyPath: "gateway.port", message: "first on line 3")
    }

    func testMissingKeyIsReportedAtItsParentsLine() {
        let yaml = """
            # radrelay
            gateway:
              port: 104
            """
        assertError(
            yaml, .missingKey, line: 2, column: 1, keyPath: "gateway.ae_title", message: "required key is missing")
    }

    func testMissingKeyInAListItemIsReportedAtTheItem() {
        let yaml = """
            gateway:
              ae_title: RADRELAY
            destinations:
              - name: pacs
                ae_title: PACS
                port: 104
            """
        assertError(
            yaml, .missingKey, line: 4, column: 5, keyPath: "destinations[0].host", message: "required key is missing")
    }

    func testMissingSection() {
        let yaml = """

            gateway:
              ae_title: RADRELAY
            routes: []
            """
        assertError(yaml, .missingKey, line: 2, column: 1, keyPath: "destinations", message: "required key is missing")
    }

    // MARK: - Shapes

    func testListExpected() {
        let yaml = """
            gateway:
              ae_title: RADRELAY
            destinations: pacs
            """
        assertError(
            yaml, .wrongType, line: 3, column: 15, keyPath: "destinations",
            message: "expected a list, found a single value")
    }

    func testMappingExpected() {
        assertError(
            "gateway:\n  - ae_title: GW\n", .wrongType, line: 2, column: 3, keyPath: "gateway",
            message: "expected a mapping")
    }

    func testSingleValueExpected() {
        assertError(
            "gateway:\n  ae_title: [A, B]\n", .wrongType, line: 2, column: 13, keyPath: "gateway.ae_title",
            message: "found a list")
    }

    func testKeyWithoutValue() {
        let yaml = """
            gateway:
              ae_title: RADRELAY
              port:
            """
        guard let error = loadError(yaml) else { return }
        XCTAssertEqual(error.kind, .invalidValue)
        XCTAssertEqual(error.line, 3)
        XCTAssertEqual(error.keyPath, "gateway.port")
        XCTAssertEqual(error.message, "no value given (remove the key to use its default)")
    }

    // MARK: - Values

    func testAETitleTooLong() {
        assertError(
            "gateway:\n  ae_title: ABCDEFGHIJKLMNOPQ\n", .invalidValue, line: 2, column: 13,
            keyPath: "gateway.ae_title",
            message: "AE title has 17 characters (at most 16)"
        )
    }

    func testAETitleWithBackslash() {
        assertError(
            "gateway:\n  ae_title: 'A\\B'\n", .invalidValue, line: 2, column: 13, keyPath: "gateway.ae_title",
            message: "backslash"
        )
    }

    func testPortOutOfRange() {
        let yaml = """
            gateway:
              ae_title: RADRELAY
              port: 70000
            """
        assertError(yaml, .invalidValue, line: 3, column: 9, keyPath: "gateway.port", message: "from 0 to 65535")
    }

    func testDestinationPortZeroIsRefused() {
        let yaml = minimalYAML.replacingOccurrences(of: "port: 104", with: "port: 0")
        assertError(
            yaml, .invalidValue, line: 7, column: 11, keyPath: "destinations[0].port", message: "from 1 to 65535")
    }

    func testCountMustBeAtLeastOne() {
        let yaml = minimalYAML.replacingOccurrences(of: "port: 104", with: "port: 104\n    associations: 0")
        assertError(
            yaml, .invalidValue, line: 8, column: 19, keyPath: "destinations[0].associations", message: "from 1")
    }

    func testMalformedSize() {
        let yaml = """
            gateway:
              ae_title: RADRELAY
              max_object_size: 8 gigabytes
            """
        assertError(
            yaml, .invalidValue, line: 3, column: 20, keyPath: "gateway.max_object_size", message: "expected a size")
    }

    func testMalformedDuration() {
        let yaml = """
            gateway:
              ae_title: RADRELAY
              timeouts:
                idle: 5 minutes
            """
        assertError(
            yaml, .invalidValue, line: 4, column: 11, keyPath: "gateway.timeouts.idle", message: "expected a duration")
    }

    func testZeroTimeoutIsRefused() {
        let yaml = "gateway:\n  ae_title: GW\n  timeouts: { acse: 0s }\n"
        assertError(
            yaml, .invalidValue, line: 3, column: 21, keyPath: "gateway.timeouts.acse", message: "greater than zero")
    }

    func testFullDiskThresholdIsRefused() {
        let yaml = "gateway:\n  ae_title: GW\n  min_free_disk: 100%\n"
        assertError(
            yaml, .invalidValue, line: 3, column: 18, keyPath: "gateway.min_free_disk", message: "refuse every object")
    }

    func testPDULengthOutsideDCMTKsRange() {
        let yaml = "gateway:\n  ae_title: GW\n  max_pdu_length: 1k\n"
        assertError(
            yaml, .invalidValue, line: 3, column: 19, keyPath: "gateway.max_pdu_length", message: "4096…131072"
        )
    }

    func testBooleanMustBeTrueOrFalse() {
        let yaml = "gateway:\n  ae_title: GW\n  accept_private_sop_classes: yes\n"
        assertError(
            yaml, .invalidValue, line: 3, column: 31, keyPath: "gateway.accept_private_sop_classes",
            message: "expected true or false"
        )
    }

    func testMalformedHostRange() {
        let yaml = """
            gateway:
              ae_title: RADRELAY
              allowed_callers:
                - ae_title: CT1
                  hosts: [10.0.0.1, 10.0.0.0/33]
            """
        assertError(
            yaml, .invalidValue, line: 5, column: 25, keyPath: "gateway.allowed_callers[0].hosts[1]", message: "CIDR")
    }

    func testMalformedBindAddress() {
        for bind in ["'not a host'", "10.0.0.256", "-gw.example", "a..b"] {
            let yaml = "gateway:\n  ae_title: GW\n  bind: \(bind)\n"
            assertError(yaml, .invalidValue, line: 3, column: 9, keyPath: "gateway.bind", message: "or a host name")
        }
    }

    func testPerCallerLimitAboveGatewayLimit() {
        let yaml = """
            gateway:
              ae_title: RADRELAY
              max_associations: 4
              allowed_callers:
                - ae_title: CT1
                  max_associations: 5
            """
        assertError(
            yaml, .invalidValue, line: 6, column: 25, keyPath: "gateway.allowed_callers[0].max_associations",
            message: "5 exceeds gateway.max_associations (4)"
        )
    }

    func testUnknownLogLevel() {
        let yaml = minimalYAML + "\nlogging:\n  level: verbose\n"
        assertError(yaml, .invalidValue, line: 11, column: 10, keyPath: "logging.level", message: "trace, debug, info")
    }

    func testUnknownPriority() {
        let yaml = minimalYAML + "\n    priority: urgent\n"
        assertError(
            yaml, .invalidValue, line: 10, column: 15, keyPath: "routes[0].priority",
            message: "stat, high, routine, low")
    }

    func testUnknownDestinationKind() {
        let yaml = minimalYAML.replacingOccurrences(
            of: "    ae_title: PACS", with: "    kind: dicomweb\n    ae_title: PACS")
        assertError(
            yaml, .invalidValue, line: 5, column: 11, keyPath: "destinations[0].kind",
            message: "expected one of: dicom, stow"
        )
    }

    func testJitterAboveOne() {
        let yaml = minimalYAML.replacingOccurrences(of: "port: 104", with: "port: 104\n    retry: { jitter: 1.5 }")
        assertError(
            yaml, .invalidValue, line: 8, column: 22, keyPath: "destinations[0].retry.jitter", message: "from 0 to 1")
    }

    func testMaxDelayShorterThanBaseDelay() {
        let yaml = minimalYAML.replacingOccurrences(of: "port: 104", with: "port: 104\n    retry:\n      max_delay: 2s")
        assertError(
            yaml, .invalidValue, line: 9, column: 18, keyPath: "destinations[0].retry.max_delay",
            message: "max_delay (2s) is shorter than base_delay (5s)"
        )
    }

    func testDestinationNameCharacters() {
        let yaml = minimalYAML.replacingOccurrences(of: "name: pacs", with: "name: ../pacs")
        assertError(
            yaml, .invalidValue, line: 4, column: 11, keyPath: "destinations[0].name", message: "letters, digits")
    }

    func testEmptyMatchListIsRefused() {
        let yaml = minimalYAML + "\n    match: { modality: [] }\n"
        assertError(
            yaml, .invalidValue, line: 10, column: 24, keyPath: "routes[0].match.modality", message: "match nothing")
    }

    func testModalityGivenTwice() {
        let yaml = minimalYAML + "\n    match: { modality: CT, Modality: MR }\n"
        assertError(yaml, .duplicateKey, line: 10, column: 38, keyPath: "routes[0].match.Modality", message: "not both")
    }

    func testNoDestinations() {
        let yaml = """
            gateway:
              ae_title: RADRELAY
            destinations: []
            routes: []
            """
        assertError(
            yaml, .invalidValue, line: 3, column: 1, keyPath: "destinations", message: "at least one destination")
    }

    func testNoRoutes() {
        let yaml = minimalYAML.replacingOccurrences(of: "routes:\n  - destinations: [pacs]", with: "routes:")
        assertError(yaml, .invalidValue, line: 8, column: 1, keyPath: "routes", message: "at least one route")
    }

    func testRouteWithoutDestinations() {
        let yaml = minimalYAML.replacingOccurrences(of: "destinations: [pacs]", with: "destinations: []")
        assertError(
            yaml, .invalidValue, line: 9, column: 19, keyPath: "routes[0].destinations",
            message: "at least one destination")
    }

    // MARK: - Cross-field

    func testDuplicateDestinationName() {
        let yaml = """
            gateway:
              ae_title: RADRELAY
            destinations:
              - { name: pacs, ae_title: A, host: 10.0.0.1, port: 104 }
              - { name: pacs, ae_title: B, host: 10.0.0.2, port: 104 }
            routes:
              - destinations: [pacs]
            """
        assertError(
            yaml, .duplicateValue, line: 5, column: 13, keyPath: "destinations[1].name",
            message: "already used on line 4")
    }

    func testDuplicateCallingAE() {
        let yaml = """
            gateway:
              ae_title: RADRELAY
              allowed_callers:
                - ae_title: CT1
                - ae_title: MR1
                - ae_title: 'CT1 '
            """
        assertError(
            yaml, .duplicateValue, line: 6, column: 17, keyPath: "gateway.allowed_callers[2].ae_title",
            message: "'CT1' is already listed on line 4"
        )
    }

    func testAdditionalAETitleRepeatingTheMainOne() {
        let yaml = "gateway:\n  ae_title: GW\n  additional_ae_titles:\n    - GW2\n    - GW\n"
        assertError(
            yaml, .duplicateValue, line: 5, column: 7, keyPath: "gateway.additional_ae_titles[1]", message: "'GW'")
    }

    func testDuplicateRouteNameIncludingGeneratedOnes() {
        let yaml = minimalYAML + "\n  - name: route-1\n    destinations: pacs\n"
        assertError(
            yaml, .duplicateValue, line: 10, column: 11, keyPath: "routes[1].name", message: "already used on line 9")
    }

    func testRouteToUnknownDestination() {
        let yaml = """
            gateway:
              ae_title: RADRELAY
            destinations:
              - { name: pacs, ae_title: A, host: 10.0.0.1, port: 104 }
            routes:
              - destinations: [pacs, telerad]
            """
        assertError(
            yaml, .unknownReference, line: 6, column: 26, keyPath: "routes[0].destinations[1]",
            message: "no destination is named 'telerad' (defined: pacs)"
        )
    }

    func testRouteOnACalledAETheGatewayDoesNotAnswerTo() {
        let yaml = minimalYAML + "\n    match: { called_ae: OTHER }\n"
        assertError(
            yaml, .unknownReference, line: 10, column: 25, keyPath: "routes[0].match.called_ae", message: "'OTHER'")
    }
}
