import Foundation
import RadRelayCore

/// What an Original Attributes Sequence item says about who changed an object, and when
/// (PS3.3 C.12.1.1.9: Modifying System, Source of Previous Values, Attribute Modification
/// DateTime; the same DateTime becomes Instance Coercion DateTime).
public struct CoercionRecord: Sendable, Equatable {
    /// (0400,0563), e.g. the gateway's AE title.
    public var modifyingSystem: String
    /// (0400,0564): where the previous values came from, e.g. the sender's calling AE title.
    public var sourceOfPreviousValues: String
    /// A DICOM DT value (`YYYYMMDDHHMMSS.FFFFFF+ZZZZ`).
    public var dateTime: String

    public init(modifyingSystem: String, sourceOfPreviousValues: String, dateTime: String) {
        self.modifyingSystem = modifyingSystem
        self.sourceOfPreviousValues = sourceOfPreviousValues
        self.dateTime = dateTime
    }

    /// `epochSeconds` as a DT value in UTC with microseconds (PS3.5 §6.2, VR DT).
    public static func dicomDateTime(epochSeconds: Double) -> String {
        var seconds = time_t(epochSeconds.rounded(.down))
        var parts = tm()
        gmtime_r(&seconds, &parts)
        let micros = Int(((epochSeconds - epochSeconds.rounded(.down)) * 1_000_000).rounded(.down))
        return String(
            format: "%04d%02d%02d%02d%02d%02d.%06d+0000", Int(parts.tm_year) + 1900, Int(parts.tm_mon) + 1,
            Int(parts.tm_mday), Int(parts.tm_hour), Int(parts.tm_min), Int(parts.tm_sec), min(micros, 999_999))
    }
}

/// One normalization pass as it went on an object.
public struct PassReport: Sendable, Equatable {
    /// The rule engine's result (every rule's before → after, the net changes).
    public var pass: Normalization.Pass
    /// The text was converted to UTF-8 in this pass.
    public var convertedCharset: Bool
    /// The character set before the pass, when it was converted (nil: none was declared).
    public var previousCharset: String?
    /// Conversion was asked for but the object's non-ASCII text has no declared or assumed
    /// character set, so it was left as it is.
    public var charsetUnknown: Bool
    /// An Original Attributes Sequence item was appended.
    public var recorded: Bool
    /// Changes dropped because their attribute is not text (only removal applies).
    public var skipped: [String]
}

/// Why part of a variant could not be made; the object then goes with less (never nothing).
public enum TransformFallback: Sendable, Equatable {
    /// The object could not be loaded, or a pass could not be applied: it goes as received.
    case normalizationFailed(String)
    /// The codec refused the image: it goes normalized but in its own syntax.
    case codecFailed(String)
    /// The decoded result differs from the source: it goes normalized but in its own syntax.
    case verificationFailed(String)
    /// The derived file could not be written: the object goes as received.
    case writeFailed(String)

    /// A short class for logs and metrics labels.
    public var reason: String {
        switch self {
        case .normalizationFailed: return "normalization_failed"
        case .codecFailed: return "codec_failed"
        case .verificationFailed: return "verification_failed"
        case .writeFailed: return "write_failed"
        }
    }

    /// What went wrong, from the shim.
    public var detail: String {
        switch self {
        case .normalizationFailed(let detail), .codecFailed(let detail), .verificationFailed(let detail),
            .writeFailed(let detail):
            return detail
        }
    }
}

/// The result of building one variant.
public struct VariantReport: Sendable, Equatable {
    public enum Outcome: Sendable, Equatable {
        /// The derived file was written at the requested path.
        case written(transferSyntaxUID: String, byteSize: UInt64)
        /// Nothing to derive (or a fallback to as received): send the source file.
        case unchanged
    }

    public var outcome: Outcome
    public var passes: [PassReport]
    /// What the compression policy decided for the object (before any fallback).
    public var transcode: TranscodeDecision
    /// Set when the variant came out as less than asked.
    public var fallback: TransformFallback?
    /// The object was transcoded (and verified when asked) into the target syntax.
    public var transcoded: Bool
    /// The written file was decoded again and matched the source.
    public var verified: Bool
    /// Bytes of native pixel data (for throughput figures).
    public var pixelBytes: UInt64
    public var encodeSeconds: Double
    public var verifySeconds: Double
}

