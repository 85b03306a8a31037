/// A DICOM Unique Identifier (PS3.5 §9.1): at most 64 characters, components of digits separated
/// by single dots, no component with a leading zero (except "0" itself). Validated because the
/// value reaches our database and the remote; never used to build a file name.
public struct DICOMUID: Hashable, Sendable, CustomStringConvertible, Codable {
    public let value: String

    /// Why a string is not a valid UID.
    public enum ValidationError: Error, Equatable, CustomStringConvertible {
        case empty
        case tooLong(Int)
        case invalidCharacter
        case emptyComponent
        case leadingZero

        public var description: String {
            switch self {
            case .empty: return "UID is empty"
            case .tooLong(let n): return "UID has \(n) characters (at most 64)"
            case .invalidCharacter: return "UID contains a character other than digits and dots"
            case .emptyComponent: return "UID has an empty component"
            case .leadingZero: return "UID has a component with a leading zero"
            }
        }
    }

    /// Validates `raw` after removing the trailing NUL or space padding that UI values carry.
    public init(_ raw: String) throws(ValidationError) {
        var text = Substring(raw)
        while let last = text.last, last == "\0" || last == " " { text = text.dropLast() }
        guard !text.isEmpty else { throw .empty }
        guard text.utf8.count <= 64 else { throw .tooLong(text.utf8.count) }
        var componentLength = 0
        var componentStartsWithZero = false
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"):
                if componentLength == 0 { componentStartsWithZero = byte == UInt8(ascii: "0") }
                else if componentStartsWithZero { throw .leadingZero }
                componentLength += 1
            case UInt8(ascii: "."):
                guard componentLength > 0 else { throw .emptyComponent }
                componentLength = 0
            default:
                throw .invalidCharacter
            }
        }
        guard componentLength > 0 else { throw .emptyComponent }
        self.value = String(text)
    }

    public var description: String { value }

    public init(from decoder: Decoder) throws {
        let container = try decoder.singleValueContainer()
        let raw = try container.decode(String.self)
        do {
            try self.init(raw)
        } catch {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: error.description)
        }
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(value)
    }
}
