import Yams

/// A YAML node with the key path that leads to it and the file it came from, so that every
/// accessor can throw an error that names both. `anchor` is where errors about *missing*
/// children are reported: the line of the key that holds this node (or of the list item).
struct ConfigNode {
    /// A 1-based line and column in the file.
    struct Position: Equatable {
        var line: Int
        var column: Int

        init(line: Int, column: Int) {
            self.line = line
            self.column = column
        }

        init?(_ mark: Mark?) {
            guard let mark else { return nil }
            self.init(line: mark.line, column: mark.column)
        }
    }

    let node: Node
    let keyPath: String
    let file: String
    let anchor: Position

    init(node: Node, keyPath: String, file: String, anchor: Position? = nil) {
        self.node = node
        self.keyPath = keyPath
        self.file = file
        self.anchor = anchor ?? Position(node.mark) ?? Position(line: 1, column: 1)
    }

    /// Where the node itself starts.
    var position: Position { Position(node.mark) ?? anchor }

    // MARK: - Errors

    /// An error located at this node's own position.
    func error(_ kind: ConfigurationError.Kind, _ message: String) -> ConfigurationError {
        error(kind, message, at: position, keyPath: keyPath)
    }

    /// An error at `position` with `keyPath` (defaults to this node's path).
    func error(
        _ kind: ConfigurationError.Kind,
        _ message: String,
        at position: Position,
        keyPath: String? = nil
    ) -> ConfigurationError {
        ConfigurationError(
            file: file,
            line: position.line,
            column: position.column,
            keyPath: keyPath ?? self.keyPath,
            message: message,
            kind: kind
        )
    }

    // MARK: - Shape

    /// True for `~`, `null` or an empty value (`key:` with nothing after it).
    var isNull: Bool {
        if case .scalar(let scalar) = node, scalar.style == .plain || scalar.style == .any {
            return ["", "~", "null", "Null", "NULL"].contains(scalar.string)
        }
        return false
    }

    /// What the node is, for "expected …, found …" messages.
    var shapeName: String {
        switch node {
        case .mapping: return "a mapping"
        case .sequence: return "a list"
        case .scalar: return isNull ? "no value" : "a single value"
        }
    }

    /// The child at `index` of a list.
    func element(_ index: Int, _ child: Node) -> ConfigNode {
        ConfigNode(node: child, keyPath: "\(keyPath)[\(index)]", file: file)
    }

    /// The value of `key` in a mapping, anchored at the key for missing-child errors.
    func child(_ key: String, value: Node, keyPosition: Position) -> ConfigNode {
        let path = keyPath.isEmpty ? key : "\(keyPath).\(key)"
        return ConfigNode(node: value, keyPath: path, file: file, anchor: keyPosition)
    }

    /// The entries of a mapping, checked against `keys` (see `MappingReader`). A null value
    /// counts as an empty mapping, so `outbox:` with nothing under it means "all defaults".
    func mapping(keys: [String]) throws(ConfigurationError) -> MappingReader {
        try MappingReader(self, keys: keys)
    }

    /// The elements of a list; a null value is an empty list.
    func list() throws(ConfigurationError) -> [ConfigNode] {
        if isNull { return [] }
        guard case .sequence(let sequence) = node else {
            throw error(.wrongType, "expected a list, found \(shapeName)")
        }
        return sequence.enumerated().map { element($0.offset, $0.element) }
    }

    /// A list, or a single value standing for a list of one (`calling_ae: CT1` or
    /// `calling_ae: [CT1, CT2]`).
    func listOrSingle() throws(ConfigurationError) -> [ConfigNode] {
        if case .scalar = node, !isNull { return [self] }
        return try list()
    }

    /// The text of a scalar; errors for lists, mappings and null.
    func scalar() throws(ConfigurationError) -> String {
        switch node {
        case .scalar where isNull:
            throw error(.invalidValue, "no value given (remove the key to use its default)")
        case .scalar(let scalar):
            return scalar.string
        default:
            throw error(.wrongType, "expected a single value, found \(shapeName)")
        }
    }
}
