import ArgumentParser
import Foundation
import RadRelayConfig
import RadRelayDaemon

/// `radrelayctl`: asks a running radrelayd over its control socket (HTTP+JSON on a Unix socket,
/// so `curl --unix-socket` works too). Every command prints a human table, or JSON with `--json`.
@main
struct RadRelayCtl: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "radrelayctl",
        abstract: "Inspect and steer a running radrelay gateway.",
        version: radrelayVersion,
        subcommands: [
            Status.self, Queue.self, Studies.self, Retry.self, Requeue.self, Hold.self, Release.self, Purge.self,
            Echo.self, CheckConfig.self, Normalize.self, Route.self,
        ]
    )
}

// MARK: - Shared options

/// Where to find the daemon's control socket.
struct SocketOptions: ParsableArguments {
    @Option(name: .long, help: "Control socket path (default: from the configuration).")
    var socket: String?

    @Option(name: .long, help: "Configuration file, used to find the control socket.")
    var config: String = "/etc/radrelay/radrelay.yaml"

    @Flag(name: .long, help: "Print the daemon's JSON answer.")
    var json = false

    func socketPath() throws -> String {
        if let socket { return socket }
        if let runtime = ProcessInfo.processInfo.environment["RUNTIME_DIRECTORY"],
            FileManager.default.fileExists(atPath: runtime + "/control.sock")
        {
            return runtime + "/control.sock"
        }
        if !FileManager.default.fileExists(atPath: config), FileManager.default.fileExists(atPath: "/run/radrelay/control.sock") {
            return "/run/radrelay/control.sock"
        }
        let configuration = try ConfigurationLoader.load(path: config)
        let directory = configuration.gateway.runtimeDirectory ?? configuration.gateway.stateDirectory
        return (directory as NSString).appendingPathComponent("control.sock")
    }

    /// Sends a request; on an error answer prints the daemon's message and exits 1.
    func request(_ method: String = "GET", _ path: String, body: Data? = nil) throws -> Data {
        do {
            return try ControlClient.request(socketPath: try socketPath(), method: method, path: path, body: body)
        } catch ControlClient.Failure.httpStatus(let code, let text) {
            let message = (try? JSONDecoder().decode(ControlCommands.CommandError.self, from: Data(text.utf8)))?.error ?? text
            FileHandle.standardError.write(Data("radrelayctl: \(message) (HTTP \(code))\n".utf8))
            throw ExitCode(1)
        } catch let failure as ControlClient.Failure {
            FileHandle.standardError.write(Data("radrelayctl: \(failure)\n".utf8))
            throw ExitCode(2)
        }
    }

    func printJSON(_ data: Data) {
        FileHandle.standardOutput.write(data)
        print()
    }
}

/// What a changing command applies to: one delivery, a study, or a destination.
struct TargetOptions: ParsableArguments {
    @Option(name: .long, help: "One delivery, by id (see `radrelayctl queue`).")
    var delivery: Int64?

    @Option(name: .long, help: "Every delivery of a study, by Study Instance UID (see `radrelayctl studies`).")
    var study: String?

    @Option(name: .long, help: "A destination (with --study: only that study's deliveries to it).")
    var destination: String?

    func validate() throws {
        let given = [delivery != nil, study != nil].filter { $0 }.count
        if given > 1 || (given == 0 && destination == nil) {
            throw ValidationError("give one of --delivery, --study (optionally with --destination) or --destination")
        }
        if delivery != nil && destination != nil { throw ValidationError("--delivery cannot be combined with --destination") }
    }

    var target: ControlCommands.Target {
        ControlCommands.Target(delivery: delivery, study: study, destination: destination)
    }
}

// MARK: - Read-only commands

