import Foundation
import RadRelayCore
@testable import RadRelayDICOMweb
import RadRelayTestSupport
import XCTest

/// STOWClient against `ScriptedHTTPPeer`: each scripted remote behaviour ends in the right
/// state (delivered / deferred honouring Retry-After / dead), streamed and batched as configured.
final class STOWClientPeerTests: XCTestCase {
    var directory: TemporaryDirectory!
    var peer: ScriptedHTTPPeer!

    override func setUpWithError() throws {
        directory = try TemporaryDirectory(prefix: "radrelay-stow")
    }

    override func tearDown() {
        peer?.stop()
        directory?.remove()
    }

    private func client(
        maxInstances: Int = 50,
        maxBytes: UInt64 = 64_000_000,
        auth: STOWConfiguration.Auth? = nil,
        read: Double = 10
    ) -> STOWClient {
        STOWClient(
            configuration: STOWConfiguration(
                baseURL: peer.baseURL, auth: auth, maxInstancesPerRequest: maxInstances, maxBytesPerRequest: maxBytes,
                timeouts: .init(connect: 2, read: read, write: 5, request: 30, idle: 5)))
    }

    private func states(_ results: [STOWInstanceResult], attempt: Int = 1) -> [String] {
        let policy = RetryPolicy()
        return results.map {
            switch policy.disposition(for: $0.outcome, attempt: attempt, now: 0, unitRandom: 0, notBefore: $0.notBefore) {
            case .delivered: return "delivered"
            case .deferred(let notBefore, let failure, _): return "deferred(\(failure.rawValue),\(Int(notBefore)))"
            case .dead(let failure, _): return "dead(\(failure.rawValue))"
            }
        }
    }

    func testBatchesByLimitAndStreamsWellFormedMultipart() async throws {
        peer = try ScriptedHTTPPeer(script: [.stowResult()])
        let instances = try Part10Fixture.instances(5, in: directory.url)
        let stow = client(maxInstances: 2)
        let results = await stow.store(instances)
        await stow.shutdown()
        XCTAssertEqual(states(results), Array(repeating: "delivered", count: 5))
        let requests = peer.requests
        XCTAssertEqual(requests.map(\.sopInstanceUIDs.count), [2, 2, 1])
        XCTAssertEqual(requests.flatMap(\.sopInstanceUIDs), instances.map(\.sopInstanceUID))
        for request in requests {
            XCTAssertEqual(request.method, "POST")
            XCTAssertEqual(request.uri, "/dicom-web/studies")
            XCTAssertNil(request.header("Expect"), "no Expect: 100-continue")
            XCTAssertNil(request.header("Transfer-Encoding"))
            XCTAssertEqual(request.header("Content-Length"), "\(request.bodyBytes)")
            XCTAssertEqual(request.header("Accept"), "application/dicom+json")
            let type = try XCTUnwrap(request.header("Content-Type"))
            XCTAssertTrue(type.hasPrefix("multipart/related; type=\"application/dicom\"; boundary=radrelay-"), type)
        }
    }

    func testServiceUnavailableWithRetryAfterDefersWithoutHammering() async throws {
        peer = try ScriptedHTTPPeer(script: [.respond(status: 503, headers: [("Retry-After", "120")])])
        let instances = try Part10Fixture.instances(4, in: directory.url)
        let stow = client(maxInstances: 2)
        let start = Date().timeIntervalSince1970
        let results = await stow.store(instances)
        await stow.shutdown()
        XCTAssertEqual(peer.requests.count, 1, "after a destination-level failure the other requests wait")
        for result in results {
            guard case .failed(.httpUnavailable, _, _) = result.outcome else { return XCTFail("\(result)") }
            let notBefore = try XCTUnwrap(result.notBefore)
            XCTAssertGreaterThanOrEqual(notBefore, start + 119)
        }
    }

    func testTooManyRequestsDefers() async throws {
        peer = try ScriptedHTTPPeer(script: [.respond(status: 429)])
        let stow = client()
        let results = await stow.store(try Part10Fixture.instances(2, in: directory.url))
        await stow.shutdown()
        XCTAssertEqual(states(results), ["deferred(http_unavailable,5)", "deferred(http_unavailable,5)"])
    }

    func testConflictIsDeferredNeverDelivered() async throws {
        peer = try ScriptedHTTPPeer(script: [.stowResult(status: 409)])
        let stow = client()
        let results = await stow.store(try Part10Fixture.instances(2, in: directory.url))
        await stow.shutdown()
        XCTAssertEqual(states(results), ["deferred(unparsable_response,5)", "deferred(unparsable_response,5)"])
    }

