import ArgumentParser
import Foundation
import RadRelayConfig

/// What the daemon-less dry-run commands (`normalize`, `route`) share: loading the configuration
/// file and printing a report as JSON.
enum DryRunSupport {
    /// The configuration at `path`; when it cannot be loaded, prints the loader's error (which
    /// names file, line and key) on stderr and exits 1.
    static func loadConfiguration(path: String) throws -> Configuration {
        do {
            return try ConfigurationLoader.load(path: path)
        } catch {
            FileHandle.standardError.write(Data("\(error)\n".utf8))
            throw ExitCode(1)
        }
    }

    /// Prints `report` as pretty JSON with sorted keys and unescaped slashes, then a newline.
    static func printJSON<Report: Encodable>(_ report: Report) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        FileHandle.standardOutput.write(try encoder.encode(report))
        print()
    }
}