struct Status: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Listener, per-destination queues and health, disk, dead letters, certificates.")

    @OptionGroup var options: SocketOptions

    func run() throws {
        let body = try options.request("GET", "/status")
        if options.json { return options.printJSON(body) }
        let report = try JSONDecoder().decode(StatusReport.self, from: body)
        print("radrelay \(report.version), up \(formatAge(report.uptimeSeconds)), ready: \(report.ready.map { $0 ? "yes" : "no" } ?? "?")")
        print(
            "listener \(report.listener.aeTitle ?? "?")@\(report.listener.address):\(report.listener.port), "
                + "\(report.activeAssociations) active associations")
        if let disk = report.disk {
            print(
                "disk \(formatBytes(disk.availableBytes)) free of \(formatBytes(disk.totalBytes)) "
                    + "(refuse below \(disk.minFree), resume at \(disk.resumeFree))"
                    + (disk.low ? " — LOW: refusing objects with 0xA700" : ""))
        }
        print("dead letters \(report.deadLetters ?? 0)")
        if let stale = report.staleLoops, !stale.isEmpty { print("STALLED loops: \(stale.joined(separator: ", "))") }
        if let pending = report.restartPending, !pending.isEmpty {
            print("restart required to apply: \(pending.joined(separator: ", "))")
        }
        if let metrics = report.metrics { print("metrics http://\(metrics.address):\(metrics.port)/metrics") }
        print()
        var rows: [[String]] = []
        for d in report.destinations {
            let byPriority = ["stat", "high", "routine", "low"].map { "\(d.pendingByPriority?[$0]?.count ?? 0)" }
                .joined(separator: "/")
            var rate = d.rate.map { "\(formatBytes(Int64($0.bytesPerSecond)))/s" } ?? "-"
            if let cap = d.rate?.capBytesPerSecond { rate += " of \(formatBytes(Int64(cap)))/s" }
            rows.append([
                d.name, d.health,
                "\(d.counts["queued"] ?? 0)", "\(d.counts["active"] ?? 0)", "\(d.counts["deferred"] ?? 0)",
                "\(d.counts["held"] ?? 0)", "\(d.counts["delivered"] ?? 0)", "\(d.counts["dead"] ?? 0)",
                formatBytes(d.queuedBytes), byPriority, formatAge(d.oldestPendingAgeSeconds), rate, d.lastError ?? "-",
            ])
        }
        printTable(
            [
                "DESTINATION", "HEALTH", "QUEUED", "ACTIVE", "DEFERRED", "HELD", "DELIVERED", "DEAD", "QUEUED BYTES",
                "S/H/R/L", "OLDEST", "RATE", "LAST ERROR",
            ], rows)
        printStudyHolds(report.studyHolds ?? [])
        if let certificates = report.certificates, !certificates.isEmpty {
            print()
            printTable(
                ["CERTIFICATE", "EXPIRES", "DAYS LEFT"],
                certificates.map {
                    [$0.name, $0.notAfter.map(formatTime) ?? "unreadable", $0.daysLeft.map { String(Int($0)) } ?? "-"]
                })
        }
    }
}

struct Queue: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List deliveries, oldest first.")

    @OptionGroup var options: SocketOptions
    @Option(name: .long, help: "Only this destination.") var destination: String?
    @Option(name: .long, help: "Only this state: queued, active, deferred, held, delivered, dead.") var state: String?
    @Option(name: .long, help: "At most this many rows.") var limit: Int = 100

    func run() throws {
        var query = ["limit=\(limit)"]
        if let destination { query.append("destination=\(escape(destination))") }
        if let state { query.append("state=\(escape(state))") }
        let body = try options.request("GET", "/queue?" + query.joined(separator: "&"))
        if options.json { return options.printJSON(body) }
        let queue = try JSONDecoder().decode(ControlCommands.Queue.self, from: body)
        let now = Date().timeIntervalSince1970
        printTable(
            ["ID", "DESTINATION", "STATE", "PRIORITY", "ATTEMPTS", "SIZE", "AGE", "NEXT TRY", "STUDY KEY", "LAST ERROR"],
            queue.deliveries.map {
                [
                    "\($0.id)", $0.destination, $0.state, $0.priority, "\($0.attempts)", formatBytes($0.bytes),
                    formatAge(now - $0.queuedAt), $0.nextAttemptAt.map { "in " + formatAge(max(0, $0 - now)) } ?? "-",
                    $0.studyKey, $0.lastError ?? "-",
                ]
            }, ifEmpty: "(no deliveries)")
    }
}

struct Studies: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Recent studies with progress per destination.")

    @OptionGroup var options: SocketOptions
    @Option(name: .long, help: "At most this many studies, newest first.") var limit: Int = 20

    func run() throws {
        let body = try options.request("GET", "/studies?limit=\(limit)")
        if options.json { return options.printJSON(body) }
        let studies = try JSONDecoder().decode(ControlCommands.Studies.self, from: body)
        var rows: [[String]] = []
        for study in studies.studies {
            let progress = study.destinations.keys.sorted().map { name -> String in
                let counts = study.destinations[name] ?? [:]
                let done = counts["delivered"] ?? 0
                let total = counts.values.reduce(0, +)
                let dead = counts["dead"] ?? 0
                return "\(name) \(done)/\(total)" + (dead > 0 ? " (\(dead) dead)" : "")
            }.joined(separator: ", ")
            rows.append([
                study.studyKey, study.studyInstanceUID, "\(study.instances)", study.priority,
                formatTime(study.lastReceivedAt), progress,
            ])
        }
        printTable(
            ["STUDY KEY", "STUDY INSTANCE UID", "INSTANCES", "PRIORITY", "LAST RECEIVED", "DELIVERED/TOTAL"], rows,
            ifEmpty: "(no studies)")
        printStudyHolds(studies.studies.flatMap { $0.holds ?? [] })
    }
}

/// The operator's study holds (`hold --study`) under a status or studies table; nothing when none.
func printStudyHolds(_ holds: [StatusReport.StudyHold]) {
    guard !holds.isEmpty else { return }
    print()
    printTable(
        ["HELD STUDY KEY", "STUDY INSTANCE UID", "FOR", "HELD SINCE", "BY UID"],
        holds.map {
            [$0.studyKey, $0.studyInstanceUID, $0.destination ?? "all destinations", formatTime($0.heldAt),
             $0.heldByUID.map(String.init) ?? "-"]
        })
}

