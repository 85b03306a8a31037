import Foundation
import RadRelayCore

/// The per-instance content of a STOW-RS response body (PS3.18 §10.5.3, Table 10.5.3-1) in the
/// DICOM JSON model (PS3.18 F.2) or the Native DICOM Model in XML (PS3.19 Annex A,
/// `STOWResponseXML.swift`): Referenced SOP Sequence (0008,1199) with optional Warning Reason
/// (0008,1196), Failed SOP Sequence (0008,1198) with Failure Reason (0008,1197), each item naming
/// its Referenced SOP Instance UID (0008,1155).
public struct STOWResponse: Sendable, Equatable {
    /// Stored instances → Warning Reason (nil when none).
    public var referenced: [String: UInt16?]
    /// Failed instances → Failure Reason (nil when the item carries none).
    public var failed: [String: UInt16?]

    public init(referenced: [String: UInt16?] = [:], failed: [String: UInt16?] = [:]) {
        self.referenced = referenced
        self.failed = failed
    }

    static let referencedSOPSequence = "00081199"
    static let failedSOPSequence = "00081198"
    static let referencedSOPInstanceUID = "00081155"
    static let failureReason = "00081197"
    static let warningReason = "00081196"

    /// The encodings of a response body radrelay reads (PS3.18 §10.5.3 allows both).
    public enum Format: String, Sendable, Equatable {
        case json = "DICOM JSON"
        case xml = "DICOM XML"
    }

    /// The format to read a non-empty body as, from the response's `Content-Type`:
    /// `application/dicom+json`, `application/json` (any `…/json` or `…/…+json`) → JSON;
    /// `application/dicom+xml`, `application/xml`, `text/xml` (any `…/xml` or `…/…+xml`) → XML;
    /// any other type → nil (the body is not read: unparsable). Without a `Content-Type` the
    /// body decides: XML when it starts with `<` (after a byte order mark and whitespace), JSON
    /// otherwise.
    public static func format(contentType: String?, body: [UInt8]) -> Format? {
        guard let contentType, !contentType.allSatisfy(\.isWhitespace) else {
            var bytes = body[...]
            if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { bytes = bytes.dropFirst(3) }
            let first = bytes.first { ![0x20, 0x09, 0x0A, 0x0D].contains($0) }
            return first == UInt8(ascii: "<") ? .xml : .json
        }
        let essence = contentType.split(separator: ";", maxSplits: 1, omittingEmptySubsequences: false)[0]
            .trimmingCharacters(in: .whitespaces).lowercased()
        let parts = essence.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, !parts[0].isEmpty else { return nil }
        let subtype = parts[1]
        if subtype == "json" || subtype.hasSuffix("+json") { return .json }
        if subtype == "xml" || subtype.hasSuffix("+xml") { return .xml }
        return nil
    }

    /// Parses `bytes` in `format`; nil when they are not such a response document.
    public static func parse(_ bytes: [UInt8], as format: Format) -> STOWResponse? {
        switch format {
        case .json: return parse(json: bytes)
        case .xml: return parse(xml: bytes)
        }
    }

    /// Parses a `application/dicom+json` body: one data set object, or an array holding one
    /// (some servers wrap it). Nil when the bytes are not such a document. A document with
    /// neither sequence parses to an empty response.
    public static func parse(json bytes: [UInt8]) -> STOWResponse? {
        guard !bytes.isEmpty,
            let object = try? JSONSerialization.jsonObject(with: Data(bytes), options: [.fragmentsAllowed])
        else { return nil }
        let dataSet: [String: Any]
        if let dictionary = object as? [String: Any] {
            dataSet = dictionary
        } else if let array = object as? [Any], array.count == 1, let dictionary = array[0] as? [String: Any] {
            dataSet = dictionary
        } else {
            return nil
        }
        var response = STOWResponse()
        guard let referenced = items(dataSet[referencedSOPSequence]),
            let failed = items(dataSet[failedSOPSequence])
        else { return nil }
        for item in referenced {
            guard let uid = string(item[referencedSOPInstanceUID]) else { return nil }
            response.referenced[uid] = code(item[warningReason])
        }
        for item in failed {
            guard let uid = string(item[referencedSOPInstanceUID]) else { return nil }
            response.failed[uid] = code(item[failureReason])
        }
        return response
    }

    /// The items of an SQ attribute; [] when absent or empty, nil when malformed.
    private static func items(_ attribute: Any?) -> [[String: Any]]? {
        guard let attribute else { return [] }
        guard let element = attribute as? [String: Any] else { return nil }
        guard let value = element["Value"] else { return [] }
        guard let list = value as? [Any] else { return nil }
        var result: [[String: Any]] = []
        for entry in list {
            guard let item = entry as? [String: Any] else { return nil }
            result.append(item)
        }
        return result
    }

    private static func string(_ attribute: Any?) -> String? {
        guard let element = attribute as? [String: Any], let value = element["Value"] as? [Any],
            let first = value.first as? String
        else { return nil }
        let trimmed = first.trimmingCharacters(in: CharacterSet(charactersIn: " \0"))
        return trimmed.isEmpty ? nil : trimmed
    }

