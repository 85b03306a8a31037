import Foundation
import RadRelayCore
import RadRelayDIMSE
import RadRelayTestSupport
import XCTest

#if canImport(Glibc)
    import Glibc
#endif

/// `DICOMSender` against DCMTK's own storescp (and a silent TCP listener for the ACSE timeout).
final class SenderTests: XCTestCase {
    nonisolated(unsafe) private static var fixtures: TemporaryDirectory?
    nonisolated(unsafe) private static var slices: [URL] = []

    private var directory: TemporaryDirectory!
    private var peers: [StoreSCPProcess] = []

    override class func setUp() {
        super.setUp()
        do {
            let fixtures = try TemporaryDirectory(prefix: "radrelay-sender")
            Self.fixtures = fixtures
            Self.slices = try DICOMFixtures.ctSlices(3, in: fixtures.url, size: 128)
        } catch {
            XCTFail("fixture generation failed: \(error)")
        }
    }

    override class func tearDown() {
        fixtures?.remove()
        super.tearDown()
    }

    override func setUpWithError() throws {
        try DCMTKRuntime.initialize()
        directory = try TemporaryDirectory()
    }

    override func tearDown() {
        peers.forEach { $0.stop() }
        directory?.remove()
    }

    // MARK: - Delivery

    func testThreeSlicesOverOneAssociation() async throws {
        let peer = try startPeer()
        let bytes = ByteCounter()
        let sender = DICOMSender(configuration: try configuration(port: peer.port)) { bytes.add($0) }
        var sentUIDs: Set<String> = []
        for slice in Self.slices {
            let object = try DICOMFixtures.outgoing(slice)
            sentUIDs.insert(object.sopInstanceUID)
            let outcome = await sender.send(object)
            XCTAssertEqual(outcome, .delivered(status: .success), peer.log())
        }
        await sender.shutdown()

        let received = peer.receivedFiles()
        let receivedUIDs = try Set(received.map { try DICOMFileInspector.inspect(path: $0.path).sopInstanceUID.value })
        XCTAssertEqual(receivedUIDs, sentUIDs)
        XCTAssertEqual(occurrences(of: "Association Acknowledged", in: peer.log()), 1, peer.log())
        XCTAssertEqual(occurrences(of: "Association Release", in: peer.log()), 1, "shutdown releases")
        XCTAssertGreaterThanOrEqual(bytes.total, 3 * 128 * 128 * 2, "progress covers the pixel data")
    }

    func testEcho() async throws {
        let peer = try startPeer()
        let configuration = try configuration(port: peer.port)
        let outcome = await DICOMEcho.echo(configuration)
        XCTAssertEqual(outcome, .delivered(status: .success))

        let sender = DICOMSender(configuration: configuration)
        let first = await sender.echo()
        let second = await sender.echo()
        await sender.shutdown()
        XCTAssertEqual([first, second], [.delivered(status: .success), .delivered(status: .success)])
        XCTAssertEqual(occurrences(of: "Association Acknowledged", in: peer.log()), 2, "one per sender")
    }

    func testCompressedObjectIsDecompressedForAnUncompressedOnlyPeer() async throws {
        let compressed = directory.file("jls.dcm")
        let run = try ProcessRunner.run("/usr/bin/dcmcjpls", [Self.slices[0].path, compressed.path], timeout: 30)
        XCTAssertEqual(run.exitCode, 0, run.output)
        let object = try DICOMFixtures.outgoing(compressed)
        XCTAssertEqual(object.transferSyntaxUID, "1.2.840.10008.1.2.4.80")

        let peer = try startPeer(acceptAllTransferSyntaxes: false)
        let sender = DICOMSender(configuration: try configuration(port: peer.port))
        let outcome = await sender.send(object)
        await sender.shutdown()
        XCTAssertEqual(outcome, .delivered(status: .success), peer.log())
        let received = try XCTUnwrap(peer.receivedFiles().first)
        let inspected = try DICOMFileInspector.inspect(path: received.path)
        XCTAssertEqual(inspected.sopInstanceUID.value, object.sopInstanceUID)
        XCTAssertTrue(["1.2.840.10008.1.2.1", "1.2.840.10008.1.2"].contains(inspected.transferSyntaxUID))
    }

