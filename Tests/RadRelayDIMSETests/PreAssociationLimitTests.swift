import Foundation
import RadRelayTestSupport
import XCTest

#if canImport(Glibc)
    import Glibc
#endif

@testable import RadRelayDIMSE

/// What a connection may cost before its A-ASSOCIATE-RQ is complete (fault suite bug 3): the
/// request is at most 64 KiB, and past `AssociationLimiter.pendingLimit` such connections the
/// oldest is closed; established associations are neither counted nor closed.
final class PreAssociationLimitTests: XCTestCase {
    private var fixture: ListenerFixture!
    private var clients: [RawDICOMClient] = []

    override func setUp() async throws {
        // A long ACSE timeout, so only the cap closes silent connections here.
        fixture = try ListenerFixture {
            $0.acseTimeout = 30; $0.idleTimeout = 30; $0.maxAssociations = 4
        }
        try await fixture.start()
    }

    override func tearDown() async throws {
        for client in clients { client.close() }
        clients = []
        await fixture.stop()
    }

    private var limit: Int { AssociationLimiter.pendingLimit(maxAssociations: 4) }

    // MARK: - Request length

    func testTheLimitsAreWhatTheDocumentationSays() {
        XCTAssertEqual(AssociationLimiter.maxAssociateRequestPDULength, 65_536)
        XCTAssertEqual(AssociationLimiter.pendingLimit(maxAssociations: 4), 256)
        XCTAssertEqual(AssociationLimiter.pendingLimit(maxAssociations: 16), 256)
        XCTAssertEqual(AssociationLimiter.pendingLimit(maxAssociations: 100), 400)
    }

    func testARequestOfExactly64KiBIsAccepted() throws {
        let request = Self.request(totalBytes: 65_536)
        XCTAssertEqual(request.count, 65_536)
        let client = try RawDICOMClient(port: fixture.port)
        try client.send(request)
        let reply = try client.readAssociationReply()
        XCTAssertTrue(reply.isAccepted, "\(reply)")
        XCTAssertEqual(try client.echo(), 0)
        _ = try? client.release()
    }

    func testARequestOneByteLongerIsRejectedPermanently132() throws {
        let request = Self.request(totalBytes: 65_537)
        XCTAssertEqual(request.count, 65_537)
        let client = try RawDICOMClient(port: fixture.port)
        try? client.send(request)
        XCTAssertEqual(try client.readAssociationReply(), .rejected(result: 1, source: 3, reason: 2))
        XCTAssertTrue(client.waitForClose(timeout: 2))
        XCTAssertEqual(fixture.delegate.rejections, [.requestTooLong])
    }

    func testAnAbsurdLengthIsRejectedFromTheHeaderAlone() throws {
        // Nothing but the 6-byte header announcing ~4 GB: the answer comes without waiting for
        // (or buffering) the body.
        let client = try RawDICOMClient(port: fixture.port)
        try client.send([0x01, 0, 0xFF, 0xFF, 0xFF, 0xF0])
        let start = monotonicSeconds()
        XCTAssertEqual(try client.readAssociationReply(), .rejected(result: 1, source: 3, reason: 2))
        XCTAssertLessThan(monotonicSeconds() - start, 1)
        XCTAssertTrue(client.waitForClose(timeout: 2))
        // The listener goes on.
        let next = try RawDICOMClient(port: fixture.port)
        XCTAssertTrue(try next.requestAssociation(calledAE: "RADRELAY", callingAE: "STORESCU").isAccepted)
        _ = try? next.release()
    }

    func testAnOverlongRequestOnAnEstablishedAssociationIsAborted() throws {
        let client = try RawDICOMClient(port: fixture.port)
        XCTAssertTrue(try client.requestAssociation(calledAE: "RADRELAY", callingAE: "STORESCU").isAccepted)
        try client.send([0x01, 0, 0x00, 0x10, 0x00, 0x00])
        XCTAssertEqual(try client.readPDU(timeout: 2)?.type, 0x07)
    }

    // MARK: - Connections awaiting their request

    func testBeyondTheLimitTheOldestSilentConnectionIsClosed() throws {
        clients = try (0..<limit).map { _ in try RawDICOMClient(port: fixture.port) }
        try pollUntil(
            "\(limit) connections registered", timeout: 10, detail: "\(fixture.scp.connectionsAwaitingAssociation)"
        ) {
            self.fixture.scp.connectionsAwaitingAssociation == self.limit
        }
        Thread.sleep(forTimeInterval: 0.2)
        XCTAssertEqual(closed(clients), [], "closed below the limit")
        let extra = try RawDICOMClient(port: fixture.port)
        clients.append(extra)
        Thread.sleep(forTimeInterval: 0.3)
        // "Oldest" is by registration on two event loops: one of the first few to connect.
        let first = closed(clients)
        XCTAssertEqual(first.count, 1, "closed: \(first)")
        XCTAssertLessThan(first.first ?? .max, 8, "not one of the oldest: \(first)")
        XCTAssertEqual(fixture.scp.connectionsAwaitingAssociation, limit)
        // A real peer still gets through at once (pushing out the next oldest).
        let start = monotonicSeconds()
        let peer = try RawDICOMClient(port: fixture.port)
        XCTAssertTrue(try peer.requestAssociation(calledAE: "RADRELAY", callingAE: "STORESCU").isAccepted)
        XCTAssertEqual(try peer.echo(), 0)
        XCTAssertLessThan(monotonicSeconds() - start, 1)
        _ = try? peer.release()
        Thread.sleep(forTimeInterval: 0.3)
        let second = closed(clients)
        XCTAssertEqual(second.count, 1, "closed: \(second)")
        XCTAssertLessThan(second.first ?? .max, 8)
        XCTAssertFalse(second.contains(limit), "the newest was closed")
    }

