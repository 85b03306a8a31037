import Foundation
import RadRelayCore
@testable import RadRelayDICOMweb
import RadRelayTestSupport
import XCTest

/// STOW-RS responses in the Native DICOM Model (PS3.19 Annex A, `application/dicom+xml`): the
/// same per-instance model as DICOM JSON, the Content-Type dispatch, and refusal of malformed or
/// hostile documents (which must never turn into a delivery).
final class STOWResponseXMLTests: XCTestCase {
    let sent = ["1.1", "1.2", "1.3"].map {
        STOWInstance(path: "/x", sopInstanceUID: $0, sopClassUID: "1.2", studyInstanceUID: "9", byteSize: 10)
    }
    let now: EpochSeconds = 1_000_000

    private func judge(_ status: Int, _ body: String, contentType: String? = "application/dicom+xml")
        -> [STOWInstanceResult]
    {
        switch STOWJudgement.judge(
            status: status, retryAfter: nil, body: Array(body.utf8), contentType: contentType, sent: sent, now: now)
        {
        case .perInstance(let results): return results
        case .halveBatch: XCTFail("unexpected halving"); return []
        }
    }

    private func failure(_ result: STOWInstanceResult) -> FailureClass? {
        if case .failed(let failure, _, _) = result.outcome { return failure }
        return nil
    }

    private func detail(_ result: STOWInstanceResult) -> String? {
        if case .failed(_, _, let detail) = result.outcome { return detail }
        return nil
    }

    private func xml(_ text: String) -> STOWResponse? { STOWResponse.parse(xml: Array(text.utf8)) }

    // MARK: - Success, warnings, failures

    /// Orthanc 1.10.1 with DICOMweb 1.7, asked for `application/dicom+xml`: its answer verbatim
    /// (UIDs shortened), including the empty `<Value number="1" />` it writes after the items.
    func testOrthancAnswerParses() throws {
        let body = """
            <?xml version="1.0" encoding="utf-8"?>
            <NativeDicomModel xmlns="http://dicom.nema.org/PS3.19/models/NativeDICOM" \
            xsi:schemaLocation="http://dicom.nema.org/PS3.19/models/NativeDICOM" \
            xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
              <DicomAttribute tag="00080005" vr="CS" keyword="SpecificCharacterSet">
                <Value number="1">ISO_IR 100</Value>
              </DicomAttribute>
              <DicomAttribute tag="00081190" vr="UR" keyword="RetrieveURL">
                <Value number="1">http://127.0.0.1:38431/dicom-web/studies/9</Value>
              </DicomAttribute>
              <DicomAttribute tag="00081198" vr="SQ" keyword="FailedSOPSequence" />
              <DicomAttribute tag="00081199" vr="SQ" keyword="ReferencedSOPSequence">
                <Item number="1">
                  <DicomAttribute tag="00081150" vr="UI" keyword="ReferencedSOPClassUID">
                    <Value number="1">1.2.840.10008.5.1.4.1.1.2</Value>
                  </DicomAttribute>
                  <DicomAttribute tag="00081155" vr="UI" keyword="ReferencedSOPInstanceUID">
                    <Value number="1">1.1</Value>
                  </DicomAttribute>
                  <DicomAttribute tag="00081190" vr="UR" keyword="RetrieveURL">
                    <Value number="1">http://127.0.0.1:38431/dicom-web/studies/9/series/8/instances/1.1</Value>
                  </DicomAttribute>
                </Item>
                <Value number="1" />
              </DicomAttribute>
            </NativeDicomModel>
            """
        XCTAssertEqual(xml(body), STOWResponse(referenced: ["1.1": nil]))
        XCTAssertEqual(judge(200, body).map(failure), [nil, .unparsableResponse, .unparsableResponse])
    }

    func testAllStoredIsDeliveredWithWarningsRecorded() {
        let body = NativeDICOMFixture.stowBody(uids: ["1.1", "1.2", "1.3"], warnings: ["1.2": 0xB000])
        XCTAssertEqual(
            judge(200, body).map(\.outcome),
            [
                .delivered(status: .success), .delivered(status: DIMSEStatus(0xB000)), .delivered(status: .success),
            ])
    }

