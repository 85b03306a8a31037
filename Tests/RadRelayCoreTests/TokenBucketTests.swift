import Foundation
import RadRelayCore
import XCTest

/// The token bucket behind bandwidth caps, and the time-of-day schedule that sets its rate.
/// Time is injected: every "now" is a number.
final class TokenBucketTests: XCTestCase {
    func testBurstUpToCapacityThenWaitsForTheDebt() {
        var bucket = TokenBucket(rate: 1_000_000, now: 0, capacity: 100_000)
        XCTAssertEqual(bucket.consume(100_000, now: 0), 0, "a full bucket pays the burst")
        XCTAssertEqual(bucket.consume(50_000, now: 0), 0.05, accuracy: 1e-9, "50 kB of debt at 1 MB/s")
        XCTAssertEqual(bucket.delay(now: 0.03), 0.02, accuracy: 1e-9, "debt shrinks while time passes")
        XCTAssertEqual(bucket.delay(now: 0.05), 0, accuracy: 1e-9)
        XCTAssertEqual(bucket.delay(now: 10), 0)
    }

    func testSustainedRateEqualsTheCap() {
        // 16 kB PDUs sent as fast as the bucket allows for 20 s must move 20 s × rate (+ burst).
        let rate = 4_000_000.0
        var bucket = TokenBucket(rate: rate, now: 0)
        var now = 0.0
        var sent = 0
        while now < 20 {
            now += bucket.consume(16_384, now: now)
            sent += 16_384
        }
        let measured = Double(sent) / now
        XCTAssertEqual(measured, rate, accuracy: rate * 0.02 + bucket.capacity / now)
    }

    func testCapacityDefaultsToATenthOfASecondButAtLeast64KiB() {
        XCTAssertEqual(TokenBucket.defaultCapacity(for: 25_000_000), 2_500_000)
        XCTAssertEqual(TokenBucket.defaultCapacity(for: 100_000), 65_536)
    }

    func testIdleTimeDoesNotAccumulateBeyondCapacity() {
        var bucket = TokenBucket(rate: 1_000, now: 0, capacity: 10_000)
        _ = bucket.consume(10_000, now: 0)
        XCTAssertEqual(bucket.consume(10_000, now: 3600), 0)
        XCTAssertEqual(bucket.consume(1_000, now: 3600), 1, accuracy: 1e-9)
    }

    func testUnlimitedNeverWaits() {
        var bucket = TokenBucket(rate: nil, now: 0)
        XCTAssertEqual(bucket.consume(1 << 30, now: 0), 0)
        bucket.charge(1 << 30, now: 0)
        XCTAssertEqual(bucket.delay(now: 0), 0)
    }

    func testBorrowedBytesAreRepaidByLaterTraffic() {
        var bucket = TokenBucket(rate: 1_000_000, now: 0, capacity: 100_000)
        bucket.charge(1_100_000, now: 0)  // a STAT object that did not wait
        XCTAssertEqual(bucket.delay(now: 0), 1.0, accuracy: 1e-9, "routine traffic owes the full second")
    }

    func testRateChangeKeepsDebtAndClampsToTheNewCapacity() {
        var bucket = TokenBucket(rate: 2_000_000, now: 0, capacity: 200_000)
        _ = bucket.consume(400_000, now: 0)  // 200 kB in debt
        bucket.setRate(1_000_000, now: 0, capacity: 100_000)
        XCTAssertEqual(bucket.delay(now: 0), 0.2, accuracy: 1e-9, "old debt at the new rate")
        bucket.setRate(nil, now: 0)
        XCTAssertEqual(bucket.delay(now: 0), 0, "unlimited forgives")
        bucket.setRate(1_000_000, now: 1, capacity: 100_000)
        XCTAssertEqual(bucket.consume(100_000, now: 1), 0, "back from unlimited: a full bucket")
    }

