import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix

#if canImport(Glibc)
import Glibc
#endif

/// One request on the control socket, with the caller's identity from the socket itself.
struct ControlRequest: Sendable {
    var method: String
    /// The path without the query string, e.g. `/queue`.
    var path: String
    /// Query parameters (`?destination=pacs&state=dead`), percent-decoded; last one wins.
    var query: [String: String]
    /// The request body (JSON for changing commands).
    var body: Data
    /// The caller's uid from `SO_PEERCRED`; nil if the kernel did not say.
    var callerUID: UInt32?
    /// The caller's pid from `SO_PEERCRED`.
    var callerPID: Int32?
}

/// HTTP+JSON on the control Unix socket (`<runtime_dir>/control.sock`, mode 0660), so both
/// `radrelayctl` and `curl --unix-socket` work. Each connection answers one request and closes.
/// The socket's file mode is the access control: owner and group may query and change the queue.
final class ControlServer: Sendable {
    /// Answers one request: (HTTP status, JSON body).
    typealias Router = @Sendable (ControlRequest) async -> (Int, Data)

    /// Largest request body accepted (commands are small JSON documents).
    static let maxBodyBytes = 64 * 1024

    let socketPath: String
    private let group: any EventLoopGroup
    private let logger: Logger
    private let channel = NIOLockedValueBoxChannel()

    init(socketPath: String, group: any EventLoopGroup, logger: Logger) {
        self.socketPath = socketPath
        self.group = group
        self.logger = logger
    }

    /// Binds the socket (replacing a stale one from a killed daemon; the state-directory lock
    /// guarantees no live daemon owns it) and serves `router`.
    func start(router: @escaping Router) async throws {
        let bound = try await ServerBootstrap(group: group)
            .childChannelInitializer { channel in
                channel.pipeline.configureHTTPServerPipeline(withErrorHandling: true).flatMap {
                    channel.pipeline.addHandler(ControlRequestHandler(router: router))
                }
            }
            .bind(unixDomainSocketPath: socketPath, cleanupExistingSocketFile: true)
            .get()
        // Owner and group only: the socket changes the queue.
        chmod(socketPath, 0o660)
        channel.set(bound)
    }

    func stop() async {
        try? await channel.take()?.close()
        unlink(socketPath)
    }
}

/// `struct ucred` of Linux (pid, uid, gid), which Glibc's module map does not export.
struct PeerCredentials: Sendable {
    var pid: Int32 = 0
    var uid: UInt32 = 0
    var gid: UInt32 = 0
}

/// A tiny lock-protected optional channel holder.
final class NIOLockedValueBoxChannel: Sendable {
    private let box = NIOLockedValueBox<(any Channel)?>(nil)
    func set(_ channel: any Channel) { box.withLockedValue { $0 = channel } }
    func take() -> (any Channel)? {
        box.withLockedValue { value in
            defer { value = nil }
            return value
        }
    }
}

private final class ControlRequestHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let router: ControlServer.Router
    private var head: HTTPRequestHead?
    private var body = Data()
    private var peer: (uid: UInt32, pid: Int32)?
    private var tooLarge = false

    init(router: @escaping ControlServer.Router) { self.router = router }

    func channelActive(context: ChannelHandlerContext) {
        // SO_PEERCRED: who is on the other end, as the kernel saw it at connect time. Logged
        // with every changing command.
        if let provider = context.channel as? any SocketOptionProvider {
            let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
            let future: EventLoopFuture<PeerCredentials> = provider.unsafeGetSocketOption(
                level: SocketOptionLevel(SOL_SOCKET), name: SocketOptionName(SO_PEERCRED)
            )
            future.whenSuccess { credentials in
                loopBound.value.0.peer = (credentials.uid, credentials.pid)
            }
        }
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            self.head = head
            body = Data()
        case .body(var buffer):
            if body.count + buffer.readableBytes > ControlServer.maxBodyBytes {
                tooLarge = true
            } else if let bytes = buffer.readBytes(length: buffer.readableBytes) {
                body.append(contentsOf: bytes)
            }
        case .end:
            guard let head else { return }
            if tooLarge {
                respond(status: 413, body: Data("{\"error\":\"request body too large\"}".utf8), version: head.version, context: context)
                return
            }
            let (path, query) = Self.split(uri: head.uri)
            let request = ControlRequest(
                method: head.method.rawValue, path: path, query: query, body: body,
                callerUID: peer?.uid, callerPID: peer?.pid
            )
            let router = self.router
            let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
            context.eventLoop.makeFutureWithTask {
                await router(request)
            }.whenSuccess { status, body in
                let (handler, context) = loopBound.value
                handler.respond(status: status, body: body, version: head.version, context: context)
            }
        }
    }

    /// `/queue?destination=a%20b&state=dead` → ("/queue", ["destination": "a b", "state": "dead"]).
    static func split(uri: String) -> (String, [String: String]) {
        guard let mark = uri.firstIndex(of: "?") else { return (uri, [:]) }
        var query: [String: String] = [:]
        for pair in uri[uri.index(after: mark)...].split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let decode: (Substring) -> String = {
                String($0).replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? String($0)
            }
            query[decode(parts[0])] = parts.count > 1 ? decode(parts[1]) : ""
        }
        return (String(uri[..<mark]), query)
    }

    private func respond(status: Int, body: Data, version: HTTPVersion, context: ChannelHandlerContext) {
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: "application/json")
        headers.add(name: "Content-Length", value: String(body.count))
        headers.add(name: "Connection", value: "close")
        let head = HTTPResponseHead(version: version, status: HTTPResponseStatus(statusCode: status), headers: headers)
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        var buffer = context.channel.allocator.buffer(capacity: body.count)
        buffer.writeBytes(body)
        context.write(wrapOutboundOut(.body(.byteBuffer(buffer))), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in context.close(promise: nil) }
    }
}
