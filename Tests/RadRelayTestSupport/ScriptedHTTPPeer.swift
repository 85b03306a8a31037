import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix

/// A scripted HTTP/1.1 server on 127.0.0.1 (port 0) playing a STOW-RS remote for fault tests:
/// each request takes the next step of the script (the last step repeats).
///
/// Steps: a canned response (status, headers, body; `stowFailures` builds a DICOM JSON body that
/// lists some instances as failed and the others as stored), `stall` (read the request, never
/// answer, keep the connection), `reset` (close with a TCP RST once the request head arrived).
/// Every request is recorded with its headers, body size and the SOP Instance UIDs found in its
/// parts, and the time it arrived, so tests can check batching and that no tight retry loop ran.
public final class ScriptedHTTPPeer: @unchecked Sendable {
    public enum Step: Sendable {
        case respond(status: Int, headers: [(String, String)] = [], body: String = "")
        case stall
        case reset
        /// 200 (or `status`) with every instance stored except those in `failures` (UID → reason).
        case stowResult(status: Int = 200, failures: [String: UInt16] = [:], omit: Set<String> = [])
    }

    public struct ReceivedRequest: Sendable {
        public var method: String
        public var uri: String
        public var headers: [(String, String)]
        public var bodyBytes: Int
        public var sopInstanceUIDs: [String]
        public var receivedAt: Date

        public func header(_ name: String) -> String? {
            headers.first { $0.0.lowercased() == name.lowercased() }?.1
        }
    }

    private let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
    private let lock = NIOLock()
    private var script: [Step]
    private var received: [ReceivedRequest] = []
    private var channel: (any Channel)?
    public private(set) var port: Int = 0

    public init(script: [Step]) throws {
        self.script = script
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { [self] channel in
                channel.pipeline.configureHTTPServerPipeline(withErrorHandling: true).flatMap {
                    channel.pipeline.addHandler(Handler(peer: self))
                }
            }
        let channel = try bootstrap.bind(host: "127.0.0.1", port: 0).wait()
        self.channel = channel
        port = channel.localAddress?.port ?? 0
    }

    /// `http://127.0.0.1:port/dicom-web`.
    public var baseURL: String { "http://127.0.0.1:\(port)/dicom-web" }

    /// Replaces the script (the next request takes its first step).
    public func setScript(_ steps: [Step]) { lock.withLock { script = steps } }

    /// Every request so far.
    public var requests: [ReceivedRequest] { lock.withLock { received } }

    public func stop() {
        try? channel?.close().wait()
        try? group.syncShutdownGracefully()
    }

    fileprivate func nextStep(_ request: ReceivedRequest) -> Step {
        lock.withLock {
            received.append(request)
            if script.count > 1 { return script.removeFirst() }
            return script.first ?? .respond(status: 500)
        }
    }

    /// A DICOM JSON STOW-RS response (PS3.18 §10.5.3) for `uids`.
    public static func stowBody(uids: [String], failures: [String: UInt16], omit: Set<String> = []) -> String {
        func item(_ uid: String, extra: String) -> String {
            "{\"00081150\":{\"vr\":\"UI\",\"Value\":[\"1.2.840.10008.5.1.4.1.1.2\"]},"
                + "\"00081155\":{\"vr\":\"UI\",\"Value\":[\"\(uid)\"]}\(extra)}"
        }
        let stored = uids.filter { failures[$0] == nil && !omit.contains($0) }.map { item($0, extra: "") }
        let failed = uids.compactMap { uid in
            failures[uid].map { item(uid, extra: ",\"00081197\":{\"vr\":\"US\",\"Value\":[\($0)]}") }
        }
        var parts: [String] = []
        if !stored.isEmpty { parts.append("\"00081199\":{\"vr\":\"SQ\",\"Value\":[\(stored.joined(separator: ","))]}") }
        if !failed.isEmpty { parts.append("\"00081198\":{\"vr\":\"SQ\",\"Value\":[\(failed.joined(separator: ","))]}") }
        return "{" + parts.joined(separator: ",") + "}"
    }

    /// SOP Instance UIDs (0008,0018) found in the request body's Part 10 parts: the UI value
    /// after each explicit-VR tag (0008,0018).
    static func sopInstanceUIDs(in body: [UInt8]) -> [String] {
        let tag: [UInt8] = [0x08, 0x00, 0x18, 0x00, 0x55, 0x49]  // (0008,0018) UI, explicit VR LE
        var uids: [String] = []
        var index = 0
        while index + 8 <= body.count {
            if body[index] == tag[0], Array(body[index..<index + 6]) == tag {
                let length = Int(body[index + 6]) | Int(body[index + 7]) << 8
                let start = index + 8
                if start + length <= body.count {
                    let raw = String(decoding: body[start..<start + length], as: UTF8.self)
                    uids.append(raw.trimmingCharacters(in: CharacterSet(charactersIn: " \0")))
                }
                index = start + length
            } else {
                index += 1
            }
        }
        return uids
    }

    private final class Handler: ChannelInboundHandler, @unchecked Sendable {
        typealias InboundIn = HTTPServerRequestPart
        typealias OutboundOut = HTTPServerResponsePart

        let peer: ScriptedHTTPPeer
        var head: HTTPRequestHead?
        var body: [UInt8] = []

        init(peer: ScriptedHTTPPeer) { self.peer = peer }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            switch unwrapInboundIn(data) {
            case .head(let head):
                self.head = head
                body = []
            case .body(var buffer):
                // Only the first kilobytes of each part matter (the meta header and UIDs), but
                // keep everything: test bodies are small.
                body += buffer.readBytes(length: buffer.readableBytes) ?? []
            case .end:
                guard let head else { return }
                let request = ReceivedRequest(
                    method: "\(head.method)", uri: head.uri, headers: head.headers.map { ($0.name, $0.value) },
                    bodyBytes: body.count, sopInstanceUIDs: ScriptedHTTPPeer.sopInstanceUIDs(in: body),
                    receivedAt: Date())
                respond(peer.nextStep(request), request: request, context: context)
            }
        }

        private func respond(_ step: Step, request: ReceivedRequest, context: ChannelHandlerContext) {
            switch step {
            case .stall:
                return
            case .reset:
                // SO_LINGER 0: close() sends a RST instead of a FIN.
                if let provider = context.channel as? SocketOptionProvider {
                    provider.setSoLinger(linger(l_onoff: 1, l_linger: 0)).whenComplete { _ in context.close(promise: nil) }
                } else {
                    context.close(promise: nil)
                }
            case .respond(let status, let headers, let body):
                write(status: status, headers: headers, body: body, context: context)
            case .stowResult(let status, let failures, let omit):
                let body = ScriptedHTTPPeer.stowBody(uids: request.sopInstanceUIDs, failures: failures, omit: omit)
                write(status: status, headers: [("Content-Type", "application/dicom+json")], body: body, context: context)
            }
        }

        private func write(status: Int, headers: [(String, String)], body: String, context: ChannelHandlerContext) {
            var fields = HTTPHeaders(headers)
            fields.replaceOrAdd(name: "Content-Length", value: "\(body.utf8.count)")
            let head = HTTPResponseHead(version: .http1_1, status: HTTPResponseStatus(statusCode: status), headers: fields)
            context.write(wrapOutboundOut(.head(head)), promise: nil)
            context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(string: body)))), promise: nil)
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        }
    }
}