    func testOkWithOneFailedInstance() async throws {
        let instances = try Part10Fixture.instances(3, in: directory.url)
        peer = try ScriptedHTTPPeer(script: [
            .stowResult(failures: [instances[1].sopInstanceUID: 0xA900, instances[2].sopInstanceUID: 0xC000])
        ])
        let stow = client()
        let results = await stow.store(instances)
        await stow.shutdown()
        XCTAssertEqual(states(results), ["delivered", "dead(dataset_mismatch)", "deferred(cannot_understand,5)"])
        XCTAssertEqual(states([results[2]], attempt: 3), ["dead(cannot_understand)"])
    }

    /// A remote that answers in the Native DICOM Model (PS3.19) whatever it was asked: read per
    /// instance like DICOM JSON, for a 200 and for a 202 with a Failed SOP Sequence.
    func testXMLResponseIsJudgedPerInstance() async throws {
        let instances = try Part10Fixture.instances(4, in: directory.url)
        let uids = instances.map(\.sopInstanceUID)
        let xml = [("Content-Type", "application/dicom+xml")]
        peer = try ScriptedHTTPPeer(script: [
            .respond(status: 200, headers: xml, body: NativeDICOMFixture.stowBody(uids: Array(uids[0..<2]), warnings: [uids[1]: 0xB000])),
            .respond(
                status: 202, headers: [("Content-Type", "text/xml; charset=utf-8")],
                body: NativeDICOMFixture.stowBody(uids: Array(uids[2..<4]), failures: [uids[3]: 0xA900])),
        ])
        let stow = client(maxInstances: 2)
        let results = await stow.store(instances)
        await stow.shutdown()
        XCTAssertEqual(peer.requests.map(\.sopInstanceUIDs), [Array(uids[0..<2]), Array(uids[2..<4])])
        XCTAssertEqual(states(results), ["delivered", "delivered", "delivered", "dead(dataset_mismatch)"])
        XCTAssertEqual(results[1].outcome, .delivered(status: DIMSEStatus(0xB000)))
    }

    /// A remote that lies (200 with an HTML page, with XML that names other instances, or with
    /// a DTD-borne entity): nothing is marked delivered, every instance is deferred with backoff,
    /// and the other requests of the attempt still go (the failure is not the remote's health).
    func testUnreadableXMLResponsesDeferAndNeverDeliver() async throws {
        let instances = try Part10Fixture.instances(6, in: directory.url)
        let uids = instances.map(\.sopInstanceUID)
        let entity = "<!DOCTYPE NativeDicomModel [<!ENTITY u \"\(uids[4])\">]>"
            + NativeDICOMFixture.stowBody(uids: [uids[4], uids[5]])
                .replacingOccurrences(of: "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n", with: "")
                .replacingOccurrences(of: ">\(uids[4])<", with: ">&u;<")
        peer = try ScriptedHTTPPeer(script: [
            .respond(status: 200, headers: [("Content-Type", "text/html")], body: "<html>stored, probably</html>"),
            .respond(
                status: 200, headers: [("Content-Type", "application/dicom+xml")],
                body: NativeDICOMFixture.stowBody(uids: ["9.9.9", uids[3]])),
            .respond(status: 200, headers: [("Content-Type", "application/dicom+xml")], body: entity),
        ])
        let stow = client(maxInstances: 2)
        let results = await stow.store(instances)
        await stow.shutdown()
        XCTAssertEqual(peer.requests.count, 3)
        let deferred = "deferred(unparsable_response,5)"
        XCTAssertEqual(states(results), [deferred, deferred, deferred, "delivered", deferred, deferred])
        XCTAssertEqual(
            results[0].outcome,
            .failed(.unparsableResponse, status: nil, detail: "HTTP 200: response Content-Type \"text/html\" is neither DICOM JSON nor DICOM XML"))
        XCTAssertEqual(
            results[2].outcome, .failed(.unparsableResponse, status: nil, detail: "HTTP 200: instance missing from the response"))
        XCTAssertEqual(results[4].outcome, .failed(.unparsableResponse, status: nil, detail: "HTTP 200: response body is not DICOM XML"))
    }

    func testStallTimesOutAndDefers() async throws {
        peer = try ScriptedHTTPPeer(script: [.stall])
        let stow = client(read: 1)
        let started = Date()
        let results = await stow.store(try Part10Fixture.instances(1, in: directory.url))
        await stow.shutdown()
        XCTAssertLessThan(Date().timeIntervalSince(started), 10)
        XCTAssertEqual(states(results), ["deferred(timeout,5)"])
    }

    func testResetDefersAsConnectionFailure() async throws {
        peer = try ScriptedHTTPPeer(script: [.reset])
        let stow = client()
        let results = await stow.store(try Part10Fixture.instances(2, in: directory.url))
        await stow.shutdown()
        XCTAssertEqual(states(results), ["deferred(connection,5)", "deferred(connection,5)"])
    }

    func testPayloadTooLargeHalvesTheBatch() async throws {
        peer = try ScriptedHTTPPeer(script: [.respond(status: 413), .stowResult()])
        let stow = client()
        let results = await stow.store(try Part10Fixture.instances(4, in: directory.url))
        await stow.shutdown()
        XCTAssertEqual(states(results), Array(repeating: "delivered", count: 4))
        XCTAssertEqual(peer.requests.map(\.sopInstanceUIDs.count), [4, 2, 2])
    }

