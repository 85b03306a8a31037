import RadRelayCore
import XCTest

/// Status categories, PS3.7 Annex C and PS3.4 B.2.3.
final class DIMSEStatusTests: XCTestCase {
    func testSuccess() {
        XCTAssertEqual(DIMSEStatus.success.category, .success)
    }

    func testStorageWarningsAreWarnings() {
        for code: UInt16 in [0xB000, 0xB006, 0xB007] {
            XCTAssertEqual(DIMSEStatus(code).category, .warning, DIMSEStatus(code).description)
        }
    }

    func testGeneralWarnings() {
        for code: UInt16 in [0x0001, 0x0107, 0x0116, 0xBFFF] { XCTAssertEqual(DIMSEStatus(code).category, .warning) }
    }

    func testPendingAndCancel() {
        XCTAssertEqual(DIMSEStatus(0xFF00).category, .pending)
        XCTAssertEqual(DIMSEStatus(0xFF01).category, .pending)
        XCTAssertEqual(DIMSEStatus(0xFE00).category, .cancel)
    }

    func testFailures() {
        for code: UInt16 in [0xA700, 0xA7FF, 0xA900, 0xA9FF, 0x0122, 0x0110, 0xC000, 0xCFFF, 0x0211, 0x0124] {
            XCTAssertEqual(DIMSEStatus(code).category, .failure, DIMSEStatus(code).description)
        }
    }

    func testDescriptionIsFourHexDigits() {
        XCTAssertEqual(DIMSEStatus.success.description, "0x0000")
        XCTAssertEqual(DIMSEStatus.outOfResources.description, "0xA700")
        XCTAssertEqual(DIMSEStatus(0x0122).description, "0x0122")
    }

    func testNamedCodes() {
        XCTAssertEqual(DIMSEStatus.outOfResources.rawValue, 0xA700)
        XCTAssertEqual(DIMSEStatus.dataSetDoesNotMatchSOPClass.rawValue, 0xA900)
        XCTAssertEqual(DIMSEStatus.cannotUnderstand.rawValue, 0xC000)
        XCTAssertEqual(DIMSEStatus.sopClassNotSupported.rawValue, 0x0122)
        XCTAssertEqual(DIMSEStatus.processingFailure.rawValue, 0x0110)
        XCTAssertEqual(DIMSEStatus(rawValue: 0xB000), DIMSEStatus(0xB000))
    }
}