    // MARK: - Mixed transfer syntaxes on one sender

    func testJPEGLSAfterAnUncompressedObjectRenegotiatesInsteadOfDecompressing() async throws {
        let objects = try mixedStream()
        let peer = try startPeer()
        let sender = DICOMSender(configuration: try configuration(port: peer.port))
        var outcomes: [SendOutcome] = []
        for object in objects { outcomes.append(await sender.send(object)) }
        await sender.shutdown()

        XCTAssertEqual(outcomes, Array(repeating: .delivered(status: .success), count: objects.count), peer.log())
        let received = try receivedSyntaxes(peer)
        for object in objects {
            XCTAssertEqual(received[object.sopInstanceUID], object.transferSyntaxUID, "each object as stored")
        }
        XCTAssertEqual(
            occurrences(of: "Association Acknowledged", in: peer.log()), 2,
            "one renegotiation for JPEG-LS, then both syntaxes share the association")
    }

    func testJPEGLSAfterAnUncompressedObjectIsDecompressedWhenTheRemoteDeclinesIt() async throws {
        let objects = try mixedStream()
        let peer = try startPeer(acceptAllTransferSyntaxes: false)
        let sender = DICOMSender(configuration: try configuration(port: peer.port))
        var outcomes: [SendOutcome] = []
        for object in objects { outcomes.append(await sender.send(object)) }
        await sender.shutdown()

        XCTAssertEqual(outcomes, Array(repeating: .delivered(status: .success), count: objects.count), peer.log())
        let uncompressed = ["1.2.840.10008.1.2.1", "1.2.840.10008.1.2"]
        for syntax in try receivedSyntaxes(peer).values { XCTAssertTrue(uncompressed.contains(syntax), syntax) }
        XCTAssertEqual(
            occurrences(of: "Association Acknowledged", in: peer.log()), 2,
            "JPEG-LS is asked for once; once declined it does not trigger another association")
        let sent = try DecodedPixelData.byUID(
            files: objects.map { URL(fileURLWithPath: $0.path) }, scratch: directory.file("decoded-sent"))
        let arrived = try DecodedPixelData.byUID(
            files: peer.receivedFiles(), scratch: directory.file("decoded-received"))
        XCTAssertEqual(arrived.count, objects.count)
        for (uid, digest) in sent { XCTAssertEqual(arrived[uid]?.sha256, digest.sha256, "lossless: \(uid)") }
    }

    func testParallelSendersToTwoPeers() async throws {
        let peers = [try startPeer(), try startPeer()]
        let outcomes = try await withThrowingTaskGroup(of: [SendOutcome].self) { group in
            for peer in peers {
                let configuration = try configuration(port: peer.port)
                let objects = try Self.slices.map(DICOMFixtures.outgoing)
                group.addTask {
                    let sender = DICOMSender(configuration: configuration)
                    var outcomes: [SendOutcome] = []
                    for object in objects + objects { outcomes.append(await sender.send(object)) }
                    await sender.shutdown()
                    return outcomes
                }
            }
            return try await group.reduce(into: []) { $0 += $1 }
        }
        XCTAssertEqual(outcomes, Array(repeating: .delivered(status: .success), count: 12))
        for peer in peers { XCTAssertEqual(peer.receivedFiles().count, 3) }
    }

    // MARK: - Failures

    func testClosedPortIsConnectionFailure() async throws {
        let sender = DICOMSender(configuration: try configuration(port: freeLoopbackPort()))
        let outcome = await sender.send(try DICOMFixtures.outgoing(Self.slices[0]))
        await sender.shutdown()
        XCTAssertEqual(failureClass(outcome), .connection, "\(outcome)")
    }