    private static func code(_ attribute: Any?) -> UInt16? {
        guard let element = attribute as? [String: Any], let value = element["Value"] as? [Any],
            let first = value.first
        else { return nil }
        if let number = first as? NSNumber {
            let int = number.intValue
            return (0...0xFFFF).contains(int) ? UInt16(int) : nil
        }
        if let text = first as? String { return UInt16(text) ?? UInt16(text.replacingOccurrences(of: "0x", with: ""), radix: 16) }
        return nil
    }
}

/// Turns one STOW-RS response into an outcome per instance sent (DESIGN §4, issue 5). Pure.
public enum STOWJudgement {
    /// What the sender should do with a response.
    public enum Verdict: Sendable, Equatable {
        /// One result per instance, in the order sent.
        case perInstance([STOWInstanceResult])
        /// 413: split the request in halves and send each (alone: `payloadTooLarge`).
        case halveBatch
    }

    /// Judges `status` with its `body` (already read, possibly empty) for `sent` instances.
    ///
    /// - Destination-level statuses (`FailureClass.forHTTPStatus`) defer every instance, with
    ///   `Retry-After` when the remote sent one.
    /// - 413 halves the batch; a single instance becomes `payloadTooLarge`.
    /// - Otherwise per instance from the body, DICOM JSON or DICOM XML by `contentType`
    ///   (`STOWResponse.format`), whatever the status: Referenced → delivered (Warning Reason as
    ///   status, else 0x0000); Failed → by Failure Reason; in neither → `unparsableResponse`. A
    ///   409 stored nothing, so an instance it lists as referenced is not delivered either.
    /// - An empty body, a `Content-Type` that is neither JSON nor XML, or a body that does not
    ///   parse as its type → `unparsableResponse` for every instance: never delivered (the remote
    ///   may or may not have stored them) and never dead-lettered; destination-level, so it is
    ///   retried with capped backoff behind the circuit breaker until it parses or the
    ///   destination's `max_age` expires it.
    public static func judge(
        status: Int,
        retryAfter: String?,
        body: [UInt8],
        contentType: String?,
        sent: [STOWInstance],
        now: EpochSeconds
    ) -> Verdict {
        let label = "HTTP \(status)"
        if let failure = FailureClass.forHTTPStatus(status) {
            let notBefore = retryAfter.flatMap { RetryAfter.parse($0, now: now) }
            let detail = notBefore.map { "\(label), Retry-After \(Int(($0 - now).rounded()))s" } ?? label
            return .perInstance(
                sent.map { _ in
                    STOWInstanceResult(outcome: .failed(failure, status: nil, detail: detail), notBefore: notBefore)
                })
        }
        if status == 413 {
            if sent.count > 1 { return .halveBatch }
            return .perInstance([
                STOWInstanceResult(
                    outcome: .failed(.payloadTooLarge, status: nil, detail: "\(label): the instance alone is too large"))
            ])
        }
        func unparsable(_ why: String) -> Verdict {
            .perInstance(
                sent.map { _ in
                    STOWInstanceResult(outcome: .failed(.unparsableResponse, status: nil, detail: "\(label): \(why)"))
                })
        }
        guard !body.isEmpty else { return unparsable("no response body") }
        guard let format = STOWResponse.format(contentType: contentType, body: body) else {
            let type = printable(contentType ?? "")
            return unparsable("response Content-Type \(type) is neither DICOM JSON nor DICOM XML")
        }
        guard let response = STOWResponse.parse(body, as: format) else {
            return unparsable("response body is not \(format.rawValue)")
        }
        return .perInstance(sent.map { instance in judge(instance, response, status: status) })
    }

    /// A remote-supplied header value as it may appear in a log or error detail: printable
    /// ASCII, at most 64 characters.
    private static func printable(_ value: String) -> String {
        let cleaned = String(
            value.unicodeScalars.prefix(64).map { (0x20..<0x7F).contains($0.value) ? Character($0) : "?" })
        return "\"" + cleaned + "\""
    }

    private static func judge(_ instance: STOWInstance, _ response: STOWResponse, status: Int) -> STOWInstanceResult {
        let label = "HTTP \(status)"
        let uid = instance.sopInstanceUID
        if let entry = response.failed[uid] {
            guard let reason = entry else {
                return STOWInstanceResult(
                    outcome: .failed(.unknownStatus, status: nil, detail: "\(label): failed without a reason"))
            }
            let code = DIMSEStatus(reason)
            return STOWInstanceResult(
                outcome: .failed(
                    FailureClass.forSTOWFailureReason(reason), status: code, detail: "\(label): failure reason \(code)"))
        }
        if let entry = response.referenced[uid] {
            if status == 409 {
                return STOWInstanceResult(
                    outcome: .failed(
                        .unparsableResponse, status: nil, detail: "\(label): listed as stored, but 409 stores nothing"))
            }
            let warning: DIMSEStatus = entry.map { DIMSEStatus($0) } ?? .success
            return STOWInstanceResult(outcome: .delivered(status: warning.category == .failure ? DIMSEStatus(0xB000) : warning))
        }
        return STOWInstanceResult(
            outcome: .failed(.unparsableResponse, status: nil, detail: "\(label): instance missing from the response"))
    }
}
