import ArgumentParser
import Foundation
import RadRelayConfig
import RadRelayDaemon

/// `radrelayctl normalize --dry-run --config PATH FILE.dcm` (issue 3): shows what each
/// normalization rule would change in one file (before → after) and what the Original
/// Attributes Sequence would record. Works without a daemon and writes nothing.
struct Normalize: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show what normalization rules would change in a DICOM file (dry run).",
        discussion: """
            With --calling-ae and/or --profile, shows the chain a delivery would get: the \
            source's profiles (and assumed character set), then the route's. With neither, \
            applies each profile of the configuration alone. Prints patient data from FILE.
            """
    )

    @Flag(name: .long, help: "Only show the changes (required: nothing else is supported).")
    var dryRun = false

    @Option(name: .long, help: "Configuration file.")
    var config: String = "/etc/radrelay/radrelay.yaml"

    @Option(name: .long, help: "Calling AE title of the sender, for its sources: entry.")
    var callingAe: String?

    @Option(name: .long, help: "A route-level profile to apply after the source's (repeatable).")
    var profile: [String] = []

    @Option(name: .long, help: "Also show what this destination's transfer_syntax would do.")
    var destination: String?

    @Flag(name: .long, help: "Print JSON.")
    var json = false

    @Argument(help: "The DICOM file.")
    var file: String

    func validate() throws {
        guard dryRun else { throw ValidationError("only --dry-run is supported: radrelayctl never edits files") }
    }

    func run() throws {
        let configuration = try DryRunSupport.loadConfiguration(path: config)
        do {
            let reports = try NormalizationDryRun.run(
                configuration: configuration, file: file, callingAE: callingAe, profiles: profile,
                destination: destination)
            if json {
                try DryRunSupport.printJSON(reports)
            } else {
                print(NormalizationDryRun.text(reports), terminator: "")
            }
        } catch let error as NormalizationDryRun.UsageError {
            FileHandle.standardError.write(Data("radrelayctl: \(error)\n".utf8))
            throw ExitCode(1)
        }
    }
}
