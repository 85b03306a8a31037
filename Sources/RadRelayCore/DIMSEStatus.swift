/// A DIMSE status code (PS3.7 Annex C) with the categories radrelay acts on.
public struct DIMSEStatus: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }
    public init(_ rawValue: UInt16) { self.rawValue = rawValue }

    // MARK: - Codes radrelay sends as a storage SCP (PS3.4 Annex B.2.3)

    /// Success.
    public static let success = DIMSEStatus(0x0000)
    /// Refused: Out of Resources. Sent for disk, database and low-watermark failures.
    public static let outOfResources = DIMSEStatus(0xA700)
    /// Error: Data Set does not match SOP Class.
    public static let dataSetDoesNotMatchSOPClass = DIMSEStatus(0xA900)
    /// Error: Cannot understand. Sent for invalid, truncated or mismatching objects.
    public static let cannotUnderstand = DIMSEStatus(0xC000)
    /// Refused: SOP Class not supported (PS3.7 C.5.5).
    public static let sopClassNotSupported = DIMSEStatus(0x0122)
    /// Failure: Processing failure (PS3.7 C.4.2).
    public static let processingFailure = DIMSEStatus(0x0110)

    /// The category of a status as PS3.7 C.1 / PS3.4 B.2.3 define it.
    public enum Category: Sendable, Equatable {
        case success
        case warning
        case pending
        case cancel
        case failure
    }

    public var category: Category {
        switch rawValue {
        case 0x0000: return .success
        case 0x0001, 0x0107, 0x0116, 0xB000...0xBFFF: return .warning
        case 0xFF00, 0xFF01: return .pending
        case 0xFE00: return .cancel
        default: return .failure
        }
    }

    public var description: String {
        let hex = String(rawValue, radix: 16, uppercase: true)
        return "0x" + String(repeating: "0", count: max(0, 4 - hex.count)) + hex
    }
}
