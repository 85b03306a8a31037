import Foundation
import RadRelayCore
import RadRelayTestSupport
import XCTest

@testable import RadRelayDIMSE

/// The storage SCP against real peers: DCMTK's storescu/echoscu and a raw socket client.
final class ListenerTests: XCTestCase {
    private var fixture: ListenerFixture!

    override func setUp() async throws {
        fixture = try ListenerFixture { $0.acseTimeout = 1; $0.idleTimeout = 2; $0.dimseTimeout = 2 }
        try await fixture.start()
    }

    override func tearDown() async throws {
        await fixture.stop()
    }

    func testPortZeroReportsTheRealPort() {
        XCTAssertGreaterThan(fixture.port, 0)
    }

    func testEchoSucceeds() throws {
        let result = try EchoSCU.echo(port: fixture.port, calledAE: "RADRELAY", callingAE: "STORESCU")
        XCTAssertEqual(result.exitCode, 0, result.stderr)
    }

    func testStoredFileIsAPart10FileWhoseHashCoversOnlyTheDataSet() throws {
        let data = try TemporaryDirectory(prefix: "radrelay-ct")
        defer { data.remove() }
        try TestData.makeCTSeries(count: 2, in: data.url, rows: 64, columns: 64)
        let result = try StoreSCU.send(directory: data.url, port: fixture.port, calledAE: "RADRELAY")
        XCTAssertEqual(result.exitCode, 0, result.stderr)
        let records = fixture.delegate.records
        XCTAssertEqual(records.count, 2)
        for record in records {
            XCTAssertEqual(record.response.status, .success)
            let inspected = try DICOMFileInspector.inspect(path: record.object.path)
            XCTAssertEqual(inspected.sopInstanceUID.value, record.object.request.sopInstanceUID)
            XCTAssertEqual(record.object.request.transferSyntaxUID, AcceptedTransferSyntaxes.explicitVRLittleEndian)
            // The data set starts after the preamble, "DICM" and the meta group.
            let file = try Data(contentsOf: URL(fileURLWithPath: record.object.path))
            let groupLength = file[140..<144].withUnsafeBytes { $0.loadUnaligned(as: UInt32.self) }
            let datasetOffset = 144 + Int(UInt32(littleEndian: groupLength))
            XCTAssertEqual(
                try SHA256Hasher.hashFile(path: record.object.path, skipping: datasetOffset),
                record.object.datasetSHA256
            )
            XCTAssertEqual(UInt64(file.count), record.object.fileSize)
        }
    }

    func testUnknownCallingAEIsRejected113() throws {
        let client = try RawDICOMClient(port: fixture.port)
        let reply = try client.requestAssociation(calledAE: "RADRELAY", callingAE: "INTRUDER")
        XCTAssertEqual(reply, .rejected(result: 1, source: 1, reason: 3))
    }

    func testUnknownCalledAEIsRejected117() throws {
        let client = try RawDICOMClient(port: fixture.port)
        let reply = try client.requestAssociation(calledAE: "SOMEONE", callingAE: "STORESCU")
        XCTAssertEqual(reply, .rejected(result: 1, source: 1, reason: 7))
    }

    func testPerCallerLimitIsRejected232() throws {
        let first = try RawDICOMClient(port: fixture.port)
        let second = try RawDICOMClient(port: fixture.port)
        XCTAssertTrue(try first.requestAssociation(calledAE: "RADRELAY", callingAE: "STORESCU").isAccepted)
        XCTAssertTrue(try second.requestAssociation(calledAE: "RADRELAY", callingAE: "STORESCU").isAccepted)
        let third = try RawDICOMClient(port: fixture.port)
        XCTAssertEqual(
            try third.requestAssociation(calledAE: "RADRELAY", callingAE: "STORESCU"),
            .rejected(result: 2, source: 3, reason: 2)
        )
        // A slot frees when an association ends.
        XCTAssertTrue(try first.release())
        try pollUntil("slot freed", timeout: 5) {
            let fourth = try RawDICOMClient(port: self.fixture.port)
            return try fourth.requestAssociation(calledAE: "RADRELAY", callingAE: "STORESCU").isAccepted
        }
    }

