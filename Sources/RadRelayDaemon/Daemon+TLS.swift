import Foundation
import Logging
import NIOCore
import NIOPosix
import NIOSSL
import RadRelayConfig
import RadRelayCore
import RadRelayDIMSE
import ServiceLifecycle

// Issue 5: the DICOM TLS listener beside the plain one, certificate reload, and certificate
// expiry for status, metrics and the journal.

/// The TLS listener and its replaceable context.
struct TLSListener: Sendable {
    let scp: StorageSCP
    let tls: ListenerTLS
}

extension Daemon {
    /// The TLS listener for `gateway.tls_port`, or nil when it is not configured. Throws when the
    /// certificate or key cannot be loaded, so a bad file stops the start, not the first peer.
    static func makeTLSListener(
        _ gateway: Configuration.Gateway,
        delegate: any StorageSCPDelegate,
        group: any EventLoopGroup,
        sibling: StorageSCP,
        logger: Logger
    ) throws -> TLSListener? {
        guard let port = gateway.tlsPort, let settings = gateway.tls else { return nil }
        let tls = try ListenerTLS(settings)
        var configuration = StorageSCPConfiguration(gateway: gateway, port: port)
        configuration.tls = tls
        var logger = logger
        logger[metadataKey: "listener"] = "tls"
        let scp = StorageSCP(configuration: configuration, delegate: delegate, group: group, logger: logger, sharingLimitsWith: sibling)
        return TLSListener(scp: scp, tls: tls)
    }

    /// Binds the TLS listener, if any, and logs its address.
    func startTLSListener() async throws {
        guard let tlsListener else { return }
        let address = try await tlsListener.scp.start()
        logger.notice(
            "radrelay listening with DICOM TLS",
            metadata: [
                "address": "\(address.ipAddress ?? "?")", "port": "\(address.port ?? 0)",
                "client_certificate": "\(tlsListener.tls.settings.requireClientCertificate ? "required" : "optional")",
            ]
        )
    }

    /// Re-reads the TLS listener's certificate, key and client CA (SIGHUP). New connections use
    /// the new files; on error the old ones stay in force and the error is thrown for the log.
    /// Outbound TLS needs no call: DICOM senders load their files for every new association and
    /// STOW-RS clients whenever a file changed.
    public func reloadTLS(_ gateway: Configuration.Gateway) throws {
        guard let tlsListener, let settings = gateway.tls else { return }
        try tlsListener.tls.reload(settings)
        logger.info("DICOM TLS certificate reloaded")
    }
}

// MARK: - Certificate expiry

/// One certificate file's validity as status and metrics report it.
public struct CertificateExpiry: Sendable, Equatable, Codable {
    /// What the file is for: `gateway.tls.certificate`, `gateway.tls.client_ca`,
    /// `destinations.<name>.tls.ca`, `destinations.<name>.tls.certificate`.
    public var role: String
    /// The file.
    public var path: String
    /// The earliest `notAfter` of the certificates in the file (seconds since 1970), nil when
    /// the file cannot be read.
    public var notAfter: EpochSeconds?
    /// Why the file could not be read.
    public var error: String?

    /// Days until `notAfter` (negative once expired).
    public func daysLeft(now: EpochSeconds) -> Double? { notAfter.map { ($0 - now) / 86400 } }
}

/// Every certificate the configuration names, read afresh at each call (cheap: a few PEM files),
/// so rotated files show at once. For `radrelayctl status` and the Prometheus exporter
/// (`radrelay_certificate_not_after_seconds{role=…}`), and the expiry warnings.
public final class CertificateInventory: Sendable {
    /// Warn when fewer days than these remain: a warning at 30, critical at 7.
    public static let warningDays: Double = 30
    public static let criticalDays: Double = 7

    private let files: [(role: String, path: String)]

    public init(configuration: Configuration) {
        var files: [(String, String)] = []
        if let tls = configuration.gateway.tls {
            files.append(("gateway.tls.certificate", tls.certificate))
            if let ca = tls.clientCA { files.append(("gateway.tls.client_ca", ca)) }
        }
        for destination in configuration.destinations {
            guard let tls = destination.tls else { continue }
            if let ca = tls.ca { files.append(("destinations.\(destination.name).tls.ca", ca)) }
            if let certificate = tls.certificate {
                files.append(("destinations.\(destination.name).tls.certificate", certificate))
            }
        }
        self.files = files
    }

    /// The current validity of every configured certificate file.
    public func expiries() -> [CertificateExpiry] {
        files.map { file in
            do {
                let certificates = try NIOSSLCertificate.fromPEMFile(file.path)
                guard let earliest = certificates.map(\.notValidAfter).min() else {
                    return CertificateExpiry(role: file.role, path: file.path, notAfter: nil, error: "no certificate in file")
                }
                return CertificateExpiry(role: file.role, path: file.path, notAfter: EpochSeconds(earliest), error: nil)
            } catch {
                return CertificateExpiry(role: file.role, path: file.path, notAfter: nil, error: "\(error)")
            }
        }
    }

    /// Logs expired (error), < 7 days (critical) and < 30 days (warning) certificates.
    public func logWarnings(now: EpochSeconds, logger: Logger) {
        for expiry in expiries() {
            var meta: Logger.Metadata = ["role": "\(expiry.role)", "path": "\(expiry.path)"]
            guard let days = expiry.daysLeft(now: now) else {
                meta["error"] = "\(expiry.error ?? "unknown")"
                logger.error("Certificate file unreadable", metadata: meta)
                continue
            }
            meta["days_left"] = "\(Int(days.rounded(.down)))"
            if days < 0 {
                logger.critical("Certificate expired", metadata: meta)
            } else if days < Self.criticalDays {
                logger.critical("Certificate expires within 7 days", metadata: meta)
            } else if days < Self.warningDays {
                logger.warning("Certificate expires within 30 days", metadata: meta)
            }
        }
    }
}

/// Checks certificate expiry at start and every 12 hours until shutdown.
struct CertificateExpiryService: Service {
    let inventory: CertificateInventory
    let logger: Logger

    func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                inventory.logWarnings(now: Date().timeIntervalSince1970, logger: logger)
                try? await Task.sleep(for: .seconds(12 * 3600))
            }
        }
    }
}

// MARK: - Listener configuration

extension StorageSCPConfiguration {
    /// The listener settings of `gateway` on `port` (the plain port or `tls_port`): both
    /// listeners share every limit and timeout.
    init(gateway: Configuration.Gateway, port: Int) {
        self.init(
            host: gateway.bind,
            port: port,
            maxAssociations: gateway.maxAssociations,
            acseTimeout: gateway.timeouts.acse,
            dimseTimeout: gateway.timeouts.dimse,
            idleTimeout: gateway.timeouts.idle,
            maxPDULength: gateway.maxPDULength,
            maxObjectSize: gateway.maxObjectSize,
            acceptPrivateSOPClasses: gateway.acceptPrivateSOPClasses
        )
    }
}
