import ArgumentParser
import Foundation
import Logging
import Metrics
import Prometheus
import RadRelayConfig
import RadRelayDaemon
import RadRelaySystemd

/// `radrelayd`: the gateway daemon. Parses arguments, bootstraps logging and metrics, builds the
/// daemon from the configuration and runs it (CONVENTIONS §5: everything else is in
/// RadRelayDaemon).
@main
struct RadRelayD: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "radrelayd",
        abstract: "DICOM edge routing gateway: receive, queue durably, forward.",
        version: radrelayVersion
    )

    @Option(name: .long, help: "Configuration file.")
    var config: String = "/etc/radrelay/radrelay.yaml"

    @Flag(name: .long, help: "Validate the configuration, print the result and exit 0 (valid) or 1.")
    var checkConfig = false

    func run() async throws {
        ProcessSetup.unblockShutdownSignals()
        let configuration: Configuration
        do {
            configuration = try ConfigurationLoader.load(path: config)
        } catch {
            FileHandle.standardError.write(Data("radrelayd: \(error)\n".utf8))
            throw ExitCode(1)
        }
        if checkConfig {
            print("radrelayd: \(config): configuration is valid")
            return
        }
        // Native journal fields under systemd, `<N>`-prefixed stderr lines otherwise; the
        // settings object lets SIGHUP change level and PHI rules of existing loggers.
        let settings = JournalLogSettings(Daemon.logSettings(configuration.logging))
        let output = JournalLogHandler.Output.detect(environment: ProcessInfo.processInfo.environment)
        LoggingSystem.bootstrap { label in
            JournalLogHandler(label: label, identifier: "radrelayd", settings: settings, output: output)
        }
        MetricsSystem.bootstrap(PrometheusMetricsFactory())
        let logger = Logger(label: "radrelay")
        let daemon: Daemon
        do {
            daemon = try Daemon.build(
                configuration: configuration,
                logger: logger,
                options: DaemonOptions(configPath: config, logSettings: settings)
            )
        } catch {
            logger.critical("radrelayd cannot start", metadata: ["error": "\(error)"])
            throw ExitCode(1)
        }
        do {
            try await daemon.run()
        } catch {
            logger.critical("radrelayd stopped on error", metadata: ["error": "\(error)"])
            throw ExitCode(1)
        }
    }
}