    /// 202 with a Failed SOP Sequence: each failure reason classifies exactly as in DICOM JSON.
    func testPartialFailureClassifiesByFailureReason() {
        let body = NativeDICOMFixture.stowBody(uids: ["1.1", "1.2", "1.3"], failures: ["1.2": 0xA900, "1.3": 0xC000])
        let results = judge(202, body)
        XCTAssertEqual(results.map(failure), [nil, .dataSetMismatch, .cannotUnderstand])
        XCTAssertEqual(
            results[1].outcome,
            .failed(.dataSetMismatch, status: DIMSEStatus(0xA900), detail: "HTTP 202: failure reason 0xA900"))
        let policy = RetryPolicy()
        guard case .dead = policy.disposition(for: results[1].outcome, attempt: 1, now: now, unitRandom: 0),
            case .deferred = policy.disposition(for: results[2].outcome, attempt: 1, now: now, unitRandom: 0)
        else { return XCTFail("0xA9xx is dead at once, 0xCxxx retried") }
    }

    /// XML and JSON of the same response give the same model, for every kind of entry: stored,
    /// stored with a warning, failed with and without a reason, absent.
    func testSameModelAsJSON() {
        func uid(_ value: String) -> String { "\"00081155\":{\"vr\":\"UI\",\"Value\":[\"\(value)\"]}" }
        let jsonBody =
            "{\"00081199\":{\"vr\":\"SQ\",\"Value\":[{\(uid("1.1"))},"
            + "{\(uid("1.2")),\"00081196\":{\"vr\":\"US\",\"Value\":[45063]}}]},"
            + "\"00081198\":{\"vr\":\"SQ\",\"Value\":[{\(uid("1.3")),\"00081197\":{\"vr\":\"US\",\"Value\":[49442]}},"
            + "{\(uid("1.4"))}]}}"
        let json = STOWResponse.parse(json: Array(jsonBody.utf8))
        let xmlBody = NativeDICOMFixture.stowBody(
            uids: ["1.1", "1.2", "1.3"], failures: ["1.3": 0xC122], warnings: ["1.2": 0xB007],
            failedWithoutReason: ["1.4"])
        XCTAssertNotNil(json)
        XCTAssertEqual(xml(xmlBody), json)
        XCTAssertEqual(
            json, STOWResponse(referenced: ["1.1": nil, "1.2": 0xB007], failed: ["1.3": 0xC122, "1.4": nil]))
        let results = judge(200, xmlBody, contentType: "text/xml; charset=utf-8")
        XCTAssertEqual(results.map(failure), [nil, nil, .transferSyntaxNotSupported])
    }

    /// A 409 stores nothing: an XML response listing an instance as stored does not deliver it.
    func testConflictIsNeverDelivered() {
        let body = NativeDICOMFixture.stowBody(uids: ["1.1", "1.2", "1.3"], failures: ["1.2": 0xC000])
        XCTAssertEqual(judge(409, body).map(failure), [.unparsableResponse, .cannotUnderstand, .unparsableResponse])
    }

    // MARK: - Content-Type dispatch

