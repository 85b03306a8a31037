import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOSSL
import RadRelayCore

/// DICOM TLS for the listener (PS3.15 B.1 "The Basic TLS Secure Transport Connection Profile",
/// with the BCP 195 non-downgrading profile of PS3.15 B.9): TLS 1.2 or newer, only the
/// ECDHE AES-GCM suites in TLS 1.2 (BoringSSL has no DHE), TLS 1.3's own suites, and
/// optionally client certificates checked against a CA.
///
/// The context can be replaced (`reload`) while the listener runs: new connections use the new
/// certificate and key, established ones keep theirs.
public final class ListenerTLS: Sendable {
    /// Files and client-certificate policy (shared with the configuration's `gateway.tls`).
    public typealias Settings = ServerTLSSettings

    /// The TLS 1.2 suites of BCP 195 (RFC 7525 §4.2) that BoringSSL implements.
    public static let bcp195CipherSuites: [NIOTLSCipher] = [
        .TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
        .TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
        .TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
        .TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
    ]

    private let state: NIOLockedValueBox<(settings: Settings, context: NIOSSLContext)>

    /// Loads the files now; throws when any is unreadable or the key does not fit.
    public init(_ settings: Settings) throws {
        state = NIOLockedValueBox((settings, try Self.makeContext(settings)))
    }

    /// Re-reads the files (SIGHUP, rotated certificates). On error the old context stays.
    public func reload(_ settings: Settings) throws {
        let context = try Self.makeContext(settings)
        state.withLockedValue { $0 = (settings, context) }
    }

    /// The settings in force.
    public var settings: Settings { state.withLockedValue { $0.settings } }

    /// The context for a new connection.
    var context: NIOSSLContext { state.withLockedValue { $0.context } }

    static func makeContext(_ settings: Settings) throws -> NIOSSLContext {
        let chain = try NIOSSLCertificate.fromPEMFile(settings.certificate).map { NIOSSLCertificateSource.certificate($0) }
        let key = try NIOSSLPrivateKey(file: settings.privateKey, format: .pem)
        var tls = TLSConfiguration.makeServerConfiguration(certificateChain: chain, privateKey: .privateKey(key))
        tls.minimumTLSVersion = .tlsv12
        tls.cipherSuiteValues = bcp195CipherSuites
        if let clientCA = settings.clientCA {
            tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(clientCA))
            tls.sendCANameList = true
            tls.certificateVerification = settings.requireClientCertificate ? .noHostnameVerification : .optionalVerification
        } else {
            tls.certificateVerification = .none
        }
        return try NIOSSLContext(configuration: tls)
    }
}

/// Logs why a TLS connection failed (plaintext on the TLS port, an untrusted or missing client
/// certificate, no common cipher) with a constant message, then lets the association handler
/// close the connection.
final class TLSConnectionLogger: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    private let logger: Logger
    private var handshakeDone = false

    init(logger: Logger) { self.logger = logger }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        // Decrypted bytes only flow once the handshake has completed.
        handshakeDone = true
        context.fireChannelRead(data)
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        var meta: Logger.Metadata = ["reason": "\(error)"]
        if let peer = context.remoteAddress { meta["peer"] = "\(peer)" }
        if handshakeDone {
            logger.info("DICOM TLS connection error", metadata: meta)
        } else {
            logger.notice("DICOM TLS handshake failed", metadata: meta)
        }
        context.fireErrorCaught(error)
    }
}

/// On the plain DICOM port: a first byte of 0x16 (a TLS handshake record, never a PDU type) is
/// logged as "TLS on the plain port" before the PDU decoder refuses it, so the operator sees the
/// real reason instead of "unrecognized PDU type".
final class PlainPortTLSDetector: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    private let logger: Logger

    init(logger: Logger) { self.logger = logger }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = unwrapInboundIn(data)
        if buffer.readableBytes > 0, buffer.getInteger(at: buffer.readerIndex, as: UInt8.self) == 0x16 {
            var meta: Logger.Metadata = [:]
            if let peer = context.remoteAddress { meta["peer"] = "\(peer)" }
            logger.notice("TLS handshake on the plain DICOM port refused", metadata: meta)
        }
        context.fireChannelRead(data)
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
    }
}
