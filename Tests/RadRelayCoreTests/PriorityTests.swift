import RadRelayCore
import XCTest

final class PriorityTests: XCTestCase {
    func testOrderIsStatHighRoutineLow() {
        XCTAssertEqual(Priority.allCases.sorted(by: >), [.stat, .high, .routine, .low])
        XCTAssertLessThan(Priority.low, Priority.routine)
    }

    func testConfigSpellingsParseCaseInsensitively() {
        XCTAssertEqual(Priority(name: "stat"), .stat)
        XCTAssertEqual(Priority(name: "HIGH"), .high)
        XCTAssertEqual(Priority(name: "Routine"), .routine)
        XCTAssertEqual(Priority(name: "low"), .low)
        XCTAssertNil(Priority(name: "urgent"))
        XCTAssertEqual(Priority.stat.description, "stat")
    }
}