    func testContentTypeDispatch() {
        let body: [UInt8] = Array("x".utf8)
        for type in [
            "application/dicom+xml", "application/xml", "text/xml", "Application/DICOM+XML; charset=utf-8",
            " text/xml ;charset=\"UTF-8\"",
        ] {
            XCTAssertEqual(STOWResponse.format(contentType: type, body: body), .xml, type)
        }
        for type in ["application/dicom+json", "application/json", "application/dicom+json; charset=utf-8"] {
            XCTAssertEqual(STOWResponse.format(contentType: type, body: body), .json, type)
        }
        for type in [
            "text/html", "text/plain", "application/octet-stream", "multipart/related", "xml", "json", "/json",
        ] {
            XCTAssertNil(STOWResponse.format(contentType: type, body: body), type)
        }
        // No Content-Type: the body decides.
        XCTAssertEqual(STOWResponse.format(contentType: nil, body: Array("\u{FEFF} \r\n<?xml?>".utf8)), .xml)
        XCTAssertEqual(STOWResponse.format(contentType: nil, body: Array("{}".utf8)), .json)
        XCTAssertEqual(STOWResponse.format(contentType: "", body: Array("<x/>".utf8)), .xml)

        let xmlBody = NativeDICOMFixture.stowBody(uids: ["1.1", "1.2", "1.3"])
        XCTAssertEqual(judge(200, xmlBody, contentType: nil).map(failure), [nil, nil, nil])
        XCTAssertEqual(judge(200, xmlBody, contentType: "application/xml").map(failure), [nil, nil, nil])
        // Each body is read only as what its Content-Type says.
        let jsonBody = ScriptedHTTPPeer.stowBody(uids: ["1.1", "1.2", "1.3"], failures: [:])
        let asJSON = judge(200, xmlBody, contentType: "application/dicom+json")
        XCTAssertEqual(asJSON.map(failure), Array(repeating: .unparsableResponse, count: 3))
        XCTAssertEqual(detail(asJSON[0]), "HTTP 200: response body is not DICOM JSON")
        let asXML = judge(200, jsonBody, contentType: "application/dicom+xml")
        XCTAssertEqual(asXML.map(failure), Array(repeating: .unparsableResponse, count: 3))
        XCTAssertEqual(detail(asXML[0]), "HTTP 200: response body is not DICOM XML")
        // Anything else is not read at all, whatever it holds.
        let other = judge(200, jsonBody, contentType: "text/plain\u{1B}[31m")
        XCTAssertEqual(other.map(failure), Array(repeating: .unparsableResponse, count: 3))
        XCTAssertEqual(
            detail(other[0]), "HTTP 200: response Content-Type \"text/plain?[31m\" is neither DICOM JSON nor DICOM XML")
        XCTAssertEqual(detail(judge(200, "", contentType: "application/dicom+xml")[0]), "HTTP 200: no response body")
    }

    // MARK: - Malformed documents

    /// Whatever is wrong with the document, nothing is delivered: every instance is deferred as
    /// `unparsableResponse` (destination-level: backoff, circuit breaker, never dead-lettered).
    func testMalformedXMLDefersEveryInstance() {
        let good = NativeDICOMFixture.stowBody(uids: ["1.1", "1.2", "1.3"])
        let item = NativeDICOMFixture.item(uid: "1.1")
        let cases: [(String, String)] = [
            ("truncated", String(good.prefix(good.count - 30))),
            ("mismatched end tag", good.replacingOccurrences(of: "</Item>", with: "</Itme>")),
            ("trailing garbage", good + "<NativeDicomModel/>"),
            ("two roots", "<NativeDicomModel/><NativeDicomModel/>"),
            ("not XML", "{\"00081199\":{}}"),
            ("HTML", "<html><body>Internal error</body></html>"),
            ("undefined entity", good.replacingOccurrences(of: ">1.1<", with: ">&uid;<")),
            (
                "values in a sequence",
                NativeDICOMFixture.document(
                    NativeDICOMFixture.attribute("00081199", "SQ", "<Value number=\"1\">1.1</Value>"))
            ),
            (
                "item without a UID",
                NativeDICOMFixture.document(
                    NativeDICOMFixture.attribute("00081199", "SQ", "<Item number=\"1\"></Item>"))
            ),
            ("empty UID", good.replacingOccurrences(of: ">1.1<", with: "> \u{0000} <")),
            (
                "tag repeated",
                NativeDICOMFixture.document(
                    NativeDICOMFixture.attribute("00081199", "SQ", item)
                        + NativeDICOMFixture.attribute("00081199", "SQ", item))
            ),
            ("tag malformed", good.replacingOccurrences(of: "tag=\"00081199\"", with: "tag=\"0008,1199\"")),
            ("tag missing", good.replacingOccurrences(of: "tag=\"00081199\"", with: "")),
            ("wrong root", good.replacingOccurrences(of: "NativeDicomModel", with: "NativeDICOMModel")),
            (
                "relative namespace (a libxml2 warning)",
                good.replacingOccurrences(of: NativeDICOMModel.namespace, with: "native")
            ),
        ]
        for (name, body) in cases {
            XCTAssertNil(xml(body), name)
            let results = judge(200, body)
            XCTAssertEqual(results.map(failure), Array(repeating: .unparsableResponse, count: 3), name)
            XCTAssertEqual(detail(results[0]), "HTTP 200: response body is not DICOM XML", name)
        }
        var latin1 = Array(good.replacingOccurrences(of: ">1.1<", with: ">1.1~<").utf8)
        latin1[latin1.firstIndex(of: UInt8(ascii: "~"))!] = 0xE9  // é in ISO 8859-1: not UTF-8
        XCTAssertNil(STOWResponse.parse(xml: latin1))
        XCTAssertNil(xml(""))
        // Empty sequences and no sequences at all are a well-formed (empty) response.
        XCTAssertEqual(xml(NativeDICOMFixture.document("")), STOWResponse())
        XCTAssertEqual(
            xml(NativeDICOMFixture.document(NativeDICOMFixture.attribute("00081199", "SQ", ""))), STOWResponse())
    }

