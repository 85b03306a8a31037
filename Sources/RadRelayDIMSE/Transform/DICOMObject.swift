import CDCMTK
import Foundation
import RadRelayCore

/// A Part 10 file loaded through the shim for normalization and transcoding (`rr_object`).
/// Blocking and not thread-safe: one per job, on a transform worker thread, never on Swift's
/// cooperative pool.
final class DICOMObject {
    /// Facts from `rr_object_get_info`.
    struct Info {
        var transferSyntaxUID: String
        var specificCharacterSet: String?
        var hasPixelData: Bool
        var hasExtendedCharacters: Bool
    }

    /// A top-level attribute as the rule engine sees it.
    enum Text: Equatable {
        case absent
        case text(String)
        /// Present but not text (sequence, binary, UID): rules may only remove it.
        case notText
    }

    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    private let handle: OpaquePointer

    /// Loads `path`; large values stay in the file until needed, so it must stay meanwhile.
    init(path: String) throws(Failure) {
        var error = rr_error()
        guard let handle = rr_object_open(path, &error) else {
            throw Failure(description: "cannot load the object: " + String(cMessage: error))
        }
        self.handle = handle
    }

    deinit {
        rr_object_close(handle)
    }

    func info() -> Info {
        var info = rr_object_info()
        var error = rr_error()
        _ = rr_object_get_info(handle, &info, &error)
        let charset = String(cTuple: info.specific_character_set)
        return Info(
            transferSyntaxUID: String(cTuple: info.transfer_syntax_uid),
            specificCharacterSet: info.has_specific_character_set != 0 ? charset : nil,
            hasPixelData: info.has_pixel_data != 0,
            hasExtendedCharacters: info.has_extended_characters != 0
        )
    }

    /// The attribute as UTF-8 text (see `rr_object_get_text` for the decoding).
    func text(_ tag: DICOMTag, assumedCharset: String?) throws(Failure) -> Text {
        var capacity = 1024
        while true {
            var buffer = [CChar](repeating: 0, count: capacity)
            var length = 0
            var error = rr_error()
            let code = buffer.withUnsafeMutableBufferPointer { bytes in
                withOptionalCString(assumedCharset) { assumed in
                    rr_object_get_text(handle, tag.value, assumed, bytes.baseAddress, capacity, &length, &error)
                }
            }
            switch Int(code) {
            case Int(RR_TEXT_PRESENT):
                let bytes = buffer.prefix(length).map { UInt8(bitPattern: $0) }
                return .text(String(decoding: bytes, as: UTF8.self))
            case Int(RR_TEXT_ABSENT): return .absent
            case Int(RR_TEXT_NOT_TEXT): return .notText
            case Int(RR_TEXT_TOO_SMALL) where length > capacity: capacity = length
            default: throw Failure(description: "cannot read \(tag): " + String(cMessage: error))
            }
        }
    }

    /// What `rr_object_apply_pass` did.
    struct PassResult {
        var convertedCharset: Bool
        var charsetUnknown: Bool
        var recorded: Bool
    }

    /// Applies one pass of net changes and records it (PS3.3 C.12.1.1.9).
    func apply(
        _ changes: [Normalization.AttributeChange],
        convertToUTF8: Bool,
        assumedCharset: String?,
        reason: Normalization.Reason,
        record: CoercionRecord
    ) throws(Failure) -> PassResult {
        // Copies that outlive the call; values never contain NUL (they come from the config).
        let values = changes.map { strdup($0.after ?? "") }
        defer { values.forEach { free($0) } }
        var edits = changes.enumerated().map { index, change in
            rr_attribute_edit(
                tag: change.tag.value,
                value: values[index],
                length: (change.after ?? "").utf8.count,
                remove: change.after == nil ? 1 : 0
            )
        }
        var result = rr_pass_result()
        var error = rr_error()
        let code: Int32 = withOptionalCString(assumedCharset) { assumed in
            record.modifyingSystem.withCString { system in
                record.sourceOfPreviousValues.withCString { source in
                    reason.rawValue.withCString { reasonText in
                        record.dateTime.withCString { dateTime in
                            edits.withUnsafeMutableBufferPointer { editBuffer in
                                var pass = rr_normalization_pass(
                                    edits: editBuffer.baseAddress,
                                    count: editBuffer.count,
                                    convert_to_utf8: convertToUTF8 ? 1 : 0,
                                    assumed_charset: assumed,
                                    modifying_system: system,
                                    source_of_previous_values: source,
                                    reason: reasonText,
                                    date_time: dateTime
                                )
                                return rr_object_apply_pass(handle, &pass, &result, &error)
                            }
                        }
                    }
                }
            }
        }
        guard code == 0 else { throw Failure(description: String(cMessage: error)) }
        return PassResult(
            convertedCharset: result.converted_charset != 0,
            charsetUnknown: result.charset_unknown != 0,
            recorded: result.recorded != 0
        )
    }

    /// What `rr_object_save` did.
    struct SaveResult {
        enum Outcome { case written, transcoded, codecFailed, mismatch, writeFailed }
        var outcome: Outcome
        var transferSyntaxUID: String
        var detail: String
        var verified: Bool
        var pixelBytes: UInt64
        var encodeSeconds: Double
        var verifySeconds: Double
    }

    /// Writes the object to `path`, transcoded to `targetSyntax` when given.
    func save(to path: String, targetSyntax: String?, verify: Bool) -> SaveResult {
        var result = rr_save_result()
        var error = rr_error()
        let code = path.withCString { output in
            withOptionalCString(targetSyntax) { target in
                rr_object_save(handle, output, target, verify ? 1 : 0, &result, &error)
            }
        }
        let outcome: SaveResult.Outcome
        switch Int(code) {
        case Int(RR_SAVE_WRITTEN): outcome = .written
        case Int(RR_SAVE_TRANSCODED): outcome = .transcoded
        case Int(RR_SAVE_MISMATCH): outcome = .mismatch
        case Int(RR_SAVE_WRITE_FAILED): outcome = .writeFailed
        default: outcome = .codecFailed
        }
        return SaveResult(
            outcome: outcome,
            transferSyntaxUID: String(cTuple: result.transfer_syntax_uid),
            detail: String(cMessage: error),
            verified: result.verified != 0,
            pixelBytes: result.pixel_bytes,
            encodeSeconds: result.encode_seconds,
            verifySeconds: result.verify_seconds
        )
    }
}

/// Calls `body` with a C string for `text`, or NULL.
private func withOptionalCString<R>(_ text: String?, _ body: (UnsafePointer<CChar>?) -> R) -> R {
    guard let text else { return body(nil) }
    return text.withCString { body($0) }
}
