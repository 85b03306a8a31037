import Foundation

/// A Part 10 file split into what a C-STORE needs: the UIDs from its file meta group and the data
/// set bytes that follow the meta group (sent as they are, like pynetdicom's chunked mode).
public struct Part10File: Sendable {
    public let url: URL
    public let sopClassUID: String
    public let sopInstanceUID: String
    public let transferSyntaxUID: String
    /// Byte offset of the data set: 128 (preamble) + 4 ("DICM") + the meta group.
    public let datasetOffset: Int

    /// Reads the file meta group of `url` (PS3.10 §7.1: Explicit VR Little Endian).
    public init(url: URL) throws {
        self.url = url
        let handle = try FileHandle(forReadingFrom: url)
        defer { try? handle.close() }
        let head = [UInt8](try handle.read(upToCount: 64 * 1024) ?? Data())
        guard head.count > 144, head[128..<132].elementsEqual(Array("DICM".utf8)) else {
            throw HarnessError("\(url.path) is not a Part 10 file")
        }
        var i = 132
        var values: [UInt16: String] = [:]
        while i + 8 <= head.count {
            let group = UInt16(head[i]) | UInt16(head[i + 1]) << 8
            guard group == 0x0002 else { break }
            let element = UInt16(head[i + 2]) | UInt16(head[i + 3]) << 8
            let vr = String(decoding: head[(i + 4)..<(i + 6)], as: UTF8.self)
            var length: Int
            var valueStart: Int
            if ["OB", "OW", "OF", "SQ", "UT", "UN"].contains(vr) {
                length = Int(UInt32(head[i + 8]) | UInt32(head[i + 9]) << 8 | UInt32(head[i + 10]) << 16
                    | UInt32(head[i + 11]) << 24)
                valueStart = i + 12
            } else {
                length = Int(UInt16(head[i + 6]) | UInt16(head[i + 7]) << 8)
                valueStart = i + 8
            }
            guard valueStart + length <= head.count else { throw HarnessError("\(url.path): meta group too long") }
            if vr == "UI" {
                values[element] = String(decoding: head[valueStart..<(valueStart + length)], as: UTF8.self)
                    .trimmingCharacters(in: CharacterSet(charactersIn: "\0 "))
            }
            i = valueStart + length
        }
        guard let sopClass = values[0x0002], let sopInstance = values[0x0003], let ts = values[0x0010] else {
            throw HarnessError("\(url.path): file meta lacks SOP class, instance or transfer syntax")
        }
        sopClassUID = sopClass
        sopInstanceUID = sopInstance
        transferSyntaxUID = ts
        datasetOffset = i
    }

    /// The data set bytes (everything after the meta group).
    public func dataset() throws -> [UInt8] {
        let data = try Data(contentsOf: url)
        return [UInt8](data[datasetOffset...])
    }
}

/// One association opened with `RawDICOMClient` for C-STOREs whose bytes the test controls:
/// real files (so a test knows exactly which objects got 0x0000 before a `kill -9`) or
/// hand-made, hostile data sets (`DatasetBytes`).
public final class RawStoreSession {
    /// The connection.
    public let client: RawDICOMClient
    /// Accepted presentation context ids by abstract syntax.
    public let contextIDs: [String: UInt8]
    /// Largest P-DATA-TF PDU the acceptor takes (from its A-ASSOCIATE-AC).
    public let maxPDULength: Int
    private var messageID: UInt16 = 1

    private init(client: RawDICOMClient, contextIDs: [String: UInt8], maxPDULength: Int) {
        self.client = client
        self.contextIDs = contextIDs
        self.maxPDULength = maxPDULength
    }

    /// Connects and negotiates one context per SOP class in `sopClasses` (with `transferSyntax`)
    /// plus Verification. Returns nil and the reply when the association is not accepted.
    public static func open(
        host: String = "127.0.0.1",
        port: Int,
        calledAE: String = "RADRELAY",
        callingAE: String = "STORESCU",
        sopClasses: [String] = [RawDICOMClient.ctImageStorage],
        transferSyntax: String = RawDICOMClient.explicitVRLittleEndian,
        timeout: TimeInterval = 30
    ) throws -> (session: RawStoreSession?, reply: RawDICOMClient.AssociationReply) {
        let client = try RawDICOMClient(host: host, port: port, timeout: timeout)
        var contexts: [RawDICOMClient.PresentationContext] = [.verification]
        for (n, sopClass) in sopClasses.enumerated() {
            contexts.append(.init(id: UInt8(3 + 2 * n), abstractSyntax: sopClass, transferSyntaxes: [transferSyntax]))
        }
        let reply = try client.requestAssociation(calledAE: calledAE, callingAE: callingAE, contexts: contexts)
        guard case .accepted(let results, let maxLength) = reply else { return (nil, reply) }
        var ids: [String: UInt8] = [:]
        for result in results where result.result == 0 {
            if let proposed = contexts.first(where: { $0.id == result.id }) { ids[proposed.abstractSyntax] = result.id }
        }
        let max = Int(maxLength ?? 16384)
        return (RawStoreSession(client: client, contextIDs: ids, maxPDULength: max == 0 ? 1 << 20 : max), reply)
    }

    /// Sends a C-STORE of `file` and returns the response status.
    public func store(_ file: Part10File) throws -> UInt16 {
        guard let status = try store(sopClassUID: file.sopClassUID, sopInstanceUID: file.sopInstanceUID, dataset: try file.dataset())
        else { throw HarnessError("no C-STORE-RSP") }
        return status
    }

