import Foundation
#if canImport(Glibc)
import Glibc
#endif
import NIOConcurrencyHelpers

/// The identity of a file's current contents as `stat` sees it (device, inode, size, mtime,
/// ctime): a changed value means the file was rewritten or replaced (an atomic rename, a
/// systemd credential refresh). Cheap enough to check before every request.
struct FileStamp: Equatable, Sendable {
    var device: UInt64
    var inode: UInt64
    var size: Int64
    var modified: Int64
    var modifiedNanos: Int
    var changed: Int64
    var changedNanos: Int

    init?(path: String) {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        device = UInt64(info.st_dev)
        inode = UInt64(info.st_ino)
        size = Int64(info.st_size)
        modified = Int64(info.st_mtim.tv_sec)
        modifiedNanos = info.st_mtim.tv_nsec
        changed = Int64(info.st_ctim.tv_sec)
        changedNanos = info.st_ctim.tv_nsec
    }
}

/// An `Authorization` header value built from a credentials file, re-read whenever the file
/// changes, so tokens rotate without a restart. The secret never appears in logs or errors.
final class CredentialSource: Sendable {
    let auth: STOWConfiguration.Auth
    private let cached = NIOLockedValueBox<(stamp: [FileStamp?], header: String)?>(nil)

    init(_ auth: STOWConfiguration.Auth) { self.auth = auth }

    var path: String {
        switch auth {
        case .bearerTokenFile(let path), .basicAuthFile(let path): return path
        }
    }

    /// The header value, or an error naming the file (never its contents).
    func authorization() throws(CredentialError) -> String {
        let stamp = FileStamp(path: path)
        if let cached = cached.withLockedValue({ $0 }), cached.stamp == [stamp], stamp != nil { return cached.header }
        guard let bytes = Self.readSmallFile(path) else { throw CredentialError.unreadable(path: path) }
        guard let text = String(bytes: bytes, encoding: .utf8)?.trimmingWhitespace(), !text.isEmpty,
            !text.contains(where: { $0 == "\r" || $0 == "\n" })
        else { throw CredentialError.malformed(path: path) }
        let header: String
        switch auth {
        case .bearerTokenFile:
            header = "Bearer " + text
        case .basicAuthFile:
            guard text.contains(":") else { throw CredentialError.malformed(path: path) }
            header = "Basic " + Base64.encode(Array(text.utf8))
        }
        cached.withLockedValue { $0 = ([stamp], header) }
        return header
    }

    /// Reads at most 64 KiB (a credential file is small; anything larger is a mistake).
    static func readSmallFile(_ path: String) -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var bytes = [UInt8](repeating: 0, count: 65536)
        var total = 0
        while total < bytes.count {
            let n = bytes.withUnsafeMutableBytes { read(fd, $0.baseAddress! + total, $0.count - total) }
            if n < 0 {
                if errno == EINTR { continue }
                return nil
            }
            if n == 0 { break }
            total += n
        }
        return Array(bytes[..<total])
    }
}

/// Why no `Authorization` header could be made (destination-level: it defers, never dead-letters).
enum CredentialError: Error, CustomStringConvertible {
    case unreadable(path: String)
    case malformed(path: String)

    var description: String {
        switch self {
        case .unreadable(let path): return "credential file \(path) cannot be read"
        case .malformed(let path): return "credential file \(path) is empty or malformed"
        }
    }
}

extension String {
    func trimmingWhitespace() -> String {
        var view = Substring(self)
        while let c = view.first, c.isWhitespace { view.removeFirst() }
        while let c = view.last, c.isWhitespace { view.removeLast() }
        return String(view)
    }
}

/// RFC 4648 base64 (no line breaks), for Basic auth.
enum Base64 {
    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    static func encode(_ bytes: [UInt8]) -> String {
        var out: [UInt8] = []
        out.reserveCapacity((bytes.count + 2) / 3 * 4)
        var index = 0
        while index + 3 <= bytes.count {
            let n = UInt32(bytes[index]) << 16 | UInt32(bytes[index + 1]) << 8 | UInt32(bytes[index + 2])
            out += [alphabet[Int(n >> 18 & 63)], alphabet[Int(n >> 12 & 63)], alphabet[Int(n >> 6 & 63)], alphabet[Int(n & 63)]]
            index += 3
        }
        let rest = bytes.count - index
        if rest == 1 {
            let n = UInt32(bytes[index]) << 16
            out += [alphabet[Int(n >> 18 & 63)], alphabet[Int(n >> 12 & 63)], UInt8(ascii: "="), UInt8(ascii: "=")]
        } else if rest == 2 {
            let n = UInt32(bytes[index]) << 16 | UInt32(bytes[index + 1]) << 8
            out += [alphabet[Int(n >> 18 & 63)], alphabet[Int(n >> 12 & 63)], alphabet[Int(n >> 6 & 63)], UInt8(ascii: "=")]
        }
        return String(decoding: out, as: UTF8.self)
    }
}
