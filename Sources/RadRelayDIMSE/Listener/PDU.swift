import NIOCore

/// The upper-layer PDUs of PS3.8 §9.3 that a storage SCP receives or sends.
enum PDU: Equatable {
    case associateRequest(AssociateRequest)
    case associateAccept([UInt8])  // only ever sent; kept encoded
    case associateReject(result: UInt8, source: UInt8, reason: UInt8)
    case data([PresentationDataValue])
    case releaseRequest
    case releaseResponse
    case abort(source: UInt8, reason: UInt8)

    /// PDU type codes (PS3.8 Table 9-1 … 9-26).
    enum TypeCode: UInt8 {
        case associateRequest = 0x01
        case associateAccept = 0x02
        case associateReject = 0x03
        case data = 0x04
        case releaseRequest = 0x05
        case releaseResponse = 0x06
        case abort = 0x07
    }
}

/// One presentation data value item of a P-DATA-TF PDU (PS3.8 §9.3.5.1).
struct PresentationDataValue: Equatable {
    var contextID: UInt8
    /// Bit 0 of the message control header: command (true) or data set fragment.
    var isCommand: Bool
    /// Bit 1 of the message control header: last fragment of this command or data set.
    var isLast: Bool
    var fragment: ByteBuffer
}

/// One presentation context proposed in an A-ASSOCIATE-RQ (PS3.8 §9.3.2.2).
struct ProposedPresentationContext: Equatable {
    var id: UInt8
    var abstractSyntax: String
    var transferSyntaxes: [String]
}

/// The parts of an A-ASSOCIATE-RQ (PS3.8 §9.3.2) that radrelay needs to decide and answer.
struct AssociateRequest: Equatable {
    var protocolVersion: UInt16
    /// Raw 16-byte AE fields with spaces trimmed; validated by the policy, not here.
    var calledAE: String
    var callingAE: String
    var applicationContext: String
    var presentationContexts: [ProposedPresentationContext]
    var maxPDULength: UInt32
    var implementationClassUID: String?
    var implementationVersionName: String?
}

/// A protocol error in a received PDU: the association is aborted (PS3.8 §9.3.8, source 2).
struct PDUProtocolError: Error, Equatable {
    /// A-ABORT reason: 1 unrecognized PDU, 2 unexpected PDU, 4 unrecognized parameter,
    /// 5 unexpected parameter, 6 invalid parameter value.
    var abortReason: UInt8
    var detail: String
}

// MARK: - Decoding

extension AssociateRequest {
    /// Parses the variable part of an A-ASSOCIATE-RQ (everything after the 6-byte PDU header).
    init(parsing body: inout ByteBuffer) throws(PDUProtocolError) {
        // Fixed part: version (2), reserved (2), called AE (16), calling AE (16), reserved (32).
        guard body.readableBytes >= 68 else {
            throw PDUProtocolError(abortReason: 6, detail: "A-ASSOCIATE-RQ shorter than its fixed fields")
        }
        protocolVersion = body.readInteger(as: UInt16.self)!
        body.moveReaderIndex(forwardBy: 2)
        let called = body.readBytes(length: 16)!
        let calling = body.readBytes(length: 16)!
        body.moveReaderIndex(forwardBy: 32)
        calledAE = try Self.aeField(called)
        callingAE = try Self.aeField(calling)
        applicationContext = ""
        presentationContexts = []
        maxPDULength = 0
        while body.readableBytes > 0 {
            guard let itemType = body.readInteger(as: UInt8.self),
                body.readInteger(as: UInt8.self) != nil,
                let length = body.readInteger(as: UInt16.self),
                var item = body.readSlice(length: Int(length))
            else { throw PDUProtocolError(abortReason: 6, detail: "truncated item in A-ASSOCIATE-RQ") }
            switch itemType {
            case 0x10:
                applicationContext = Self.uidString(item.readBytes(length: item.readableBytes) ?? [])
            case 0x20:
                presentationContexts.append(try Self.presentationContext(&item))
            case 0x50:
                try parseUserInformation(&item)
            default:
                throw PDUProtocolError(abortReason: 4, detail: "unknown item type in A-ASSOCIATE-RQ")
            }
        }
    }

