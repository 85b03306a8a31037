/// Why `DICOMFileInspector` refused a file. The `description` of each case is constant and free
/// of PHI, so it can go into logs and status replies; `detail` carries the technical reason
/// (an OS or DCMTK message, or which attribute was invalid), never a data value.
public enum InspectionError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The file cannot be opened or is not a regular file; the OS reason.
    case unreadable(String)
    /// DCMTK could not parse the whole file (truncated value or header, missing delimiter, not
    /// DICOM at all); DCMTK's reason.
    case parseFailed(String)
    /// SOP Class UID (0008,0016) is absent or empty.
    case missingSOPClass
    /// SOP Instance UID (0008,0018) is absent or empty.
    case missingSOPInstance
    /// SOP Class or SOP Instance UID is not a valid UID (PS3.5 §9.1); which one, and why.
    case invalidUID(String)
    /// The dataset's SOP Class UID differs from the expected one (the SCP answers 0xA900).
    case sopClassMismatch
    /// The dataset's SOP Instance UID differs from the expected one (the SCP answers 0xC000).
    case sopInstanceMismatch
    /// Sequences are nested deeper than `limit` (`DICOMFileInspector.maxNestingDepth`); `depth`
    /// is the level at which the pre-scan stopped (limit + 1). Refused before DCMTK parses the
    /// file, whose recursive parser would overflow its stack (fault suite bug 1). 0xC000.
    case nestingTooDeep(depth: Int, limit: Int)

    /// A constant, PHI-free sentence per case.
    public var description: String {
        switch self {
        case .unreadable: return "the file cannot be read"
        case .parseFailed: return "the dataset cannot be parsed completely"
        case .missingSOPClass: return "SOP Class UID (0008,0016) is missing"
        case .missingSOPInstance: return "SOP Instance UID (0008,0018) is missing"
        case .invalidUID: return "a SOP Class or SOP Instance UID is not a valid UID"
        case .sopClassMismatch: return "the SOP Class UID differs from the expected one"
        case .sopInstanceMismatch: return "the SOP Instance UID differs from the expected one"
        case .nestingTooDeep: return "sequences are nested too deeply"
        }
    }

    /// Text for the Error Comment (0000,0902) of a refusing C-STORE-RSP: the constant
    /// description, which fits the 64 characters of VR LO.
    public var statusComment: String { description }

    /// The technical reason for the cases that have one.
    public var detail: String? {
        switch self {
        case .unreadable(let reason), .parseFailed(let reason), .invalidUID(let reason): return reason
        case .nestingTooDeep(let depth, let limit): return "nesting depth \(depth) exceeds \(limit)"
        default: return nil
        }
    }

    /// The nesting depth at which the pre-scan refused the file, for log metadata; nil for the
    /// other cases.
    public var nestingDepth: Int? {
        if case .nestingTooDeep(let depth, _) = self { return depth }
        return nil
    }
}