    func testSilentPeerTimesOutInACSE() async throws {
        let listener = try SilentListener()
        defer { listener.close() }
        var configuration = try configuration(port: listener.port)
        configuration.acseTimeout = 1
        let sender = DICOMSender(configuration: configuration)
        let started = monotonicSeconds()
        let outcome = await sender.send(try DICOMFixtures.outgoing(Self.slices[0]))
        await sender.shutdown()
        XCTAssertEqual(failureClass(outcome), .timeout, "\(outcome)")
        XCTAssertLessThan(monotonicSeconds() - started, 5)
    }

    func testSlowResponseTimesOutInDIMSE() async throws {
        let peer = try startPeer(extraArguments: ["--sleep-during", "3"])
        var configuration = try configuration(port: peer.port)
        configuration.dimseTimeout = 1
        let sender = DICOMSender(configuration: configuration)
        let outcome = await sender.send(try DICOMFixtures.outgoing(Self.slices[0]))
        await sender.shutdown()
        XCTAssertEqual(failureClass(outcome), .timeout, "\(outcome)")
    }

    func testPeerAbortIsAbortedAndTheNextSendReconnects() async throws {
        let peer = try startPeer(extraArguments: ["--abort-after"])
        let sender = DICOMSender(configuration: try configuration(port: peer.port))
        let first = await sender.send(try DICOMFixtures.outgoing(Self.slices[0]))
        let second = await sender.send(try DICOMFixtures.outgoing(Self.slices[1]))
        await sender.shutdown()
        XCTAssertEqual(failureClass(first), .aborted, "\(first)")
        XCTAssertEqual(failureClass(second), .aborted, "\(second)")
        XCTAssertEqual(occurrences(of: "Association Acknowledged", in: peer.log()), 2, peer.log())
    }

    func testUnreadableFileIsLocalErrorAndKeepsTheAssociation() async throws {
        let peer = try startPeer()
        let sender = DICOMSender(configuration: try configuration(port: peer.port))
        let good = try DICOMFixtures.outgoing(Self.slices[0])
        var missing = try DICOMFixtures.outgoing(Self.slices[1])
        missing.path = directory.file("gone.dcm").path
        var mismatching = try DICOMFixtures.outgoing(Self.slices[2])
        mismatching.sopInstanceUID = good.sopInstanceUID

        let outcomes = [
            await sender.send(good), await sender.send(missing), await sender.send(mismatching),
            await sender.send(try DICOMFixtures.outgoing(Self.slices[2])),
        ]
        await sender.shutdown()
        XCTAssertEqual(outcomes[0], .delivered(status: .success))
        XCTAssertEqual(failureClass(outcomes[1]), .localError, "\(outcomes[1])")
        XCTAssertEqual(failureClass(outcomes[2]), .localError, "\(outcomes[2])")
        XCTAssertEqual(outcomes[3], .delivered(status: .success))
        XCTAssertEqual(occurrences(of: "Association Acknowledged", in: peer.log()), 1, peer.log())
    }

    func testUnknownSOPClassIsNotSupported() async throws {
        let privateClass = directory.file("private.dcm")
        let unknownClass = "1.2.826.0.1.3680043.99.1"
        try DICOMFixtures.edit(Self.slices[0], to: privateClass, keyword: "SOPClassUID", value: unknownClass)
        let peer = try startPeer()
        let sender = DICOMSender(configuration: try configuration(port: peer.port))
        let outcome = await sender.send(try DICOMFixtures.outgoing(privateClass))
        let echo = await sender.echo()
        await sender.shutdown()
        XCTAssertEqual(outcome, .failed(.sopClassNotSupported, status: nil, detail: "no presentation context accepted"))
        XCTAssertEqual(echo, .delivered(status: .success), "Verification was accepted on the same association")
        XCTAssertEqual(occurrences(of: "Association Acknowledged", in: peer.log()), 1, peer.log())
    }

    // MARK: - Idle release

