import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A DICOM upper-layer client built from plain sockets, for hostile and exact-answer tests:
/// sends an A-ASSOCIATE-RQ with chosen AE titles and presentation contexts and reports the reply
/// exactly (A-ASSOCIATE-AC with per-context results, A-ASSOCIATE-RJ with result/source/reason,
/// A-ABORT, or a closed connection); can send a C-ECHO, release, abort, or arbitrary bytes.
/// PDU layouts: PS3.8 §9.3.
public final class RawDICOMClient {
    /// The DICOM application context name (PS3.7 Annex A.2.1).
    public static let applicationContext = "1.2.840.10008.3.1.1.1"
    /// Verification SOP Class.
    public static let verificationSOPClass = "1.2.840.10008.1.1"
    /// CT Image Storage.
    public static let ctImageStorage = "1.2.840.10008.5.1.4.1.1.2"
    /// Implicit VR Little Endian.
    public static let implicitVRLittleEndian = "1.2.840.10008.1.2"
    /// Explicit VR Little Endian.
    public static let explicitVRLittleEndian = "1.2.840.10008.1.2.1"

    /// One proposed presentation context.
    public struct PresentationContext: Sendable {
        public var id: UInt8
        public var abstractSyntax: String
        public var transferSyntaxes: [String]
        public init(id: UInt8, abstractSyntax: String, transferSyntaxes: [String]) {
            self.id = id
            self.abstractSyntax = abstractSyntax
            self.transferSyntaxes = transferSyntaxes
        }

        /// Verification with Implicit VR Little Endian.
        public static let verification = PresentationContext(
            id: 1, abstractSyntax: verificationSOPClass, transferSyntaxes: [implicitVRLittleEndian]
        )
    }

    /// The acceptor's answer to one presentation context (PS3.8 §9.3.3.2).
    public struct PresentationContextResult: Sendable, Equatable {
        public var id: UInt8
        /// 0 acceptance, 1 user-rejection, 2 no-reason, 3 abstract syntax not supported,
        /// 4 transfer syntaxes not supported.
        public var result: UInt8
        public var transferSyntax: String?
    }

    /// The reply to an A-ASSOCIATE-RQ.
    public enum AssociationReply: Sendable, Equatable, CustomStringConvertible {
        case accepted(contexts: [PresentationContextResult], maxPDULength: UInt32?)
        /// A-ASSOCIATE-RJ: result 1 permanent / 2 transient; source 1 service-user,
        /// 2 service-provider (ACSE), 3 service-provider (presentation); reason per PS3.8 Table 9-21.
        case rejected(result: UInt8, source: UInt8, reason: UInt8)
        case aborted(source: UInt8, reason: UInt8)
        /// The connection closed (or reset) without a PDU.
        case closed
        /// Something else arrived.
        case unexpected(pduType: UInt8)

        public var description: String {
            switch self {
            case .accepted(let contexts, _): return "A-ASSOCIATE-AC \(contexts.map { "\($0.id):\($0.result)" })"
            case .rejected(let r, let s, let reason): return "A-ASSOCIATE-RJ \(r)/\(s)/\(reason)"
            case .aborted(let s, let r): return "A-ABORT source \(s) reason \(r)"
            case .closed: return "connection closed"
            case .unexpected(let t): return "unexpected PDU type 0x\(String(t, radix: 16))"
            }
        }

        /// True for an A-ASSOCIATE-AC.
        public var isAccepted: Bool {
            if case .accepted = self { return true }
            return false
        }
    }

    /// A PDU as read from the wire.
    public struct PDU: Sendable {
        public var type: UInt8
        public var body: [UInt8]
    }

    /// The socket; owned by this client.
    public let fd: Int32
    /// Default timeout for each read and write, in seconds.
    public var timeout: TimeInterval
    private var closed = false
    private var acceptedContexts: [PresentationContextResult] = []
    private var messageID: UInt16 = 1

