import Logging

/// Turns one swift-log call into journal fields (pure, so the field rules are unit-tested
/// without a journal). The message stays constant text; data comes from metadata, each key
/// upper-cased into a journal field name (`dicom_calling_aet` → `DICOM_CALLING_AET`).
public enum JournalEntry {
    /// Fields the handler writes itself; metadata cannot override them.
    static let reservedFields: Set<String> = [
        "MESSAGE", "PRIORITY", "SYSLOG_IDENTIFIER", "SYSLOG_FACILITY", "SYSLOG_PID", "CODE_FILE", "CODE_LINE",
        "CODE_FUNC", "ERRNO", "SYSLOG_TIMESTAMP",
    ]

    /// syslog(3) priority of a swift-log level.
    public static func priority(_ level: Logger.Level) -> Int {
        switch level {
        case .trace, .debug: return 7
        case .info: return 6
        case .notice: return 5
        case .warning: return 4
        case .error: return 3
        case .critical: return 2
        }
    }

    /// A journal field name for a metadata key: upper case, `[A-Z0-9_]` only, starting with a
    /// letter, at most 64 characters. `event` becomes `RADRELAY_EVENT`; names the handler owns
    /// get an `M_` prefix. Nil when nothing usable is left.
    public static func fieldName(_ key: String) -> String? {
        if key == "event" { return "RADRELAY_EVENT" }
        var name = String(
            key.uppercased().unicodeScalars.map { scalar -> Character in
                let c = Character(scalar)
                return (scalar.isASCII && (c.isLetter || c.isNumber)) ? c : "_"
            }
        )
        while let first = name.first, !first.isLetter { name.removeFirst() }
        guard !name.isEmpty else { return nil }
        if reservedFields.contains(name) { name = "M_" + name }
        return String(name.prefix(64))
    }

    /// The metadata that may be written at `level` under `settings`: PHI keys only with
    /// `allowPHI` and never above debug; suppressed keys never.
    public static func filter(
        _ metadata: Logger.Metadata,
        level: Logger.Level,
        settings: JournalLogSettings.Snapshot
    ) -> Logger.Metadata {
        let phiAllowed = settings.allowPHI && level <= .debug
        return metadata.filter { key, _ in
            let lower = key.lowercased()
            if settings.suppressedKeys.contains(lower) { return false }
            if settings.phiKeys.contains(lower) { return phiAllowed }
            return true
        }
    }

    /// All fields of one entry, in a stable order: MESSAGE, PRIORITY, SYSLOG_IDENTIFIER, the
    /// metadata fields sorted by name, then CODE_FILE/CODE_LINE/CODE_FUNC.
    public static func fields(
        level: Logger.Level,
        message: Logger.Message,
        metadata: Logger.Metadata,
        identifier: String,
        file: String,
        function: String,
        line: UInt
    ) -> [(name: String, value: String)] {
        var fields: [(name: String, value: String)] = [
            ("MESSAGE", message.description),
            ("PRIORITY", String(priority(level))),
            ("SYSLOG_IDENTIFIER", identifier),
        ]
        var seen: Set<String> = []
        for (key, value) in metadata.sorted(by: { $0.key < $1.key }) {
            guard let name = fieldName(key), seen.insert(name).inserted else { continue }
            fields.append((name, text(value)))
        }
        fields.append(("CODE_FILE", file))
        fields.append(("CODE_LINE", String(line)))
        fields.append(("CODE_FUNC", function))
        return fields
    }

    /// One stderr line for journald's stream parser (`SyslogLevelPrefix=yes`, the default):
    /// `<6>Object stored DESTINATION=pacs DICOM_CALLING_AET=CT1`, with values quoted when they hold
    /// spaces. No CODE_* fields: they would only clutter a terminal.
    public static func stderrLine(level: Logger.Level, message: Logger.Message, metadata: Logger.Metadata) -> String {
        var line = "<\(priority(level))>" + oneLine(message.description)
        for (key, value) in metadata.sorted(by: { $0.key < $1.key }) {
            guard let name = fieldName(key) else { continue }
            var rendered = oneLine(text(value))
            if rendered.isEmpty || rendered.contains(" ") || rendered.contains("\"") {
                rendered = "\"" + rendered.flatMap { $0 == "\"" ? ["\\", "\""] : [$0] } + "\""
            }
            line += " \(name)=\(rendered)"
        }
        return line + "\n"
    }

    static func text(_ value: Logger.MetadataValue) -> String {
        switch value {
        case .string(let s): return s
        case .stringConvertible(let c): return c.description
        default: return value.description
        }
    }

    private static func oneLine(_ text: String) -> String {
        guard text.contains(where: { $0 == "\n" || $0 == "\r" }) else { return text }
        return String(text.map { $0 == "\n" || $0 == "\r" ? " " : $0 })
    }
}
