import Foundation
import RadRelayCore
import RadRelayOutbox
import XCTest

final class ZZScratchBenchTests: XCTestCase {
    func testBench() throws {
        let dir = "/tmp/rrbench/state"
        try? FileManager.default.removeItem(atPath: dir)
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: "/tmp/rrbench/b.sqlite", toPath: dir + "/radrelay.sqlite")
        let outbox = try Outbox(stateDirectory: dir)
        func time(_ label: String, _ n: Int, _ body: () throws -> Void) rethrows {
            let start = DispatchTime.now().uptimeNanoseconds
            for _ in 0..<n { try body() }
            let ms = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6 / Double(n)
            print("BENCH \(label): \(ms) ms/op")
        }
        let now: EpochSeconds = 1_770_000_000
        try time("claim a", 200) { _ = try outbox.claimDue(destination: "a", now: now, leaseSeconds: 60) }
        try time("claim b retries only", 50) { _ = try outbox.claimDue(destination: "b", now: 1_760_000_000, leaseSeconds: 60, sources: .retries) }
        try time("claim none due", 50) { _ = try outbox.claimDue(destination: "b", now: 0, leaseSeconds: 60, sources: .retries) }
        try time("status", 20) { _ = try outbox.status(now: now) }
        try time("nextWakeUp", 50) { _ = try outbox.nextWakeUp(destination: "b", now: now) }
        let claim = try XCTUnwrap(outbox.claimDue(destination: "a", now: now, leaseSeconds: 60))
        try time("markDelivered", 1) { try outbox.markDelivered(deliveryID: claim.deliveryID, status: .success, now: now) }
        print("BENCH", try outbox.status(now: now).map { "\($0.destination) \($0.counts) \(String(describing: $0.oldestPendingAge))" })
        let start = DispatchTime.now().uptimeNanoseconds
        let report = try outbox.reconcile(now: now)
        print("BENCH reconcile \(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6) ms \(report)")
    }
}
