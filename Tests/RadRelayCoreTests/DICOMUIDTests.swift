import RadRelayCore
import XCTest

/// UIDs, PS3.5 §9.1.
final class DICOMUIDTests: XCTestCase {
    private func assertInvalid(_ text: String, _ expected: DICOMUID.ValidationError, line: UInt = #line) {
        XCTAssertThrowsError(try DICOMUID(text), text.debugDescription, line: line) { error in
            XCTAssertEqual(error as? DICOMUID.ValidationError, expected, text.debugDescription, line: line)
        }
    }

    func testStandardUIDsAreAccepted() throws {
        XCTAssertEqual(try DICOMUID("1.2.840.10008.5.1.4.1.1.2").value, "1.2.840.10008.5.1.4.1.1.2")
        XCTAssertEqual(try DICOMUID("0").value, "0")
        XCTAssertEqual(try DICOMUID("1.0.2").value, "1.0.2", "a component that is exactly 0 is allowed")
    }

    func testPathTraversalIsRefused() {
        assertInvalid("../../x", .emptyComponent)
        assertInvalid("1.2/../3", .invalidCharacter)
    }

    func testSixtyFiveCharactersAreRefused() throws {
        let sixtyFour = "1." + String(repeating: "2", count: 62)
        XCTAssertEqual(try DICOMUID(sixtyFour).value.count, 64)
        assertInvalid(sixtyFour + "3", .tooLong(65))
    }

    func testLeadingZeroInAComponentIsRefused() {
        assertInvalid("1.02.3", .leadingZero)
        assertInvalid("01.2", .leadingZero)
        assertInvalid("1.2.00", .leadingZero)
    }

    func testEmptyComponentsAreRefused() {
        assertInvalid("1..2", .emptyComponent)
        assertInvalid(".1.2", .emptyComponent)
        assertInvalid("1.2.", .emptyComponent)
    }

    func testEmptyIsRefused() {
        assertInvalid("", .empty)
        assertInvalid("\0", .empty)
    }

    func testOtherCharactersAreRefused() {
        assertInvalid("1.2.a", .invalidCharacter)
        assertInvalid("1.2 .3", .invalidCharacter)
        assertInvalid("1.2.3\0.4", .invalidCharacter)
    }

    func testTrailingNULPaddingIsAccepted() throws {
        XCTAssertEqual(try DICOMUID("1.2.3\0").value, "1.2.3")
        XCTAssertEqual(try DICOMUID("1.2.3 ").value, "1.2.3")
        let sixtyFour = "1." + String(repeating: "2", count: 62)
        XCTAssertEqual(try DICOMUID(sixtyFour + "\0").value, sixtyFour, "padding does not count towards 64")
    }
}