    private mutating func parseUserInformation(_ item: inout ByteBuffer) throws(PDUProtocolError) {
        while item.readableBytes > 0 {
            guard let subType = item.readInteger(as: UInt8.self),
                item.readInteger(as: UInt8.self) != nil,
                let length = item.readInteger(as: UInt16.self),
                var sub = item.readSlice(length: Int(length))
            else { throw PDUProtocolError(abortReason: 6, detail: "truncated user information") }
            switch subType {
            case 0x51:
                guard let max = sub.readInteger(as: UInt32.self) else {
                    throw PDUProtocolError(abortReason: 6, detail: "bad maximum length sub-item")
                }
                maxPDULength = max
            case 0x52:
                implementationClassUID = Self.uidString(sub.readBytes(length: sub.readableBytes) ?? [])
            case 0x55:
                implementationVersionName = String(decoding: sub.readBytes(length: sub.readableBytes) ?? [], as: UTF8.self)
            default:
                // Asynchronous operations window, role selection, extended negotiation and user
                // identity are not negotiated: PS3.7 D.3.3 lets an acceptor ignore them, which
                // means defaults (synchronous, SCU role for the requester).
                continue
            }
        }
    }

    private static func presentationContext(_ item: inout ByteBuffer) throws(PDUProtocolError) -> ProposedPresentationContext {
        guard let id = item.readInteger(as: UInt8.self), item.readableBytes >= 3 else {
            throw PDUProtocolError(abortReason: 6, detail: "truncated presentation context")
        }
        item.moveReaderIndex(forwardBy: 3)
        var abstract = ""
        var transfer: [String] = []
        while item.readableBytes > 0 {
            guard let subType = item.readInteger(as: UInt8.self),
                item.readInteger(as: UInt8.self) != nil,
                let length = item.readInteger(as: UInt16.self),
                let bytes = item.readBytes(length: Int(length))
            else { throw PDUProtocolError(abortReason: 6, detail: "truncated presentation context sub-item") }
            switch subType {
            case 0x30: abstract = uidString(bytes)
            case 0x40: transfer.append(uidString(bytes))
            default: throw PDUProtocolError(abortReason: 4, detail: "unknown presentation context sub-item")
            }
        }
        return ProposedPresentationContext(id: id, abstractSyntax: abstract, transferSyntaxes: transfer)
    }

    /// An AE field is 16 bytes of ISO 646 padded with spaces. Bytes outside printable ASCII mean
    /// a malformed request: we do not guess.
    private static func aeField(_ bytes: [UInt8]) throws(PDUProtocolError) -> String {
        guard bytes.allSatisfy({ $0 >= 0x20 && $0 < 0x7F }) else {
            throw PDUProtocolError(abortReason: 6, detail: "AE title field holds non-printable bytes")
        }
        return String(decoding: bytes, as: UTF8.self).trimmingCharacters(in: " ")
    }

    /// UIDs in items may be padded with a NUL or space; strip both.
    static func uidString(_ bytes: [UInt8]) -> String {
        var end = bytes.count
        while end > 0, bytes[end - 1] == 0 || bytes[end - 1] == 0x20 { end -= 1 }
        return String(decoding: bytes[0..<end], as: UTF8.self)
    }
}

extension String {
    fileprivate func trimmingCharacters(in character: Character) -> String {
        var s = Substring(self)
        while s.first == character { s = s.dropFirst() }
        while s.last == character { s = s.dropLast() }
        return String(s)
    }
}

// MARK: - Encoding

enum PDUEncoder {
    /// Writes the 6-byte PDU header and `body`.
    static func pdu(_ type: PDU.TypeCode, body: ByteBuffer, allocator: ByteBufferAllocator) -> ByteBuffer {
        var out = allocator.buffer(capacity: 6 + body.readableBytes)
        out.writeInteger(type.rawValue)
        out.writeInteger(UInt8(0))
        out.writeInteger(UInt32(body.readableBytes))
        var body = body
        out.writeBuffer(&body)
        return out
    }

