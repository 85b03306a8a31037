import Glibc
import Synchronization

/// Why the state directory could not be locked.
public enum StateDirectoryLockError: Error, Equatable, CustomStringConvertible {
    /// Another process (or another open of the lock file) holds the lock; `pid` is what that
    /// process wrote into the file, when readable.
    case alreadyLocked(pid: Int32?, stateDirectory: String)
    /// The lock file could not be opened or locked.
    case fileSystem(FileSystemError)

    /// A one-line explanation for logs and error output.
    public var description: String {
        switch self {
        case .alreadyLocked(let pid?, let directory):
            return "another radrelayd (pid \(pid)) is using state directory \(directory)"
        case .alreadyLocked(nil, let directory):
            return "another radrelayd is using state directory \(directory)"
        case .fileSystem(let error):
            return "cannot lock the state directory: \(error)"
        }
    }
}

/// Guarantees one daemon per state directory (DESIGN §4): an exclusive `flock` on
/// `<state>/radrelay.lock`, which holds the owner's pid for the error message of the next one.
///
/// Take it before opening the outbox and hold it for the life of the process. The kernel drops
/// the lock when the process dies, however it dies, so a stale file never blocks a restart; the
/// file itself is never deleted (unlinking a lock file lets two processes lock two different
/// files). `flock` locks belong to an open file description, so two acquisitions in one process
/// exclude each other as two processes would.
public final class StateDirectoryLock: Sendable {
    /// Name of the lock file inside the state directory.
    public static let fileName = "radrelay.lock"

    /// Path of the lock file.
    public let path: String
    private let descriptor: Mutex<Int32?>

    /// Locks `stateDirectory` (which must exist) for this process, or throws
    /// `.alreadyLocked(pid:stateDirectory:)` at once if someone else holds it.
    public init(stateDirectory: String, pid: Int32 = getpid()) throws(StateDirectoryLockError) {
        path = stateDirectory + "/" + StateDirectoryLock.fileName
        let fd: Int32
        do {
            fd = try POSIX.open(path, O_RDWR | O_CREAT, mode: 0o644)
        } catch {
            throw .fileSystem(error)
        }
        while flock(fd, LOCK_EX | LOCK_NB) != 0 {
            let code = errno
            if code == EINTR { continue }
            let owner = code == EWOULDBLOCK ? StateDirectoryLock.readPID(fd) : nil
            close(fd)
            if code == EWOULDBLOCK { throw .alreadyLocked(pid: owner, stateDirectory: stateDirectory) }
            throw .fileSystem(FileSystemError(operation: "flock", path: path, code: code))
        }
        let text = Array("\(pid)\n".utf8)
        // The pid is only a courtesy for the next acquirer's message, so a failed write is not
        // worth refusing to start over.
        if ftruncate(fd, 0) == 0 {
            _ = text.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) }
        }
        descriptor = Mutex(fd)
    }

    deinit {
        release()
    }

    /// Releases the lock (idempotent). The pid stays in the file; it means nothing once unlocked.
    public func release() {
        descriptor.withLock { fd in
            guard let open = fd else { return }
            flock(open, LOCK_UN)
            close(open)
            fd = nil
        }
    }

    /// True until `release()`.
    public var isHeld: Bool { descriptor.withLock { $0 != nil } }

    private static func readPID(_ fd: Int32) -> Int32? {
        var buffer = [UInt8](repeating: 0, count: 32)
        let count = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, 0) }
        guard count > 0 else { return nil }
        let text = String(decoding: buffer[0..<count], as: UTF8.self)
        return text.split(whereSeparator: \.isWhitespace).first.flatMap { Int32($0) }
    }
}
