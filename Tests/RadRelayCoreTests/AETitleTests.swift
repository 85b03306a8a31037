import Foundation
import RadRelayCore
import XCTest

/// AE titles, PS3.5 §6.2 (VR AE).
final class AETitleTests: XCTestCase {
    func testSixteenCharactersAreAccepted() throws {
        XCTAssertEqual(try AETitle("ABCDEFGHIJKLMNOP").value, "ABCDEFGHIJKLMNOP")
    }

    func testSeventeenCharactersAreRefused() {
        XCTAssertThrowsError(try AETitle("ABCDEFGHIJKLMNOPQ")) { error in
            XCTAssertEqual(error as? AETitle.ValidationError, .tooLong(17))
            XCTAssertEqual("\(error)", "AE title has 17 characters (at most 16)")
        }
    }

    func testBackslashIsRefused() {
        XCTAssertThrowsError(try AETitle("A\\B")) { XCTAssertEqual($0 as? AETitle.ValidationError, .invalidCharacter) }
    }

    func testControlCharactersAreRefused() {
        for text in ["A\tB", "A\nB", "AB\u{7F}", "\u{1B}AB", "A\0"] {
            XCTAssertThrowsError(try AETitle(text), text.debugDescription) {
                XCTAssertEqual($0 as? AETitle.ValidationError, .invalidCharacter)
            }
        }
    }

    func testNonASCIIIsRefused() {
        XCTAssertThrowsError(try AETitle("RÖNTGEN")) {
            XCTAssertEqual($0 as? AETitle.ValidationError, .invalidCharacter)
        }
    }

    func testEmptyAndAllSpacesAreRefused() {
        for text in ["", " ", "                "] {
            XCTAssertThrowsError(try AETitle(text), text.debugDescription) {
                XCTAssertEqual($0 as? AETitle.ValidationError, .empty)
            }
        }
    }

    func testLeadingAndTrailingSpacesAreNotSignificant() throws {
        XCTAssertEqual(try AETitle("  STORESCU ").value, "STORESCU")
        XCTAssertEqual(try AETitle("  STORESCU "), try AETitle("STORESCU"))
        XCTAssertEqual(try AETitle(" ABCDEFGHIJKLMNOP ").value, "ABCDEFGHIJKLMNOP", "padding does not count")
        XCTAssertEqual(try AETitle("MY AE").value, "MY AE", "inner spaces are kept")
    }

    func testCodableRoundTripAndValidation() throws {
        let decoded = try JSONDecoder().decode([AETitle].self, from: Data(#"[" PACS "]"#.utf8))
        XCTAssertEqual(decoded, [try AETitle("PACS")])
        XCTAssertEqual(String(decoding: try JSONEncoder().encode(decoded), as: UTF8.self), #"["PACS"]"#)
        XCTAssertThrowsError(try JSONDecoder().decode([AETitle].self, from: Data(#"["A\\B"]"#.utf8)))
    }
}