    func testIdleAssociationIsReleased() async throws {
        let peer = try startPeer()
        var configuration = try configuration(port: peer.port)
        configuration.idleRelease = 0.5
        let sender = DICOMSender(configuration: configuration)
        let first = await sender.send(try DICOMFixtures.outgoing(Self.slices[0]))
        XCTAssertEqual(first, .delivered(status: .success))
        XCTAssertEqual(try peer.establishedConnections(), 1)

        try pollUntil("the idle association is released", timeout: 5, detail: peer.log()) {
            try occurrences(of: "Association Release", in: peer.log()) == 1 && peer.establishedConnections() == 0
        }
        let second = await sender.send(try DICOMFixtures.outgoing(Self.slices[1]))
        await sender.shutdown()
        XCTAssertEqual(second, .delivered(status: .success))
        XCTAssertEqual(occurrences(of: "Association Acknowledged", in: peer.log()), 2, peer.log())
    }

    // MARK: - Helpers

    /// Five CT slices alternating Explicit VR LE and JPEG-LS lossless, uncompressed first.
    private func mixedStream() throws -> [OutgoingObject] {
        let slices = try DICOMFixtures.ctSlices(5, in: try directory.subdirectory("mixed"))
        return try slices.enumerated().map { index, slice in
            guard index % 2 == 1 else { return try DICOMFixtures.outgoing(slice) }
            let compressed = directory.file("jls-\(index).dcm")
            let run = try ProcessRunner.run("/usr/bin/dcmcjpls", [slice.path, compressed.path], timeout: 30)
            guard run.exitCode == 0 else { throw HarnessError(run.output) }
            let object = try DICOMFixtures.outgoing(compressed)
            XCTAssertEqual(object.transferSyntaxUID, "1.2.840.10008.1.2.4.80")
            return object
        }
    }

    /// The stored transfer syntax of each received file, by SOP Instance UID.
    private func receivedSyntaxes(_ peer: StoreSCPProcess) throws -> [String: String] {
        var syntaxes: [String: String] = [:]
        for file in peer.receivedFiles() {
            let inspected = try DICOMFileInspector.inspect(path: file.path)
            syntaxes[inspected.sopInstanceUID.value] = inspected.transferSyntaxUID
        }
        return syntaxes
    }

    private func startPeer(acceptAllTransferSyntaxes: Bool = true, extraArguments: [String] = []) throws
        -> StoreSCPProcess
    {
        let peer = try StoreSCPProcess(
            directory: try directory.subdirectory("peer-\(peers.count)"),
            acceptAllTransferSyntaxes: acceptAllTransferSyntaxes,
            extraArguments: extraArguments
        )
        peers.append(peer)
        try peer.start()
        return peer
    }

    private func configuration(port: Int) throws -> DICOMSenderConfiguration {
        DICOMSenderConfiguration(
            host: "127.0.0.1", port: port, calledAE: try AETitle("STORESCP"), callingAE: try AETitle("RADRELAY"),
            connectTimeout: 5, acseTimeout: 5, dimseTimeout: 10, idleRelease: 30
        )
    }
}

/// The failure class of an outcome, nil when delivered.
func failureClass(_ outcome: SendOutcome) -> FailureClass? {
    if case .failed(let failure, _, _) = outcome { return failure }
    return nil
}

/// How many times `needle` occurs in `text`.
func occurrences(of needle: String, in text: String) -> Int {
    text.components(separatedBy: needle).count - 1
}

/// Sums progress callbacks from the sender's thread.
final class ByteCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var sum = 0
    func add(_ bytes: Int) { lock.withLock { sum += bytes } }
    var total: Int { lock.withLock { sum } }
}

/// A loopback TCP socket that listens but never accepts: the kernel completes the handshake and
/// queues the A-ASSOCIATE-RQ, and no answer ever comes.
final class SilentListener {
    let port: Int
    private let descriptor: Int32

    init() throws {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(descriptor, $0, length) == 0 && listen(descriptor, 4) == 0
                    && getsockname(descriptor, $0, &length) == 0
            }
        }
        guard bound else {
            Glibc.close(descriptor)
            throw HarnessError("silent listener: \(String(cString: strerror(errno)))")
        }
        self.descriptor = descriptor
        port = Int(UInt16(bigEndian: address.sin_port))
    }

    func close() { Glibc.close(descriptor) }
}