    func testClockSteppingBackIsTreatedAsStandingStill() {
        var bucket = TokenBucket(rate: 1_000, now: 100, capacity: 1_000)
        _ = bucket.consume(2_000, now: 100)
        XCTAssertEqual(bucket.delay(now: 50), 1, accuracy: 1e-9)
        _ = bucket.consume(0, now: 50)
        XCTAssertEqual(bucket.delay(now: 100.5), 0.5, accuracy: 1e-9)
    }

    // MARK: - Schedules

    private let office = TimeWindow(
        days: [.monday, .tuesday, .wednesday, .thursday, .friday], from: TimeOfDay(hour: 7, minute: 0),
        to: TimeOfDay(hour: 19, minute: 0))

    func testScheduleSwitchesAtItsBoundary() {
        // 20 Mbit/s Mon–Fri 07:00–19:00, 200 Mbit/s otherwise.
        let schedule = BandwidthSchedule(
            limit: 25_000_000, entries: [.init(window: office, limit: 2_500_000)], stat: .bypass)
        XCTAssertEqual(schedule.limit(at: LocalTime(weekday: .monday, secondOfDay: 7 * 3600 - 1)), 25_000_000)
        XCTAssertEqual(schedule.limit(at: LocalTime(weekday: .monday, secondOfDay: 7 * 3600)), 2_500_000)
        XCTAssertEqual(schedule.limit(at: LocalTime(weekday: .monday, secondOfDay: 19 * 3600 - 1)), 2_500_000)
        XCTAssertEqual(schedule.limit(at: LocalTime(weekday: .monday, secondOfDay: 19 * 3600)), 25_000_000)
        XCTAssertEqual(schedule.limit(at: LocalTime(weekday: .saturday, secondOfDay: 10 * 3600)), 25_000_000)
    }

    func testFirstMatchingWindowWinsAndNilIsUnlimited() {
        let lunch = TimeWindow(
            days: [.monday], from: TimeOfDay(hour: 12, minute: 0), to: TimeOfDay(hour: 13, minute: 0))
        let schedule = BandwidthSchedule(
            limit: nil, entries: [.init(window: lunch, limit: nil), .init(window: office, limit: 1_000)])
        XCTAssertNil(schedule.limit(at: LocalTime(weekday: .monday, secondOfDay: 12 * 3600)))
        XCTAssertEqual(schedule.limit(at: LocalTime(weekday: .monday, secondOfDay: 14 * 3600)), 1_000)
        XCTAssertNil(schedule.limit(at: LocalTime(weekday: .sunday, secondOfDay: 14 * 3600)))
        XCTAssertFalse(schedule.isUnlimited)
        XCTAssertTrue(BandwidthSchedule.unlimited.isUnlimited)
    }

    func testBucketFollowsTheScheduleAcrossTheBoundary() {
        // A sender driven through 07:00 sees the rate drop from 200 to 20 Mbit/s.
        let schedule = BandwidthSchedule(limit: 25_000_000, entries: [.init(window: office, limit: 2_500_000)])
        let start = 7 * 3600 - 10  // Monday 06:59:50 local, as seconds of the week's Monday
        var bucket = TokenBucket(rate: schedule.limit(at: LocalTime(weekday: .monday, secondOfDay: start)), now: 0)
        var now = 0.0
        var sentBefore = 0
        var sentAfter = 0
        while now < 20 {
            let local = LocalTime(weekday: .monday, secondOfDay: start + Int(now))
            let limit = schedule.limit(at: local)
            if limit != bucket.rate { bucket.setRate(limit, now: now) }
            now += bucket.consume(65_536, now: now)
            if now < 10 { sentBefore += 65_536 } else { sentAfter += 65_536 }
        }
        XCTAssertEqual(Double(sentBefore) / 10, 25_000_000, accuracy: 25_000_000 * 0.05 + 250_000)
        XCTAssertEqual(Double(sentAfter) / 10, 2_500_000, accuracy: 2_500_000 * 0.05)
    }
}
