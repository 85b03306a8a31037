import Foundation
import Logging
import RadRelayConfig
import RadRelayCore
import RadRelaySystemd

extension Daemon {
    /// SIGHUP (DESIGN §6): RELOADING=1, re-read and validate the file; on success swap what can
    /// be swapped live (`ReloadPlan`) and name what waits for a restart; on failure keep running
    /// with the old configuration and log the error with file, line and column. READY=1 either
    /// way.
    func reload() async {
        guard let path = operations.options.configPath else { return }
        SystemdNotifier.reloading()
        let loaded: Configuration
        do {
            loaded = try ConfigurationLoader.load(path: path)
        } catch {
            let meta: Logger.Metadata = [
                "config_file": "\(path)", "error": "\(error)", "config_line": "\(error.line)",
                "config_column": "\(error.column)", "config_key": "\(error.keyPath)",
            ]
            logger.error(
                "Configuration reload failed: keeping the running configuration",
                metadata: LogEvent.configReloadFailed.metadata(meta)
            )
            operations.announceReady(summary: "reload failed, running the previous configuration: \(error)")
            return
        }
        let old = operations.running.withLockedValue { $0 }
        let applied = ReloadPlan.applied(running: old, loaded: loaded)
        let restart = ReloadPlan.restartRequired(running: old, loaded: loaded)
        let live = ReloadPlan.appliedLive(running: old, loaded: loaded)
        apply(applied)
        do {
            try reloadTLS(applied.gateway)
        } catch {
            logger.error(
                "TLS certificate reload failed: keeping the previous certificate",
                metadata: ["error": "\(error)"]
            )
        }
        operations.running.withLockedValue { $0 = applied }
        operations.restartPending.withLockedValue { $0 = restart }
        logger.notice(
            "Configuration reloaded",
            metadata: LogEvent.configReloaded.metadata([
                "config_file": "\(path)",
                "applied": "\(live.joined(separator: ","))",
                "restart_required": "\(restart.joined(separator: ","))",
            ])
        )
        if !restart.isEmpty {
            logger.warning(
                "Some changed settings take effect only after a restart",
                metadata: ["restart_required": "\(restart.joined(separator: ","))"]
            )
        }
        let summary = (try? await statusSummary()) ?? "configuration reloaded"
        operations.announceReady(
            summary: SupervisionService.summary(
                summary, stale: operations.heartbeats.staleLoops(), restartPending: restart))
    }

    /// Swaps the live parts of `configuration` into the running components.
    private func apply(_ configuration: Configuration) {
        var policy = pipeline.currentPolicy
        policy.admission = AdmissionPolicy(gateway: configuration.gateway)
        policy.router = configuration.router
        policy.minFreeDisk = configuration.gateway.minFreeDisk
        policy.resumeFreeDisk = configuration.gateway.effectiveResumeFreeDisk
        pipeline.update(policy)
        applyScheduling(configuration)  // issue 4: caps and schedules, quotas, circuit, aging
        variants.update(configuration)  // issue 3: normalization and compression, for what is prepared next
        if let settings = operations.options.logSettings {
            settings.update(Self.logSettings(configuration.logging))
        }
    }

    /// The journal handler settings for a `logging:` section.
    public static func logSettings(_ logging: Configuration.Logging) -> JournalLogSettings.Snapshot {
        JournalLogSettings.Snapshot(
            level: Logger.Level(rawValue: logging.level) ?? .info,
            allowPHI: logging.logPHI,
            phiKeys: PHIMetadataKeys.all,
            suppressedKeys: logging.logUIDs ? [] : ["study_uid", "sop_instance_uid", "series_uid"]
        )
    }
}
