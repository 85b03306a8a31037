/// Inbound TLS settings of a DICOM listener (PS3.15 B.1 / B.9): the gateway's identity and who may
/// connect. The config file's `gateway.tls` (RadRelayConfig) and the listener (RadRelayDIMSE) both
/// use this type, so the settings reach the listener without a field-by-field copy; it lives here
/// because neither of those modules may import the other.
public struct ServerTLSSettings: Sendable, Equatable {
    /// PEM certificate (chain) of the gateway; absolute path.
    public var certificate: String
    /// PEM private key of the certificate; absolute path.
    public var privateKey: String
    /// PEM bundle of the CAs whose client certificates are trusted; nil asks for none.
    public var clientCA: String?
    /// Refuse a TLS connection that presents no client certificate trusted by `clientCA`.
    public var requireClientCertificate: Bool

    public init(certificate: String, privateKey: String, clientCA: String? = nil, requireClientCertificate: Bool = false) {
        self.certificate = certificate
        self.privateKey = privateKey
        self.clientCA = clientCA
        self.requireClientCertificate = requireClientCertificate
    }
}
