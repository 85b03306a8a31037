import CDCMTK
import Foundation
import Logging
import NIOConcurrencyHelpers
import RadRelayCore

/// Process-wide preparation of DCMTK. Call `initialize()` once at start-up, before any listener,
/// sender or inspector runs; later calls are cheap no-ops. The sender and inspector also call it
/// themselves, so a forgotten call costs only the early, clear error.
public enum DCMTKRuntime {
    /// DCMTK cannot work in this process, typically because its data dictionary is missing.
    public struct InitializationError: Error, CustomStringConvertible, Sendable {
        /// What is wrong and how to fix it (names libdcmtk17 and DCMDICTPATH for the dictionary).
        public let description: String
    }

    private static let lock = NSLock()
    nonisolated(unsafe) private static var initialized = false

    /// Sets `TCP_NODELAY=1` in the environment (DCMTK disables Nagle only then), ignores SIGPIPE,
    /// limits DCMTK's own logging to warnings and above, registers the JPEG-LS, JPEG and RLE
    /// decoders and encoders, and verifies that the data dictionary is loaded.
    ///
    /// Idempotent and thread-safe. Call it before other threads read the environment: it uses
    /// `setenv`.
    /// - Throws: `InitializationError` when the data dictionary is not loaded (install the
    ///   `libdcmtk17` package or point `DCMDICTPATH` at `dicom.dic`).
    public static func initialize() throws(InitializationError) {
        lock.lock()
        defer { lock.unlock() }
        try initializeHoldingLock()
    }

    private static func initializeHoldingLock() throws(InitializationError) {
        if initialized { return }
        var error = rr_error()
        let code = rr_runtime_initialize(&error)
        guard code == Int32(RR_RUNTIME_OK) else {
            throw InitializationError(description: "DCMTK initialisation failed: " + String(cMessage: error))
        }
        initialized = true
    }

    // MARK: - DCMTK's own log

    /// Where DCMTK's messages go; read on DCMTK's threads by `forward`, replaced by `routeLogs`.
    private static let logTarget = NIOLockedValueBox<Logger?>(nil)

    /// Sends DCMTK's own log output (oflog) to `logger` instead of DCMTK's console appender on
    /// stderr: each message at `minimumLevel` or above becomes one entry with a constant message,
    /// `LogEvent.dcmtkMessage`'s metadata, `dcmtk_logger` (e.g. `dcmtk.dcmdata`) and
    /// `dcmtk_message`. oflog's FATAL, ERROR, WARN, INFO, DEBUG and TRACE become `critical`,
    /// `error`, `warning`, `info`, `debug` and `trace`.
    ///
    /// Messages below `minimumLevel` are dropped inside DCMTK, before they are formatted; at
    /// debug and trace DCMTK dumps whole datasets (patient data included), which is why the
    /// daemon keeps the default. `dcmtk_message` is only the first line of what DCMTK wrote, cut
    /// to 1 KiB (`rr_log.h`): multi-line messages carry dumps on their further lines.
    ///
    /// Runs `initialize()` first (ignoring its error), because its one-time set-up replaces
    /// DCMTK's log appenders. Calling it again replaces the logger and the level. Thread-safe.
    public static func routeLogs(to logger: Logger, minimumLevel: Logger.Level = .warning) {
        lock.lock()
        defer { lock.unlock() }
        try? initializeHoldingLock()
        logTarget.withLockedValue { $0 = logger }
        var error = rr_error()
        let sink: rr_log_sink = { _, level, name, message in
            DCMTKRuntime.forward(oflogLevel: Int(level), loggerName: name, message: message)
        }
        if rr_log_install_sink(sink, nil, oflogLevel(minimumLevel), &error) != Int32(RR_LOG_OK) {
            logger.error(
                "DCMTK's log could not be routed; it stays on stderr",
                metadata: ["error": .string(String(cMessage: error))]
            )
        }
    }

    /// One message from DCMTK, on the thread that logged it.
    private static func forward(
        oflogLevel: Int,
        loggerName: UnsafePointer<CChar>?,
        message: UnsafePointer<CChar>?
    ) {
        guard let logger = logTarget.withLockedValue({ $0 }) else { return }
        let level = logLevel(oflogLevel: oflogLevel)
        let metadata = LogEvent.dcmtkMessage.metadata([
            "dcmtk_logger": .string(loggerName.map { String(cString: $0) } ?? ""),
            "dcmtk_message": .string(message.map { String(cString: $0) } ?? ""),
        ])
        if level >= .warning {
            logger.log(level: level, "DCMTK reported a problem", metadata: metadata)
        } else {
            logger.log(level: level, "DCMTK log message", metadata: metadata)
        }
    }

    /// Logs `message` through the DCMTK logger `loggerName` as DCMTK itself would: for tests of
    /// what reaches the routed logger (several lines, oversized messages). False on a C++ error.
    @discardableResult
    static func emit(oflogLevel level: Int32, loggerName: String, message: String) -> Bool {
        var error = rr_error()
        return rr_log_emit(level, loggerName, message, &error) == Int32(RR_LOG_OK)
    }

    /// The swift-log level of an oflog level (`RR_LOG_*`).
    static func logLevel(oflogLevel level: Int) -> Logger.Level {
        switch level {
        case Int(RR_LOG_FATAL)...: return .critical
        case Int(RR_LOG_ERROR)...: return .error
        case Int(RR_LOG_WARN)...: return .warning
        case Int(RR_LOG_INFO)...: return .info
        case Int(RR_LOG_DEBUG)...: return .debug
        default: return .trace
        }
    }

    /// The least severe oflog level whose messages map to `level` or above. oflog has nothing
    /// between INFO and WARN, so `notice` lets WARN and above through.
    static func oflogLevel(_ level: Logger.Level) -> Int32 {
        switch level {
        case .trace: return Int32(RR_LOG_TRACE)
        case .debug: return Int32(RR_LOG_DEBUG)
        case .info: return Int32(RR_LOG_INFO)
        case .notice, .warning: return Int32(RR_LOG_WARN)
        case .error: return Int32(RR_LOG_ERROR)
        case .critical: return Int32(RR_LOG_FATAL)
        }
    }
}

extension String {
    /// The message of a shim error.
    init(cMessage error: rr_error) {
        self = String(cTuple: error.message)
    }

    /// Decodes a NUL-terminated C `char[N]` array, which Swift imports as a tuple.
    init<T>(cTuple tuple: T) {
        self = withUnsafeBytes(of: tuple) { raw in
            let bytes = raw.bindMemory(to: UInt8.self)
            let end = bytes.firstIndex(of: 0) ?? bytes.count
            return String(decoding: bytes[..<end], as: UTF8.self)
        }
    }
}
