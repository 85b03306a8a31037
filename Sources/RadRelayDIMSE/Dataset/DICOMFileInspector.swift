import CDCMTK
import RadRelayCore

/// Validates a DICOM file with DCMTK before radrelay acknowledges or forwards it.
///
/// The whole file is parsed with every value loaded (no lazy loading), so an object whose last
/// element declares more bytes than present, a cut element header or a missing sequence delimiter
/// is refused; DCMTK 3.6.7 treats all of these as parse errors as long as
/// `dcmIgnoreParsingErrors` is off, which the shim checks on every call. Then the SOP Class and
/// SOP Instance UIDs must be present, valid (PS3.5 §9.1) and, when given, equal to the expected
/// values (the C-STORE command's Affected SOP Class/Instance UIDs, PS3.4 B.2.3).
///
/// Before DCMTK sees the file, a non-recursive pre-scan walks its element stream and refuses
/// sequences nested deeper than `maxNestingDepth` (`InspectionError.nestingTooDeep`): DCMTK's
/// parser recurses once per level, and ~10 000 levels of a 160 KB data set overflow the
/// validating thread's stack (fault suite bug 1, docs/reliability.md). An element stream the
/// pre-scan cannot follow (truncated, a value overrunning its sequence) is refused as
/// `parseFailed` without parsing it further.
///
/// Memory: the dataset is held in memory while it is inspected (values above 64 KiB stay on
/// disk); the pre-scan itself reads only element headers.
public enum DICOMFileInspector {
    /// The UID root of every UID the DICOM standard itself defines (PS3.5 §9.1).
    public static let standardUIDRoot = "1.2.840.10008."

    /// The deepest sequence nesting accepted (a top-level sequence is level 1; encapsulated pixel
    /// data counts as one level). PS3.5 §7.5 sets no limit; real objects rarely go beyond ~6
    /// (SR content trees, RT structure sets), so 64 is generous, while DCMTK 3.6.7 crashes
    /// somewhere between 5 000 and 10 000 levels on a blocking-pool thread's stack.
    public static let maxNestingDepth = 64

    /// Loads and validates the file at `path`.
    ///
    /// - Parameters:
    ///   - path: a Part 10 file, or a bare dataset (then `transferSyntaxHint` says how it is encoded;
    ///     without it DCMTK guesses between the uncompressed little-endian syntaxes).
    ///   - expectedSOPClass: when non-nil, the dataset's SOP Class UID must equal it.
    ///   - expectedSOPInstance: when non-nil, the dataset's SOP Instance UID must equal it.
    /// - Throws: `InspectionError`; class problems are reported before instance problems, and a
    ///   class mismatch before an instance mismatch.
    public static func inspect(
        path: String,
        transferSyntaxHint: String? = nil,
        expectedSOPClass: String? = nil,
        expectedSOPInstance: String? = nil
    ) throws(InspectionError) -> InspectedObject {
        try? DCMTKRuntime.initialize()
        try checkNestingDepth(path: path, transferSyntaxHint: transferSyntaxHint)
        var raw = rr_inspection()
        var error = rr_error()
        let code = rr_inspect_file(path, transferSyntaxHint, &raw, &error)
        switch code {
        case Int32(RR_INSPECT_OK): break
        case Int32(RR_INSPECT_UNREADABLE): throw .unreadable(String(cMessage: error))
        default: throw .parseFailed(String(cMessage: error))
        }
        return try interpret(raw, expectedSOPClass: expectedSOPClass, expectedSOPInstance: expectedSOPInstance)
    }

    /// Checks the identity the shim found (shared with the attribute-reading variant in
    /// AttributeReader.swift, issue 4).
    static func interpret(
        _ raw: rr_inspection,
        expectedSOPClass: String?,
        expectedSOPInstance: String?
    ) throws(InspectionError) -> InspectedObject {
        let sopClass = try uid(
            raw.has_sop_class_uid, String(cTuple: raw.sop_class_uid), "SOPClassUID",
            missing: .missingSOPClass)
        let sopInstance = try uid(
            raw.has_sop_instance_uid, String(cTuple: raw.sop_instance_uid), "SOPInstanceUID",
            missing: .missingSOPInstance)
        if let expectedSOPClass, sopClass.value != trimmedUID(expectedSOPClass) { throw .sopClassMismatch }
        if let expectedSOPInstance, sopInstance.value != trimmedUID(expectedSOPInstance) {
            throw .sopInstanceMismatch
        }
        return InspectedObject(
            sopClassUID: sopClass,
            sopInstanceUID: sopInstance,
            studyInstanceUID: optional(raw.has_study_instance_uid, String(cTuple: raw.study_instance_uid)),
            seriesInstanceUID: optional(raw.has_series_instance_uid, String(cTuple: raw.series_instance_uid)),
            modality: optional(raw.has_modality, String(cTuple: raw.modality)),
            transferSyntaxUID: String(cTuple: raw.transfer_syntax_uid),
            hasPixelData: raw.has_pixel_data != 0,
            hasMetaHeader: raw.has_meta_header != 0
        )
    }

    /// Whether `uid` is a Storage SOP Class DCMTK knows (patient and non-patient objects, PS3.4
    /// Annex B). The listener accepts these abstract syntaxes.
    public static func isStorageSOPClass(_ uid: String) -> Bool {
        rr_is_storage_sop_class(uid) != 0
    }

    /// Whether `uid` lies under the standard's root `1.2.840.10008.`: a UID there that
    /// `isStorageSOPClass` does not know is a standard non-storage class (or one newer than
    /// DCMTK 3.6.7), while anything else is private.
    public static func isStandardUID(_ uid: String) -> Bool {
        uid.hasPrefix(standardUIDRoot)
    }

    /// Refuses a file whose sequences nest deeper than `limit`, or whose element stream cannot be
    /// followed, without recursion (see the type's comment). Runs before every DCMTK parse of a
    /// received file.
    static func checkNestingDepth(
        path: String,
        transferSyntaxHint: String?,
        limit: Int = maxNestingDepth
    ) throws(InspectionError) {
        var scan = rr_depth_scan()
        var error = rr_error()
        switch rr_scan_nesting_depth(path, transferSyntaxHint, UInt32(clamping: limit), &scan, &error) {
        case Int32(RR_DEPTH_OK): return
        case Int32(RR_DEPTH_TOO_DEEP): throw .nestingTooDeep(depth: Int(scan.depth), limit: limit)
        case Int32(RR_DEPTH_UNREADABLE): throw .unreadable(String(cMessage: error))
        default: throw .parseFailed(String(cMessage: error))
        }
    }

    // MARK: - Helpers

    private static func uid(
        _ present: UInt8,
        _ value: String,
        _ attribute: String,
        missing: InspectionError
    ) throws(InspectionError) -> DICOMUID {
        guard present != 0, !trimmedUID(value).isEmpty else { throw missing }
        do {
            return try DICOMUID(value)
        } catch {
            throw .invalidUID(attribute + ": " + error.description)
        }
    }

    private static func optional(_ present: UInt8, _ value: String) -> String? {
        guard present != 0 else { return nil }
        let trimmed = trimmedUID(value)
        return trimmed.isEmpty ? nil : trimmed
    }

    /// Removes the trailing NUL or space padding DICOM string values carry.
    private static func trimmedUID(_ value: String) -> String {
        var text = Substring(value)
        while let last = text.last, last == "\0" || last == " " { text = text.dropLast() }
        return String(text)
    }
}
