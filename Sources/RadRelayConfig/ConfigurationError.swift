/// Why `radrelay.yaml` could not be loaded, with the place to look: the file, the line and column
/// (1-based, from the YAML parser's marks) and the dotted key path, such as
/// `gateway.allowed_callers[0].ae_title`.
///
/// `description` reads like a compiler diagnostic, `file:line:col: keypath: message`, so editors
/// and `radrelayd --check-config` users can jump to it. Errors about the file as a whole (it
/// cannot be read, it is not YAML) have an empty key path and print as `file:line:col: message`.
public struct ConfigurationError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What kind of mistake this is, for programs that react to it (tests, reload reporting).
    public enum Kind: String, Sendable, Equatable {
        /// The file could not be read or is not UTF-8.
        case unreadable
        /// The text is not well-formed YAML.
        case syntax
        /// A key that radrelay does not know (usually a typo); never silently ignored.
        case unknownKey
        /// The same key twice in one mapping.
        case duplicateKey
        /// A required key is absent; reported at the line of the mapping that should hold it.
        case missingKey
        /// A mapping where a list was expected, a list where a value was expected, and so on.
        case wrongType
        /// A value of the right shape that does not pass validation (range, grammar, AE title, …).
        case invalidValue
        /// A value that must be unique appears twice (destination names, caller AE titles, …).
        case duplicateValue
        /// A reference to something not defined elsewhere in the file (a route's destination, …).
        case unknownReference
    }

    /// The config file as it was named to the loader (or the name given to `load(yaml:)`).
    public var file: String
    /// 1-based line of the offending key or value.
    public var line: Int
    /// 1-based column of the offending key or value, counted in Unicode scalars.
    public var column: Int
    /// Dotted key path with list indices, e.g. `destinations[1].port`; empty for whole-file errors.
    public var keyPath: String
    /// What is wrong, in one sentence without a trailing period.
    public var message: String
    /// The category of the mistake.
    public var kind: Kind

    /// Creates an error; the loader is the only producer outside tests.
    public init(file: String, line: Int, column: Int, keyPath: String, message: String, kind: Kind) {
        self.file = file
        self.line = line
        self.column = column
        self.keyPath = keyPath
        self.message = message
        self.kind = kind
    }

    /// `file:line:col: keypath: message`, or `file:line:col: message` when there is no key path.
    public var description: String {
        let place = "\(file):\(line):\(column)"
        return keyPath.isEmpty ? "\(place): \(message)" : "\(place): \(keyPath): \(message)"
    }
}
