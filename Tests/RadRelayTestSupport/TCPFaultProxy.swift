import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A userspace TCP proxy for tests: listens on 127.0.0.1 (port 0, see `port`) and forwards each
/// connection to `targetHost:targetPort`, with faults that can be changed while it runs.
///
/// Directions: *upstream* is client → target (the way radrelay sends objects to a remote),
/// *downstream* is target → client (responses).
///
/// Faults (all settable at any time, effective within ~100 ms on open connections):
/// - `delay`: every chunk read is held this long before it is forwarded, in both directions.
/// - `bytesPerSecond`: a token bucket shared by all connections throttles upstream forwarding
///   (so a `kill -9` reliably lands mid-transfer). Reading stops while throttled, so the sender
///   sees ordinary TCP back-pressure.
/// - `stallAfter(bytes:)`: once a connection has forwarded that many upstream bytes, it stops
///   forwarding in both directions and stops reading, but keeps both sockets open.
///   `clearFaults()` lets stalled connections continue.
/// - `resetAfter(bytes:)`: once a connection has forwarded that many upstream bytes, both of its
///   sockets are closed with a TCP RST (SO_LINGER 0). Exactly that many bytes get through.
/// - `refuse`: new connections are accepted and closed at once (`.close`, a FIN), accepted and
///   reset (`.reset`), or not accepted at all because the proxy stops listening
///   (`.notListening`: connects fail with ECONNREFUSED; the same port is bound again when the
///   fault is cleared).
///
/// Byte thresholds count per connection from its start. A connection whose target refuses is
/// reset towards the client. One thread per connection and one for accepting; `stop()` ends
/// them all and closes every socket.
public final class TCPFaultProxy: @unchecked Sendable {
    /// How new connections are refused.
    public enum RefuseMode: Sendable, Equatable {
        /// Accept, then close normally (the client sees a FIN right away).
        case close
        /// Accept, then close with a TCP RST.
        case reset
        /// Close the listening socket: connects are refused by the kernel.
        case notListening
    }

    /// The current faults (a snapshot; use the setters to change them).
    public struct Faults: Sendable, Equatable {
        public var delay: TimeInterval = 0
        public var bytesPerSecond: Int? = nil
        public var stallAfterBytes: Int? = nil
        public var resetAfterBytes: Int? = nil
        public var refuse: RefuseMode? = nil
        public init() {}
    }

    /// Where connections are forwarded to.
    public let targetHost: String
    /// Where connections are forwarded to.
    public let targetPort: Int
    /// Bytes read per chunk (also the granularity of `delay`).
    public let chunkSize: Int

    private let lock = NSLock()
    private var faults = Faults()
    private var listenFD: Int32 = -1
    private var boundPort = 0
    private var stopped = false
    private var started = false
    private var resetGeneration = 0
    private var stats = Statistics()
    private let threads = DispatchGroup()
    private let bucket = TokenBucket()
    private var wakePipe: [Int32] = [-1, -1]

    /// Counters over the proxy's lifetime.
    public struct Statistics: Sendable, Equatable {
        /// Connections accepted (including refused ones).
        public var accepted = 0
        /// Connections being forwarded now.
        public var active = 0
        /// Bytes forwarded client → target.
        public var upstreamBytes = 0
        /// Bytes forwarded target → client.
        public var downstreamBytes = 0
        /// Connections closed with a RST by `resetAfter`, `.reset` or `resetAllConnections()`.
        public var resets = 0
    }

    /// A proxy to `targetHost:targetPort`; call `start()`.
    public init(targetHost: String = "127.0.0.1", targetPort: Int, chunkSize: Int = 16 * 1024) {
        self.targetHost = targetHost
        self.targetPort = targetPort
        self.chunkSize = chunkSize
    }

    deinit { stop() }

    // MARK: - Lifecycle

    /// Binds 127.0.0.1 port 0 and starts accepting.
    public func start() throws {
        lock.lock()
        defer { lock.unlock() }
        precondition(!started, "TCPFaultProxy.start() called twice")
        var fds: [Int32] = [-1, -1]
        guard pipe(&fds) == 0 else { throw Socket.failure("pipe") }
        for fd in fds {
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
            Socket.setNonBlocking(fd)
        }
        wakePipe = fds
        listenFD = try Self.listen(port: 0)
        boundPort = Self.localPort(listenFD)
        started = true
        threads.enter()
        let thread = Thread { [self] in
            acceptLoop()
            threads.leave()
        }
        thread.name = "TCPFaultProxy.accept"
        thread.start()
    }

