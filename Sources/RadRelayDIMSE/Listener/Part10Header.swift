import NIOCore

/// Writes the DICOM Part 10 preamble and File Meta Information (PS3.10 §7.1) for an object
/// received over the network, so the spool file is a standard DICOM file that DCMTK, Orthanc and
/// every viewer can open. The data set bytes that follow are written exactly as received.
enum Part10Header {
    /// radrelay's Implementation Class UID (PS3.7 D.3.3.2), under the UUID-derived 2.25 root.
    static let implementationClassUID = "2.25.296386474658377429152620451532089613477"
    /// Implementation Version Name (at most 16 characters).
    static let implementationVersionName = "RADRELAY_0.1"

    static func encode(
        sopClassUID: String,
        sopInstanceUID: String,
        transferSyntaxUID: String,
        sourceAETitle: String,
        allocator: ByteBufferAllocator
    ) -> ByteBuffer {
        var elements = allocator.buffer(capacity: 256)
        func put(_ element: UInt16, _ vr: String, _ value: [UInt8]) {
            elements.writeInteger(UInt16(0x0002), endianness: .little)
            elements.writeInteger(element, endianness: .little)
            elements.writeString(vr)
            if vr == "OB" {
                elements.writeInteger(UInt16(0))
                elements.writeInteger(UInt32(value.count), endianness: .little)
            } else {
                elements.writeInteger(UInt16(value.count), endianness: .little)
            }
            elements.writeBytes(value)
        }
        func text(_ s: String, pad: UInt8) -> [UInt8] {
            var bytes = Array(s.utf8)
            if bytes.count % 2 == 1 { bytes.append(pad) }
            return bytes
        }
        put(0x0001, "OB", [0x00, 0x01])
        put(0x0002, "UI", text(sopClassUID, pad: 0))
        put(0x0003, "UI", text(sopInstanceUID, pad: 0))
        put(0x0010, "UI", text(transferSyntaxUID, pad: 0))
        put(0x0012, "UI", text(implementationClassUID, pad: 0))
        put(0x0013, "SH", text(implementationVersionName, pad: 0x20))
        put(0x0016, "AE", text(sourceAETitle, pad: 0x20))

        var out = allocator.buffer(capacity: 132 + 12 + elements.readableBytes)
        out.writeRepeatingByte(0, count: 128)
        out.writeString("DICM")
        out.writeInteger(UInt16(0x0002), endianness: .little)
        out.writeInteger(UInt16(0x0000), endianness: .little)
        out.writeString("UL")
        out.writeInteger(UInt16(4), endianness: .little)
        out.writeInteger(UInt32(elements.readableBytes), endianness: .little)
        out.writeBuffer(&elements)
        return out
    }
}