    // MARK: - Namespaces, DOCTYPE, entities

    func testNamespacesPrefixesAndForeignElements() {
        let item = NativeDICOMFixture.item(uid: "1.1")
        let plain = "<NativeDicomModel>" + NativeDICOMFixture.attribute("00081199", "SQ", item) + "</NativeDicomModel>"
        XCTAssertEqual(xml(plain), STOWResponse(referenced: ["1.1": nil]))
        let prefixed = """
            <dcm:NativeDicomModel xmlns:dcm="\(NativeDICOMModel.namespace)">\
            <dcm:DicomAttribute tag="00081199" vr="SQ"><dcm:Item number="1">\
            <dcm:DicomAttribute tag="00081155" vr="UI"><dcm:Value number="1">1.1</dcm:Value></dcm:DicomAttribute>\
            </dcm:Item></dcm:DicomAttribute></dcm:NativeDicomModel>
            """
        XCTAssertEqual(xml(prefixed), STOWResponse(referenced: ["1.1": nil]))
        // An element of another namespace is not part of the data set, even if it looks like one.
        let foreign = NativeDICOMFixture.document(
            NativeDICOMFixture.attribute("00081199", "SQ", item)
                + "<x:DicomAttribute xmlns:x=\"urn:example:vendor\" tag=\"00081198\" vr=\"SQ\">"
                + "<x:Item><x:DicomAttribute tag=\"00081155\"><x:Value>1.1</x:Value></x:DicomAttribute></x:Item>"
                + "</x:DicomAttribute>"
                + "<x:Note xmlns:x=\"urn:example:vendor\"><Item/></x:Note>")
        XCTAssertEqual(xml(foreign), STOWResponse(referenced: ["1.1": nil]))
        // Values in CDATA, a lower-case tag, values numbered out of order, padding, a comment.
        let odd = NativeDICOMFixture.document(
            "<!-- stored -->"
                + NativeDICOMFixture.attribute(
                    "00081199", "SQ",
                    "<Item number=\"1\"><DicomAttribute tag=\"00081155\" vr=\"UI\"><Value number=\"2\">9.9</Value>"
                        + "<Value number=\"1\"><![CDATA[1.1]]></Value></DicomAttribute>"
                        + "<DicomAttribute tag=\"0008119a\" vr=\"US\"><Value number=\"1\">1</Value></DicomAttribute>"
                        + "<DicomAttribute tag=\"00081196\" vr=\"US\"><Value number=\"1\"> 45056 </Value></DicomAttribute></Item>"
                ))
        XCTAssertEqual(xml(odd), STOWResponse(referenced: ["1.1": 0xB000]))
    }

