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

    /// Every configuration key the statement names in backticks (`gateway.max_pdu_length`,
    /// `destinations[].timeouts.idle`, `sources:`) exists in the shipped `etc/radrelay.yaml`,
    /// which documents every key: its first component is a top-level section there, and each
    /// further component is a key (set or commented out) inside that section. Cheap, and it
    /// keeps a renamed key from living on in the statement.
    func testEveryConfigurationKeyNamedExistsInTheShippedFile() throws {
        let root = ProcessRunner.repositoryRoot
        let text = try String(contentsOf: root.appendingPathComponent("docs/conformance-statement.md"), encoding: .utf8)
        let yaml = try String(contentsOf: root.appendingPathComponent("etc/radrelay.yaml"), encoding: .utf8)
        let sections = Self.topLevelSections(yaml)
        XCTAssertTrue(sections.keys.contains("gateway") && sections.keys.contains("destinations"), "\(sections.keys)")

        let keys = Self.configurationKeys(in: text)
        XCTAssertGreaterThan(keys.count, 20, "the statement names hardly any keys: \(keys)")
        for key in keys {
            let components = key.split(separator: ".").map { String($0.replacingOccurrences(of: "[]", with: "")) }
            guard let section = sections[components[0]] else {
                XCTFail("`\(key)`: no top-level section '\(components[0])' in etc/radrelay.yaml")
                continue
            }
            for component in components.dropFirst() where !Self.mentions(section, key: component) {
                XCTFail("`\(key)`: no key '\(component)' in the '\(components[0])' section of etc/radrelay.yaml")
            }
        }
    }

    /// Backticked spans that look like configuration keys: lower-case words joined by dots, with
    /// optional `[]` list markers or a trailing colon; not file names.
    static func configurationKeys(in text: String) -> [String] {
        let spans = text.split(separator: "`", omittingEmptySubsequences: false).enumerated()
            .filter { $0.offset % 2 == 1 }.map { String($0.element) }
        let shape = #/^[a-z][a-z0-9_]*(\[\])?(\.[a-z][a-z0-9_]*(\[\])?)*:?$/#
        var keys: [String] = []
        for span in spans where span.wholeMatch(of: shape) != nil {
            let keyLike = span.contains(".") || span.contains("_") || span.contains("[]") || span.hasSuffix(":")
            guard keyLike else { continue }
            if [".yaml", ".md", ".swift", ".sock", ".pem", ".service"].contains(where: span.hasSuffix) { continue }
            let key = span.hasSuffix(":") ? String(span.dropLast()) : span
            if !keys.contains(key) { keys.append(key) }
        }
        return keys
    }

    /// Each top-level section of the YAML (set, or commented out as `# name:`) with its text: up
    /// to the next top-level section.
    static func topLevelSections(_ yaml: String) -> [String: String] {
        let top = #/^(?:# )?([a-z][a-z0-9_]*):/#
        var sections: [String: String] = [:]
        var current: String?
        var lines: [Substring] = []
        func flush() {
            if let current { sections[current, default: ""] += lines.joined(separator: "\n") + "\n" }
            lines = []
        }
        for line in yaml.split(separator: "\n", omittingEmptySubsequences: false) {
            if let match = line.prefixMatch(of: top), String(match.output.1) != current {
                flush()
                current = String(match.output.1)
            }
            lines.append(line)
        }
        flush()
        return sections
    }

    /// Whether `key:` appears as a key in `section` (block or flow style, set or commented out).
    static func mentions(_ section: String, key: String) -> Bool {
        section.split(separator: "\n").contains { line in
            guard let range = line.range(of: key + ":") else { return false }
            let before = line[line.startIndex..<range.lowerBound].last
            return before == nil || " #{,-".contains(before!)
        }
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