/// Builds derived variants of received objects with DCMTK: normalization passes
/// (`Normalization.apply` on the attributes the rules name, then `rr_object_apply_pass`), then
/// lossless transcoding with a verifying decode (`rr_object_save`). Every call blocks for the
/// whole job: run it on a `TransformPool`, never on Swift's cooperative pool.
///
/// Nothing here drops an object: whatever fails, the report says which part fell back and the
/// caller sends what was made (normalized in its own syntax) or the source as received.
public enum VariantBuilder {
    /// Builds `variant` of the file at `source` into `output` (a new file; the caller renames it
    /// into place, or deletes it). The source is never modified.
    public static func build(
        source: String,
        output: String,
        variant: Normalization.Variant,
        record: CoercionRecord,
        verify: Bool
    ) -> VariantReport {
        var report = VariantReport(
            outcome: .unchanged, passes: [], transcode: .keep(.asReceivedRequested), fallback: nil, transcoded: false,
            verified: false, pixelBytes: 0, encodeSeconds: 0, verifySeconds: 0)
        let object: DICOMObject
        do {
            object = try DICOMObject(path: source)
        } catch {
            report.fallback = .normalizationFailed(error.description)
            return report
        }
        let info = object.info()
        report.transcode = TranscodeDecision.decide(
            sourceSyntax: info.transferSyntaxUID, target: variant.target, hasPixelData: info.hasPixelData)
        do {
            report.passes = try normalize(object, variant: variant, info: info, record: record)
        } catch {
            // A pass may have changed the loaded object half-way: start again from the file and
            // send it as received.
            report.fallback = .normalizationFailed(error.description)
            report.passes = []
            return report
        }
        let normalized = report.passes.contains { $0.recorded || $0.convertedCharset }
        guard case .transcode(let targetSyntax) = report.transcode else {
            return normalized ? write(object, to: output, target: nil, verify: false, report: report) : report
        }
        var attempt = write(object, to: output, target: targetSyntax, verify: verify, report: report)
        guard attempt.fallback != nil, normalized else { return attempt }
        // The codec failed: send the normalized object in its own syntax, normalized afresh
        // (the failed encoder may have left the loaded pixel data in any state).
        do {
            let fresh = try DICOMObject(path: source)
            attempt.passes = try normalize(fresh, variant: variant, info: info, record: record)
            return write(fresh, to: output, target: nil, verify: false, report: attempt)
        } catch {
            attempt.fallback = .normalizationFailed(error.description)
            attempt.outcome = .unchanged
            return attempt
        }
    }

    /// Runs `variant`'s passes on the file at `source` in memory and reports what they would
    /// change, without writing anything (`radrelayctl normalize --dry-run`). The transcode
    /// decision is reported but not carried out.
    public static func dryRun(source: String, variant: Normalization.Variant, record: CoercionRecord) throws
        -> VariantReport
    {
        let object: DICOMObject
        do {
            object = try DICOMObject(path: source)
        } catch {
            throw TransformError(description: error.description)
        }
        let info = object.info()
        var report = VariantReport(
            outcome: .unchanged, passes: [], transcode: .keep(.asReceivedRequested), fallback: nil, transcoded: false,
            verified: false, pixelBytes: 0, encodeSeconds: 0, verifySeconds: 0)
        report.transcode = TranscodeDecision.decide(
            sourceSyntax: info.transferSyntaxUID, target: variant.target, hasPixelData: info.hasPixelData)
        do {
            report.passes = try normalize(object, variant: variant, info: info, record: record)
        } catch {
            report.fallback = .normalizationFailed(error.description)
        }
        return report
    }

    /// A failure of the dry run itself (the file cannot be loaded).
    public struct TransformError: Error, CustomStringConvertible {
        public let description: String
    }

    // MARK: - Steps

    private static func normalize(
        _ object: DICOMObject,
        variant: Normalization.Variant,
        info: DICOMObject.Info,
        record: CoercionRecord
    ) throws(DICOMObject.Failure) -> [PassReport] {
        var reports: [PassReport] = []
        for profile in variant.profiles {
            var values = Normalization.AttributeValues()
            var nonText: Set<DICOMTag> = []
            for tag in profile.tags {
                switch try object.text(tag, assumedCharset: variant.assumedCharset) {
                case .absent: break
                case .text(let text): values[tag] = text
                case .notText:
                    values[tag] = ""
                    nonText.insert(tag)
                }
            }
            var pass = Normalization.apply(profile, to: values)
            var skipped: [String] = []
            pass.changes.removeAll { change in
                guard nonText.contains(change.tag), change.after != nil else { return false }
                skipped.append("\(change.tag) is not a text attribute; only 'remove' applies to it")
                return true
            }
            let charsetBefore = object.info().specificCharacterSet
            var result = DICOMObject.PassResult(convertedCharset: false, charsetUnknown: false, recorded: false)
            if !pass.changes.isEmpty || profile.convertToUTF8 {
                result = try object.apply(
                    pass.changes, convertToUTF8: profile.convertToUTF8, assumedCharset: variant.assumedCharset,
                    reason: profile.reason, record: record)
            }
            reports.append(
                PassReport(
                    pass: pass, convertedCharset: result.convertedCharset,
                    previousCharset: result.convertedCharset ? charsetBefore : nil,
                    charsetUnknown: result.charsetUnknown, recorded: result.recorded, skipped: skipped))
        }
        return reports
    }

    private static func write(
        _ object: DICOMObject,
        to output: String,
        target: String?,
        verify: Bool,
        report: VariantReport
    ) -> VariantReport {
        var report = report
        let saved = object.save(to: output, targetSyntax: target, verify: verify)
        report.encodeSeconds += saved.encodeSeconds
        report.verifySeconds += saved.verifySeconds
        switch saved.outcome {
        case .written, .transcoded:
            var info = stat()
            let size = stat(output, &info) == 0 ? UInt64(info.st_size) : 0
            report.outcome = .written(transferSyntaxUID: saved.transferSyntaxUID, byteSize: size)
            report.transcoded = saved.outcome == .transcoded
            report.verified = saved.verified
            report.pixelBytes = saved.pixelBytes
        case .codecFailed:
            unlink(output)
            report.fallback = .codecFailed(saved.detail)
            report.outcome = .unchanged
        case .mismatch:
            unlink(output)
            report.fallback = .verificationFailed(saved.detail)
            report.outcome = .unchanged
        case .writeFailed:
            unlink(output)
            report.fallback = .writeFailed(saved.detail)
            report.outcome = .unchanged
        }
        return report
    }
}