    /// Connects to `host:port` (TCP only; nothing is sent yet).
    public init(host: String = "127.0.0.1", port: Int, timeout: TimeInterval = 10) throws {
        fd = try Socket.connectTCP(host: host, port: port, timeout: timeout)
        self.timeout = timeout
    }

    deinit { close() }

    /// Closes the socket (a FIN; see `reset()` for a RST).
    public func close() {
        guard !closed else { return }
        closed = true
        Glibc.close(fd)
    }

    /// Closes the socket with a TCP RST.
    public func reset() {
        guard !closed else { return }
        closed = true
        Socket.reset(fd)
    }

    // MARK: - Association

    /// Sends an A-ASSOCIATE-RQ and reads the reply.
    public func requestAssociation(
        calledAE: String,
        callingAE: String,
        contexts: [PresentationContext] = [.verification],
        maxPDULength: UInt32 = 16384
    ) throws -> AssociationReply {
        try send(
            Self.associateRQ(calledAE: calledAE, callingAE: callingAE, contexts: contexts, maxPDULength: maxPDULength))
        return try readAssociationReply()
    }

    /// Reads the reply to an A-ASSOCIATE-RQ sent by other means. After a rejection or abort the
    /// connection is closed, as PS3.8 §7.1.1 expects of the requestor (DCMTK-based acceptors such as
    /// Orthanc wait for that close in their single listener thread).
    public func readAssociationReply() throws -> AssociationReply {
        let pdu: PDU
        do {
            guard let read = try readPDU() else {
                close()
                return .closed
            }
            pdu = read
        } catch let failure as Socket.Failure where failure.isConnectionReset {
            close()
            return .closed
        }
        switch pdu.type {
        case 0x02:
            let (contexts, maxLength) = Self.parseAssociateAC(pdu.body)
            acceptedContexts = contexts
            return .accepted(contexts: contexts, maxPDULength: maxLength)
        case 0x03 where pdu.body.count >= 4:
            close()
            return .rejected(result: pdu.body[1], source: pdu.body[2], reason: pdu.body[3])
        case 0x07 where pdu.body.count >= 4:
            close()
            return .aborted(source: pdu.body[2], reason: pdu.body[3])
        default:
            return .unexpected(pduType: pdu.type)
        }
    }

    /// Sends A-RELEASE-RQ and waits for A-RELEASE-RP; returns whether it came.
    @discardableResult
    public func release() throws -> Bool {
        try send([0x05, 0, 0, 0, 0, 4, 0, 0, 0, 0])
        while let pdu = try readPDU() {
            if pdu.type == 0x06 { return true }
            if pdu.type == 0x07 { return false }
        }
        return false
    }

    /// Sends A-ABORT (source 0, service-user).
    public func abort() throws {
        try send([0x07, 0, 0, 0, 0, 4, 0, 0, 0, 0])
    }

    // MARK: - DIMSE

    /// Sends a C-ECHO-RQ on the accepted Verification context and returns the response status.
    public func echo() throws -> UInt16 {
        guard let context = acceptedContexts.first(where: { $0.result == 0 }) else {
            throw HarnessError("no accepted presentation context for C-ECHO")
        }
        let id = messageID
        messageID &+= 1
        let command = Self.encodeCommand([
            (0x0002, .uid(Self.verificationSOPClass)),
            (0x0100, .us(0x0030)),
            (0x0110, .us(id)),
            (0x0800, .us(0x0101)),
        ])
        try send(Self.pDataTF(contextID: context.id, command: true, last: true, data: command))
        let response = try readCommand()
        guard let status = Self.commandUS(response, element: 0x0900) else {
            throw HarnessError("C-ECHO-RSP without a status")
        }
        return status
    }

    /// Reads P-DATA-TF PDUs until a complete command set has arrived; returns its bytes.
    public func readCommand() throws -> [UInt8] {
        var command: [UInt8] = []
        while true {
            guard let pdu = try readPDU() else {
                throw HarnessError("connection closed while waiting for a DIMSE command")
            }
            if pdu.type == 0x07 { throw HarnessError("association aborted while waiting for a DIMSE command") }
            guard pdu.type == 0x04 else { continue }
            var i = 0
            while i + 6 <= pdu.body.count {
                let length = Int(Self.be32(pdu.body, i))
                let header = pdu.body[i + 5]
                let data = pdu.body[(i + 6)..<min(pdu.body.count, i + 4 + length)]
                if header & 0x01 != 0 {
                    command += data
                    if header & 0x02 != 0 { return command }
                }
                i += 4 + length
            }
        }
    }