struct Echo: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Test a destination before go-live: C-ECHO (DICOM) or a connection probe (STOW-RS).")

    @OptionGroup var options: SocketOptions
    @Argument(help: "Destination name.") var destination: String

    func run() throws {
        let request = try JSONEncoder().encode(ControlCommands.EchoRequest(destination: destination))
        let body = try options.request("POST", "/echo", body: request)
        let result = try JSONDecoder().decode(ControlCommands.EchoResult.self, from: body)
        if options.json {
            options.printJSON(body)
        } else if result.ok {
            print("\(result.destination): echo OK (status \(result.status ?? "-"), \(String(format: "%.3f", result.seconds)) s)")
        } else {
            print(
                "\(result.destination): echo FAILED: \(result.failure ?? "?")"
                    + (result.status.map { " status \($0)" } ?? "") + " — \(result.detail ?? "")")
        }
        if !result.ok { throw ExitCode(1) }
    }
}

struct CheckConfig: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check-config",
        abstract: "Validate a configuration file (or, with --daemon, the running daemon's file as it is now).")

    @OptionGroup var options: SocketOptions
    @Flag(name: .long, help: "Ask the running daemon to validate its own file and name changes needing a restart.")
    var daemon = false

    func run() throws {
        let result: ControlCommands.ConfigCheck
        if daemon {
            result = try JSONDecoder().decode(ControlCommands.ConfigCheck.self, from: try options.request("GET", "/config/check"))
        } else {
            do {
                _ = try ConfigurationLoader.load(path: options.config)
                result = .init(path: options.config, valid: true, error: nil, restartRequired: nil)
            } catch {
                result = .init(path: options.config, valid: false, error: "\(error)", restartRequired: nil)
            }
        }
        if options.json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            options.printJSON(try encoder.encode(result))
        } else if result.valid {
            print("\(result.path): configuration is valid")
            if let restart = result.restartRequired, !restart.isEmpty {
                print("changed settings that need a restart (a reload keeps the running values): \(restart.joined(separator: ", "))")
            }
        } else {
            FileHandle.standardError.write(Data("\(result.error ?? "invalid")\n".utf8))
        }
        if !result.valid { throw ExitCode(1) }
    }
}

// MARK: - Changing commands

/// Sends one changing command and prints what changed.
func runChange(_ command: String, _ options: SocketOptions, _ target: ControlCommands.Target) throws {
    let body = try options.request("POST", "/\(command)", body: try JSONEncoder().encode(target))
    if options.json { return options.printJSON(body) }
    let result = try JSONDecoder().decode(ControlCommands.CommandResult.self, from: body)
    print("\(command) \(result.target): \(result.changed) deliveries changed")
}

struct Retry: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Send dead letters again: one delivery, a study, or all dead of a destination.")
    @OptionGroup var options: SocketOptions
    @OptionGroup var target: TargetOptions
    func run() throws { try runChange("retry", options, target.target) }
}

struct Requeue: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Queue deferred, held or dead deliveries again now, skipping any remaining backoff.")
    @OptionGroup var options: SocketOptions
    @OptionGroup var target: TargetOptions
    func run() throws { try runChange("requeue", options, target.target) }
}

struct Hold: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Stop sending a destination's or a study's deliveries until released.")
    @OptionGroup var options: SocketOptions
    @OptionGroup var target: TargetOptions
    func run() throws { try runChange("hold", options, target.target) }
}

struct Release: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Resume held deliveries of a destination or a study.")
    @OptionGroup var options: SocketOptions
    @OptionGroup var target: TargetOptions
    func run() throws { try runChange("release", options, target.target) }
}

struct Purge: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Delete deliveries (dead ones by default) and their spool files. Asks for confirmation.")
    @OptionGroup var options: SocketOptions
    @OptionGroup var target: TargetOptions
    @Option(name: .long, help: "States to delete (repeatable): queued, deferred, held, delivered, dead.")
    var state: [String] = ["dead"]
    @Flag(name: .long, help: "Do not ask; delete at once.") var yes = false

    func run() throws {
        var request = target.target
        request.states = state
        request.confirm = false
        let preview = try JSONDecoder().decode(
            ControlCommands.CommandResult.self,
            from: try options.request("POST", "/purge", body: try JSONEncoder().encode(request)))
        if preview.changed == 0 {
            if options.json { return try runChange("purge", options, request) }
            print("purge \(preview.target): nothing to delete")
            return
        }
        if !yes {
            guard isatty(0) == 1 else {
                FileHandle.standardError.write(
                    Data("radrelayctl: purge would delete \(preview.changed) deliveries; confirm with --yes\n".utf8))
                throw ExitCode(1)
            }
            print(
                "Delete \(preview.changed) \(state.joined(separator: "/")) deliveries of \(preview.target) and their "
                    + "spool files? This cannot be undone. Type 'yes': ", terminator: "")
            guard readLine()?.trimmingCharacters(in: .whitespaces) == "yes" else {
                print("nothing deleted")
                throw ExitCode(1)
            }
        }
        request.confirm = true
        try runChange("purge", options, request)
    }
}

func escape(_ value: String) -> String {
    value.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(CharacterSet(charactersIn: "-._~"))) ?? value
}
