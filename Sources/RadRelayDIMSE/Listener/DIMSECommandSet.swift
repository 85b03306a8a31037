import NIOCore

/// A DIMSE command set (PS3.7 §9.3, §E): group 0000 in Implicit VR Little Endian, whatever the
/// presentation context's transfer syntax. Only the fields a storage SCP reads or writes.
struct DIMSECommandSet: Equatable {
    /// Command Field (0000,0100) values used here (PS3.7 Table E.1-1).
    enum Field: UInt16 {
        case cStoreRequest = 0x0001
        case cStoreResponse = 0x8001
        case cEchoRequest = 0x0030
        case cEchoResponse = 0x8030
    }

    var commandField: UInt16 = 0
    var affectedSOPClassUID: String?
    var affectedSOPInstanceUID: String?
    var messageID: UInt16?
    var messageIDBeingRespondedTo: UInt16?
    var priority: UInt16?
    /// (0000,0800): 0x0101 means "no data set follows".
    var commandDataSetType: UInt16 = 0x0101
    var status: UInt16?
    var errorComment: String?
    var moveOriginatorAETitle: String?

    var hasDataSet: Bool { commandDataSetType != 0x0101 }

    /// Parses a command set; anything that does not parse is a protocol error (the association
    /// is aborted, PS3.7 §9.2).
    init(parsing buffer: ByteBuffer) throws(PDUProtocolError) {
        var buffer = buffer
        var sawCommandField = false
        while buffer.readableBytes > 0 {
            guard let group = buffer.readInteger(endianness: .little, as: UInt16.self),
                let element = buffer.readInteger(endianness: .little, as: UInt16.self),
                let length = buffer.readInteger(endianness: .little, as: UInt32.self),
                Int(length) <= buffer.readableBytes,
                let value = buffer.readSlice(length: Int(length))
            else { throw PDUProtocolError(abortReason: 6, detail: "malformed DIMSE command set") }
            guard group == 0x0000 else { throw PDUProtocolError(abortReason: 6, detail: "command set holds non-command group") }
            switch element {
            case 0x0002: affectedSOPClassUID = Self.string(value)
            case 0x0100: commandField = try Self.us(value); sawCommandField = true
            case 0x0110: messageID = try Self.us(value)
            case 0x0120: messageIDBeingRespondedTo = try Self.us(value)
            case 0x0700: priority = try Self.us(value)
            case 0x0800: commandDataSetType = try Self.us(value)
            case 0x0900: status = try Self.us(value)
            case 0x0902: errorComment = Self.string(value)
            case 0x1000: affectedSOPInstanceUID = Self.string(value)
            case 0x1030: moveOriginatorAETitle = Self.string(value)
            default: continue
            }
        }
        guard sawCommandField else { throw PDUProtocolError(abortReason: 6, detail: "command set without Command Field") }
    }

    init(commandField: Field) { self.commandField = commandField.rawValue }

    /// Encodes in Implicit VR LE with the group length first (PS3.7 §6.3.1).
    func encoded(allocator: ByteBufferAllocator) -> ByteBuffer {
        var elements = allocator.buffer(capacity: 256)
        func put(_ element: UInt16, _ value: [UInt8]) {
            elements.writeInteger(UInt16(0), endianness: .little)
            elements.writeInteger(element, endianness: .little)
            elements.writeInteger(UInt32(value.count), endianness: .little)
            elements.writeBytes(value)
        }
        func us(_ v: UInt16) -> [UInt8] { [UInt8(v & 0xFF), UInt8(v >> 8)] }
        if let uid = affectedSOPClassUID { put(0x0002, Self.padded(uid, with: 0)) }
        put(0x0100, us(commandField))
        if let id = messageID { put(0x0110, us(id)) }
        if let id = messageIDBeingRespondedTo { put(0x0120, us(id)) }
        if let p = priority { put(0x0700, us(p)) }
        put(0x0800, us(commandDataSetType))
        if let s = status { put(0x0900, us(s)) }
        if let comment = errorComment { put(0x0902, Self.padded(String(comment.prefix(64)), with: 0x20)) }
        if let uid = affectedSOPInstanceUID { put(0x1000, Self.padded(uid, with: 0)) }
        var out = allocator.buffer(capacity: elements.readableBytes + 12)
        out.writeInteger(UInt16(0), endianness: .little)
        out.writeInteger(UInt16(0), endianness: .little)
        out.writeInteger(UInt32(4), endianness: .little)
        out.writeInteger(UInt32(elements.readableBytes), endianness: .little)
        out.writeBuffer(&elements)
        return out
    }

    private static func us(_ value: ByteBuffer) throws(PDUProtocolError) -> UInt16 {
        guard value.readableBytes == 2, let v = value.getInteger(at: value.readerIndex, endianness: .little, as: UInt16.self)
        else { throw PDUProtocolError(abortReason: 6, detail: "US element of wrong length in command set") }
        return v
    }

    private static func string(_ value: ByteBuffer) -> String {
        AssociateRequest.uidString(Array(value.readableBytesView))
    }

    private static func padded(_ text: String, with pad: UInt8) -> [UInt8] {
        var bytes = Array(text.utf8)
        if bytes.count % 2 == 1 { bytes.append(pad) }
        return bytes
    }
}