    func testDoctypeAllowedButEntitiesRefused() throws {
        let directory = try TemporaryDirectory(prefix: "radrelay-xml")
        defer { directory.remove() }
        let good = NativeDICOMFixture.stowBody(uids: ["1.1"])
        let body = good.replacingOccurrences(of: "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n", with: "")
        // A bare DOCTYPE is harmless.
        XCTAssertEqual(xml("<!DOCTYPE NativeDicomModel>" + body), STOWResponse(referenced: ["1.1": nil]))

        // External entity (XXE): the file's content must not become a UID, the document is refused.
        let secret = directory.file("secret.txt")
        try "1.2".write(to: secret, atomically: true, encoding: .utf8)
        let xxe =
            "<?xml version=\"1.0\"?><!DOCTYPE NativeDicomModel [<!ENTITY uid SYSTEM \"\(secret.absoluteString)\">]>"
            + body.replacingOccurrences(of: ">1.1<", with: ">&uid;<")
        XCTAssertNil(xml(xxe))
        XCTAssertEqual(judge(200, xxe).map(failure), Array(repeating: .unparsableResponse, count: 3))

        // Internal entities are refused too.
        let internalEntity =
            "<!DOCTYPE NativeDicomModel [<!ENTITY uid \"1.1\">]>"
            + body.replacingOccurrences(of: ">1.1<", with: ">&uid;<")
        XCTAssertNil(xml(internalEntity))
        // Any entity declaration refuses the document, even one that is never used.
        XCTAssertNil(xml("<!DOCTYPE NativeDicomModel [<!ENTITY unused \"x\">]>" + body))

        // An entity expansion bomb is refused at once.
        var bomb = "<!DOCTYPE NativeDicomModel [<!ENTITY e0 \"1.1.1.1.1.1.1.1.1.1\">"
        for level in 1...9 { bomb += "<!ENTITY e\(level) \"" + String(repeating: "&e\(level - 1);", count: 10) + "\">" }
        bomb += "]>" + body.replacingOccurrences(of: ">1.1<", with: ">&e9;<")
        let started = Date()
        XCTAssertNil(xml(bomb))
        XCTAssertLessThan(Date().timeIntervalSince(started), 1)

        // An external DTD is never loaded: the entity it declares stays undefined.
        let dtd = directory.file("stow.dtd")
        try "<!ENTITY uid \"1.1\">".write(to: dtd, atomically: true, encoding: .utf8)
        let external =
            "<?xml version=\"1.0\"?><!DOCTYPE NativeDicomModel SYSTEM \"\(dtd.absoluteString)\">"
            + body.replacingOccurrences(of: ">1.1<", with: ">&uid;<")
        XCTAssertNil(xml(external))
        XCTAssertEqual(
            xml("<!DOCTYPE NativeDicomModel SYSTEM \"\(dtd.absoluteString)\">" + body),
            STOWResponse(referenced: ["1.1": nil]))
    }
}

/// Native DICOM Model (PS3.19 Annex A) STOW-RS response documents for tests.
enum NativeDICOMFixture {
    static func attribute(_ tag: String, _ vr: String, _ content: String) -> String {
        "<DicomAttribute tag=\"\(tag)\" vr=\"\(vr)\">\(content)</DicomAttribute>"
    }

    static func value(_ text: String) -> String { "<Value number=\"1\">\(text)</Value>" }

    /// A Referenced/Failed SOP Sequence item for `uid`, with `reason` as (0008,1196) or (0008,1197).
    static func item(uid: String, reasonTag: String? = nil, reason: UInt16? = nil, number: Int = 1) -> String {
        var content = attribute("00081150", "UI", value("1.2.840.10008.5.1.4.1.1.2"))
        content += attribute("00081155", "UI", value(uid))
        if let reasonTag, let reason { content += attribute(reasonTag, "US", value("\(reason)")) }
        return "<Item number=\"\(number)\">\(content)</Item>"
    }

    static func document(_ content: String) -> String {
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<NativeDicomModel xmlns=\"\(NativeDICOMModel.namespace)\">"
            + content + "</NativeDicomModel>"
    }

    /// Every UID in `uids` stored (with its warning) except those in `failures`; each of
    /// `failedWithoutReason` failed without a Failure Reason.
    static func stowBody(
        uids: [String],
        failures: [String: UInt16] = [:],
        warnings: [String: UInt16] = [:],
        failedWithoutReason: [String] = []
    ) -> String {
        let stored = uids.filter { failures[$0] == nil }.enumerated().map { index, uid in
            item(uid: uid, reasonTag: "00081196", reason: warnings[uid], number: index + 1)
        }
        let failed =
            uids.compactMap { uid in failures[uid].map { (uid, $0) } }.enumerated().map { index, entry in
                item(uid: entry.0, reasonTag: "00081197", reason: entry.1, number: index + 1)
            } + failedWithoutReason.map { item(uid: $0) }
        var content = ""
        if !stored.isEmpty { content += attribute("00081199", "SQ", stored.joined()) }
        if !failed.isEmpty { content += attribute("00081198", "SQ", failed.joined()) }
        return document(content)
    }
}
