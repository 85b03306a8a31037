import Foundation
import Glibc

/// One object being received: where the listener writes it, and where it lives once durable.
/// Both names come from a fresh UUID, never from a DICOM value (DESIGN §1.7).
public struct SpoolSlot: Sendable, Hashable {
    /// The internal id both file names are made of.
    public let id: UUID
    /// Absolute path of the `.part` file in `spool/incoming/`; the listener creates and writes it.
    public let partPath: String
    /// Path of the final file relative to the state directory, like `spool/<uuid>.dcm`. This is
    /// what the outbox stores (`IngestRequest.spoolPath`).
    public let finalRelativePath: String
    /// Absolute path of the final file.
    public let finalPath: String
}

/// The spool directories of a state directory: `spool/` holds objects that are durable (and, once
/// their outbox row is committed, acknowledged); `spool/incoming/` holds `.part` files still being
/// received. Everything in `incoming/` at startup was never acknowledged and is deleted by
/// `Outbox.reconcile(now:)`.
///
/// The durable sequence for one object (CONVENTIONS §10) is: the listener writes the `.part`
/// file → `makeDurable(_:)` (fsync file, rename, fsync `spool/`) → one outbox transaction →
/// C-STORE-RSP.
public struct Spool: Sendable {
    /// The state directory the spool belongs to.
    public let stateDirectory: String
    /// Absolute path of `spool/`.
    public let directory: String
    /// Absolute path of `spool/incoming/`.
    public let incomingDirectory: String

    static let directoryName = "spool"
    static let incomingName = "incoming"
    static let partExtension = ".part"
    static let finalExtension = ".dcm"

    /// Opens the spool of `stateDirectory` (which must exist), creating `spool/` and
    /// `spool/incoming/` (mode 0750) when missing.
    public init(stateDirectory: String) throws(FileSystemError) {
        self.stateDirectory = stateDirectory
        directory = stateDirectory + "/" + Spool.directoryName
        incomingDirectory = directory + "/" + Spool.incomingName
        // A directory created now must itself survive a power cut, or files renamed into it could
        // vanish with it: sync each parent whose entries changed.
        if try POSIX.makeDirectory(directory, mode: 0o750) {
            try POSIX.syncPath(stateDirectory, directory: true)
        }
        if try POSIX.makeDirectory(incomingDirectory, mode: 0o750) {
            try POSIX.syncPath(directory, directory: true)
        }
    }

    // MARK: - Receiving

    /// A fresh slot for one incoming object. Creates no file.
    public func allocate() -> SpoolSlot {
        let id = UUID()
        let name = id.uuidString.lowercased()
        let relative = Spool.directoryName + "/" + name + Spool.finalExtension
        return SpoolSlot(
            id: id,
            partPath: incomingDirectory + "/" + name + Spool.partExtension,
            finalRelativePath: relative,
            finalPath: stateDirectory + "/" + relative
        )
    }

    /// The slot whose `.part` file is `partPath`, or nil when the path is not one `allocate()`
    /// could have made (so a caller holding only the path can still discard or commit it).
    public func slot(partPath: String) -> SpoolSlot? {
        let prefix = incomingDirectory + "/"
        guard partPath.hasPrefix(prefix), partPath.hasSuffix(Spool.partExtension) else { return nil }
        let name = partPath.dropFirst(prefix.count).dropLast(Spool.partExtension.count)
        guard let id = UUID(uuidString: String(name)), id.uuidString.lowercased() == name else { return nil }
        let relative = Spool.directoryName + "/" + name + Spool.finalExtension
        return SpoolSlot(
            id: id, partPath: partPath, finalRelativePath: relative, finalPath: stateDirectory + "/" + relative
        )
    }

    /// Makes a completely written `.part` file durable under its final name: fsync the file,
    /// rename it into `spool/`, fsync `spool/` (unless `syncDirectory` is false, in which case
    /// the caller must call `syncDirectory()` before it commits the outbox row; `IngestBatcher`
    /// does that once per group commit). Throws on any failure (ENOSPC, EIO…): the object must
    /// then be refused, and `discard(_:)` cleans up.
    public func makeDurable(_ slot: SpoolSlot, syncDirectory: Bool = true) throws(FileSystemError) {
        try POSIX.syncPath(slot.partPath, directory: false)
        try POSIX.rename(slot.partPath, slot.finalPath)
        if syncDirectory { try self.syncDirectory() }
    }