    // MARK: - Raw I/O

    /// Sends `bytes` as they are.
    public func send(_ bytes: [UInt8]) throws {
        try Socket.writeAll(fd, bytes, timeout: timeout)
    }

    /// Reads one PDU; nil when the peer closed the connection first.
    public func readPDU(timeout: TimeInterval? = nil) throws -> PDU? {
        let t = timeout ?? self.timeout
        do {
            let head = try Socket.readExactly(fd, 6, timeout: t)
            let length = Int(Self.be32(head, 2))
            let body = try Socket.readExactly(fd, length, timeout: t)
            return PDU(type: head[0], body: body)
        } catch is Socket.EndOfStream {
            return nil
        }
    }

    /// Waits up to `timeout` seconds for the peer to close the connection; returns true if it did
    /// (data arriving meanwhile is discarded).
    public func waitForClose(timeout: TimeInterval) -> Bool {
        let deadline = monotonicSeconds() + timeout
        while monotonicSeconds() < deadline {
            do {
                let chunk = try Socket.readSome(fd, timeout: max(0.01, deadline - monotonicSeconds()))
                if chunk.isEmpty { return true }
            } catch let failure as Socket.Failure {
                if failure.isConnectionReset { return true }
                if failure.isTimeout { return false }
                return true
            } catch {
                return true
            }
        }
        return false
    }

    // MARK: - Encoding (PS3.8 §9.3)

    /// An A-ASSOCIATE-RQ PDU.
    public static func associateRQ(
        calledAE: String,
        callingAE: String,
        contexts: [PresentationContext],
        maxPDULength: UInt32 = 16384
    ) -> [UInt8] {
        var body: [UInt8] = [0x00, 0x01, 0x00, 0x00]  // protocol version 1, reserved
        body += aeField(calledAE)
        body += aeField(callingAE)
        body += [UInt8](repeating: 0, count: 32)
        body += item(0x10, Array(applicationContext.utf8))
        for context in contexts {
            var value: [UInt8] = [context.id, 0, 0, 0]
            value += item(0x30, Array(context.abstractSyntax.utf8))
            for ts in context.transferSyntaxes { value += item(0x40, Array(ts.utf8)) }
            body += item(0x20, value)
        }
        var user = item(0x51, be32(maxPDULength))
        user += item(0x52, Array("1.2.826.0.1.3680043.10.1146.1".utf8))  // a test implementation class UID
        user += item(0x55, Array("RADRELAY_TEST".utf8))
        body += item(0x50, user)
        return [0x01, 0x00] + be32(UInt32(body.count)) + body
    }

    /// A P-DATA-TF PDU carrying one PDV.
    public static func pDataTF(contextID: UInt8, command: Bool, last: Bool, data: [UInt8]) -> [UInt8] {
        let header: UInt8 = (command ? 0x01 : 0) | (last ? 0x02 : 0)
        let pdv = be32(UInt32(data.count + 2)) + [contextID, header] + data
        return [0x04, 0x00] + be32(UInt32(pdv.count)) + pdv
    }

    /// A value of a command element.
    public enum CommandValue {
        case uid(String)
        case us(UInt16)
        case ae(String)
    }

