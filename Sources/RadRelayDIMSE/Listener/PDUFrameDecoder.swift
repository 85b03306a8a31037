import NIOCore

/// One PDU as it came off the wire: its type byte and its variable part.
struct PDUFrame {
    var type: UInt8
    var body: ByteBuffer
}

/// An A-ASSOCIATE-RQ announced a PDU-length above `PDUFrameDecoder.maxAssociateRequestLength`.
struct AssociateRequestTooLong: Error, Equatable {
    /// The PDU-length field (the body, header excluded).
    var length: UInt32
    /// The largest body length accepted.
    var limit: Int
}

/// Splits the TCP byte stream into PDUs (PS3.8 §9.3: 1 byte type, 1 reserved, 4 bytes length).
///
/// Lengths are bounded before anything is buffered, so a peer announcing a 4 GB PDU costs us
/// nothing: A-ASSOCIATE-RQ may be at most `maxAssociateRequestLength` (body bytes; the listener
/// passes `AssociationLimiter.maxAssociateRequestPDULength - 6`), P-DATA-TF at most
/// `maxDataPDULength` (the length we announced plus headroom for peers that round up).
struct PDUFrameDecoder: ByteToMessageDecoder {
    typealias InboundOut = PDUFrame

    let maxAssociateRequestLength: Int
    let maxDataPDULength: Int

    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard buffer.readableBytes >= 6,
            let type = buffer.getInteger(at: buffer.readerIndex, as: UInt8.self),
            let length = buffer.getInteger(at: buffer.readerIndex + 2, as: UInt32.self)
        else { return .needMoreData }
        let limit: Int
        switch type {
        case PDU.TypeCode.associateRequest.rawValue: limit = maxAssociateRequestLength
        case PDU.TypeCode.data.rawValue: limit = maxDataPDULength
        case PDU.TypeCode.releaseRequest.rawValue, PDU.TypeCode.releaseResponse.rawValue,
            PDU.TypeCode.abort.rawValue, PDU.TypeCode.associateReject.rawValue:
            limit = 4
        case PDU.TypeCode.associateAccept.rawValue: limit = maxAssociateRequestLength
        default:
            throw PDUProtocolError(abortReason: 1, detail: "unrecognized PDU type")
        }
        guard Int(length) <= limit else {
            // Decided from the 6-byte header, before any of the body is buffered. An over-long
            // A-ASSOCIATE-RQ is answered A-ASSOCIATE-RJ by the handler (when it is the first
            // PDU), everything else A-ABORT.
            if type == PDU.TypeCode.associateRequest.rawValue {
                throw AssociateRequestTooLong(length: length, limit: limit)
            }
            throw PDUProtocolError(abortReason: 6, detail: "PDU length exceeds the negotiated maximum")
        }
        guard buffer.readableBytes >= 6 + Int(length) else { return .needMoreData }
        buffer.moveReaderIndex(forwardBy: 6)
        let body = buffer.readSlice(length: Int(length))!
        context.fireChannelRead(wrapInboundOut(PDUFrame(type: type, body: body)))
        return .continue
    }

    mutating func decodeLast(context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool) throws
        -> DecodingState
    {
        // A partial PDU at EOF is simply dropped: the association is gone either way.
        while try decode(context: context, buffer: &buffer) == .continue {}
        return .needMoreData
    }
}

extension PDU {
    /// Parses a P-DATA-TF body into its PDV items (PS3.8 §9.3.5).
    static func presentationDataValues(_ body: inout ByteBuffer) throws(PDUProtocolError) -> [PresentationDataValue] {
        var items: [PresentationDataValue] = []
        while body.readableBytes > 0 {
            guard let length = body.readInteger(as: UInt32.self), length >= 2,
                Int(length) <= body.readableBytes,
                let contextID = body.readInteger(as: UInt8.self),
                let header = body.readInteger(as: UInt8.self),
                let fragment = body.readSlice(length: Int(length) - 2)
            else { throw PDUProtocolError(abortReason: 6, detail: "malformed PDV item") }
            items.append(
                PresentationDataValue(
                    contextID: contextID,
                    isCommand: header & 0x01 != 0,
                    isLast: header & 0x02 != 0,
                    fragment: fragment
                )
            )
        }
        return items
    }
}
