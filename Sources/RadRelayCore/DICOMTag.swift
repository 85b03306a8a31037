/// A DICOM attribute tag (PS3.5 §7.1): group and element number.
public struct DICOMTag: Hashable, Sendable, Comparable, CustomStringConvertible {
    public var group: UInt16
    public var element: UInt16

    public init(_ group: UInt16, _ element: UInt16) {
        self.group = group
        self.element = element
    }

    /// The tag as one 32-bit number, group in the high half.
    public var value: UInt32 { UInt32(group) << 16 | UInt32(element) }

    /// Private attributes live in odd groups (PS3.5 §7.8).
    public var isPrivate: Bool { group & 1 == 1 }

    /// `(0008,1030)`.
    public var description: String { "(\(Self.hex(group)),\(Self.hex(element)))" }

    public static func < (lhs: DICOMTag, rhs: DICOMTag) -> Bool { lhs.value < rhs.value }

    /// Parses a tag written as `(0008,1030)`, `0008,1030` or `00081030` (hex digits, any case).
    /// Returns nil for anything else.
    public init?(parsing text: String) {
        var digits = Substring(text)
        if digits.first == "(" && digits.last == ")" { digits = digits.dropFirst().dropLast() }
        let parts = digits.split(separator: ",", omittingEmptySubsequences: false)
        let groupText: Substring
        let elementText: Substring
        switch parts.count {
        case 1 where digits.count == 8:
            groupText = digits.prefix(4)
            elementText = digits.suffix(4)
        case 2 where parts[0].count == 4 && parts[1].count == 4:
            groupText = parts[0]
            elementText = parts[1]
        default:
            return nil
        }
        guard groupText.allSatisfy(\.isHexDigit), elementText.allSatisfy(\.isHexDigit),
            let group = UInt16(groupText, radix: 16), let element = UInt16(elementText, radix: 16)
        else { return nil }
        self.init(group, element)
    }

    private static func hex(_ number: UInt16) -> String {
        let text = String(number, radix: 16, uppercase: true)
        return String(repeating: "0", count: 4 - text.count) + text
    }

    // MARK: - Tags radrelay itself looks at

    /// (0008,0016) SOP Class UID.
    public static let sopClassUID = DICOMTag(0x0008, 0x0016)
    /// (0008,0060) Modality.
    public static let modality = DICOMTag(0x0008, 0x0060)
    /// (0040,1003) Requested Procedure Priority: STAT, HIGH, ROUTINE, MEDIUM, LOW (PS3.3 C.4.11).
    public static let requestedProcedurePriority = DICOMTag(0x0040, 0x1003)
}

/// PS3.6 keywords and their tags, from DCMTK's data dictionary (generated table in
/// `DICOMDictionary+Keywords.swift`). Repeating groups and private attributes are not listed;
/// name those by tag.
public enum DICOMDictionary {
    private struct Tables: Sendable {
        var byKeyword: [String: DICOMTag] = [:]
        var byTag: [DICOMTag: String] = [:]
    }

    private static let tables: Tables = {
        var tables = Tables()
        tables.byKeyword.reserveCapacity(5000)
        tables.byTag.reserveCapacity(5000)
        for line in keywordTable.split(separator: "\n") {
            guard line.count > 9, let tag = DICOMTag(parsing: String(line.prefix(8))) else { continue }
            let keyword = String(line.dropFirst(9))
            tables.byKeyword[keyword] = tag
            tables.byTag[tag] = keyword
        }
        return tables
    }()

    /// The tag of a PS3.6 keyword (`StudyDescription` → (0008,1030)); case-sensitive, as
    /// keywords are.
    public static func tag(forKeyword keyword: String) -> DICOMTag? { tables.byKeyword[keyword] }

    /// The keyword of a tag, when the dictionary has one.
    public static func keyword(for tag: DICOMTag) -> String? { tables.byTag[tag] }

    /// Every keyword (for "did you mean" suggestions).
    public static var keywords: Dictionary<String, DICOMTag>.Keys { tables.byKeyword.keys }

    /// A tag from a keyword or a tag in one of the notations `DICOMTag(parsing:)` reads.
    public static func tag(keywordOrTag text: String) -> DICOMTag? {
        tag(forKeyword: text) ?? DICOMTag(parsing: text)
    }

    /// `StudyDescription (0008,1030)`, or just the tag when it has no keyword.
    public static func name(of tag: DICOMTag) -> String {
        keyword(for: tag).map { "\($0) \(tag)" } ?? tag.description
    }
}
