import Foundation
import RadRelayCore
import XCTest

/// Time windows on the site's wall clock: midnight wrap, time zones and daylight saving.
final class TimeWindowTests: XCTestCase {
    private let berlin = SiteClock(timeZone: TimeZone(identifier: "Europe/Berlin")!)
    private let weekdays: Set<Weekday> = [.monday, .tuesday, .wednesday, .thursday, .friday]

    /// Seconds since 1970 of a UTC date and time.
    private func utc(_ year: Int, _ month: Int, _ day: Int, _ hour: Int, _ minute: Int = 0, _ second: Int = 0)
        -> EpochSeconds
    {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let date = calendar.date(
            from: DateComponents(year: year, month: month, day: day, hour: hour, minute: minute, second: second))!
        return date.timeIntervalSince1970
    }

    private func at(_ weekday: Weekday, _ hour: Int, _ minute: Int = 0) -> LocalTime {
        LocalTime(weekday: weekday, secondOfDay: hour * 3600 + minute * 60)
    }

    func testTimesOfDayParse() {
        XCTAssertEqual(TimeOfDay(parsing: "07:00"), TimeOfDay(hour: 7, minute: 0))
        XCTAssertEqual(TimeOfDay(parsing: "7:30"), TimeOfDay(hour: 7, minute: 30))
        XCTAssertEqual(TimeOfDay(parsing: "19:00:30"), TimeOfDay(hour: 19, minute: 0, second: 30))
        XCTAssertEqual(TimeOfDay(parsing: "24:00"), .endOfDay)
        for bad in ["24:01", "7", "07:60", "07:5", "aa:bb", "", "07:00:00:00", "-1:00"] {
            XCTAssertNil(TimeOfDay(parsing: bad), bad)
        }
        XCTAssertEqual(TimeOfDay(hour: 7, minute: 5).description, "07:05")
    }

    func testWeekdayNames() {
        XCTAssertEqual(Weekday(name: "Mon"), .monday)
        XCTAssertEqual(Weekday(name: "saturday"), .saturday)
        XCTAssertNil(Weekday(name: "mo"))
        XCTAssertEqual(Weekday.sunday.previous, .saturday)
        XCTAssertEqual(Weekday.saturday.next, .sunday)
    }

    func testDaytimeWindowIncludesItsStartAndExcludesItsEnd() {
        let office = TimeWindow(days: weekdays, from: TimeOfDay(hour: 7, minute: 0), to: TimeOfDay(hour: 19, minute: 0))
        XCTAssertFalse(office.contains(LocalTime(weekday: .monday, secondOfDay: 7 * 3600 - 1)))
        XCTAssertTrue(office.contains(at(.monday, 7)))
        XCTAssertTrue(office.contains(LocalTime(weekday: .friday, secondOfDay: 19 * 3600 - 1)))
        XCTAssertFalse(office.contains(at(.friday, 19)))
        XCTAssertFalse(office.contains(at(.saturday, 12)))
    }

    func testNightWindowWrapsMidnightFromTheDayItStarts() {
        let nights = TimeWindow(days: weekdays, from: TimeOfDay(hour: 19, minute: 0), to: TimeOfDay(hour: 7, minute: 0))
        XCTAssertTrue(nights.contains(at(.monday, 23)))
        XCTAssertTrue(nights.contains(at(.tuesday, 6, 59)), "Monday night continues into Tuesday morning")
        XCTAssertFalse(nights.contains(at(.tuesday, 7)))
        XCTAssertTrue(nights.contains(at(.saturday, 3)), "Friday night ends on Saturday morning")
        XCTAssertFalse(nights.contains(at(.saturday, 20)), "Saturday is not listed")
        XCTAssertFalse(nights.contains(at(.monday, 3)), "Sunday night is not listed")
    }

    func testWholeDayWindow() {
        let weekend = TimeWindow(days: [.saturday, .sunday])
        XCTAssertTrue(weekend.contains(at(.saturday, 0)))
        XCTAssertTrue(weekend.contains(LocalTime(weekday: .sunday, secondOfDay: 86_399)))
        XCTAssertFalse(weekend.contains(at(.monday, 0)))
        XCTAssertEqual(weekend.description, "sun,sat 00:00-24:00")
    }

