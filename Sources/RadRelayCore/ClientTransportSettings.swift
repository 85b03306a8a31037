// How radrelay connects out to a destination: TLS, HTTP credentials, proxy and timeouts. The
// config file's types (RadRelayConfig) and both senders (RadRelayDIMSE, RadRelayDICOMweb) use
// these, so a destination's settings reach a sender without a field-by-field copy; they live
// here because the senders may import Core but neither the config nor each other.

/// Outbound TLS settings: how we check the remote's certificate and, optionally, who we are to it
/// (mutual TLS). Used for DICOM TLS associations (PS3.15 B.1) and for HTTPS (STOW-RS); the
/// senders read the files again whenever they connect anew, so certificates rotate without a
/// restart.
public struct ClientTLSSettings: Sendable, Equatable {
    /// PEM bundle of the CAs trusted for the remote's certificate; nil uses the system's.
    public var caFile: String?
    /// PEM client certificate (chain) for mutual TLS; set together with `privateKeyFile`.
    public var certificateFile: String?
    /// PEM private key of `certificateFile`.
    public var privateKeyFile: String?
    /// Check that the remote's certificate names `serverName`, or else the host we connect to
    /// (on by default; DCMTK 3.6.7 does not, radrelay does it through OpenSSL).
    public var verifyHostname: Bool
    /// The name to verify and send as SNI instead of the host (e.g. when the host is an address).
    public var serverName: String?

    public init(
        caFile: String? = nil,
        certificateFile: String? = nil,
        privateKeyFile: String? = nil,
        verifyHostname: Bool = true,
        serverName: String? = nil
    ) {
        self.caFile = caFile
        self.certificateFile = certificateFile
        self.privateKeyFile = privateKeyFile
        self.verifyHostname = verifyHostname
        self.serverName = serverName
    }
}

/// Where HTTP credentials come from. Files, so systemd's `LoadCredential=` works and tokens
/// rotate without a restart: the sender reads a file again whenever it changed.
public enum HTTPAuth: Sendable, Equatable {
    /// The file holds the token (surrounding white space ignored): `Authorization: Bearer …`.
    case bearerTokenFile(String)
    /// The file holds `user:password` (surrounding white space ignored): `Authorization: Basic …`.
    case basicAuthFile(String)
}

/// An HTTP proxy, `http://host:port`; HTTPS goes through it with CONNECT.
public struct HTTPProxy: Sendable, Equatable {
    public var host: String
    public var port: Int

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }
}

/// Per-phase HTTP timeouts in seconds.
public struct HTTPTimeouts: Sendable, Equatable {
    /// TCP connect plus TLS handshake (and proxy CONNECT).
    public var connect: Double
    /// Longest silence while waiting for response bytes (a stalled server).
    public var read: Double
    /// Longest time the server may refuse to take body bytes (a stalled upload).
    public var write: Double
    /// Whole request, body and response included.
    public var request: Double
    /// An idle pooled connection is closed after this.
    public var idle: Double

    public init(
        connect: Double = 10, read: Double = 120, write: Double = 60, request: Double = 1800, idle: Double = 60
    ) {
        self.connect = connect
        self.read = read
        self.write = write
        self.request = request
        self.idle = idle
    }
}
