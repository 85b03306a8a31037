import RadRelayCore

/// Where and how a `STOWClient` stores instances (PS3.18 §10.5). Independent of the config
/// file's types; the daemon maps `Configuration.STOW` onto it.
public struct STOWConfiguration: Sendable, Equatable {
    /// The DICOMweb base URL without a trailing slash (`https://platform.example/dicom-web`).
    public var baseURL: String
    /// POST to `{base}/studies/{StudyInstanceUID}`, one study per request.
    public var studyScoped: Bool
    /// Credentials read from a file.
    public var auth: Auth?
    /// At most this many instances per request.
    public var maxInstancesPerRequest: Int
    /// At most this many body bytes per request; a single larger instance still goes alone.
    public var maxBytesPerRequest: UInt64
    /// TLS trust and client identity for https; nil uses the system's trust store.
    public var tls: TLS?
    /// An HTTP proxy (CONNECT for https).
    public var proxy: Proxy?
    /// Per-phase timeouts.
    public var timeouts: Timeouts

    public init(
        baseURL: String,
        studyScoped: Bool = false,
        auth: Auth? = nil,
        maxInstancesPerRequest: Int = 50,
        maxBytesPerRequest: UInt64 = 64_000_000,
        tls: TLS? = nil,
        proxy: Proxy? = nil,
        timeouts: Timeouts = Timeouts()
    ) {
        var trimmed = baseURL
        while trimmed.hasSuffix("/") { trimmed.removeLast() }
        self.baseURL = trimmed
        self.studyScoped = studyScoped
        self.auth = auth
        self.maxInstancesPerRequest = max(1, maxInstancesPerRequest)
        self.maxBytesPerRequest = max(1, maxBytesPerRequest)
        self.tls = tls
        self.timeouts = timeouts
        self.proxy = proxy
    }

    /// Credentials from a file, re-read whenever the file changes (token rotation without a
    /// restart; systemd `LoadCredential=`).
    public enum Auth: Sendable, Equatable {
        /// `Authorization: Bearer <file contents, trimmed>`.
        case bearerTokenFile(String)
        /// `Authorization: Basic base64(<file contents, trimmed: user:password>)`.
        case basicAuthFile(String)
    }

    /// HTTPS settings. Files are re-read when they change.
    public struct TLS: Sendable, Equatable {
        /// PEM CA bundle that replaces the system trust store.
        public var caFile: String?
        /// PEM client certificate (chain) for mutual TLS.
        public var certificateFile: String?
        /// PEM private key of the client certificate.
        public var privateKeyFile: String?
        /// Check the server certificate's name against the URL's host (or `serverName`).
        public var verifyHostname: Bool
        /// Name to verify and send as SNI instead of the URL's host.
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

        /// Every file this configuration reads.
        var files: [String] { [caFile, certificateFile, privateKeyFile].compactMap { $0 } }
    }

    /// Per-phase timeouts in seconds.
    public struct Timeouts: Sendable, Equatable {
        /// TCP connect + TLS handshake (+ proxy CONNECT).
        public var connect: Double
        /// Longest silence while waiting for response bytes.
        public var read: Double
        /// Longest time the server may refuse body bytes.
        public var write: Double
        /// The whole request.
        public var request: Double
        /// Idle pooled connections close after this.
        public var idle: Double

        public init(connect: Double = 10, read: Double = 120, write: Double = 60, request: Double = 1800, idle: Double = 60) {
            self.connect = connect
            self.read = read
            self.write = write
            self.request = request
            self.idle = idle
        }
    }

    /// `host:port` of an HTTP proxy.
    public struct Proxy: Sendable, Equatable {
        public var host: String
        public var port: Int
        public init(host: String, port: Int) {
            self.host = host
            self.port = port
        }
    }
}
