import CDCMTK
import Foundation

/// Incremental SHA-256 (OpenSSL EVP through the shim), used to fingerprint dataset bytes while
/// they stream in. Not thread-safe: one owner feeds it.
public final class SHA256Hasher {
    /// Reading or hashing a file failed.
    public struct FileError: Error, CustomStringConvertible, Sendable {
        /// The OS reason (the path is not included).
        public let description: String
    }

    private let state: OpaquePointer
    private var digest: String?

    /// A fresh digest. Stops the process if OpenSSL cannot create one (out of memory).
    public init() {
        guard let state = rr_sha256_create() else { fatalError("OpenSSL could not create a SHA-256 context") }
        self.state = state
    }

    deinit {
        rr_sha256_destroy(state)
    }

    /// Adds `bytes` to the digest. Calling it after `finalize()` is a programming error.
    public func update(_ bytes: UnsafeRawBufferPointer) {
        precondition(digest == nil, "SHA256Hasher.update after finalize")
        guard let base = bytes.baseAddress, !bytes.isEmpty else { return }
        let result = rr_sha256_update(state, base, bytes.count)
        precondition(result == 0, "OpenSSL SHA-256 update failed")
    }

    /// The digest as 64 lowercase hex digits. Later calls return the same value.
    public func finalize() -> String {
        if let digest { return digest }
        var bytes = [UInt8](repeating: 0, count: 32)
        let result = bytes.withUnsafeMutableBufferPointer { rr_sha256_finalize(state, $0.baseAddress) }
        precondition(result == 0, "OpenSSL SHA-256 finalize failed")
        let hex = Self.hex(bytes)
        digest = hex
        return hex
    }

    /// Hashes the file at `path` from byte `offset` to its end (e.g. skipping a Part 10 header to
    /// fingerprint only the dataset).
    public static func hashFile(path: String, skipping offset: Int = 0) throws(FileError) -> String {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw FileError(description: String(cString: strerror(errno))) }
        defer { close(descriptor) }
        if offset > 0, lseek(descriptor, off_t(offset), SEEK_SET) < 0 {
            throw FileError(description: String(cString: strerror(errno)))
        }
        let hasher = SHA256Hasher()
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 16)
        defer { buffer.deallocate() }
        while true {
            let count = read(descriptor, buffer.baseAddress, buffer.count)
            if count == 0 { break }
            if count < 0 {
                if errno == EINTR { continue }
                throw FileError(description: String(cString: strerror(errno)))
            }
            hasher.update(UnsafeRawBufferPointer(rebasing: buffer[0..<count]))
        }
        return hasher.finalize()
    }

    private static func hex(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out = [UInt8]()
        out.reserveCapacity(bytes.count * 2)
        for byte in bytes {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0f)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}