    static func associateReject(result: UInt8, source: UInt8, reason: UInt8, allocator: ByteBufferAllocator) -> ByteBuffer {
        var body = allocator.buffer(capacity: 4)
        body.writeBytes([0, result, source, reason])
        return pdu(.associateReject, body: body, allocator: allocator)
    }

    static func abort(source: UInt8, reason: UInt8, allocator: ByteBufferAllocator) -> ByteBuffer {
        var body = allocator.buffer(capacity: 4)
        body.writeBytes([0, 0, source, reason])
        return pdu(.abort, body: body, allocator: allocator)
    }

    static func releaseResponse(allocator: ByteBufferAllocator) -> ByteBuffer {
        var body = allocator.buffer(capacity: 4)
        body.writeBytes([0, 0, 0, 0])
        return pdu(.releaseResponse, body: body, allocator: allocator)
    }

    /// A-ASSOCIATE-AC (PS3.8 §9.3.3) echoing the request's AE fields, with one result per context.
    static func associateAccept(
        request: AssociateRequest,
        results: [(id: UInt8, result: UInt8, transferSyntax: String)],
        maxPDULength: UInt32,
        implementationClassUID: String,
        implementationVersionName: String,
        allocator: ByteBufferAllocator
    ) -> ByteBuffer {
        var body = allocator.buffer(capacity: 256 + results.count * 32)
        body.writeInteger(UInt16(1))
        body.writeInteger(UInt16(0))
        body.writeBytes(aeBytes(request.calledAE))
        body.writeBytes(aeBytes(request.callingAE))
        body.writeBytes([UInt8](repeating: 0, count: 32))
        writeItem(&body, type: 0x10, bytes: Array(request.applicationContext.utf8))
        for result in results {
            var sub = allocator.buffer(capacity: 72)
            sub.writeBytes([result.id, 0, result.result, 0])
            // PS3.8 §9.3.3.2: the transfer syntax sub-item is present but not significant when
            // the context was rejected; send the first proposed one or Implicit VR LE.
            writeItem(&sub, type: 0x40, bytes: Array(result.transferSyntax.utf8))
            writeItem(&body, type: 0x21, bytes: Array(sub.readableBytesView))
        }
        var user = allocator.buffer(capacity: 96)
        var maxLength = allocator.buffer(capacity: 4)
        maxLength.writeInteger(maxPDULength)
        writeItem(&user, type: 0x51, bytes: Array(maxLength.readableBytesView))
        writeItem(&user, type: 0x52, bytes: Array(implementationClassUID.utf8))
        writeItem(&user, type: 0x55, bytes: Array(implementationVersionName.utf8))
        writeItem(&body, type: 0x50, bytes: Array(user.readableBytesView))
        return pdu(.associateAccept, body: body, allocator: allocator)
    }

    /// P-DATA-TF with one PDV carrying a whole command set (commands are small, one fragment).
    static func command(_ bytes: ByteBuffer, contextID: UInt8, allocator: ByteBufferAllocator) -> ByteBuffer {
        var body = allocator.buffer(capacity: bytes.readableBytes + 6)
        body.writeInteger(UInt32(bytes.readableBytes + 2))
        body.writeInteger(contextID)
        body.writeInteger(UInt8(0x03))
        var bytes = bytes
        body.writeBuffer(&bytes)
        return pdu(.data, body: body, allocator: allocator)
    }

    private static func writeItem(_ buffer: inout ByteBuffer, type: UInt8, bytes: [UInt8]) {
        buffer.writeInteger(type)
        buffer.writeInteger(UInt8(0))
        buffer.writeInteger(UInt16(bytes.count))
        buffer.writeBytes(bytes)
    }

    private static func aeBytes(_ ae: String) -> [UInt8] {
        var bytes = Array(ae.utf8.prefix(16))
        bytes.append(contentsOf: [UInt8](repeating: 0x20, count: 16 - bytes.count))
        return bytes
    }
}
