import RadRelayCore

// Issue 5: TLS on both sides and STOW-RS destinations. Kept out of Configuration.swift so the
// sections other issues extend stay small.
extension Configuration {
    /// `gateway.tls`: the TLS listener's identity and who may connect to it (shared with the
    /// listener).
    public typealias ServerTLS = ServerTLSSettings

    /// `destinations[].tls`: how we check the remote and, optionally, who we are to it.
    public struct ClientTLS: Sendable, Equatable {
        /// PEM bundle of the CAs trusted for the remote's certificate; nil uses the system's.
        public var ca: String?
        /// PEM client certificate (mutual TLS); set together with `privateKey`.
        public var certificate: String?
        /// PEM private key of `certificate`.
        public var privateKey: String?
        /// Check that the remote's certificate names the host we connect to (on by default;
        /// DCMTK 3.6.7 does not, radrelay does it through OpenSSL).
        public var verifyHostname: Bool
        /// The name to verify and send as SNI instead of `host` (e.g. when `host` is an address).
        public var serverName: String?

        public init(
            ca: String? = nil,
            certificate: String? = nil,
            privateKey: String? = nil,
            verifyHostname: Bool = true,
            serverName: String? = nil
        ) {
            self.ca = ca
            self.certificate = certificate
            self.privateKey = privateKey
            self.verifyHostname = verifyHostname
            self.serverName = serverName
        }

        /// These settings as both senders take them (`DICOMSenderConfiguration.TLS`,
        /// `STOWConfiguration.TLS`).
        public var clientSettings: ClientTLSSettings {
            ClientTLSSettings(
                caFile: ca, certificateFile: certificate, privateKeyFile: privateKey,
                verifyHostname: verifyHostname, serverName: serverName)
        }
    }

    /// A `kind: stow` destination's settings (DICOMweb STOW-RS, PS3.18 §10.5).
    public struct STOW: Sendable, Equatable {
        /// The DICOMweb base URL (`https://platform.example/dicom-web`), no trailing slash.
        public var url: String
        /// `http` or `https`.
        public var scheme: String
        /// Host of `url`.
        public var host: String
        /// Port of `url` (default 80 / 443).
        public var port: Int
        /// POST to `{url}/studies/{StudyInstanceUID}` (one study per request) instead of
        /// `{url}/studies`.
        public var studyScoped: Bool
        /// Credentials, read from files at every request when they changed.
        public var auth: HTTPAuth?
        /// At most this many instances in one request (1 sends one instance per request).
        public var maxInstancesPerRequest: Int
        /// At most this many body bytes in one request (an instance larger than this goes alone).
        public var maxBytesPerRequest: UInt64
        /// An HTTP proxy (`http://host:port`); HTTPS goes through it with CONNECT.
        public var proxy: HTTPProxy?
        /// Per-phase HTTP timeouts.
        public var timeouts: HTTPTimeouts

        public init(
            url: String,
            scheme: String,
            host: String,
            port: Int,
            studyScoped: Bool = false,
            auth: HTTPAuth? = nil,
            maxInstancesPerRequest: Int = 50,
            maxBytesPerRequest: UInt64 = 64_000_000,
            proxy: HTTPProxy? = nil,
            timeouts: HTTPTimeouts = HTTPTimeouts()
        ) {
            self.url = url
            self.scheme = scheme
            self.host = host
            self.port = port
            self.studyScoped = studyScoped
            self.auth = auth
            self.maxInstancesPerRequest = maxInstancesPerRequest
            self.maxBytesPerRequest = maxBytesPerRequest
            self.proxy = proxy
            self.timeouts = timeouts
        }
    }

    /// `auth`: where HTTP credentials come from (shared with the STOW-RS sender).
    public typealias HTTPAuth = RadRelayCore.HTTPAuth

    /// `proxy: http://host:port` (shared with the STOW-RS sender).
    public typealias HTTPProxy = RadRelayCore.HTTPProxy

    /// `timeouts` of a `kind: stow` destination, per phase, in seconds (shared with the STOW-RS
    /// sender).
    public typealias HTTPTimeouts = RadRelayCore.HTTPTimeouts
}