    func testSiteClockUsesTheConfiguredZone() {
        // 2025-01-06 is a Monday. 06:30 UTC is 07:30 in Berlin (CET, UTC+1).
        XCTAssertEqual(berlin.local(utc(2025, 1, 6, 6, 30)), at(.monday, 7, 30))
        XCTAssertEqual(SiteClock.utc.local(utc(2025, 1, 6, 6, 30)), at(.monday, 6, 30))
        // 23:30 UTC on Sunday is already Monday 00:30 in Berlin.
        XCTAssertEqual(berlin.local(utc(2025, 1, 5, 23, 30)), at(.monday, 0, 30))
        let kolkata = SiteClock(timeZone: TimeZone(identifier: "Asia/Kolkata")!)
        XCTAssertEqual(kolkata.local(utc(2025, 1, 6, 0, 0)), at(.monday, 5, 30))
    }

    func testWindowsFollowDaylightSaving() {
        let office = TimeWindow(days: weekdays, from: TimeOfDay(hour: 7, minute: 0), to: TimeOfDay(hour: 19, minute: 0))
        // Winter (CET, UTC+1): 07:00 local is 06:00 UTC.
        XCTAssertFalse(office.contains(berlin.local(utc(2025, 1, 6, 5, 59))))
        XCTAssertTrue(office.contains(berlin.local(utc(2025, 1, 6, 6, 0))))
        // Summer (CEST, UTC+2): 07:00 local is 05:00 UTC.
        XCTAssertFalse(office.contains(berlin.local(utc(2025, 7, 7, 4, 59))))
        XCTAssertTrue(office.contains(berlin.local(utc(2025, 7, 7, 5, 0))))
        XCTAssertFalse(office.contains(berlin.local(utc(2025, 7, 7, 17, 0))), "19:00 CEST")
    }

    func testSpringForwardSkipsTheMissingHour() {
        // Sunday 2025-03-30: at 01:00 UTC Berlin jumps from 02:00 CET to 03:00 CEST.
        let window = TimeWindow(
            days: [.sunday], from: TimeOfDay(hour: 2, minute: 30), to: TimeOfDay(hour: 3, minute: 30))
        XCTAssertEqual(
            berlin.local(utc(2025, 3, 30, 0, 59)), LocalTime(weekday: .sunday, secondOfDay: 1 * 3600 + 59 * 60))
        XCTAssertFalse(window.contains(berlin.local(utc(2025, 3, 30, 0, 59))), "01:59 CET")
        XCTAssertTrue(window.contains(berlin.local(utc(2025, 3, 30, 1, 0))), "03:00 CEST: the window has begun")
        XCTAssertTrue(window.contains(berlin.local(utc(2025, 3, 30, 1, 29))), "03:29 CEST")
        XCTAssertFalse(window.contains(berlin.local(utc(2025, 3, 30, 1, 30))), "03:30 CEST: over")
    }

    func testFallBackRepeatsTheHourInsideTheWindow() {
        // Sunday 2025-10-26: at 01:00 UTC Berlin goes from 03:00 CEST back to 02:00 CET, so
        // 02:00–03:00 local happens twice (00:00–01:00 UTC and 01:00–02:00 UTC).
        let window = TimeWindow(days: [.sunday], from: TimeOfDay(hour: 2, minute: 0), to: TimeOfDay(hour: 3, minute: 0))
        XCTAssertTrue(window.contains(berlin.local(utc(2025, 10, 26, 0, 30))), "02:30 CEST")
        XCTAssertTrue(window.contains(berlin.local(utc(2025, 10, 26, 1, 30))), "02:30 CET")
        XCTAssertFalse(window.contains(berlin.local(utc(2025, 10, 26, 2, 0))), "03:00 CET")
    }

    func testMidnightWrapAcrossADaylightSavingNight() {
        // Saturday night 22:00 to Sunday 06:00 around the spring change: 8 wall-clock hours,
        // 7 real hours.
        let night = TimeWindow(
            days: [.saturday], from: TimeOfDay(hour: 22, minute: 0), to: TimeOfDay(hour: 6, minute: 0))
        XCTAssertTrue(night.contains(berlin.local(utc(2025, 3, 29, 21, 0))), "Sat 22:00 CET")
        XCTAssertTrue(night.contains(berlin.local(utc(2025, 3, 30, 3, 59))), "Sun 05:59 CEST")
        XCTAssertFalse(night.contains(berlin.local(utc(2025, 3, 30, 4, 0))), "Sun 06:00 CEST")
    }
}
