import Foundation
import RadRelayCore
import RadRelayDIMSE
import RadRelayTestSupport
import XCTest

#if canImport(Glibc)
    import Glibc
#endif

/// `DICOMSender` against a scripted pynetdicom SCP: response statuses of our choosing and a
/// called-AE check that rejects the association.
final class SenderPeerTests: XCTestCase {
    private var directory: TemporaryDirectory!
    private var peer: ChildProcess?

    override func setUpWithError() throws {
        try DCMTKRuntime.initialize()
        directory = try TemporaryDirectory()
    }

    override func tearDown() {
        peer?.killNow()
        directory?.remove()
    }

    func testResponseStatusesMapToOutcomesOnOneAssociation() async throws {
        let port = try startPeer(statuses: [0xA700, 0xC000, 0xB000, 0xA900, 0x0122])
        let slices = try DICOMFixtures.ctSlices(5, in: try directory.subdirectory("slices"))
        let sender = DICOMSender(configuration: try configuration(port: port, calledAE: "PYSCP"))
        var outcomes: [SendOutcome] = []
        for slice in slices { outcomes.append(await sender.send(try DICOMFixtures.outgoing(slice))) }
        await sender.shutdown()

        XCTAssertEqual(outcomes.count, 5)
        XCTAssertEqual(
            outcomes[0], .failed(.remoteOutOfResources, status: DIMSEStatus(0xA700), detail: "response status 0xA700")
        )
        XCTAssertEqual(
            outcomes[1], .failed(.cannotUnderstand, status: DIMSEStatus(0xC000), detail: "response status 0xC000")
        )
        XCTAssertEqual(outcomes[2], .delivered(status: DIMSEStatus(0xB000)))
        XCTAssertEqual(failureClass(outcomes[3]), .dataSetMismatch)
        XCTAssertEqual(failureClass(outcomes[4]), .sopClassNotSupported)
        XCTAssertEqual(
            occurrences(of: "ACCEPTED", in: peer?.logTail(lines: 100) ?? ""), 1,
            "failure statuses leave the association usable")
    }

    func testWrongCalledAETitleIsRejected() async throws {
        let port = try startPeer(statuses: [])
        let slices = try DICOMFixtures.ctSlices(1, in: try directory.subdirectory("slices"))
        let sender = DICOMSender(configuration: try configuration(port: port, calledAE: "SOMEONE-ELSE"))
        let outcome = await sender.send(try DICOMFixtures.outgoing(slices[0]))
        let echo = await sender.echo()
        await sender.shutdown()
        // PS3.8 §9.3.4: rejected-permanent (1), service user (1), called AE title not recognized (7).
        XCTAssertEqual(outcome, .failed(.associationRejected, status: nil, detail: "1/1/7"))
        XCTAssertEqual(echo, .failed(.associationRejected, status: nil, detail: "1/1/7"))
    }

    // MARK: - Helpers

    /// A pynetdicom SCP answering the given statuses in order (then success), accepting every
    /// storage class in every syntax, rejecting any called AE title but PYSCP. Prints ACCEPTED
    /// per association.
    private static let script = """
        import sys
        from pynetdicom import AE, evt, AllStoragePresentationContexts, ALL_TRANSFER_SYNTAXES
        from pynetdicom.sop_class import Verification
        port, statuses = int(sys.argv[1]), [int(s, 16) for s in sys.argv[2].split(",") if s]
        ae = AE(ae_title="PYSCP")
        ae.require_called_aet = True
        for context in AllStoragePresentationContexts:
            ae.add_supported_context(context.abstract_syntax, ALL_TRANSFER_SYNTAXES)
        ae.add_supported_context(Verification)
        def on_store(event):
            return statuses.pop(0) if statuses else 0x0000
        def on_accepted(event):
            print("ACCEPTED", flush=True)
        handlers = [(evt.EVT_C_STORE, on_store), (evt.EVT_ACCEPTED, on_accepted)]
        ae.start_server(("127.0.0.1", port), block=True, evt_handlers=handlers)
        """

    private func startPeer(statuses: [UInt16]) throws -> Int {
        let script = directory.file("scp.py")
        try Self.script.write(to: script, atomically: true, encoding: .utf8)
        let port = freeLoopbackPort()
        let child = ChildProcess(
            executable: URL(fileURLWithPath: "/usr/bin/env"),
            arguments: [
                "python3", script.path, String(port),
                statuses.map { String($0, radix: 16) }.joined(separator: ","),
            ],
            logURL: directory.file("scp.log")
        )
        try child.start()
        peer = child
        try pollUntil("pynetdicom accepts connections", timeout: 10, interval: 0.05, detail: child.logTail()) {
            guard child.isRunning else { throw HarnessError("pynetdicom exited:\n" + child.logTail()) }
            guard let fd = try? Socket.connectTCP(host: "127.0.0.1", port: port, timeout: 1) else { return false }
            close(fd)
            return true
        }
        return port
    }

    private func configuration(port: Int, calledAE: String) throws -> DICOMSenderConfiguration {
        DICOMSenderConfiguration(
            host: "127.0.0.1", port: port, calledAE: try AETitle(calledAE), callingAE: try AETitle("RADRELAY"),
            connectTimeout: 5, acseTimeout: 5, dimseTimeout: 10
        )
    }
}