    /// The port the proxy listens on (127.0.0.1).
    public var port: Int {
        lock.lock()
        defer { lock.unlock() }
        return boundPort
    }

    /// Stops accepting, closes every connection and waits (up to 5 s) for the proxy's threads.
    public func stop() {
        lock.lock()
        if stopped || !started {
            stopped = true
            lock.unlock()
            return
        }
        stopped = true
        let wake = wakePipe[1]
        lock.unlock()
        var byte: UInt8 = 1
        _ = write(wake, &byte, 1)
        _ = threads.wait(timeout: .now() + 5)
        lock.lock()
        for fd in wakePipe where fd >= 0 { close(fd) }
        wakePipe = [-1, -1]
        lock.unlock()
    }

    // MARK: - Faults

    /// Delay per forwarded chunk, both directions.
    public var delay: TimeInterval {
        get { withLock { faults.delay } }
        set { withLock { faults.delay = newValue } }
    }

    /// Upstream throughput limit for all connections together; nil is unlimited.
    public var bytesPerSecond: Int? {
        get { withLock { faults.bytesPerSecond } }
        set { withLock { faults.bytesPerSecond = newValue } }
    }

    /// Refusal of new connections; nil accepts and forwards them.
    public var refuse: RefuseMode? {
        get { withLock { faults.refuse } }
        set { withLock { faults.refuse = newValue } }
    }

    /// Each connection stops forwarding (both ways) once it has forwarded `bytes` upstream.
    public func stallAfter(bytes: Int) { withLock { faults.stallAfterBytes = bytes } }

    /// Each connection is reset (RST both ways) once it has forwarded `bytes` upstream.
    public func resetAfter(bytes: Int) { withLock { faults.resetAfterBytes = bytes } }

    /// Removes every fault: no delay, no throttle, stalled connections continue, new connections
    /// are forwarded.
    public func clearFaults() { withLock { faults = Faults() } }

    /// The faults in effect now.
    public var currentFaults: Faults { withLock { faults } }

    /// Resets every open connection now (RST to both client and target).
    public func resetAllConnections() { withLock { resetGeneration += 1 } }

    /// Counters so far.
    public var statistics: Statistics { withLock { stats } }

    // MARK: - Accepting

    private func acceptLoop() {
        while true {
            let (isStopped, refuse, fd, wake) = withLock { (stopped, faults.refuse, listenFD, wakePipe[0]) }
            if isStopped { break }
            // Listening socket follows the `.notListening` fault.
            if refuse == .notListening, fd >= 0 {
                close(fd)
                withLock { listenFD = -1 }
                continue
            }
            if refuse != .notListening, fd < 0 {
                if let newFD = try? Self.listen(port: port) {
                    withLock { listenFD = newFD }
                } else {
                    Thread.sleep(forTimeInterval: 0.05)
                }
                continue
            }
            var pfds = [pollfd(fd: wake, events: Int16(POLLIN), revents: 0)]
            if fd >= 0 { pfds.append(pollfd(fd: fd, events: Int16(POLLIN), revents: 0)) }
            let rc = poll(&pfds, nfds_t(pfds.count), 100)
            if rc <= 0 { continue }
            if pfds.count > 1, pfds[1].revents & Int16(POLLIN) != 0 {
                let client = accept(fd, nil, nil)
                if client < 0 { continue }
                _ = fcntl(client, F_SETFD, FD_CLOEXEC)
                // The fault in effect now, not when the poll began.
                let refuseNow = withLock { () -> RefuseMode? in
                    stats.accepted += 1
                    return faults.refuse
                }
                switch refuseNow {
                case .close?:
                    close(client)
                    continue
                case .reset?, .notListening?:
                    Socket.reset(client)
                    withLock { stats.resets += 1 }
                    continue
                default:
                    break
                }
                threads.enter()
                withLock { stats.active += 1 }
                let thread = Thread { [self] in
                    forward(client: client)
                    withLock { stats.active -= 1 }
                    threads.leave()
                }
                thread.name = "TCPFaultProxy.connection"
                thread.start()
            }
        }
        let fd = withLock { () -> Int32 in
            let fd = listenFD
            listenFD = -1
            return fd
        }
        if fd >= 0 { close(fd) }
    }

