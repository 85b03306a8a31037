import Foundation
import RadRelayTestSupport
import XCTest

/// `docs/conformance-statement.md` against the running daemon: every SOP class and transfer
/// syntax its tables list is accepted, and a transfer syntax or non-storage SOP class it does
/// not list is rejected.
final class ConformanceStatementTests: OperationsTestCase {
    func testPresentationContextTablesMatchTheDaemon() throws {
        let text = try String(
            contentsOf: ProcessRunner.repositoryRoot.appendingPathComponent("docs/conformance-statement.md"),
            encoding: .utf8)
        let sopClasses = uids(in: text, between: "<!-- sop-classes:begin -->", and: "<!-- sop-classes:end -->")
        let syntaxes = uids(in: text, between: "<!-- transfer-syntaxes:begin -->", and: "<!-- transfer-syntaxes:end -->")
        XCTAssertGreaterThan(sopClasses.count, 100)
        XCTAssertGreaterThan(syntaxes.count, 10)
        for heading in ["## 1. Overview", "## 4. Networking", "## 6. Support of extended character sets", "## 7. Security"] {
            XCTAssertTrue(text.contains(heading), "missing PS3.2 section \(heading)")
        }

        let daemon = try makeDaemon(makeConfig(remotePort: freeLoopbackPort()))
        let port = try daemon.port()
        let ct = RawDICOMClient.ctImageStorage

        // Each listed transfer syntax, alone, is accepted as itself.
        var contexts: [RawDICOMClient.PresentationContext] = []
        for (index, syntax) in syntaxes.enumerated() {
            contexts.append(.init(id: UInt8(2 * index + 1), abstractSyntax: ct, transferSyntaxes: [syntax]))
        }
        let bigEndian = "1.2.840.10008.1.2.2"
        contexts.append(.init(id: UInt8(2 * syntaxes.count + 1), abstractSyntax: ct, transferSyntaxes: [bigEndian]))
        let results = try negotiate(port, contexts)
        for (index, syntax) in syntaxes.enumerated() {
            let result = results.first { $0.id == UInt8(2 * index + 1) }
            XCTAssertEqual(result?.result, 0, "transfer syntax \(syntax) listed but not accepted")
            XCTAssertEqual(result?.transferSyntax, syntax)
        }
        XCTAssertEqual(results.last?.result, 4, "unlisted Explicit VR Big Endian was accepted")

        // Every listed storage SOP class is accepted (in batches: at most 128 contexts per association).
        for batch in stride(from: 0, to: sopClasses.count, by: 100).map({ Array(sopClasses[$0..<min($0 + 100, sopClasses.count)]) }) {
            let proposals = batch.enumerated().map {
                RawDICOMClient.PresentationContext(
                    id: UInt8(2 * $0.offset + 1), abstractSyntax: $0.element,
                    transferSyntaxes: [RawDICOMClient.explicitVRLittleEndian])
            }
            let accepted = try negotiate(port, proposals)
            for (index, uid) in batch.enumerated() {
                XCTAssertEqual(accepted.first { $0.id == UInt8(2 * index + 1) }?.result, 0, "SOP class \(uid) not accepted")
            }
        }

        // Not a storage SOP class (Modality Worklist FIND): rejected; a private class: accepted.
        let others = try negotiate(port, [
            .init(id: 1, abstractSyntax: "1.2.840.10008.5.1.4.31", transferSyntaxes: [RawDICOMClient.explicitVRLittleEndian]),
            .init(id: 3, abstractSyntax: "1.3.6.1.4.1.99999.1.1", transferSyntaxes: [RawDICOMClient.explicitVRLittleEndian]),
            .init(id: 5, abstractSyntax: RawDICOMClient.verificationSOPClass, transferSyntaxes: [RawDICOMClient.implicitVRLittleEndian]),
        ])
        XCTAssertEqual(others.first { $0.id == 1 }?.result, 3)
        XCTAssertEqual(others.first { $0.id == 3 }?.result, 0)
        XCTAssertEqual(others.first { $0.id == 5 }?.result, 0)
    }

    private func negotiate(
        _ port: Int, _ contexts: [RawDICOMClient.PresentationContext]
    ) throws -> [RawDICOMClient.PresentationContextResult] {
        let client = try RawDICOMClient(port: port)
        defer { client.close() }
        let reply = try client.requestAssociation(calledAE: "RADRELAY", callingAE: "STORESCU", contexts: contexts)
        guard case .accepted(let results, _) = reply else { throw HarnessError("association not accepted: \(reply)") }
        _ = try? client.release()
        return results
    }

    private func uids(in text: String, between start: String, and end: String) -> [String] {
        guard let from = text.range(of: start), let to = text.range(of: end, range: from.upperBound..<text.endIndex) else {
            return []
        }
        return text[from.upperBound..<to.lowerBound].split(separator: "\n").compactMap { line -> String? in
            let parts = line.split(separator: "`")
            return parts.count >= 2 && parts[1].first?.isNumber == true ? String(parts[1]) : nil
        }
    }
}