    func testHalfSentRequestsAreCountedAndTheServiceContinues() throws {
        // Each announces a request within the limit and sends most of it, then nothing: the
        // worst case the memory bound is written for (limit × 64 KiB).
        let excess = 44
        let partial: [UInt8] = [0x01, 0, 0x00, 0x00, 0xFF, 0xFA] + [UInt8](repeating: 0x20, count: 60_000)
        for _ in 0..<(limit + excess) {
            let client = try RawDICOMClient(port: fixture.port)
            try client.send(partial)
            clients.append(client)
        }
        try pollUntil(
            "at most \(limit) half-sent requests kept", timeout: 10,
            detail: "\(fixture.scp.connectionsAwaitingAssociation)"
        ) {
            self.fixture.scp.connectionsAwaitingAssociation == self.limit
        }
        Thread.sleep(forTimeInterval: 0.3)
        let gone = closed(clients)
        XCTAssertEqual(gone.count, excess, "closed: \(gone)")
        XCTAssertLessThan(gone.max() ?? 0, 2 * excess, "closed connections should be among the oldest: \(gone)")
        let peer = try RawDICOMClient(port: fixture.port)
        XCTAssertTrue(try peer.requestAssociation(calledAE: "RADRELAY", callingAE: "STORESCU").isAccepted)
        _ = try? peer.release()
    }

    func testEstablishedAssociationsAreNeitherCountedNorClosed() throws {
        var held: [RawDICOMClient] = []
        for _ in 0..<2 {
            let client = try RawDICOMClient(port: fixture.port)
            XCTAssertTrue(try client.requestAssociation(calledAE: "RADRELAY", callingAE: "STORESCU").isAccepted)
            held.append(client)
        }
        try pollUntil("no connection pending", timeout: 5) { self.fixture.scp.connectionsAwaitingAssociation == 0 }
        clients = try (0..<(limit + 50)).map { _ in try RawDICOMClient(port: fixture.port) }
        try pollUntil("pending capped", timeout: 10, detail: "\(fixture.scp.connectionsAwaitingAssociation)") {
            self.fixture.scp.connectionsAwaitingAssociation == self.limit
        }
        for client in held {
            XCTAssertEqual(try client.echo(), 0)
            XCTAssertTrue(try client.release())
        }
    }

    func testClosedAndAssociatedConnectionsLeaveTheCount() throws {
        clients = try (0..<20).map { _ in try RawDICOMClient(port: fixture.port) }
        try pollUntil("20 pending", timeout: 5) { self.fixture.scp.connectionsAwaitingAssociation == 20 }
        for client in clients.prefix(10) { client.close() }
        XCTAssertTrue(try clients[10].requestAssociation(calledAE: "RADRELAY", callingAE: "STORESCU").isAccepted)
        try pollUntil("9 pending", timeout: 5, detail: "\(fixture.scp.connectionsAwaitingAssociation)") {
            self.fixture.scp.connectionsAwaitingAssociation == 9
        }
        // A rejected request leaves the count too.
        XCTAssertEqual(
            try clients[11].requestAssociation(calledAE: "RADRELAY", callingAE: "INTRUDER"),
            .rejected(result: 1, source: 1, reason: 3))
        try pollUntil("8 pending", timeout: 5) { self.fixture.scp.connectionsAwaitingAssociation == 8 }
    }

    // MARK: - Helpers

    /// Indices of the clients whose connection the listener has closed (EOF or reset), checked
    /// all at once without waiting; each is reported once.
    private var reported: Set<Int> = []
    private func closed(_ clients: [RawDICOMClient]) -> [Int] {
        var fds = clients.map { pollfd(fd: $0.fd, events: Int16(POLLIN), revents: 0) }
        _ = poll(&fds, nfds_t(fds.count), 0)
        var found: [Int] = []
        for (index, entry) in fds.enumerated() where !reported.contains(index) && entry.revents != 0 {
            var byte: UInt8 = 0
            let n = recv(entry.fd, &byte, 1, Int32(MSG_PEEK | MSG_DONTWAIT))
            if n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
                reported.insert(index)
                found.append(index)
            }
        }
        return found
    }

    /// An A-ASSOCIATE-RQ (STORESCU → RADRELAY) of exactly `totalBytes`, header included: 128 CT
    /// contexts (the most an association may have) whose transfer syntax lists grow until the
    /// size is reached.
    static func request(totalBytes: Int) -> [UInt8] {
        let ct = RawDICOMClient.ctImageStorage
        var lists = [[String]](repeating: [RawDICOMClient.explicitVRLittleEndian], count: 128)
        func build() -> [UInt8] {
            RawDICOMClient.associateRQ(
                calledAE: "RADRELAY", callingAE: "STORESCU",
                contexts: lists.enumerated().map {
                    .init(id: UInt8(2 * $0.offset + 1), abstractSyntax: ct, transferSyntaxes: $0.element)
                })
        }
        let filler = "1.2.840.10008.1.2.4.80"  // a 26-byte sub-item
        var size = build().count
        var next = 0
        while totalBytes - size >= 26 + 4 {
            lists[next % 128].append(filler)
            size += 26
            next += 1
        }
        var rest = totalBytes - size
        if rest > 0 && rest < 4 {
            lists[(next - 1) % 128].removeLast()
            rest += 26
        }
        // The last sub-item takes the remaining bytes (an unknown syntax the listener ignores).
        if rest >= 4 { lists[127].append(String(repeating: "9", count: rest - 4)) }
        return build()
    }
}
