import Foundation
import RadRelayTestSupport

#if canImport(Glibc)
    import Glibc
#endif

/// A Unix datagram socket bound by the test at a path — a fake `NOTIFY_SOCKET` or a fake
/// journald socket (`/run/systemd/journal/socket` seen through a private mount namespace). A
/// reader thread keeps every datagram with its arrival time.
final class DatagramSink: @unchecked Sendable {
    struct Datagram: Sendable {
        var at: Double
        var bytes: [UInt8]
        var text: String { String(decoding: bytes, as: UTF8.self) }
    }

    let path: String
    private let fd: Int32
    private let lock = NSLock()
    private var received: [Datagram] = []
    private var stopped = false
    private var thread: Thread?

    init(path: String) throws {
        self.path = path
        unlink(path)
        fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw HarnessError("socket: errno \(errno)") }
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: addr.sun_path) else {
            throw HarnessError("socket path too long: \(path)")
        }
        withUnsafeMutableBytes(of: &addr.sun_path) { raw in
            for (i, b) in bytes.enumerated() { raw[i] = b }
            raw[bytes.count] = 0
        }
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        guard rc == 0 else { throw HarnessError("bind \(path): errno \(errno)") }
        chmod(path, 0o666)
        var size: Int32 = 8 << 20
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        let thread = Thread { [weak self] in self?.readLoop() }
        self.thread = thread
        thread.start()
    }

    private func readLoop() {
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        while true {
            lock.lock()
            let done = stopped
            lock.unlock()
            if done { return }
            var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard poll(&pfd, 1, 100) > 0 else { continue }
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress!, $0.count, Int32(MSG_DONTWAIT)) }
            guard n > 0 else { continue }
            let datagram = Datagram(at: monotonicSeconds(), bytes: Array(buffer[0..<n]))
            lock.lock()
            received.append(datagram)
            lock.unlock()
        }
    }

    /// Every datagram so far.
    var datagrams: [Datagram] {
        lock.lock()
        defer { lock.unlock() }
        return received
    }

    /// Waits until a datagram (after index `from`) satisfies `condition`; returns it and its index.
    @discardableResult
    func waitFor(
        _ what: String,
        from: Int = 0,
        timeout: TimeInterval = 30,
        _ condition: (Datagram) -> Bool
    ) throws -> (index: Int, datagram: Datagram) {
        var found: (Int, Datagram)?
        try pollUntil(
            what, timeout: timeout, interval: 0.02,
            detail: "received: \(datagrams.suffix(20).map(\.text))"
        ) {
            let all = datagrams
            guard from < all.count else { return false }
            for index in from..<all.count where condition(all[index]) {
                found = (index, all[index])
                return true
            }
            return false
        }
        return found!
    }

    func stop() {
        lock.lock()
        stopped = true
        lock.unlock()
        while thread?.isFinished == false { Thread.sleep(forTimeInterval: 0.01) }
        close(fd)
        unlink(path)
    }
}

/// One native journal entry as journald's socket protocol carries it: `NAME=value\n` lines, or
/// `NAME\n` + 64-bit little-endian length + bytes + `\n` for values with newlines.
struct JournalRecord: CustomStringConvertible {
    var fields: [String: String] = [:]

    init(_ bytes: [UInt8]) {
        var i = 0
        while i < bytes.count {
            guard let newline = bytes[i...].firstIndex(of: 0x0A) else { break }
            let line = bytes[i..<newline]
            if let eq = line.firstIndex(of: UInt8(ascii: "=")) {
                fields[String(decoding: bytes[i..<eq], as: UTF8.self)] = String(
                    decoding: bytes[(eq + 1)..<newline], as: UTF8.self)
                i = newline + 1
            } else {
                let name = String(decoding: line, as: UTF8.self)
                let lengthStart = newline + 1
                guard lengthStart + 8 <= bytes.count else { break }
                var length = 0
                for k in 0..<8 { length |= Int(bytes[lengthStart + k]) << (8 * k) }
                let valueStart = lengthStart + 8
                guard valueStart + length <= bytes.count else { break }
                fields[name] = String(decoding: bytes[valueStart..<(valueStart + length)], as: UTF8.self)
                i = valueStart + length + 1
            }
        }
    }

    subscript(_ name: String) -> String? { fields[name] }
    var description: String { fields.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ") }
}