    func testUnsupportedAbstractSyntaxIsRejectedPerContextAndStorageClassesAreAccepted() throws {
        let client = try RawDICOMClient(port: fixture.port)
        let reply = try client.requestAssociation(
            calledAE: "RADRELAY",
            callingAE: "STORESCU",
            contexts: [
                .verification,
                // Study Root Query/Retrieve FIND: not a storage class.
                .init(id: 3, abstractSyntax: "1.2.840.10008.5.1.4.1.2.2.1", transferSyntaxes: ["1.2.840.10008.1.2"]),
                // RT Ion Beams Treatment Record: a storage class beyond DcmSCP's 128-context profile.
                .init(id: 5, abstractSyntax: "1.2.840.10008.5.1.4.1.1.481.9", transferSyntaxes: ["1.2.840.10008.1.2"]),
                // A transfer syntax nobody knows.
                .init(id: 7, abstractSyntax: RawDICOMClient.ctImageStorage, transferSyntaxes: ["1.2.3.4"]),
                // Compressed only: accepted as it comes.
                .init(id: 9, abstractSyntax: RawDICOMClient.ctImageStorage, transferSyntaxes: ["1.2.840.10008.1.2.4.80"]),
            ]
        )
        guard case .accepted(let contexts, _) = reply else { return XCTFail("\(reply)") }
        let results = Dictionary(uniqueKeysWithValues: contexts.map { ($0.id, $0.result) })
        XCTAssertEqual(results, [1: 0, 3: 3, 5: 0, 7: 4, 9: 0])
    }

    func testUncompressedTransferSyntaxIsPreferred() throws {
        let client = try RawDICOMClient(port: fixture.port)
        let reply = try client.requestAssociation(
            calledAE: "RADRELAY",
            callingAE: "STORESCU",
            contexts: [
                .init(
                    id: 1,
                    abstractSyntax: RawDICOMClient.ctImageStorage,
                    transferSyntaxes: ["1.2.840.10008.1.2.1.99", "1.2.840.10008.1.2.4.80", "1.2.840.10008.1.2"]
                )
            ]
        )
        guard case .accepted(let contexts, _) = reply else { return XCTFail("\(reply)") }
        XCTAssertEqual(contexts.first?.transferSyntax, "1.2.840.10008.1.2")
    }

    func testIdleConnectionsDoNotDelayAnEcho() throws {
        var idle: [RawDICOMClient] = []
        for _ in 0..<100 { idle.append(try RawDICOMClient(port: fixture.port)) }
        let start = monotonicSeconds()
        let result = try EchoSCU.echo(port: fixture.port, calledAE: "RADRELAY", callingAE: "STORESCU")
        XCTAssertEqual(result.exitCode, 0, result.stderr)
        XCTAssertLessThan(monotonicSeconds() - start, 1.0)
        _ = idle
    }

    func testSilentConnectionIsClosedAfterTheACSETimeout() throws {
        let client = try RawDICOMClient(port: fixture.port)
        // Nothing sent: the listener drops the socket after acse_timeout (1 s here).
        let start = monotonicSeconds()
        XCTAssertNil(try client.readPDU(timeout: 5))
        XCTAssertLessThan(monotonicSeconds() - start, 3)
    }

    func testDataBeforeAssociationIsAborted() throws {
        let client = try RawDICOMClient(port: fixture.port)
        try client.send([0x04, 0, 0, 0, 0, 6, 0, 0, 0, 2, 1, 3])
        let pdu = try client.readPDU(timeout: 5)
        XCTAssertEqual(pdu?.type, 0x07)
    }

    func testUnknownPDUTypeIsAborted() throws {
        let client = try RawDICOMClient(port: fixture.port)
        try client.send([0x09, 0, 0, 0, 0, 0])
        XCTAssertEqual(try client.readPDU(timeout: 5)?.type, 0x07)
    }

    func testOversizedPDULengthIsRefusedWithoutBuffering() throws {
        // Announces a 4 GB A-ASSOCIATE-RQ: refused at once from the header alone, with
        // A-ASSOCIATE-RJ 1/3/2 (PreAssociationLimitTests has the details).
        let client = try RawDICOMClient(port: fixture.port)
        try client.send([0x01, 0, 0xFF, 0xFF, 0xFF, 0xF0])
        let reply = try client.readPDU(timeout: 5)
        XCTAssertEqual(reply?.type, 0x03)
        XCTAssertEqual(reply.map { Array($0.body.suffix(3)) }, [1, 3, 2])
        // A P-DATA-TF announcing more than the negotiated maximum is an A-ABORT.
        let associated = try RawDICOMClient(port: fixture.port)
        XCTAssertTrue(try associated.requestAssociation(calledAE: "RADRELAY", callingAE: "STORESCU").isAccepted)
        try associated.send([0x04, 0, 0xFF, 0xFF, 0xFF, 0xF0])
        XCTAssertEqual(try associated.readPDU(timeout: 5)?.type, 0x07)
    }

    func testListenerKeepsServingAfterHostileInput() throws {
        let garbage = try RawDICOMClient(port: fixture.port)
        try garbage.send(Array(repeating: 0xAB, count: 64))
        _ = try? garbage.readPDU(timeout: 2)
        let result = try EchoSCU.echo(port: fixture.port, calledAE: "RADRELAY", callingAE: "STORESCU")
        XCTAssertEqual(result.exitCode, 0, result.stderr)
    }
}
