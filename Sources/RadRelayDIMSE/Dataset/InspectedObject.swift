import RadRelayCore

/// The identity of a DICOM object that `DICOMFileInspector` parsed completely and validated.
public struct InspectedObject: Sendable, Equatable {
    /// SOP Class UID (0008,0016), valid per PS3.5 §9.1.
    public var sopClassUID: DICOMUID
    /// SOP Instance UID (0008,0018), valid per PS3.5 §9.1.
    public var sopInstanceUID: DICOMUID
    /// Study Instance UID (0020,000D) as stored (padding removed), nil when absent. Not validated.
    public var studyInstanceUID: String?
    /// Series Instance UID (0020,000E) as stored (padding removed), nil when absent. Not validated.
    public var seriesInstanceUID: String?
    /// Modality (0008,0060), nil when absent.
    public var modality: String?
    /// The transfer syntax the dataset is encoded in, as stored in the file.
    public var transferSyntaxUID: String
    /// Whether the dataset has Pixel Data (7FE0,0010), Float or Double Float Pixel Data.
    public var hasPixelData: Bool
    /// Whether the file starts with a Part 10 meta header (preamble, "DICM", group 0002).
    public var hasMetaHeader: Bool

    /// Creates a value; the inspector is the usual source.
    public init(
        sopClassUID: DICOMUID,
        sopInstanceUID: DICOMUID,
        studyInstanceUID: String?,
        seriesInstanceUID: String?,
        modality: String?,
        transferSyntaxUID: String,
        hasPixelData: Bool,
        hasMetaHeader: Bool
    ) {
        self.sopClassUID = sopClassUID
        self.sopInstanceUID = sopInstanceUID
        self.studyInstanceUID = studyInstanceUID
        self.seriesInstanceUID = seriesInstanceUID
        self.modality = modality
        self.transferSyntaxUID = transferSyntaxUID
        self.hasPixelData = hasPixelData
        self.hasMetaHeader = hasMetaHeader
    }
}
