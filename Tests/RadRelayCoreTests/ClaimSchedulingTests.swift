import RadRelayCore
import XCTest

/// The scheduler's decisions: ordering, pre-emption, aging, alternation, the reserved worker.
final class ClaimSchedulingTests: XCTestCase {
    private func candidate(
        _ id: Int64, _ priority: Priority, queuedAt: EpochSeconds, _ lane: WorkLane = .fresh
    ) -> ClaimCandidate {
        ClaimCandidate(id: id, priority: priority, queuedAt: queuedAt, lane: lane)
    }

    func testPriorityFirstThenAge() {
        let query = ClaimQuery(aging: .off)
        let pool = [
            candidate(1, .routine, queuedAt: 0), candidate(2, .stat, queuedAt: 50), candidate(3, .high, queuedAt: 10),
            candidate(4, .stat, queuedAt: 40),
        ]
        XCTAssertEqual(query.best(of: pool, now: 100)?.id, 4)
        XCTAssertEqual(query.best(of: pool.filter { $0.priority != .stat }, now: 100)?.id, 3)
        XCTAssertNil(query.best(of: [], now: 100))
    }

    func testEqualAgeFallsBackToId() {
        let query = ClaimQuery(aging: .off)
        XCTAssertEqual(
            query.best(of: [candidate(9, .routine, queuedAt: 5), candidate(7, .routine, queuedAt: 5)], now: 6)?.id, 7)
    }

    func testStatArrivingLaterPreemptsADrainingBacklogAtTheNextClaim() {
        // A backlog of 1000 routine objects queued long ago; a STAT arrives now.
        let query = ClaimQuery(aging: PriorityAging(step: 900))
        var pool = (0..<1000).map { candidate(Int64($0), .routine, queuedAt: Double($0)) }
        pool.append(candidate(5000, .stat, queuedAt: 10_000))
        XCTAssertEqual(query.best(of: pool, now: 10_000)?.id, 5000, "even with every routine object aged to HIGH")
    }

    func testAgingIsBoundedAtHigh() {
        let aging = PriorityAging(step: 900)
        XCTAssertEqual(aging.effectivePriority(.routine, waited: 899), .routine)
        XCTAssertEqual(aging.effectivePriority(.routine, waited: 900), .high)
        XCTAssertEqual(aging.effectivePriority(.routine, waited: 1e12), .high, "never STAT, and no overflow")
        XCTAssertEqual(aging.effectivePriority(.low, waited: 900), .routine)
        XCTAssertEqual(aging.effectivePriority(.low, waited: 1800), .high)
        XCTAssertEqual(aging.effectivePriority(.stat, waited: 1e6), .stat)
        XCTAssertEqual(aging.effectivePriority(.low, waited: -5), .low, "a clock step back is no wait")
        XCTAssertEqual(PriorityAging.off.effectivePriority(.low, waited: 1e9), .low)
    }

    func testRoutineIsNotStarvedForeverByAStreamOfHighWork() {
        // HIGH work keeps arriving every second; a routine object queued at 0 must be claimed
        // once it has waited one aging step (then it is the oldest HIGH-equivalent).
        let query = ClaimQuery(aging: PriorityAging(step: 900))
        var pending = [candidate(0, .routine, queuedAt: 0)]
        var claimedRoutineAt: EpochSeconds?
        for second in 1...2000 {
            let now = EpochSeconds(second)
            pending.append(candidate(Int64(second), .high, queuedAt: now))
            guard let next = query.best(of: pending, now: now) else { continue }
            pending.removeAll { $0.id == next.id }
            if next.id == 0 {
                claimedRoutineAt = now
                break
            }
        }
        XCTAssertEqual(claimedRoutineAt, 900)
    }

