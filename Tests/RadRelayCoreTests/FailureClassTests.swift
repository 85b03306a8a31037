import RadRelayCore
import XCTest

/// C-STORE-RSP failure statuses to failure classes (PS3.4 B.2.3, PS3.7 C).
final class FailureClassTests: XCTestCase {
    func testEveryRowOfTheStoreStatusTable() {
        let table: [(UInt16, FailureClass)] = [
            (0xA700, .remoteOutOfResources), (0xA7FF, .remoteOutOfResources),
            (0xA900, .dataSetMismatch), (0xA9FF, .dataSetMismatch),
            (0x0122, .sopClassNotSupported),
            (0xC000, .cannotUnderstand), (0xCFFF, .cannotUnderstand),
            (0x0110, .processingFailure),
            (0x0211, .unknownStatus), (0xA800, .unknownStatus), (0x0124, .unknownStatus),
        ]
        for (code, expected) in table {
            XCTAssertEqual(FailureClass.forStoreStatus(DIMSEStatus(code)), expected, DIMSEStatus(code).description)
        }
    }

    func testDestinationLevelClasses() {
        let destinationLevel: Set<FailureClass> = [
            .connection, .timeout, .associationRejected, .aborted, .remoteOutOfResources, .tls,
            .httpAuthentication, .httpNotFound, .httpUnavailable, .unparsableResponse,
        ]
        for failure in FailureClass.allCases {
            XCTAssertEqual(failure.isDestinationLevel, destinationLevel.contains(failure), failure.rawValue)
        }
    }

    func testStoredNamesAreStable() {
        XCTAssertEqual(FailureClass.associationRejected.rawValue, "association_rejected")
        XCTAssertEqual(FailureClass.remoteOutOfResources.rawValue, "remote_out_of_resources")
        XCTAssertEqual(FailureClass.dataSetMismatch.rawValue, "dataset_mismatch")
        XCTAssertEqual(FailureClass.spoolMissing.rawValue, "spool_missing")
        XCTAssertEqual(FailureClass(rawValue: "unknown_status"), .unknownStatus)
    }
}
