/// A DICOM Application Entity title (PS3.5 §6.2, VR "AE"): 1–16 characters of the default
/// character repertoire, no backslash and no control characters; leading and trailing spaces
/// are not significant.
public struct AETitle: Hashable, Sendable, CustomStringConvertible, Codable {
    /// The title without its insignificant padding.
    public let value: String

    /// Why a string is not a valid AE title.
    public enum ValidationError: Error, Equatable, CustomStringConvertible {
        case empty
        case tooLong(Int)
        case invalidCharacter

        public var description: String {
            switch self {
            case .empty: return "AE title is empty"
            case .tooLong(let n): return "AE title has \(n) characters (at most 16)"
            case .invalidCharacter: return "AE title contains a backslash, a control or a non-ASCII character"
            }
        }
    }

    /// Validates and trims `raw`.
    public init(_ raw: String) throws(ValidationError) {
        let trimmed = raw.trimmingSpaces()
        guard !trimmed.isEmpty else { throw .empty }
        guard trimmed.unicodeScalars.count <= 16 else { throw .tooLong(trimmed.unicodeScalars.count) }
        for scalar in trimmed.unicodeScalars {
            guard scalar.value >= 0x20, scalar.value < 0x7F, scalar != "\\" else { throw .invalidCharacter }
        }
        self.value = trimmed
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

extension String {
    /// Removes leading and trailing U+0020 only (DICOM pads with spaces; other whitespace is data).
    func trimmingSpaces() -> String {
        var scalars = Substring(self)
        while scalars.first == " " { scalars = scalars.dropFirst() }
        while scalars.last == " " { scalars = scalars.dropLast() }
        return String(scalars)
    }
}
