import CDCMTK
import Foundation

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
        if initialized { return }
        var error = rr_error()
        let code = rr_runtime_initialize(&error)
        guard code == Int32(RR_RUNTIME_OK) else {
            throw InitializationError(description: "DCMTK initialisation failed: " + String(cMessage: error))
        }
        initialized = true
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
