import Foundation
import Yams

/// Reads `radrelay.yaml` into a validated `Configuration`. Every failure is a
/// `ConfigurationError` naming the file, line, column and key path; nothing is defaulted
/// silently except keys that are absent (unknown keys are errors).
///
/// The YAML is parsed into a node tree and walked section by section (`ConfigurationParser`),
/// so positions survive until validation. Sections are read in a fixed order (gateway,
/// destinations, routes, outbox, logging) and the first error stops the load.
public enum ConfigurationLoader {
    /// The state directory when the file names none and systemd set no `$STATE_DIRECTORY`.
    public static let defaultStateDirectory = "/var/lib/radrelay"

    /// Loads and validates the file at `path`. Relative directories in it are resolved against
    /// the file's own directory; `environment` supplies `$STATE_DIRECTORY` and
    /// `$RUNTIME_DIRECTORY` defaults (systemd sets them).
    public static func load(
        path: String,
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws(ConfigurationError) -> Configuration {
        let absolute = PathResolver.resolve(path, against: FileManager.default.currentDirectoryPath)
        let yaml = try readText(path: path)
        return try load(
            yaml: yaml,
            baseDirectory: PathResolver.directory(of: absolute),
            fileName: path,
            environment: environment
        )
    }

    /// Loads and validates YAML text. `baseDirectory` plays the role of the file's directory for
    /// relative paths; `fileName` is used in error messages.
    public static func load(
        yaml: String,
        baseDirectory: String,
        fileName: String = "radrelay.yaml",
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws(ConfigurationError) -> Configuration {
        let root: Node?
        do {
            root = try Yams.compose(yaml: yaml)
        } catch {
            throw syntaxError(error, file: fileName)
        }
        guard let root else {
            let message = "the file is empty; it needs at least gateway, destinations and routes"
            throw ConfigurationError(
                file: fileName, line: 1, column: 1, keyPath: "", message: message, kind: .missingKey
            )
        }
        let parser = ConfigurationParser(
            baseDirectory: PathResolver.resolve(baseDirectory, against: FileManager.default.currentDirectoryPath),
            environment: environment
        )
        return try parser.configuration(ConfigNode(node: root, keyPath: "", file: fileName))
    }

    // MARK: - Reading

    private static func readText(path: String) throws(ConfigurationError) -> String {
        func unreadable(_ message: String) -> ConfigurationError {
            ConfigurationError(file: path, line: 1, column: 1, keyPath: "", message: message, kind: .unreadable)
        }
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw unreadable("no such file")
        }
        guard !isDirectory.boolValue else { throw unreadable("is a directory, not a file") }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw unreadable("cannot read the file (check its permissions)")
        }
        guard let text = String(data: data, encoding: .utf8) else { throw unreadable("the file is not UTF-8 text") }
        return text
    }

    /// Turns a Yams parse error into a positioned error without key path.
    private static func syntaxError(_ error: any Error, file: String) -> ConfigurationError {
        var line = 1, column = 1
        var message = "not valid YAML"
        if let yamlError = error as? YamlError {
            switch yamlError {
            case .scanner(let context, let problem, let mark, _),
                .parser(let context, let problem, let mark, _),
                .composer(let context, let problem, let mark, _):
                (line, column) = (mark.line, mark.column)
                let prefix = context.map { "\($0.text) (line \($0.mark.line)): " } ?? ""
                message = "not valid YAML: " + prefix + problem
            case .reader(let problem, _, _, _):
                message = "not valid YAML: " + problem
            default:
                message = "not valid YAML: \(yamlError)"
            }
        }
        return ConfigurationError(file: file, line: line, column: column, keyPath: "", message: message, kind: .syntax)
    }
}
