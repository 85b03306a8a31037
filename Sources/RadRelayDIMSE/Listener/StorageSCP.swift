import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import NIOSSL

/// The DICOM storage SCP: a SwiftNIO listener running the DICOM upper layer itself
/// (docs/decisions.md, "accept path"). Every connection is an independent `AssociationHandler`
/// on an event loop; no connection waits on another, whatever it sends or fails to send.
public final class StorageSCP: Sendable {
    private let configuration: StorageSCPConfiguration
    private let delegate: any StorageSCPDelegate
    private let group: any EventLoopGroup
    private let logger: Logger
    private let limiter: AssociationLimiter
    private let nextAssociationID = NIOLockedValueBox<UInt64>(0)
    private let serverChannel = NIOLockedValueBox<(any Channel)?>(nil)
    private let children = NIOLockedValueBox<[ObjectIdentifier: any Channel]>([:])

    public init(
        configuration: StorageSCPConfiguration,
        delegate: any StorageSCPDelegate,
        group: any EventLoopGroup,
        logger: Logger,
        sharingLimitsWith sibling: StorageSCP? = nil
    ) {
        // A TLS listener beside the plain one shares its association counts (issue 5), so
        // `max_associations` stays a limit for the gateway as a whole.
        self.limiter = sibling?.limiter ?? AssociationLimiter()
        self.configuration = configuration
        self.delegate = delegate
        self.group = group
        self.logger = logger
    }

    /// Binds and starts accepting. Returns the bound address (with the real port when 0 was
    /// configured). Throws when the address cannot be bound (e.g. in use).
    public func start() async throws -> SocketAddress {
        let configuration = self.configuration
        let maxDataPDU = max(configuration.maxPDULength, 16384) + 1024
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.tcpOption(.tcp_nodelay), value: 1)
            .childChannelOption(.socketOption(.so_keepalive), value: 1)
            .childChannelInitializer { [self] channel in
                let id = nextAssociationID.withLockedValue { value -> UInt64 in
                    value += 1
                    return value
                }
                let handler = AssociationHandler(
                    configuration: configuration,
                    delegate: delegate,
                    limiter: limiter,
                    associationID: id,
                    logger: logger
                )
                track(channel)
                return channel.eventLoop.makeCompletedFuture {
                    // Issue 5: TLS first on the TLS listener; on the plain one a sniffer that
                    // names a TLS ClientHello for what it is.
                    if let tls = configuration.tls {
                        try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: tls.context))
                        try channel.pipeline.syncOperations.addHandler(TLSConnectionLogger(logger: logger))
                    } else {
                        try channel.pipeline.syncOperations.addHandler(PlainPortTLSDetector(logger: logger))
                    }
                    try channel.pipeline.syncOperations.addHandler(
                        ByteToMessageHandler(
                            PDUFrameDecoder(
                                // 64 KiB per request, and a capped number of such connections:
                                // the pre-association memory bound (AssociationLimiter).
                                maxAssociateRequestLength: AssociationLimiter.maxAssociateRequestPDULength - 6,
                                maxDataPDULength: maxDataPDU
                            )
                        )
                    )
                    try channel.pipeline.syncOperations.addHandler(handler)
                }
            }
        let channel = try await bootstrap.bind(host: configuration.host, port: configuration.port).get()
        serverChannel.withLockedValue { $0 = channel }
        guard let address = channel.localAddress else { throw StorageSCPError.noLocalAddress }
        return address
    }

    /// Stops accepting new connections; established associations continue.
    public func stopAccepting() async {
        let channel = serverChannel.withLockedValue { channel -> (any Channel)? in
            defer { channel = nil }
            return channel
        }
        try? await channel?.close()
    }

    /// Waits until every connection has closed, or `timeout` seconds passed; then closes the
    /// rest. Used for graceful shutdown after `stopAccepting()`.
    public func drain(timeout: Double) async {
        let deadline = ContinuousClock.now.advanced(by: .milliseconds(Int64(timeout * 1000)))
        while ContinuousClock.now < deadline {
            if children.withLockedValue({ $0.isEmpty }) { return }
            try? await Task.sleep(for: .milliseconds(50))
        }
        for channel in children.withLockedValue({ Array($0.values) }) {
            try? await channel.close()
        }
    }

    /// Associations currently holding a slot (accepted and not yet ended).
    public var activeAssociations: Int { limiter.active }

    /// Connections that have not completed their A-ASSOCIATE-RQ yet (bounded; see
    /// `AssociationLimiter`).
    public var connectionsAwaitingAssociation: Int { limiter.pendingConnections }

    private func track(_ channel: any Channel) {
        let key = ObjectIdentifier(channel)
        children.withLockedValue { $0[key] = channel }
        channel.closeFuture.whenComplete { [children] _ in
            children.withLockedValue { _ = $0.removeValue(forKey: key) }
        }
    }
}

/// Errors starting the listener.
public enum StorageSCPError: Error {
    case noLocalAddress
}
