import Foundation
import RadRelayConfig
import RadRelayCore

/// Issue 4's wiring: the global bandwidth cap, backlog quotas, and what a reload may change
/// live (caps and schedules, time zone, retry/circuit/aging/max-age per destination, quotas,
/// the stability quiet time).
extension Daemon {
    /// The limiter for `gateway.bandwidth`, or nil when it can never limit anything. Created
    /// even when unlimited today if a schedule window caps some hours.
    static func makeGlobalLimiter(
        _ configuration: Configuration,
        clock: SiteClock,
        now: @escaping @Sendable () -> EpochSeconds
    ) -> BandwidthLimiter? {
        guard !configuration.gateway.bandwidth.isUnlimited else { return nil }
        return BandwidthLimiter(name: "global", schedule: configuration.gateway.bandwidth, clock: clock, now: now)
    }

    /// `destinations[].backlog_quota` by destination name.
    static func backlogQuotas(_ configuration: Configuration) -> [String: UInt64] {
        var quotas: [String: UInt64] = [:]
        for destination in configuration.destinations {
            if let quota = destination.backlogQuota { quotas[destination.name] = quota }
        }
        return quotas
    }

    /// Applies the scheduling side of a reloaded configuration to the running forwarders,
    /// ingest and the stability sweep. Destinations are matched by name; a destination that is
    /// new or gone needs a restart (its workers are not started or stopped here). The global
    /// cap can change its schedule but not appear or disappear without a restart.
    func applyScheduling(_ configuration: Configuration) {
        let clock = SiteClock(timeZone: configuration.gateway.timeZone)
        for destination in configuration.destinations {
            forwarders[destination.name]?.apply(destination, clock: clock)
        }
        globalLimiter?.update(schedule: configuration.gateway.bandwidth, clock: clock)
        var policy = pipeline.currentPolicy
        policy.router = configuration.router
        policy.backlogQuotas = Self.backlogQuotas(configuration)
        pipeline.update(policy)
        stability.update(quietTime: configuration.outbox.stableAfter)
    }
}

/// The issue-4 settings a SIGHUP applies live (`ReloadPlan` asks): caps and their schedules,
/// the time zone, quotas, circuit, aging, max age and the stability quiet time.
enum SchedulingReload {
    /// `running` with the live scheduling settings of `loaded` (destinations matched by name).
    static func applied(running: Configuration, loaded: Configuration) -> Configuration {
        var result = running
        result.gateway.timeZone = loaded.gateway.timeZone
        result.gateway.bandwidth = loaded.gateway.bandwidth
        result.outbox.stableAfter = loaded.outbox.stableAfter
        for index in result.destinations.indices {
            guard let new = loaded.destinations.first(where: { $0.name == result.destinations[index].name }) else {
                continue
            }
            result.destinations[index].bandwidth = new.bandwidth
            result.destinations[index].maxAge = new.maxAge
            result.destinations[index].backlogQuota = new.backlogQuota
            result.destinations[index].circuit = new.circuit
            result.destinations[index].priorityAging = new.priorityAging
        }
        return result
    }

    /// `destinations` without the settings a reload applies live, for "does this need a restart".
    static func restartRelevant(_ destinations: [Configuration.Destination]) -> [Configuration.Destination] {
        destinations.map { destination in
            var copy = destination
            copy.bandwidth = .unlimited
            copy.maxAge = nil
            copy.backlogQuota = nil
            copy.circuit = .init()
            copy.priorityAging = 0
            return copy
        }
    }

    /// `outbox` without the settings a reload applies live.
    static func restartRelevant(_ outbox: Configuration.Outbox) -> Configuration.Outbox {
        var copy = outbox
        copy.stableAfter = 0
        return copy
    }
}
