/// Lexical path arithmetic for the directories named in the config: relative paths are taken
/// relative to the config file's directory (not the daemon's working directory, which systemd
/// sets to `/`), and `.` and `..` are folded away so logs show the real location. Symbolic
/// links are left alone.
enum PathResolver {
    /// `path` made absolute against `base` (itself absolute) and normalized.
    static func resolve(_ path: String, against base: String) -> String {
        normalize(path.hasPrefix("/") ? path : base + "/" + path)
    }

    /// Folds `.`, `..` and repeated slashes of an absolute path; `..` above `/` stays at `/`.
    static func normalize(_ path: String) -> String {
        var components: [Substring] = []
        for component in path.split(separator: "/") {
            switch component {
            case ".": continue
            case "..": _ = components.popLast()
            default: components.append(component)
            }
        }
        return "/" + components.joined(separator: "/")
    }

    /// The directory part of a normalized absolute path (`/etc/radrelay.yaml` → `/etc`).
    static func directory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/"), slash != path.startIndex else { return "/" }
        return String(path[..<slash])
    }

    /// The first entry of a systemd directory variable such as `$STATE_DIRECTORY`, which holds
    /// a colon-separated list when the unit names several directories; nil when unset or empty.
    static func firstEntry(ofDirectoryList value: String?) -> String? {
        guard let value else { return nil }
        return value.split(separator: ":").first.map(String.init)
    }
}
