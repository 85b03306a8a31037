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
    public typealias Auth = HTTPAuth

    /// HTTPS settings. Files are re-read when they change.
    public typealias TLS = ClientTLSSettings

    /// Per-phase timeouts in seconds.
    public typealias Timeouts = HTTPTimeouts

    /// `host:port` of an HTTP proxy.
    public typealias Proxy = HTTPProxy
}

extension ClientTLSSettings {
    /// Every file these settings read (the STOW client rebuilds its HTTP client when one changes).
    var files: [String] { [caFile, certificateFile, privateKeyFile].compactMap { $0 } }
}
