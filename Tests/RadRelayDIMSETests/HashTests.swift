import Foundation
import RadRelayDIMSE
import RadRelayTestSupport
import XCTest

final class HashTests: XCTestCase {
    private let abcDigest = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"

    func testKnownVectors() {
        XCTAssertEqual(digest(of: Array("abc".utf8)), abcDigest)
        XCTAssertEqual(digest(of: []), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    }

    func testIncrementalUpdatesEqualOneShot() {
        let bytes = (0..<100_000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        let hasher = SHA256Hasher()
        var start = 0
        for size in [1, 7, 4096, 50_000] + [Int](repeating: 10_000, count: 10) where start < bytes.count {
            let end = min(start + size, bytes.count)
            bytes[start..<end].withUnsafeBytes { hasher.update($0) }
            start = end
        }
        bytes[start...].withUnsafeBytes { hasher.update($0) }
        XCTAssertEqual(hasher.finalize(), digest(of: bytes))
        XCTAssertEqual(hasher.finalize(), digest(of: bytes), "finalize is stable")
    }

    func testHashFileSkipsOffset() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let file = directory.file("data.bin")
        try Data(Array("HEADERabc".utf8)).write(to: file)
        XCTAssertEqual(try SHA256Hasher.hashFile(path: file.path, skipping: 6), abcDigest)
        XCTAssertEqual(try SHA256Hasher.hashFile(path: file.path), digest(of: Array("HEADERabc".utf8)))
    }

    func testHashFileOfMissingFileThrows() {
        XCTAssertThrowsError(try SHA256Hasher.hashFile(path: "/nonexistent/radrelay-\(UUID().uuidString)"))
    }

    private func digest(of bytes: [UInt8]) -> String {
        let hasher = SHA256Hasher()
        bytes.withUnsafeBytes { hasher.update($0) }
        return hasher.finalize()
    }
}
