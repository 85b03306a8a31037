import RadRelayCore

/// Where and how a `DICOMSender` connects: one remote Storage SCP, with one timeout per phase
/// (PS3.8 §9.1.6 ARTIM for the association, PS3.7 for DIMSE).
///
/// DCMTK counts the connect, ACSE and DIMSE timeouts in whole seconds: fractions round up, and
/// anything below one second becomes one second.
public struct DICOMSenderConfiguration: Sendable, Equatable {
    /// Host name or IPv4 address of the remote (DCMTK 3.6.7 cannot parse IPv6 literals here).
    public var host: String
    /// TCP port of the remote.
    public var port: Int
    /// The remote's AE title (Called AE Title in the A-ASSOCIATE-RQ).
    public var calledAE: AETitle
    /// Our AE title (Calling AE Title).
    public var callingAE: AETitle
    /// Seconds allowed for the TCP connect. DCMTK 3.6.7 keeps this value process-wide; senders
    /// configured differently that connect at the same instant may use each other's value.
    public var connectTimeout: Double
    /// Seconds allowed for the A-ASSOCIATE-AC/RJ and the A-RELEASE-RP.
    public var acseTimeout: Double
    /// Seconds allowed for a DIMSE response, and for any single blocked socket write.
    public var dimseTimeout: Double
    /// Seconds without work after which the open association is released (A-RELEASE), so an idle
    /// destination holds no connection.
    public var idleRelease: Double
    /// The largest PDU we accept from the remote (PS3.8 §9.3.1 Maximum Length).
    public var maxPDU: Int
    /// DICOM TLS (PS3.15 B.1, BCP 195 non-downgrading) for every association; nil for plain
    /// DICOM (issue 5).
    public var tls: TLS? = nil

    /// Outbound TLS settings. Files are read again for each new association; the server
    /// certificate must name `serverName ?? host` unless `verifyHostname` is off.
    public typealias TLS = ClientTLSSettings

    /// Creates a configuration; the defaults suit a LAN PACS.
    public init(
        host: String,
        port: Int,
        calledAE: AETitle,
        callingAE: AETitle,
        connectTimeout: Double = 10,
        acseTimeout: Double = 30,
        dimseTimeout: Double = 60,
        idleRelease: Double = 10,
        maxPDU: Int = 16384,
        tls: TLS? = nil
    ) {
        self.host = host
        self.port = port
        self.calledAE = calledAE
        self.callingAE = callingAE
        self.connectTimeout = connectTimeout
        self.acseTimeout = acseTimeout
        self.dimseTimeout = dimseTimeout
        self.idleRelease = idleRelease
        self.maxPDU = maxPDU
        self.tls = tls
    }

    /// A timeout as DCMTK takes it: whole seconds, rounded up, at least 1.
    static func dcmtkSeconds(_ seconds: Double) -> Int32 {
        guard seconds.isFinite, seconds > 1 else { return 1 }
        return Int32(min(seconds.rounded(.up), Double(Int32.max)))
    }
}
