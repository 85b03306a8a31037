import Foundation
import RadRelayDICOMweb

/// Minimal Part 10 files (preamble, "DICM", a meta group, SOP Class/Instance UIDs and padding
/// pixel bytes): enough for multipart bodies and for `ScriptedHTTPPeer` to find each UID.
enum Part10Fixture {
    static func element(_ group: UInt16, _ element: UInt16, _ vr: String, _ value: [UInt8]) -> [UInt8] {
        var bytes: [UInt8] = [UInt8(group & 0xFF), UInt8(group >> 8), UInt8(element & 0xFF), UInt8(element >> 8)]
        bytes += Array(vr.utf8)
        if ["OB", "OW", "SQ", "UN", "UT"].contains(vr) {
            bytes += [0, 0]
            let n = UInt32(value.count)
            bytes += [UInt8(n & 0xFF), UInt8(n >> 8 & 0xFF), UInt8(n >> 16 & 0xFF), UInt8(n >> 24)]
        } else {
            let n = UInt16(value.count)
            bytes += [UInt8(n & 0xFF), UInt8(n >> 8)]
        }
        return bytes + value
    }

    static func uid(_ text: String) -> [UInt8] {
        var bytes = Array(text.utf8)
        if bytes.count % 2 == 1 { bytes.append(0) }
        return bytes
    }

    /// Writes a file for `sopInstanceUID` with `padding` pixel bytes; returns the instance.
    static func write(
        in directory: URL,
        sopInstanceUID: String,
        studyInstanceUID: String = "1.2.826.0.1.3680043.8.498.1",
        padding: Int = 1000
    ) throws -> STOWInstance {
        var bytes = [UInt8](repeating: 0, count: 128) + Array("DICM".utf8)
        bytes += element(0x0002, 0x0010, "UI", uid("1.2.840.10008.1.2.1"))
        bytes += element(0x0008, 0x0016, "UI", uid("1.2.840.10008.5.1.4.1.1.2"))
        bytes += element(0x0008, 0x0018, "UI", uid(sopInstanceUID))
        bytes += element(0x0020, 0x000D, "UI", uid(studyInstanceUID))
        bytes += element(0x7FE0, 0x0010, "OB", [UInt8](repeating: 0xAB, count: padding))
        let url = directory.appendingPathComponent(sopInstanceUID + ".dcm")
        try Data(bytes).write(to: url)
        return STOWInstance(
            path: url.path, sopInstanceUID: sopInstanceUID, sopClassUID: "1.2.840.10008.5.1.4.1.1.2",
            studyInstanceUID: studyInstanceUID, byteSize: UInt64(bytes.count))
    }

    static func instances(_ count: Int, in directory: URL, padding: Int = 1000) throws -> [STOWInstance] {
        try (1...count).map { try write(in: directory, sopInstanceUID: "1.2.826.0.1.3680043.8.498.2.\($0)", padding: padding) }
    }
}