    private static func listen(port: Int) throws -> Int32 {
        let fd = try Socket.tcp()
        Socket.setInt(fd, SOL_SOCKET, SO_REUSEADDR, 1)
        var addr = try Socket.ipv4Address("127.0.0.1", port)
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard rc == 0, Glibc.listen(fd, 256) == 0 else {
            let err = errno
            close(fd)
            throw Socket.failure("bind/listen 127.0.0.1:\(port)", err)
        }
        Socket.setNonBlocking(fd)
        return fd
    }

    private static func localPort(_ fd: Int32) -> Int {
        var addr = sockaddr_in()
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) }
        }
        return Int(UInt16(bigEndian: addr.sin_port))
    }

    // MARK: - Forwarding

    /// One direction of a connection: bytes read from `from`, waiting to be written to `to`.
    private struct Pump {
        let from: Int32
        let to: Int32
        let upstream: Bool
        var buffer: [UInt8] = []
        var offset = 0
        var readyAt = 0.0
        var eof = false
        var shutdownSent = false
        var forwarded = 0
        var pending: Int { buffer.count - offset }
    }

    private func forward(client: Int32) {
        let target: Int32
        do {
            target = try Socket.connectTCP(host: targetHost, port: targetPort, timeout: 5)
        } catch {
            // Target down: the client sees a reset, as it would from a refusing host behind a NAT.
            Socket.reset(client)
            withLock { stats.resets += 1 }
            return
        }
        Socket.setNonBlocking(client)
        Socket.setNonBlocking(target)
        Socket.setInt(client, Int32(IPPROTO_TCP), TCP_NODELAY, 1)
        let generation = withLock { resetGeneration }
        var pumps = [Pump(from: client, to: target, upstream: true), Pump(from: target, to: client, upstream: false)]
        var buffer = [UInt8](repeating: 0, count: chunkSize)

        func finish(reset: Bool) {
            if reset {
                Socket.reset(client)
                Socket.reset(target)
                withLock { stats.resets += 1 }
            } else {
                close(client)
                close(target)
            }
        }

        while true {
            let (isStopped, f, currentGeneration) = withLock { (stopped, faults, resetGeneration) }
            if isStopped {
                finish(reset: false)
                return
            }
            if currentGeneration != generation {
                finish(reset: true)
                return
            }
            let upForwarded = pumps[0].forwarded
            if let limit = f.resetAfterBytes, upForwarded >= limit {
                finish(reset: true)
                return
            }
            if let limit = f.stallAfterBytes, upForwarded >= limit {
                // Stalled: hold both sockets open, read nothing, forward nothing.
                Thread.sleep(forTimeInterval: 0.05)
                continue
            }
            if pumps[0].shutdownSent && pumps[1].shutdownSent {
                finish(reset: false)
                return
            }

            let now = monotonicSeconds()
            var timeout = 0.1
            var reads: [Int] = []  // pump indexes that want to read
            var writes: [Int] = []  // pump indexes that want to write
            for i in 0..<2 {
                let p = pumps[i]
                if p.pending > 0 {
                    if now >= p.readyAt { writes.append(i) } else { timeout = min(timeout, p.readyAt - now) }
                } else if !p.eof {
                    reads.append(i)
                }
            }
            // Upstream reads are limited by the byte thresholds and the throttle.
            var upstreamBudget = chunkSize
            for limit in [f.resetAfterBytes, f.stallAfterBytes].compactMap({ $0 }) {
                upstreamBudget = min(upstreamBudget, max(0, limit - pumps[0].forwarded - pumps[0].pending))
            }
            var reserved = 0  // throttle tokens taken for this round's upstream read
            if reads.contains(0), upstreamBudget > 0, let rate = f.bytesPerSecond {
                let (granted, wait) = bucket.reserve(upTo: upstreamBudget, rate: rate, now: now)
                if granted == 0 {
                    reads.removeAll { $0 == 0 }
                    timeout = min(timeout, max(wait, 0.001))
                } else {
                    upstreamBudget = granted
                    reserved = granted
                }
            }
            if upstreamBudget == 0 { reads.removeAll { $0 == 0 } }

            var pfds = [pollfd(fd: client, events: 0, revents: 0), pollfd(fd: target, events: 0, revents: 0)]
            for i in reads { pfds[i].events |= Int16(POLLIN) }  // pump 0 reads client, pump 1 reads target
            for i in writes { pfds[1 - i].events |= Int16(POLLOUT) }  // pump 0 writes target, 1 writes client
            let rc = poll(&pfds, 2, Int32(max(1, timeout * 1000)))
            if rc < 0 && errno != EINTR {
                finish(reset: true)
                return
            }
            var progressed = false
            var broken = false

            for i in reads where pfds[i].revents & Int16(POLLIN | POLLHUP | POLLERR) != 0 {
                let limit = i == 0 ? upstreamBudget : chunkSize
                let n = buffer.withUnsafeMutableBytes { recv(pumps[i].from, $0.baseAddress!, limit, 0) }
                if n > 0 {
                    pumps[i].buffer = Array(buffer[0..<n])
                    pumps[i].offset = 0
                    pumps[i].readyAt = monotonicSeconds() + f.delay
                    progressed = true
                } else if n == 0 {
                    pumps[i].eof = true
                    progressed = true
                } else if errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR {
                    broken = true
                }
                if i == 0 {
                    reserved -= max(0, n)
                }
            }
            if reserved > 0 { bucket.refund(reserved) }
            for i in writes where pfds[1 - i].revents & Int16(POLLOUT | POLLHUP | POLLERR) != 0 {
                let n = pumps[i].buffer.withUnsafeBytes {
                    send(pumps[i].to, $0.baseAddress! + pumps[i].offset, pumps[i].pending, Int32(MSG_NOSIGNAL))
                }
                if n > 0 {
                    pumps[i].offset += n
                    pumps[i].forwarded += n
                    withLock {
                        if i == 0 { stats.upstreamBytes += n } else { stats.downstreamBytes += n }
                    }
                    if pumps[i].pending == 0 {
                        pumps[i].buffer = []
                        pumps[i].offset = 0
                    }
                    progressed = true
                } else if n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR {
                    broken = true
                }
            }
            if broken {
                // A peer reset or failed: pass the reset on to the other side.
                finish(reset: true)
                return
            }
            for i in 0..<2 where pumps[i].eof && pumps[i].pending == 0 && !pumps[i].shutdownSent {
                shutdown(pumps[i].to, Int32(SHUT_WR))
                pumps[i].shutdownSent = true
                progressed = true
            }
            if !progressed && rc > 0 {
                // Only hang-up or error flags on a socket we are not serving yet: avoid spinning.
                Thread.sleep(forTimeInterval: 0.005)
            }
        }
    }

    private func withLock<T>(_ body: () throws -> T) rethrows -> T {
        lock.lock()
        defer { lock.unlock() }
        return try body()
    }
}

/// A token bucket shared by all connections of one proxy (upstream throttle).
private final class TokenBucket: @unchecked Sendable {
    private let lock = NSLock()
    private var tokens = 0.0
    private var last = 0.0
    private var rate = 0

    /// Takes up to `max` tokens; when none are available, returns 0 and how long to wait.
    func reserve(upTo max: Int, rate: Int, now: Double) -> (granted: Int, wait: Double) {
        lock.lock()
        defer { lock.unlock() }
        let r = Double(Swift.max(rate, 1))
        // Burst: 50 ms worth of bytes, but at least 1 KiB so tiny rates still move.
        let capacity = Swift.max(r / 20, 1024)
        if rate != self.rate || last == 0 {
            self.rate = rate
            tokens = 0
            last = now
        }
        tokens = Swift.min(capacity, tokens + (now - last) * r)
        last = now
        let granted = Swift.min(max, Int(tokens))
        if granted <= 0 { return (0, (1 - tokens) / r + 0.001) }
        tokens -= Double(granted)
        return (granted, 0)
    }

    /// Returns tokens reserved but not used.
    func refund(_ count: Int) {
        lock.lock()
        tokens += Double(count)
        lock.unlock()
    }
}
