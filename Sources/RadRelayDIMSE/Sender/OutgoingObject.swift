import RadRelayCore

/// One spooled object to send: its file and the identity the outbox recorded when it arrived.
/// The sender refuses to send a file whose SOP Class or Instance UID differs from these.
public struct OutgoingObject: Sendable, Equatable {
    /// Path of the Part 10 file.
    public var path: String
    /// SOP Class UID (0008,0016); chooses the presentation context.
    public var sopClassUID: String
    /// SOP Instance UID (0008,0018); goes into the C-STORE-RQ.
    public var sopInstanceUID: String
    /// The transfer syntax the file is stored in; proposed first.
    public var transferSyntaxUID: String

    /// Creates an object description.
    public init(path: String, sopClassUID: String, sopInstanceUID: String, transferSyntaxUID: String) {
        self.path = path
        self.sopClassUID = sopClassUID
        self.sopInstanceUID = sopInstanceUID
        self.transferSyntaxUID = transferSyntaxUID
    }

    /// Creates an object description from validated UIDs (as the outbox stores them).
    public init(path: String, sopClassUID: DICOMUID, sopInstanceUID: DICOMUID, transferSyntaxUID: DICOMUID) {
        self.init(
            path: path, sopClassUID: sopClassUID.value, sopInstanceUID: sopInstanceUID.value,
            transferSyntaxUID: transferSyntaxUID.value)
    }
}