    /// Sends a C-STORE-RQ with the given UIDs and `dataset` bytes, fragmented to fit the PDU
    /// limit, and returns the response status. With `markLast: false` the final fragment is not
    /// flagged "last" (the data set never ends); then no response is awaited and nil is returned.
    @discardableResult
    public func store(
        sopClassUID: String,
        sopInstanceUID: String,
        dataset: [UInt8],
        markLast: Bool = true
    ) throws -> UInt16? {
        guard let contextID = contextIDs[sopClassUID] ?? contextIDs.first(where: { $0.key != RawDICOMClient.verificationSOPClass })?.value
        else { throw HarnessError("no accepted storage context for \(sopClassUID)") }
        try sendCommand(sopClassUID: sopClassUID, sopInstanceUID: sopInstanceUID, contextID: contextID)
        let fragment = max(256, min(maxPDULength, 64 * 1024) - 12)
        var offset = 0
        repeat {
            let end = min(dataset.count, offset + fragment)
            let last = end == dataset.count && markLast
            try client.send(
                RawDICOMClient.pDataTF(contextID: contextID, command: false, last: last, data: Array(dataset[offset..<end])))
            offset = end
        } while offset < dataset.count
        guard markLast else { return nil }
        let response = try client.readCommand()
        guard let status = RawDICOMClient.commandUS(response, element: 0x0900) else {
            throw HarnessError("C-STORE-RSP without a status")
        }
        return status
    }

    /// Sends only the C-STORE-RQ command (for tests that then send a broken data set by hand).
    public func sendCommand(sopClassUID: String, sopInstanceUID: String, contextID: UInt8? = nil) throws {
        guard let id = contextID ?? contextIDs[sopClassUID] else {
            throw HarnessError("no accepted context for \(sopClassUID)")
        }
        let message = messageID
        messageID &+= 1
        let command = RawDICOMClient.encodeCommand([
            (0x0002, .uid(sopClassUID)),
            (0x0100, .us(0x0001)),
            (0x0110, .us(message)),
            (0x0700, .us(0x0000)),
            (0x0800, .us(0x0000)),
            (0x1000, .uid(sopInstanceUID)),
        ])
        try client.send(RawDICOMClient.pDataTF(contextID: id, command: true, last: true, data: command))
    }

    /// Sends a C-ECHO on the Verification context; returns its status.
    public func echo() throws -> UInt16 { try client.echo() }

    /// A-RELEASE; returns whether the acceptor answered A-RELEASE-RP.
    @discardableResult
    public func release() throws -> Bool {
        defer { client.close() }
        return try client.release()
    }
}

/// Builds Explicit VR Little Endian data sets byte by byte, including ones no toolkit would write
/// (sequences never closed, absurd nesting, lying lengths).
public struct DatasetBytes {
    public private(set) var bytes: [UInt8] = []
    public init() {}

    /// A short-form element (2-byte length): AE, CS, DA, DS, IS, LO, PN, SH, TM, UI, US…
    public mutating func element(_ group: UInt16, _ element: UInt16, _ vr: String, _ value: [UInt8]) {
        var v = value
        if v.count % 2 == 1 { v.append(vr == "UI" ? 0 : 0x20) }
        bytes += le16(group) + le16(element) + Array(vr.utf8)
        if ["OB", "OW", "OF", "SQ", "UT", "UN"].contains(vr) {
            bytes += [0, 0] + le32(UInt32(v.count))
        } else {
            bytes += le16(UInt16(v.count))
        }
        bytes += v
    }

    /// A short-form element with a text value.
    public mutating func element(_ group: UInt16, _ element: UInt16, _ vr: String, _ text: String) {
        self.element(group, element, vr, Array(text.utf8))
    }

    /// The start of a sequence of undefined length (close it with `sequenceEnd()`, or don't).
    public mutating func sequenceStart(_ group: UInt16, _ element: UInt16) {
        bytes += le16(group) + le16(element) + Array("SQ".utf8) + [0, 0] + le32(0xFFFF_FFFF)
    }

    /// An item of undefined length.
    public mutating func itemStart() { bytes += le16(0xFFFE) + le16(0xE000) + le32(0xFFFF_FFFF) }
    /// Item delimitation.
    public mutating func itemEnd() { bytes += le16(0xFFFE) + le16(0xE00D) + le32(0) }
    /// Sequence delimitation.
    public mutating func sequenceEnd() { bytes += le16(0xFFFE) + le16(0xE0DD) + le32(0) }

    /// Raw bytes, as they are.
    public mutating func raw(_ more: [UInt8]) { bytes += more }

    /// The minimal header of a CT image: SOP class and instance, study and series, modality.
    public static func ctHeader(sopInstanceUID: String, studyUID: String = "1.2.826.0.1.3680043.10.1146.7.1") -> DatasetBytes {
        var d = DatasetBytes()
        d.element(0x0008, 0x0016, "UI", RawDICOMClient.ctImageStorage)
        d.element(0x0008, 0x0018, "UI", sopInstanceUID)
        d.element(0x0008, 0x0060, "CS", "CT")
        d.element(0x0010, 0x0010, "PN", "FAULT^TEST")
        d.element(0x0010, 0x0020, "LO", "FAULT1")
        d.element(0x0020, 0x000D, "UI", studyUID)
        d.element(0x0020, 0x000E, "UI", studyUID + ".1")
        return d
    }

    private func le16(_ v: UInt16) -> [UInt8] { [UInt8(v & 0xFF), UInt8(v >> 8)] }
    private func le32(_ v: UInt32) -> [UInt8] {
        [UInt8(v & 0xFF), UInt8((v >> 8) & 0xFF), UInt8((v >> 16) & 0xFF), UInt8(v >> 24)]
    }
}
