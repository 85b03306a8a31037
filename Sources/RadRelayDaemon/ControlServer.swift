import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix

/// HTTP+JSON on the control Unix socket (`<runtime_dir>/control.sock`, mode 0660), so both
/// `radrelayctl` and `curl --unix-socket` work. Each connection answers one request and closes.
final class ControlServer: Sendable {
    /// Answers one request: (HTTP status, JSON body).
    typealias Router = @Sendable (_ method: String, _ path: String) async -> (Int, Data)

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
        // Owner and group only: the socket can change the queue in later versions.
        chmod(socketPath, 0o660)
        channel.set(bound)
    }

    func stop() async {
        try? await channel.take()?.close()
        unlink(socketPath)
    }
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

    init(router: @escaping ControlServer.Router) { self.router = router }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head): self.head = head
        case .body: break
        case .end:
            guard let head else { return }
            let router = self.router
            let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
            context.eventLoop.makeFutureWithTask {
                await router(head.method.rawValue, head.uri)
            }.whenSuccess { status, body in
                let (handler, context) = loopBound.value
                handler.respond(status: status, body: body, version: head.version, context: context)
            }
        }
    }

    private func respond(status: Int, body: Data, version: HTTPVersion, context: ChannelHandlerContext) {
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: "application/json")
        headers.add(name: "Content-Length", value: String(body.count))
        headers.add(name: "Connection", value: "close")
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: version, status: HTTPResponseStatus(statusCode: status), headers: headers))), promise: nil)
        var buffer = context.channel.allocator.buffer(capacity: body.count)
        buffer.writeBytes(body)
        context.write(wrapOutboundOut(.body(.byteBuffer(buffer))), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in context.close(promise: nil) }
    }
}
