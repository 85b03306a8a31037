import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix
import Prometheus
import RadRelayOutbox

/// Prometheus text exposition on a loopback address (`metrics:`, off by default), plus
/// `/healthz` (200 while every loop ticks its heartbeat) and `/readyz` (200 while the daemon
/// accepts objects: ready, not draining, disk above the watermark).
final class MetricsServer: Sendable {
    private let daemon: Daemon
    private let group: any EventLoopGroup
    private let logger: Logger
    private let channel = NIOLockedValueBoxChannel()
    private let bound = NIOLockedValueBox<SocketAddress?>(nil)

    init(daemon: Daemon, group: any EventLoopGroup, logger: Logger) {
        self.daemon = daemon
        self.group = group
        self.logger = logger
    }

    /// Where it listens, once started.
    var address: SocketAddress? { bound.withLockedValue { $0 } }

    func start(host: String, port: Int) async throws {
        let daemon = self.daemon
        let channel = try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.pipeline.configureHTTPServerPipeline(withErrorHandling: true).flatMap {
                    channel.pipeline.addHandler(MetricsRequestHandler(daemon: daemon))
                }
            }
            .bind(host: host, port: port)
            .get()
        self.channel.set(channel)
        bound.withLockedValue { $0 = channel.localAddress }
        logger.notice(
            "Metrics endpoint listening",
            metadata: ["address": "\(channel.localAddress?.ipAddress ?? host)", "port": "\(channel.localAddress?.port ?? 0)"]
        )
    }

    func stop() async {
        try? await channel.take()?.close()
    }
}

extension Daemon {
    /// `/metrics`: refreshes the scrape-time gauges, then renders the registry.
    ///
    /// Read at scrape time: build info, uptime, active associations, outbox depth and bytes per
    /// destination and state, the oldest pending delivery's age per destination, per destination
    /// its health (`radrelay_destination_up`, 0 only while down), its delivered rate over the last
    /// minute (`radrelay_destination_rate_bytes_per_second`, as `radrelayctl status` shows it)
    /// and the cap in force now (`radrelay_destination_bandwidth_limit_bytes_per_second`, 0 when
    /// unlimited), disk space, certificate expiry and readiness. Everything else is counted
    /// where it happens (`GatewayMetrics`).
    func renderMetrics() async -> String {
        let registry = PrometheusMetricsFactory.defaultRegistry
        let now = Date().timeIntervalSince1970
        registry.makeGauge(name: "radrelay_build_info", labels: [("version", radrelayVersion)]).set(Double(1))
        registry.makeGauge(name: "radrelay_uptime_seconds").set(now - startedAt.timeIntervalSince1970)
        registry.makeGauge(name: "radrelay_active_associations").set(Double(listener.activeAssociations))
        if let rows = try? await blockingPool.runIfActive({ [outbox] in try outbox.status(now: now) }) {
            for row in rows {
                for state in DeliveryState.allCases {
                    let labels = [("destination", row.destination), ("state", state.rawValue)]
                    registry.makeGauge(name: "radrelay_outbox_deliveries", labels: labels).set(Double(row.count(state)))
                    registry.makeGauge(name: "radrelay_outbox_bytes", labels: labels)
                        .set(Double(row.bytes[state] ?? 0))
                }
                registry.makeGauge(name: "radrelay_outbox_oldest_pending_age_seconds", labels: [("destination", row.destination)])
                    .set(row.oldestPendingAge ?? 0)
            }
        }
        let names = Array(forwarders.keys)
        let rates = try? await blockingPool.runIfActive { [outbox] in
            try names.map { ($0, try outbox.deliveredSince(now - 60, destination: $0).bytes) }
        }
        for (name, bytes) in rates ?? [] {
            registry.makeGauge(name: "radrelay_destination_rate_bytes_per_second", labels: [("destination", name)])
                .set(Double(bytes) / 60)
        }
        for (name, forwarder) in forwarders {
            let labels = [("destination", name)]
            registry.makeGauge(name: "radrelay_destination_bandwidth_limit_bytes_per_second", labels: labels)
                .set(forwarder.bandwidthLimit ?? 0)
            registry.makeGauge(name: "radrelay_destination_up", labels: labels)
                .set(Double(forwarder.health.state == "down" ? 0 : 1))
        }
        let gateway = operations.running.withLockedValue { $0.gateway }
        if let disk = diskStatus(gateway) {
            registry.makeGauge(name: "radrelay_disk_free_bytes").set(Double(disk.availableBytes))
            registry.makeGauge(name: "radrelay_disk_total_bytes").set(Double(disk.totalBytes))
            registry.makeGauge(name: "radrelay_disk_low").set(Double(disk.low ? 1 : 0))
        }
        for expiry in certificates.expiries() {
            guard let notAfter = expiry.notAfter else { continue }
            registry.makeGauge(name: "radrelay_certificate_not_after_seconds", labels: [("role", expiry.role)])
                .set(notAfter)
        }
        registry.makeGauge(name: "radrelay_ready").set(Double(operations.isReady ? 1 : 0))
        return registry.emitToString()
    }
}

private final class MetricsRequestHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let daemon: Daemon
    private var head: HTTPRequestHead?

    init(daemon: Daemon) { self.daemon = daemon }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head): self.head = head
        case .body: break
        case .end:
            guard let head else { return }
            let daemon = self.daemon
            let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
            let path = head.uri.split(separator: "?").first.map(String.init) ?? head.uri
            context.eventLoop.makeFutureWithTask { () -> (Int, String, String) in
                guard head.method == .GET || head.method == .HEAD else { return (405, "text/plain", "GET only\n") }
                switch path {
                case "/metrics":
                    return (200, "text/plain; version=0.0.4; charset=utf-8", await daemon.renderMetrics())
                case "/healthz":
                    let stale = daemon.operations.heartbeats.staleLoops()
                    return stale.isEmpty
                        ? (200, "text/plain", "ok\n")
                        : (503, "text/plain", "stale loops: \(stale.joined(separator: ", "))\n")
                case "/readyz":
                    if !daemon.operations.isReady { return (503, "text/plain", "not ready\n") }
                    if daemon.pipeline.diskIsLow { return (503, "text/plain", "disk below min_free_disk\n") }
                    return (200, "text/plain", "ready\n")
                default:
                    return (404, "text/plain", "not found\n")
                }
            }.whenSuccess { status, type, body in
                let (handler, context) = loopBound.value
                handler.respond(status: status, contentType: type, body: body, head: head, context: context)
            }
        }
    }

    private func respond(status: Int, contentType: String, body: String, head: HTTPRequestHead, context: ChannelHandlerContext) {
        let bytes = Array(body.utf8)
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: contentType)
        headers.add(name: "Content-Length", value: String(bytes.count))
        headers.add(name: "Connection", value: "close")
        let responseHead = HTTPResponseHead(version: head.version, status: HTTPResponseStatus(statusCode: status), headers: headers)
        context.write(wrapOutboundOut(.head(responseHead)), promise: nil)
        if head.method != .HEAD {
            var buffer = context.channel.allocator.buffer(capacity: bytes.count)
            buffer.writeBytes(bytes)
            context.write(wrapOutboundOut(.body(.byteBuffer(buffer))), promise: nil)
        }
        context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in context.close(promise: nil) }
    }
}
