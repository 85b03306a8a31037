import CSystemd
import Logging

#if canImport(Glibc)
import Glibc
#endif

/// A swift-log handler for a systemd service: native journal entries through libsystemd's
/// `sd_journal_sendv` when stderr is connected to the journal, else stderr lines with `<N>`
/// priority prefixes (which journald also understands, and which read fine in a terminal).
///
/// Only the executable bootstraps it (CONVENTIONS §12). Fields and PHI rules: `JournalEntry`.
public struct JournalLogHandler: LogHandler {
    /// Where entries go.
    public enum Output: Sendable, Equatable {
        /// `sd_journal_sendv` (native fields).
        case journal
        /// stderr, one line per entry with a `<N>` prefix.
        case stderr

        /// `.journal` when `JOURNAL_STREAM` names the device and inode of our stderr, as
        /// systemd sets it for a service whose stderr is the journal (systemd.exec(5));
        /// `.stderr` otherwise, including when stderr was redirected after systemd set it.
        public static func detect(environment: [String: String]) -> Output {
            guard let stream = environment["JOURNAL_STREAM"] else { return .stderr }
            let parts = stream.split(separator: ":")
            guard parts.count == 2, let device = UInt64(parts[0]), let inode = UInt64(parts[1]) else { return .stderr }
            var info = stat()
            guard fstat(2, &info) == 0 else { return .stderr }
            return UInt64(info.st_dev) == device && UInt64(info.st_ino) == inode ? .journal : .stderr
        }
    }

    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?
    private var levelOverride: Logger.Level?
    private let label: String
    private let identifier: String
    private let settings: JournalLogSettings
    private let output: Output

    /// A handler for `label`, writing with `SYSLOG_IDENTIFIER=identifier`.
    public init(label: String, identifier: String, settings: JournalLogSettings, output: Output) {
        self.label = label
        self.identifier = identifier
        self.settings = settings
        self.output = output
    }

    /// The shared level, unless this handler's logger set its own.
    public var logLevel: Logger.Level {
        get { levelOverride ?? settings.level }
        set { levelOverride = newValue }
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(
        level: Logger.Level,
        message: Logger.Message,
        metadata explicit: Logger.Metadata?,
        source: String,
        file: String,
        function: String,
        line: UInt
    ) {
        var merged = self.metadata
        if let provided = metadataProvider?.get() { merged.merge(provided) { $1 } }
        if let explicit { merged.merge(explicit) { $1 } }
        let snapshot = settings.snapshot
        let filtered = JournalEntry.filter(merged, level: level, settings: snapshot)
        switch output {
        case .journal:
            let fields = JournalEntry.fields(
                level: level, message: message, metadata: filtered, identifier: identifier,
                file: file, function: function, line: line
            )
            if !Self.sendToJournal(fields) {
                Self.writeToStderr(JournalEntry.stderrLine(level: level, message: message, metadata: filtered))
            }
        case .stderr:
            Self.writeToStderr(JournalEntry.stderrLine(level: level, message: message, metadata: filtered))
        }
    }

    /// One `sd_journal_sendv` call with one iovec per `NAME=value` (values may hold newlines:
    /// libsystemd then uses the binary-safe form). False when libsystemd reports an error.
    static func sendToJournal(_ fields: [(name: String, value: String)]) -> Bool {
        var buffer: [UInt8] = []
        var ranges: [Range<Int>] = []
        for field in fields {
            let start = buffer.count
            buffer.append(contentsOf: field.name.utf8)
            buffer.append(UInt8(ascii: "="))
            buffer.append(contentsOf: field.value.utf8)
            ranges.append(start..<buffer.count)
        }
        return buffer.withUnsafeMutableBytes { raw -> Bool in
            guard let base = raw.baseAddress else { return false }
            var vectors = ranges.map { iovec(iov_base: base + $0.lowerBound, iov_len: $0.count) }
            return vectors.withUnsafeMutableBufferPointer { sd_journal_sendv($0.baseAddress, Int32($0.count)) } >= 0
        }
    }

    /// One `write(2)` per entry, so lines from several threads never interleave.
    static func writeToStderr(_ line: String) {
        var bytes = Array(line.utf8)
        bytes.withUnsafeMutableBytes { raw in
            var offset = 0
            while offset < raw.count {
                let n = write(2, raw.baseAddress! + offset, raw.count - offset)
                if n < 0 && errno == EINTR { continue }
                if n <= 0 { return }
                offset += n
            }
        }
    }
}
