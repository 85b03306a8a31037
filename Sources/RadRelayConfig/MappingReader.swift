import Yams

/// The entries of one YAML mapping, checked up front against the keys its section knows: an
/// unknown key (a typo) or a duplicate key is an error at that key's line, before any value is
/// read, so a misspelt optional key can never fall back to its default unnoticed.
///
/// To add a key to a section, add it to the section's key list and read it with `required`,
/// `optional` or `read(_:into:_:)`.
struct MappingReader {
    /// The mapping itself.
    let owner: ConfigNode
    private var entries: [String: ConfigNode] = [:]

    init(_ owner: ConfigNode, keys: [String]) throws(ConfigurationError) {
        self.owner = owner
        if owner.isNull { return }
        guard case .mapping(let mapping) = owner.node else {
            throw owner.error(.wrongType, "expected a mapping of keys to values, found \(owner.shapeName)")
        }
        for (keyNode, value) in mapping {
            let keyPosition = ConfigNode.Position(keyNode.mark) ?? owner.anchor
            guard case .scalar(let scalar) = keyNode else {
                throw owner.error(.wrongType, "a key must be a plain name", at: keyPosition)
            }
            let key = scalar.string
            let child = owner.child(key, value: value, keyPosition: keyPosition)
            guard keys.contains(key) else {
                throw owner.error(
                    .unknownKey,
                    "unknown key (\(Self.hint(for: key, known: keys)))",
                    at: keyPosition,
                    keyPath: child.keyPath
                )
            }
            if let first = entries[key] {
                throw owner.error(
                    .duplicateKey,
                    "key appears twice in one mapping (first on line \(first.anchor.line))",
                    at: keyPosition,
                    keyPath: child.keyPath
                )
            }
            entries[key] = child
        }
    }

    /// The value of `key`, or nil when the key is absent.
    func optional(_ key: String) -> ConfigNode? { entries[key] }

    /// The value of `key`; when absent, an error at the line of the mapping that should hold it.
    func required(_ key: String) throws(ConfigurationError) -> ConfigNode {
        if let node = entries[key] { return node }
        let path = owner.keyPath.isEmpty ? key : "\(owner.keyPath).\(key)"
        throw owner.error(.missingKey, "required key is missing", at: owner.anchor, keyPath: path)
    }

    /// Reads `key` with `read` into `target` when the key is present; otherwise leaves `target`,
    /// which holds the default, untouched.
    func read<Value>(
        _ key: String,
        into target: inout Value,
        _ read: (ConfigNode) throws(ConfigurationError) -> Value
    ) throws(ConfigurationError) {
        if let node = entries[key] { target = try read(node) }
    }

    /// Reads `key` with `reader` into `target` when the key is present; otherwise leaves
    /// `target`, which holds the default, untouched: `try map.read("associations", into: &n, .count)`.
    func read<Value>(
        _ key: String,
        into target: inout Value,
        _ reader: ValueReader<Value>
    ) throws(ConfigurationError) {
        if let node = entries[key] { target = try reader.read(node) }
    }

    // MARK: - Suggestions

    /// "did you mean 'x'?" for a near miss, else the list of known keys.
    static func hint(for key: String, known: [String]) -> String {
        let scored = known.map { ($0, editDistance(key.lowercased(), $0.lowercased())) }
        if let best = scored.min(by: { $0.1 < $1.1 }), best.1 <= max(1, min(3, best.0.count / 3)) {
            return "did you mean '\(best.0)'?"
        }
        return "expected one of: " + known.joined(separator: ", ")
    }

    /// Levenshtein distance, treating `-` and `_` as equal (a common slip in YAML keys).
    static func editDistance(_ a: String, _ b: String) -> Int {
        let lhs = Array(a.replacingDashes()), rhs = Array(b.replacingDashes())
        var previous = Array(0...rhs.count)
        for (i, left) in lhs.enumerated() {
            var current = [i + 1]
            for (j, right) in rhs.enumerated() {
                current.append(min(previous[j + 1] + 1, current[j] + 1, previous[j] + (left == right ? 0 : 1)))
            }
            previous = current
        }
        return previous[rhs.count]
    }
}

extension String {
    fileprivate func replacingDashes() -> String {
        String(map { $0 == "-" ? "_" : $0 })
    }
}