    /// `makeDurable(_:syncDirectory:)` with `work` (validation) overlapped with the file's
    /// write-back: the `.part` file's dirty pages are submitted to the disk first
    /// (`sync_file_range(SYNC_FILE_RANGE_WRITE)`, which does not wait), then `work` runs, then
    /// the fsync waits for what is still in flight, then the rename (and the directory fsync).
    /// The durable order is unchanged — nothing is renamed before `work` succeeded and the file
    /// was fsynced; if `work` throws, nothing is renamed and the caller discards the slot. The
    /// early write-back only starts I/O; the fsync alone decides durability.
    public func makeDurable<T>(
        _ slot: SpoolSlot,
        syncDirectory: Bool = true,
        overlapping work: () throws -> T
    ) throws -> T {
        let fd = try POSIX.open(slot.partPath, O_RDONLY)
        let result: T
        do {
            // Best effort: a failure here is the fsync's to report.
            _ = startWriteback(fd, 0, 0, 2)  // SYNC_FILE_RANGE_WRITE
            result = try work()
            try POSIX.fsync(fd, path: slot.partPath)
        } catch {
            Glibc.close(fd)
            throw error
        }
        Glibc.close(fd)
        try POSIX.rename(slot.partPath, slot.finalPath)
        if syncDirectory { try self.syncDirectory() }
        return result
    }

    /// Fsyncs `spool/`, making every rename into it so far durable. One call covers any number
    /// of renames, which is what lets a group commit pay for one directory flush.
    public func syncDirectory() throws(FileSystemError) {
        try POSIX.syncPath(directory, directory: true)
    }

    /// Removes the slot's `.part` file and its final file, if present. Never throws: a file left
    /// behind is deleted by the next startup reconcile.
    public func discard(_ slot: SpoolSlot) {
        _ = POSIX.unlinkIfPresent(slot.partPath)
        _ = POSIX.unlinkIfPresent(slot.finalPath)
    }

    // MARK: - Stored objects

    /// The absolute path of a path relative to the state directory (as stored in the outbox).
    public func absolutePath(relative: String) -> String {
        stateDirectory + "/" + relative
    }

    /// Removes a stored file by its relative path; returns false when it existed and could not
    /// be removed. A missing file is not an error.
    @discardableResult
    public func remove(relative: String) -> Bool {
        POSIX.unlinkIfPresent(absolutePath(relative: relative)) == nil
    }

    /// Free and total bytes of the file system holding the state directory, as an unprivileged
    /// process may use them (`f_bavail`), for the low-watermark check. A caller that cannot
    /// learn the free space should refuse objects (0xA700) rather than assume there is room.
    public func freeSpace() throws(FileSystemError) -> (available: UInt64, total: UInt64) {
        var info = statvfs()
        guard statvfs(stateDirectory, &info) == 0 else {
            throw FileSystemError(operation: "statvfs", path: stateDirectory, code: errno)
        }
        let unit = UInt64(info.f_frsize)
        return (available: UInt64(info.f_bavail) * unit, total: UInt64(info.f_blocks) * unit)
    }

    /// Relative paths (`spool/<name>`) of the regular files directly in `spool/`.
    func storedFiles() throws(FileSystemError) -> [String] {
        try POSIX.regularFiles(in: directory).map { Spool.directoryName + "/" + $0 }
    }

    /// Absolute paths of every regular file in `spool/incoming/`.
    func incomingFiles() throws(FileSystemError) -> [String] {
        try POSIX.regularFiles(in: incomingDirectory).map { incomingDirectory + "/" + $0 }
    }
}

/// glibc's `sync_file_range(2)`, which the Glibc module hides behind `_GNU_SOURCE`. Plain integer
/// arguments: the Swift and C calling conventions agree for them.
@_silgen_name("sync_file_range")
private func startWriteback(_ fd: Int32, _ offset: Int64, _ count: Int64, _ flags: UInt32) -> Int32