    /// A command set (group 0000, Implicit VR Little Endian) with its group length first.
    public static func encodeCommand(_ elements: [(UInt16, CommandValue)]) -> [UInt8] {
        var encoded: [UInt8] = []
        for (element, value) in elements.sorted(by: { $0.0 < $1.0 }) {
            var bytes: [UInt8]
            switch value {
            case .uid(let s):
                bytes = Array(s.utf8)
                if bytes.count % 2 == 1 { bytes.append(0) }
            case .ae(let s):
                bytes = Array(s.utf8)
                if bytes.count % 2 == 1 { bytes.append(0x20) }
            case .us(let v):
                bytes = [UInt8(v & 0xFF), UInt8(v >> 8)]
            }
            encoded += le16(0x0000) + le16(element) + le32(UInt32(bytes.count)) + bytes
        }
        return le16(0) + le16(0) + le32(4) + le32(UInt32(encoded.count)) + encoded
    }

    /// The US value of command element (0000,`element`), if present.
    public static func commandUS(_ command: [UInt8], element: UInt16) -> UInt16? {
        var i = 0
        while i + 8 <= command.count {
            let group = UInt16(command[i]) | UInt16(command[i + 1]) << 8
            let elem = UInt16(command[i + 2]) | UInt16(command[i + 3]) << 8
            let length = Int(
                UInt32(command[i + 4]) | UInt32(command[i + 5]) << 8
                    | UInt32(command[i + 6]) << 16 | UInt32(command[i + 7]) << 24)
            if group == 0, elem == element, length == 2, i + 10 <= command.count {
                return UInt16(command[i + 8]) | UInt16(command[i + 9]) << 8
            }
            i += 8 + length
        }
        return nil
    }

    static func parseAssociateAC(_ body: [UInt8]) -> ([PresentationContextResult], UInt32?) {
        var contexts: [PresentationContextResult] = []
        var maxLength: UInt32?
        var i = 68  // version, reserved, two AE fields, 32 reserved
        while i + 4 <= body.count {
            let type = body[i]
            let length = Int(UInt16(body[i + 2]) << 8 | UInt16(body[i + 3]))
            let value = Array(body[(i + 4)..<min(body.count, i + 4 + length)])
            if type == 0x21, value.count >= 4 {
                var ts: String?
                if value.count >= 8, value[4] == 0x40 {
                    let tsLength = Int(UInt16(value[6]) << 8 | UInt16(value[7]))
                    ts = String(decoding: value[8..<min(value.count, 8 + tsLength)], as: UTF8.self)
                        .trimmingCharacters(in: CharacterSet(charactersIn: "\0 "))
                }
                contexts.append(PresentationContextResult(id: value[0], result: value[2], transferSyntax: ts))
            } else if type == 0x50 {
                var j = 0
                while j + 4 <= value.count {
                    let subType = value[j]
                    let subLength = Int(UInt16(value[j + 2]) << 8 | UInt16(value[j + 3]))
                    if subType == 0x51, subLength == 4, j + 8 <= value.count { maxLength = be32(value, j + 4) }
                    j += 4 + subLength
                }
            }
            i += 4 + length
        }
        return (contexts, maxLength)
    }

    static func aeField(_ ae: String) -> [UInt8] {
        var bytes = Array(ae.utf8.prefix(16))
        bytes += [UInt8](repeating: 0x20, count: 16 - bytes.count)
        return bytes
    }

    static func item(_ type: UInt8, _ value: [UInt8]) -> [UInt8] {
        [type, 0x00, UInt8(value.count >> 8), UInt8(value.count & 0xFF)] + value
    }

    static func be32(_ v: UInt32) -> [UInt8] {
        [UInt8(v >> 24), UInt8((v >> 16) & 0xFF), UInt8((v >> 8) & 0xFF), UInt8(v & 0xFF)]
    }
    static func be32(_ b: [UInt8], _ i: Int) -> UInt32 {
        UInt32(b[i]) << 24 | UInt32(b[i + 1]) << 16 | UInt32(b[i + 2]) << 8 | UInt32(b[i + 3])
    }
    static func le16(_ v: UInt16) -> [UInt8] { [UInt8(v & 0xFF), UInt8(v >> 8)] }
    static func le32(_ v: UInt32) -> [UInt8] {
        [UInt8(v & 0xFF), UInt8((v >> 8) & 0xFF), UInt8((v >> 16) & 0xFF), UInt8(v >> 24)]
    }
}
