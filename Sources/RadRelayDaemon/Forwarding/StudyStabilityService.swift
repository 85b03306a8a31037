import Foundation
import Logging
import NIOConcurrencyHelpers
import RadRelayCore
import RadRelayOutbox
import ServiceLifecycle

/// Marks series and studies stable once nothing arrived for `outbox.stable_after`, and queues
/// the deliveries that routes with `hold_until_stable` held until then (issue 4, "Study
/// tracking"). Sleeps until the next series can become stable or ingest rings; with no study
/// in flight it costs nothing.
final class StudyStabilityService: Service, Sendable {
    private let outbox: Outbox
    private let quietTime: NIOLockedValueBox<Double>
    private let doorbell = Doorbell()
    /// True while the service sleeps with no series waiting to become stable: only then can an
    /// arrival make the next check earlier, so only then does ingest wake it (a busy ingest must
    /// not turn into one sweep transaction per object).
    private let idle = NIOLockedValueBox(true)
    private let onReleased: @Sendable (Set<String>) -> Void
    private let heartbeats: Heartbeats?
    private let now: @Sendable () -> EpochSeconds
    private let logger: Logger

    init(
        outbox: Outbox,
        quietTime: Double,
        heartbeats: Heartbeats?,
        now: @escaping @Sendable () -> EpochSeconds,
        logger: Logger,
        onReleased: @escaping @Sendable (Set<String>) -> Void
    ) {
        self.outbox = outbox
        self.quietTime = NIOLockedValueBox(quietTime)
        self.heartbeats = heartbeats
        self.now = now
        self.logger = logger
        self.onReleased = onReleased
    }

    /// An instance arrived: the next check may be due earlier than planned.
    func objectArrived() {
        let wasIdle = idle.withLockedValue { idle in
            defer { idle = false }
            return idle
        }
        if wasIdle { doorbell.ring() }
    }

    /// A reload changed `outbox.stable_after`.
    func update(quietTime newValue: Double) {
        quietTime.withLockedValue { $0 = newValue }
        doorbell.ring()
    }

    func run() async throws {
        let beat = heartbeats?.register("study-stability")
        defer { beat?.end() }
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                beat?.tick()
                let current = self.now()
                var next = current + 60
                var waiting = false
                // Idle until the sweep proves otherwise, so an arrival during the sweep rings.
                self.idle.withLockedValue { $0 = true }
                do {
                    let sweep = try self.outbox.markStable(
                        now: current, quietTime: self.quietTime.withLockedValue { $0 })
                    if !sweep.released.isEmpty {
                        self.logger.info(
                            "Stable studies released to destinations that wait for whole studies",
                            metadata: [
                                "released": "\(sweep.released.values.reduce(0, +))",
                                "stable_studies": "\(sweep.stableStudies)",
                            ])
                        self.onReleased(Set(sweep.released.keys))
                    }
                    if let check = sweep.nextCheck {
                        next = min(next, max(check, current + 0.5))
                        waiting = true
                    }
                } catch {
                    self.logger.error("Study stability sweep failed", metadata: ["error": "\(error)"])
                }
                if waiting { self.idle.withLockedValue { $0 = false } }
                var wait = Duration.seconds(max(0.5, next - self.now()))
                if let tick = self.heartbeats?.tickInterval { wait = min(wait, tick) }
                await self.doorbell.wait(timeout: wait, clock: ContinuousClock())
            }
        }
    }
}
