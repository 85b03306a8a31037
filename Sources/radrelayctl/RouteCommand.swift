import ArgumentParser
import Foundation
import RadRelayConfig
import RadRelayDaemon

/// `radrelayctl route --dry-run --config PATH FILE.dcm` (issue 4): which routing rule a file
/// matches and why, as if it arrived with the given calling AE, called AE, address and time.
/// Works without a daemon and changes nothing.
struct Route: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show which routing rule a DICOM file matches and why (dry run).",
        discussion: """
            Every rule is listed in order with each criterion's verdict and the value the file \
            has, then the destinations and priorities the gateway would queue it for, or the \
            refusal when no rule routes it. Prints attribute values from FILE.
            """
    )

    @Flag(name: .long, help: "Only explain (required: nothing else is supported).")
    var dryRun = false

    @Option(name: .long, help: "Configuration file.")
    var config: String = "/etc/radrelay/radrelay.yaml"

    @Option(name: .long, help: "Calling AE title of the sender (default: the first allowed caller).")
    var callingAe: String?

    @Option(name: .long, help: "Called AE title (default: gateway.ae_title).")
    var calledAe: String?

    @Option(name: .long, help: "Sender's IP address (default: 127.0.0.1).")
    var sourceIp: String?

    @Option(name: .long, help: "Arrival time, ISO 8601 such as 2025-01-06T19:30:00+01:00 (default: now).")
    var at: String?

    @Flag(name: .long, help: "As if the C-STORE had DIMSE priority HIGH.")
    var dimseHigh = false

    @Flag(name: .long, help: "Print JSON.")
    var json = false

    @Argument(help: "The DICOM file.")
    var file: String

    func validate() throws {
        guard dryRun else {
            throw ValidationError("only --dry-run is supported: radrelayctl never routes objects itself")
        }
        if let at, Self.parseTime(at) == nil {
            throw ValidationError("--at: expected an ISO 8601 time such as 2025-01-06T19:30:00+01:00")
        }
    }

    func run() throws {
        let configuration = try DryRunSupport.loadConfiguration(path: config)
        let report: RouteDryRun.Report
        do {
            report = try RouteDryRun.run(
                configuration: configuration, file: file,
                arrival: RouteDryRun.Arrival(
                    callingAE: callingAe, calledAE: calledAe, sourceIP: sourceIp, at: at.flatMap(Self.parseTime),
                    dimsePriority: dimseHigh ? 1 : nil))
        } catch {
            FileHandle.standardError.write(Data("radrelayctl route: \(file): \(error)\n".utf8))
            throw ExitCode(1)
        }
        if json {
            try DryRunSupport.printJSON(report)
        } else {
            print(RouteDryRun.text(report))
        }
        // Like `nginx -t`: a script can tell routed (0) from refused (2).
        if report.refusal != nil { throw ExitCode(2) }
    }

    static func parseTime(_ text: String) -> Date? {
        let formatter = ISO8601DateFormatter()
        if let date = formatter.date(from: text) { return date }
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.date(from: text)
    }
}