    func testAgedRoutineCompetesWithHighByAge() {
        let query = ClaimQuery(aging: PriorityAging(step: 900))
        let pool = [candidate(1, .high, queuedAt: 1000), candidate(2, .routine, queuedAt: 0)]
        XCTAssertEqual(query.best(of: pool, now: 1000)?.id, 2)
        XCTAssertEqual(query.best(of: pool, now: 800)?.id, 1, "not aged yet")
    }

    func testLanePreferenceBreaksTiesOnlyAtEqualPriority() {
        let backlog = candidate(1, .routine, queuedAt: 0, .backlog)
        let fresh = candidate(2, .routine, queuedAt: 500, .fresh)
        let statBacklog = candidate(3, .stat, queuedAt: 0, .backlog)
        XCTAssertEqual(ClaimQuery(preferredLane: .fresh, aging: .off).best(of: [backlog, fresh], now: 600)?.id, 2)
        XCTAssertEqual(ClaimQuery(preferredLane: .backlog, aging: .off).best(of: [backlog, fresh], now: 600)?.id, 1)
        XCTAssertEqual(
            ClaimQuery(preferredLane: .fresh, aging: .off).best(of: [backlog, fresh, statBacklog], now: 600)?.id, 3)
    }

    func testFreshSinceSplitsQueuedWork() {
        XCTAssertEqual(ClaimQuery(freshSince: nil).lane(ofQueuedAt: 0), .fresh)
        XCTAssertEqual(ClaimQuery(freshSince: 100).lane(ofQueuedAt: 99), .backlog)
        XCTAssertEqual(ClaimQuery(freshSince: 100).lane(ofQueuedAt: 100), .fresh)
    }

    func testWorkersAlternateFreshAndBacklog() {
        var schedule = WorkerSchedule(role: .general)
        var backlog = (0..<4).map { candidate(Int64($0), .routine, queuedAt: Double($0), .backlog) }
        var fresh = (10..<14).map { candidate(Int64($0), .routine, queuedAt: 1000 + Double($0), .fresh) }
        var order: [WorkLane] = []
        for _ in 0..<6 {
            let query = schedule.nextQuery(freshSince: 1000, aging: .off)
            let next = query.best(of: backlog + fresh, now: 2000)!
            order.append(next.lane)
            schedule.claimed(from: next.lane)
            backlog.removeAll { $0.id == next.id }
            fresh.removeAll { $0.id == next.id }
        }
        XCTAssertEqual(order, [.fresh, .backlog, .fresh, .backlog, .fresh, .backlog])
    }

    func testWhenOneLaneIsEmptyTheOtherIsServedWithoutPause() {
        var schedule = WorkerSchedule(role: .general)
        var backlog = (0..<3).map { candidate(Int64($0), .routine, queuedAt: Double($0), .backlog) }
        for _ in 0..<3 {
            let next = schedule.nextQuery(freshSince: 1000, aging: .off).best(of: backlog, now: 2000)!
            schedule.claimed(from: next.lane)
            backlog.removeAll { $0.id == next.id }
        }
        XCTAssertTrue(backlog.isEmpty)
        XCTAssertEqual(schedule.preferredLane, .fresh)
    }

    func testOneWorkerIsReservedForStatAndHighWhenThereAreTwoOrMore() {
        XCTAssertEqual(WorkerSchedule.roles(workers: 1), [.general])
        XCTAssertEqual(WorkerSchedule.roles(workers: 2), [.reserved, .general])
        XCTAssertEqual(WorkerSchedule.roles(workers: 4), [.reserved, .general, .general, .general])
        let reserved = WorkerSchedule(role: .reserved).nextQuery(freshSince: nil, aging: PriorityAging(step: 1))
        XCTAssertEqual(reserved.minimumPriority, .high)
        let pool = [candidate(1, .routine, queuedAt: 0), candidate(2, .low, queuedAt: 0)]
        XCTAssertNil(reserved.best(of: pool, now: 1e6), "an aged routine object is not urgent work")
        XCTAssertEqual(reserved.best(of: pool + [candidate(3, .high, queuedAt: 5)], now: 1e6)?.id, 3)
    }
}
