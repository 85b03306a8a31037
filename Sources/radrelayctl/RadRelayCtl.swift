import ArgumentParser
import Foundation
import RadRelayConfig
import RadRelayDaemon

/// `radrelayctl`: asks a running radrelayd over its control socket.
@main
struct RadRelayCtl: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "radrelayctl",
        abstract: "Inspect a running radrelay gateway.",
        version: radrelayVersion,
        subcommands: [Status.self, CheckConfig.self]
    )
}

/// Where to find the daemon's control socket.
struct SocketOptions: ParsableArguments {
    @Option(name: .long, help: "Control socket path (default: from the configuration).")
    var socket: String?

    @Option(name: .long, help: "Configuration file, used to find the control socket.")
    var config: String = "/etc/radrelay/radrelay.yaml"

    func socketPath() throws -> String {
        if let socket { return socket }
        if let runtime = ProcessInfo.processInfo.environment["RUNTIME_DIRECTORY"], FileManager.default.fileExists(atPath: runtime + "/control.sock") {
            return runtime + "/control.sock"
        }
        let configuration = try ConfigurationLoader.load(path: config)
        let directory = configuration.gateway.runtimeDirectory ?? configuration.gateway.stateDirectory
        return (directory as NSString).appendingPathComponent("control.sock")
    }
}

struct Status: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Listener and per-destination queue summary.")

    @OptionGroup var socket: SocketOptions
    @Flag(name: .long, help: "Print JSON.") var json = false

    func run() throws {
        let body = try ControlClient.request(socketPath: try socket.socketPath(), path: "/status")
        if json {
            FileHandle.standardOutput.write(body)
            print()
            return
        }
        let report = try JSONDecoder().decode(StatusReport.self, from: body)
        print("radrelay \(report.version), up \(Int(report.uptimeSeconds)) s")
        print("listener \(report.listener.address):\(report.listener.port), \(report.activeAssociations) active associations")
        let header = ["DESTINATION", "HEALTH", "QUEUED", "ACTIVE", "DEFERRED", "HELD", "DELIVERED", "DEAD", "OLDEST", "LAST ERROR"]
        var rows = [header]
        for d in report.destinations {
            rows.append([
                d.name, d.health,
                "\(d.counts["queued"] ?? 0)", "\(d.counts["active"] ?? 0)", "\(d.counts["deferred"] ?? 0)",
                "\(d.counts["held"] ?? 0)", "\(d.counts["delivered"] ?? 0)", "\(d.counts["dead"] ?? 0)",
                d.oldestPendingAgeSeconds.map { "\(Int($0))s" } ?? "-", d.lastError ?? "-",
            ])
        }
        let widths = header.indices.map { column in rows.map { $0[column].count }.max() ?? 0 }
        for row in rows {
            print(row.enumerated().map { $1.padding(toLength: widths[$0], withPad: " ", startingAt: 0) }.joined(separator: "  "))
        }
    }
}

struct CheckConfig: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "check-config", abstract: "Validate a configuration file.")

    @Option(name: .long, help: "Configuration file.") var config: String = "/etc/radrelay/radrelay.yaml"

    func run() throws {
        do {
            _ = try ConfigurationLoader.load(path: config)
            print("\(config): configuration is valid")
        } catch {
            FileHandle.standardError.write(Data("\(error)\n".utf8))
            throw ExitCode(1)
        }
    }
}
