import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Thin, blocking-with-deadline wrappers over POSIX sockets, shared by the harness's network
/// helpers (fault proxy, raw DICOM client, HTTP client). Every descriptor is close-on-exec so
/// that children started by a test (Orthanc, the daemon) never inherit a test's sockets, and every
/// write uses `MSG_NOSIGNAL` so a peer that went away cannot kill the test process with SIGPIPE.
public enum Socket {
    /// An error from a socket call, with errno's text.
    public struct Failure: Error, CustomStringConvertible, Sendable {
        public let call: String
        public let code: Int32
        public var description: String { "\(call): \(String(cString: strerror(code))) (errno \(code))" }
        public var isTimeout: Bool { code == ETIMEDOUT || code == EAGAIN || code == EWOULDBLOCK }
        public var isConnectionReset: Bool { code == ECONNRESET || code == EPIPE }
    }

    static func failure(_ call: String, _ code: Int32 = errno) -> Failure { Failure(call: call, code: code) }

    /// A new close-on-exec TCP socket for IPv4.
    static func tcp() throws -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw failure("socket") }
        return fd
    }

    static func ipv4Address(_ host: String, _ port: Int) throws -> sockaddr_in {
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        guard inet_pton(AF_INET, host, &addr.sin_addr) == 1 else {
            throw HarnessError("not an IPv4 address: \(host)")
        }
        return addr
    }

    static func setNonBlocking(_ fd: Int32, _ on: Bool = true) {
        let flags = fcntl(fd, F_GETFL)
        _ = fcntl(fd, F_SETFL, on ? flags | O_NONBLOCK : flags & ~O_NONBLOCK)
    }

    static func setInt(_ fd: Int32, _ level: Int32, _ name: Int32, _ value: Int32) {
        var v = value
        _ = setsockopt(fd, level, name, &v, socklen_t(MemoryLayout<Int32>.size))
    }

    /// Arms SO_LINGER with a zero timeout so that the next `close` sends a TCP RST instead of a FIN.
    static func setLingerZero(_ fd: Int32) {
        var lg = linger(l_onoff: 1, l_linger: 0)
        _ = setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, socklen_t(MemoryLayout<linger>.size))
    }

    /// Closes `fd` with a TCP reset.
    static func reset(_ fd: Int32) {
        setLingerZero(fd)
        close(fd)
    }

    /// Connects a new TCP socket to `host:port` within `timeout` seconds. The returned
    /// descriptor is blocking, with TCP_NODELAY set.
    public static func connectTCP(host: String, port: Int, timeout: TimeInterval) throws -> Int32 {
        let fd = try tcp()
        var addr = try ipv4Address(host, port)
        setNonBlocking(fd)
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        if rc != 0 {
            let err = errno
            guard err == EINPROGRESS else {
                close(fd)
                throw failure("connect \(host):\(port)", err)
            }
            guard waitFor(fd, events: Int16(POLLOUT), timeout: timeout) else {
                close(fd)
                throw failure("connect \(host):\(port)", ETIMEDOUT)
            }
            var soError: Int32 = 0
            var len = socklen_t(MemoryLayout<Int32>.size)
            getsockopt(fd, SOL_SOCKET, SO_ERROR, &soError, &len)
            if soError != 0 {
                close(fd)
                throw failure("connect \(host):\(port)", soError)
            }
        }
        setNonBlocking(fd, false)
        setInt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, 1)
        return fd
    }

    /// Connects a new stream socket to the Unix-domain socket at `path`; the descriptor is blocking.
    public static func connectUnix(path: String) throws -> Int32 {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw failure("socket") }
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        let capacity = MemoryLayout.size(ofValue: addr.sun_path)
        guard bytes.count < capacity else {
            close(fd)
            throw HarnessError("Unix socket path longer than \(capacity - 1) bytes: \(path)")
        }
        withUnsafeMutableBytes(of: &addr.sun_path) { raw in
            for (i, b) in bytes.enumerated() { raw[i] = b }
            raw[bytes.count] = 0
        }
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        guard rc == 0 else {
            let err = errno
            close(fd)
            throw failure("connect \(path)", err)
        }
        return fd
    }

    /// Waits until `fd` is ready for `events` or `timeout` seconds pass. Errors and hang-ups count
    /// as ready (the next read or write reports them).
    static func waitFor(_ fd: Int32, events: Int16, timeout: TimeInterval) -> Bool {
        let deadline = monotonicSeconds() + timeout
        while true {
            var pfd = pollfd(fd: fd, events: events, revents: 0)
            let remaining = max(0, deadline - monotonicSeconds())
            let rc = poll(&pfd, 1, Int32(min(remaining * 1000, Double(Int32.max))))
            if rc > 0 { return true }
            if rc == 0 { return false }
            if errno != EINTR { return true }
        }
    }

    /// Writes all of `bytes` within `timeout` seconds.
    public static func writeAll(_ fd: Int32, _ bytes: [UInt8], timeout: TimeInterval) throws {
        let deadline = monotonicSeconds() + timeout
        var offset = 0
        while offset < bytes.count {
            guard waitFor(fd, events: Int16(POLLOUT), timeout: max(0, deadline - monotonicSeconds())) else {
                throw failure("send", ETIMEDOUT)
            }
            let n = bytes.withUnsafeBytes {
                send(fd, $0.baseAddress! + offset, bytes.count - offset, Int32(MSG_NOSIGNAL) | Int32(MSG_DONTWAIT))
            }
            if n < 0 {
                if errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK { continue }
                throw failure("send")
            }
            offset += n
        }
    }

    /// Reads up to `max` bytes, waiting at most `timeout` seconds. Returns an empty array at end of
    /// stream.
    public static func readSome(_ fd: Int32, max: Int = 65536, timeout: TimeInterval) throws -> [UInt8] {
        guard waitFor(fd, events: Int16(POLLIN), timeout: timeout) else { throw failure("recv", ETIMEDOUT) }
        var buffer = [UInt8](repeating: 0, count: max)
        while true {
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress!, max, Int32(MSG_DONTWAIT)) }
            if n >= 0 { return Array(buffer[0..<n]) }
            if errno == EINTR { continue }
            if errno == EAGAIN || errno == EWOULDBLOCK {
                guard waitFor(fd, events: Int16(POLLIN), timeout: timeout) else { throw failure("recv", ETIMEDOUT) }
                continue
            }
            throw failure("recv")
        }
    }

    /// Reads exactly `count` bytes within `timeout` seconds; throws `HarnessError` at an early end
    /// of stream.
    public static func readExactly(_ fd: Int32, _ count: Int, timeout: TimeInterval) throws -> [UInt8] {
        let deadline = monotonicSeconds() + timeout
        var result: [UInt8] = []
        result.reserveCapacity(count)
        while result.count < count {
            let chunk = try readSome(fd, max: count - result.count, timeout: max(0, deadline - monotonicSeconds()))
            if chunk.isEmpty { throw EndOfStream(received: result.count, expected: count) }
            result += chunk
        }
        return result
    }

    /// The peer closed the stream before the expected bytes arrived.
    public struct EndOfStream: Error, CustomStringConvertible, Sendable {
        public let received: Int
        public let expected: Int
        public var description: String { "connection closed after \(received) of \(expected) bytes" }
    }
}
