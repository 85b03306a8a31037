import NIOCore
import XCTest

@testable import RadRelayDIMSE

final class DIMSECommandSetTests: XCTestCase {
    func testStoreResponseRoundTrips() throws {
        var response = DIMSECommandSet(commandField: .cStoreResponse)
        response.affectedSOPClassUID = "1.2.840.10008.5.1.4.1.1.2"
        response.affectedSOPInstanceUID = "1.2.3"
        response.messageIDBeingRespondedTo = 7
        response.status = 0xC000
        response.errorComment = "invalid"
        let parsed = try DIMSECommandSet(parsing: response.encoded(allocator: ByteBufferAllocator()))
        XCTAssertEqual(parsed.commandField, 0x8001)
        XCTAssertEqual(parsed.affectedSOPClassUID, "1.2.840.10008.5.1.4.1.1.2")
        XCTAssertEqual(parsed.affectedSOPInstanceUID, "1.2.3")
        XCTAssertEqual(parsed.messageIDBeingRespondedTo, 7)
        XCTAssertEqual(parsed.status, 0xC000)
        XCTAssertEqual(parsed.errorComment, "invalid")
        XCTAssertFalse(parsed.hasDataSet)
    }

    func testGroupLengthCoversTheElements() {
        let encoded = DIMSECommandSet(commandField: .cEchoResponse).encoded(allocator: ByteBufferAllocator())
        let length = encoded.getInteger(at: 8, endianness: .little, as: UInt32.self)
        XCTAssertEqual(Int(length!), encoded.readableBytes - 12)
    }

    func testCommandWithoutCommandFieldIsAProtocolError() {
        var buffer = ByteBufferAllocator().buffer(capacity: 16)
        buffer.writeBytes([0, 0, 0x10, 0, 4, 0, 0, 0, 0x31, 0x2E, 0x32, 0])
        XCTAssertThrowsError(try DIMSECommandSet(parsing: buffer))
    }

    func testTruncatedElementIsAProtocolError() {
        var buffer = ByteBufferAllocator().buffer(capacity: 16)
        buffer.writeBytes([0, 0, 0x00, 0x01, 2, 0, 0, 0, 0x01])
        XCTAssertThrowsError(try DIMSECommandSet(parsing: buffer))
    }
}