    func testRedirectIsNotFollowed() async throws {
        peer = try ScriptedHTTPPeer(script: [.respond(status: 307, headers: [("Location", "http://127.0.0.1:1/elsewhere")])])
        let stow = client()
        let results = await stow.store(try Part10Fixture.instances(1, in: directory.url))
        await stow.shutdown()
        XCTAssertEqual(peer.requests.count, 1)
        XCTAssertEqual(states(results), ["deferred(http_unavailable,5)"])
    }

    func testBearerTokenIsReadFromFileAndRotates() async throws {
        peer = try ScriptedHTTPPeer(script: [.stowResult()])
        let tokenFile = directory.file("token")
        try "first-token\n".write(to: tokenFile, atomically: true, encoding: .utf8)
        let stow = client(auth: .bearerTokenFile(tokenFile.path))
        _ = await stow.store(try Part10Fixture.instances(1, in: directory.url))
        try "second-token".write(to: tokenFile, atomically: true, encoding: .utf8)
        _ = await stow.store(try Part10Fixture.instances(1, in: directory.url))
        try FileManager.default.removeItem(at: tokenFile)
        let missing = await stow.store(try Part10Fixture.instances(1, in: directory.url))
        await stow.shutdown()
        XCTAssertEqual(peer.requests.map { $0.header("Authorization") }, ["Bearer first-token", "Bearer second-token"])
        XCTAssertEqual(states(missing), ["deferred(http_auth,5)"], "an unreadable token never dead-letters")
    }

    func testBasicAuthFromFile() async throws {
        peer = try ScriptedHTTPPeer(script: [.respond(status: 401)])
        let file = directory.file("basic")
        try "radrelay:s3cret".write(to: file, atomically: true, encoding: .utf8)
        let stow = client(auth: .basicAuthFile(file.path))
        let results = await stow.store(try Part10Fixture.instances(1, in: directory.url))
        await stow.shutdown()
        XCTAssertEqual(peer.requests.first?.header("Authorization"), "Basic cmFkcmVsYXk6czNjcmV0")
        XCTAssertEqual(states(results), ["deferred(http_auth,5)"])
    }

    func testUnreadableSpoolFileFailsAloneOthersGo() async throws {
        peer = try ScriptedHTTPPeer(script: [.stowResult()])
        var instances = try Part10Fixture.instances(3, in: directory.url)
        instances[1].path = directory.file("missing.dcm").path
        let stow = client()
        let results = await stow.store(instances)
        await stow.shutdown()
        XCTAssertEqual(states(results, attempt: 3), ["delivered", "dead(local_error)", "delivered"])
    }

    func testConnectionRefusedIsConnectionFailure() async throws {
        peer = try ScriptedHTTPPeer(script: [.stall])
        let port = peer.port
        peer.stop()
        peer = nil
        let stow = STOWClient(configuration: STOWConfiguration(baseURL: "http://127.0.0.1:\(port)/dicom-web"))
        let results = await stow.store(try Part10Fixture.instances(1, in: directory.url))
        await stow.shutdown()
        XCTAssertEqual(states(results), ["deferred(connection,5)"])
    }
}

/// The streamed body is exactly what Content-Length says, and reads one chunk at a time.
final class MultipartBodyTests: XCTestCase {
    func testLengthAndLayout() async throws {
        let directory = try TemporaryDirectory(prefix: "radrelay-multipart")
        defer { directory.remove() }
        let instances = try Part10Fixture.instances(3, in: directory.url, padding: 300_000)
        let body = try MultipartRelatedBody(paths: instances.map(\.path), chunkSize: 65536, boundary: "B")
        var bytes: [UInt8] = []
        var largest = 0
        for try await chunk in body.chunks {
            largest = max(largest, chunk.readableBytes)
            bytes += chunk.readableBytesView
        }
        XCTAssertEqual(Int64(bytes.count), body.length)
        XCTAssertLessThanOrEqual(largest, 65536 + 100, "one chunk (plus a part head) at a time")
        let text = String(decoding: bytes.prefix(60), as: UTF8.self)
        XCTAssertTrue(text.hasPrefix("--B\r\nContent-Type: application/dicom\r\n\r\n"))
        XCTAssertTrue(String(decoding: bytes.suffix(9), as: UTF8.self) == "\r\n--B--\r\n")
        let file = try Data(contentsOf: URL(fileURLWithPath: instances[0].path))
        let start = "--B\r\nContent-Type: application/dicom\r\n\r\n".utf8.count
        XCTAssertEqual(Array(bytes[start..<start + file.count]), Array(file))
        XCTAssertEqual(Base64.encode(Array("ab".utf8)), "YWI=")
    }
}
