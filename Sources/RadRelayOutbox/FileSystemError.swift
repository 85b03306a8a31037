import Glibc

/// A failed file-system call in the state directory, with the `errno` the kernel returned so the
/// caller can tell a full disk (`ENOSPC`) from an I/O error (`EIO`). Either way an object that
/// hit it is refused with 0xA700, never acknowledged.
public struct FileSystemError: Error, Equatable, CustomStringConvertible {
    /// The system call or step that failed, such as `fsync` or `rename`.
    public var operation: String
    /// The path it failed on.
    public var path: String
    /// The `errno` value.
    public var code: Int32

    /// Creates an error for `operation` on `path` with `errno` `code`.
    public init(operation: String, path: String, code: Int32) {
        self.operation = operation
        self.path = path
        self.code = code
    }

    /// True when the file system is full (`ENOSPC`, or `EDQUOT` for a quota).
    public var isOutOfSpace: Bool { code == ENOSPC || code == EDQUOT }

    /// A one-line explanation for logs and error output.
    public var description: String {
        "\(operation) failed on \(path): \(String(cString: strerror(code))) (errno \(code))"
    }
}

/// Thin wrappers over the POSIX calls the spool and the lock need, retrying `EINTR` and turning
/// failures into `FileSystemError`.
enum POSIX {
    static func open(_ path: String, _ flags: Int32, mode: mode_t = 0) throws(FileSystemError) -> Int32 {
        while true {
            let fd = Glibc.open(path, flags | O_CLOEXEC, mode)
            if fd >= 0 { return fd }
            if errno != EINTR { throw FileSystemError(operation: "open", path: path, code: errno) }
        }
    }

    static func fsync(_ fd: Int32, path: String) throws(FileSystemError) {
        while Glibc.fsync(fd) != 0 {
            if errno != EINTR { throw FileSystemError(operation: "fsync", path: path, code: errno) }
        }
    }

    /// Opens `path` read-only, fsyncs it and closes it. Linux flushes a file's dirty pages
    /// whichever descriptor asks, so the writer's descriptor need not be the one synced.
    static func syncPath(_ path: String, directory: Bool) throws(FileSystemError) {
        let fd = try open(path, O_RDONLY | (directory ? O_DIRECTORY : 0))
        defer { Glibc.close(fd) }
        try fsync(fd, path: path)
    }

    static func rename(_ from: String, _ to: String) throws(FileSystemError) {
        if Glibc.rename(from, to) != 0 { throw FileSystemError(operation: "rename", path: from, code: errno) }
    }

    /// Creates a directory unless it exists; returns true when it was created.
    @discardableResult
    static func makeDirectory(_ path: String, mode: mode_t) throws(FileSystemError) -> Bool {
        if Glibc.mkdir(path, mode) == 0 { return true }
        let code = errno
        var info = stat()
        if code == EEXIST, stat(path, &info) == 0, (info.st_mode & S_IFMT) == S_IFDIR { return false }
        throw FileSystemError(operation: "mkdir", path: path, code: code)
    }

    /// Removes a file; a file that is already gone is not an error.
    static func unlinkIfPresent(_ path: String) -> Int32? {
        if Glibc.unlink(path) == 0 || errno == ENOENT { return nil }
        return errno
    }

    static func fileExists(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0
    }

    /// The names of the regular files directly inside `path` (no recursion, no dot entries).
    static func regularFiles(in path: String) throws(FileSystemError) -> [String] {
        guard let dir = opendir(path) else { throw FileSystemError(operation: "opendir", path: path, code: errno) }
        defer { closedir(dir) }
        var names: [String] = []
        while true {
            errno = 0
            guard let entry = readdir(dir) else {
                if errno != 0 { throw FileSystemError(operation: "readdir", path: path, code: errno) }
                break
            }
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(cString: raw.bindMemory(to: CChar.self).baseAddress!)
            }
            if name == "." || name == ".." { continue }
            var isRegular = entry.pointee.d_type == DT_REG
            if entry.pointee.d_type == DT_UNKNOWN {
                // Some file systems do not fill d_type; ask stat instead.
                var info = stat()
                isRegular = Glibc.lstat(path + "/" + name, &info) == 0 && (info.st_mode & S_IFMT) == S_IFREG
            }
            if isRegular { names.append(name) }
        }
        return names
    }
}
