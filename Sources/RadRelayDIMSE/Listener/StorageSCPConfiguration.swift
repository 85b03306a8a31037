import RadRelayCore

/// Settings of the DICOM listener that are not policy (policy lives in the delegate).
public struct StorageSCPConfiguration: Sendable {
    /// Address or host name to bind; "::" binds IPv6 and (dual-stack) IPv4.
    public var host: String
    /// 0 picks a free port; `StorageSCP.start()` returns the real one.
    public var port: Int
    /// Concurrent associations, all callers together; more are rejected 2/3/2.
    public var maxAssociations: Int
    /// Seconds for a connection to deliver its A-ASSOCIATE-RQ (PS3.8 ARTIM timer).
    public var acseTimeout: Double
    /// Seconds between fragments while a message is in progress.
    public var dimseTimeout: Double
    /// Seconds an established association may sit without any message.
    public var idleTimeout: Double
    /// Maximum PDU length we announce; P-DATA-TF PDUs longer than this are a protocol error.
    public var maxPDULength: Int
    /// Objects larger than this (file bytes) are refused with 0xA700 and not kept.
    public var maxObjectSize: UInt64
    /// Accept SOP classes outside the 1.2.840.10008 root (private storage classes).
    public var acceptPrivateSOPClasses: Bool
    /// DICOM TLS on this listener (issue 5); nil for plain DICOM.
    public var tls: ListenerTLS? = nil

    public init(
        host: String,
        port: Int,
        maxAssociations: Int = 16,
        acseTimeout: Double = 10,
        dimseTimeout: Double = 60,
        idleTimeout: Double = 60,
        maxPDULength: Int = 65536,
        maxObjectSize: UInt64 = 8 << 30,
        acceptPrivateSOPClasses: Bool = true
    ) {
        self.host = host
        self.port = port
        self.maxAssociations = maxAssociations
        self.acseTimeout = acseTimeout
        self.dimseTimeout = dimseTimeout
        self.idleTimeout = idleTimeout
        self.maxPDULength = maxPDULength
        self.maxObjectSize = maxObjectSize
        self.acceptPrivateSOPClasses = acceptPrivateSOPClasses
    }
}

/// Transfer syntaxes the listener accepts, in preference order (FIELD-NOTES: the SCP's list is
/// its preference; uncompressed first, or senders compress everything to match us). Compressed
/// syntaxes are accepted as they come and stored as received; nothing is decoded at ingest.
public enum AcceptedTransferSyntaxes {
    public static let explicitVRLittleEndian = "1.2.840.10008.1.2.1"
    public static let implicitVRLittleEndian = "1.2.840.10008.1.2"

    public static let preferenceOrder: [String] = [
        explicitVRLittleEndian,
        implicitVRLittleEndian,
        "1.2.840.10008.1.2.4.80",  // JPEG-LS lossless
        "1.2.840.10008.1.2.4.70",  // JPEG lossless SV1
        "1.2.840.10008.1.2.4.57",  // JPEG lossless
        "1.2.840.10008.1.2.5",  // RLE lossless
        "1.2.840.10008.1.2.4.90",  // JPEG 2000 lossless (passed through; no codec in Debian's DCMTK)
        "1.2.840.10008.1.2.4.81",  // JPEG-LS near-lossless
        "1.2.840.10008.1.2.4.50",  // JPEG baseline
        "1.2.840.10008.1.2.4.51",  // JPEG extended
        "1.2.840.10008.1.2.4.91",  // JPEG 2000
        "1.2.840.10008.1.2.4.201",  // HTJ2K lossless
        "1.2.840.10008.1.2.4.202",  // HTJ2K lossless RPCL
        "1.2.840.10008.1.2.4.203",  // HTJ2K
        "1.2.840.10008.1.2.4.100",  // MPEG2 MP@ML
        "1.2.840.10008.1.2.4.101",  // MPEG2 MP@HL
        "1.2.840.10008.1.2.4.102",  // MPEG-4 AVC/H.264 HP@4.1
        "1.2.840.10008.1.2.4.103",  // MPEG-4 AVC/H.264 BD-compatible
        "1.2.840.10008.1.2.4.104",  // MPEG-4 AVC/H.264 2D video
        "1.2.840.10008.1.2.4.105",  // MPEG-4 AVC/H.264 3D video
        "1.2.840.10008.1.2.4.106",  // MPEG-4 AVC/H.264 stereo
        "1.2.840.10008.1.2.4.107",  // HEVC/H.265 Main
        "1.2.840.10008.1.2.4.108",  // HEVC/H.265 Main 10
        "1.2.840.10008.1.2.1.99",  // Deflated Explicit VR LE (last: costly to us, pointless on a LAN)
    ]
}

/// Verification SOP Class (PS3.4 Annex A).
let verificationSOPClassUID = "1.2.840.10008.1.1"
/// DICOM Application Context Name (PS3.7 Annex A.2.1).
let dicomApplicationContext = "1.2.840.10008.3.1.1.1"
