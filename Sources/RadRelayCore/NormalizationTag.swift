/// Metadata normalization (DESIGN §2 "Normalize", issue 3): ordered rules from the config, applied
/// per source and per route to the copy of an object that goes to a destination. This namespace
/// holds the pure part: rules, profiles, the rule engine and the variant a delivery needs.
/// Reading and writing datasets is the DCMTK adapter's job (`RadRelayDIMSE/Transform`).
public enum Normalization {}

extension Normalization {
    /// (0008,0005) Specific Character Set.
    public static let specificCharacterSet = DICOMTag(0x0008, 0x0005)
    /// (0008,0015) Instance Coercion DateTime.
    public static let instanceCoercionDateTime = DICOMTag(0x0008, 0x0015)
    /// (0400,0561) Original Attributes Sequence.
    public static let originalAttributesSequence = DICOMTag(0x0400, 0x0561)

    /// Why normalization may never touch `tag`, or nil when it may. UIDs are never changed (dedup
    /// and the remote rely on them); the character set, the coercion record and the pixel data
    /// belong to the adapter; group 0002 is the file meta header, group 0000 the command set, and
    /// group lengths are recomputed on write. The shim refuses every VR UI element as well, so a
    /// UID named by a bare private tag is caught when the object is edited.
    public static func protectionReason(_ tag: DICOMTag) -> String? {
        if tag.group == 0x0000 || tag.group == 0x0002 { return "groups 0000 and 0002 are not part of the data set" }
        if tag.element == 0x0000 { return "group lengths are computed when the file is written" }
        if tag == specificCharacterSet { return "use the profile's 'charset' setting to convert text" }
        if tag == originalAttributesSequence || tag == instanceCoercionDateTime {
            return "radrelay maintains this attribute itself (PS3.3 C.12.1.1.9)"
        }
        if tag.group == 0x7FE0 { return "pixel data is never edited" }
        // PS3.6 names every VR UI attribute "…UID" or "…UIDs".
        if let keyword = DICOMDictionary.keyword(for: tag), keyword.hasSuffix("UID") || keyword.hasSuffix("UIDs") {
            return "UIDs are never changed"
        }
        return nil
    }

    /// `PatientID (0010,0020)`, or the tag alone when it has no keyword.
    static func name(_ tag: DICOMTag) -> String { DICOMDictionary.keyword(for: tag) ?? tag.description }

    /// `text` without leading and trailing ASCII spaces, tabs, CR, LF and NUL (DICOM pads values
    /// with a space, UIDs with a NUL).
    static func trimmed(_ text: some StringProtocol) -> String {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" || $0 == "\r" || $0 == "\n" || $0 == "\0" }
        guard let start = text.firstIndex(where: { !isSpace($0) }), let end = text.lastIndex(where: { !isSpace($0) })
        else { return "" }
        return String(text[start...end])
    }
}
