import Foundation
import RadRelayConfig
import RadRelayCore
import RadRelayDIMSE

/// `radrelayctl normalize --dry-run` (issue 3): what normalization would do to one file, before
/// go-live, without a daemon. Runs the same rule engine and DCMTK edits as the forwarder, in
/// memory; nothing is written. The output contains the file's values (patient data): it is an
/// operator's tool run on the operator's own file.
public enum NormalizationDryRun {
    /// One profile chain's result.
    public struct Report: Sendable, Codable, Equatable {
        public struct Step: Sendable, Codable, Equatable {
            public var rule: String
            public var before: String?
            public var after: String?
            public var changed: Bool
            public var warning: String?
        }

        public struct Pass: Sendable, Codable, Equatable {
            public var profile: String
            public var reason: String
            public var steps: [Step]
            /// Attributes whose prior values the Original Attributes Sequence item records.
            public var recordedAttributes: [String]
            /// The character set conversion, e.g. `ISO_IR 100 → ISO_IR 192`, when one happened.
            public var charsetConversion: String?
            public var notes: [String]
        }

        public var file: String
        public var callingAE: String?
        public var assumedCharset: String?
        public var passes: [Pass]
        /// What the destination's `transfer_syntax` would do with the file, when one was named.
        public var transferSyntax: String?
        public var error: String?
    }

    /// Errors in the request itself (unknown names).
    public struct UsageError: Error, CustomStringConvertible {
        public let description: String
    }

    /// The variant chains to show: the one a delivery from `callingAE` via routes with
    /// `profiles` would get, or, with neither given, each profile of the configuration alone.
    public static func run(
        configuration: Configuration,
        file: String,
        callingAE: String?,
        profiles: [String],
        destination: String?,
        now: Double = Date().timeIntervalSince1970
    ) throws -> [Report] {
        let assignment = configuration.normalization
        for name in profiles where assignment.profiles[name] == nil {
            throw UsageError(description: "no normalization profile is named '\(name)'")
        }
        var target = CompressionTarget.asReceived
        if let destination {
            guard let found = configuration.destinations.first(where: { $0.name == destination }) else {
                throw UsageError(description: "no destination is named '\(destination)'")
            }
            target = found.transferSyntax
        }
        var chains: [(callingAE: String?, variant: Normalization.Variant)] = []
        if callingAE != nil || !profiles.isEmpty {
            let title: AETitle
            do {
                title = try AETitle(callingAE ?? "-")
            } catch {
                throw UsageError(description: "calling AE title: \(error)")
            }
            chains.append((callingAE, assignment.variant(callingAE: title, routeProfiles: profiles, target: target)))
        } else {
            for name in assignment.profiles.keys.sorted() {
                chains.append((nil, Normalization.Variant(profiles: [assignment.profiles[name]!], target: target)))
            }
        }
        let record = CoercionRecord(
            modifyingSystem: configuration.gateway.aeTitle.value, sourceOfPreviousValues: callingAE ?? "",
            dateTime: CoercionRecord.dicomDateTime(epochSeconds: now))
        return try chains.map { chain in
            let result: VariantReport
            do {
                result = try VariantBuilder.dryRun(source: file, variant: chain.variant, record: record)
            } catch {
                throw UsageError(description: "\(file): \(error)")
            }
            return Report(
                file: file, callingAE: chain.callingAE, assumedCharset: chain.variant.assumedCharset,
                passes: result.passes.map(pass), transferSyntax: destination.map { _ in describe(result.transcode) },
                error: result.fallback.map { "\($0.reason): \($0.detail)" })
        }
    }

    /// The report as text, one line per rule: `rule: before → after`.
    public static func text(_ reports: [Report]) -> String {
        var lines: [String] = []
        for report in reports {
            var header = "file \(report.file)"
            if let callingAE = report.callingAE { header += ", calling AE \(callingAE)" }
            if let charset = report.assumedCharset { header += ", assumed character set \(charset)" }
            lines.append(header)
            if report.passes.isEmpty { lines.append("  no normalization profile applies") }
            for pass in report.passes {
                lines.append("  profile \(pass.profile) (reason \(pass.reason))")
                for (index, step) in pass.steps.enumerated() {
                    let change =
                        step.changed ? "\(show(step.before)) → \(show(step.after))" : "unchanged \(show(step.before))"
                    lines.append("    \(index + 1). \(step.rule): \(change)")
                    if let warning = step.warning { lines.append("       warning: \(warning)") }
                }
                if let conversion = pass.charsetConversion { lines.append("    character set: \(conversion)") }
                for note in pass.notes { lines.append("    note: \(note)") }
                if pass.recordedAttributes.isEmpty {
                    lines.append("    Original Attributes Sequence: no item (nothing changes)")
                } else {
                    lines.append(
                        "    Original Attributes Sequence: new item (\(pass.reason)) with prior values of "
                            + pass.recordedAttributes.joined(separator: ", "))
                }
            }
            if let syntax = report.transferSyntax { lines.append("  transfer syntax: \(syntax)") }
            if let error = report.error { lines.append("  error: \(error) (the object would be sent as received)") }
        }
        return lines.joined(separator: "\n") + "\n"
    }

    // MARK: - Pieces

    private static func pass(_ report: PassReport) -> Report.Pass {
        var recorded = report.pass.changes.map { DICOMDictionary.name(of: $0.tag) }
        var conversion: String?
        if report.convertedCharset {
            recorded.insert(DICOMDictionary.name(of: Normalization.specificCharacterSet), at: 0)
            conversion = "\(report.previousCharset ?? "(none declared)") → ISO_IR 192"
        }
        var notes = report.skipped
        if report.charsetUnknown {
            notes.append("text outside ASCII without a declared or assumed character set is left unconverted")
        }
        return Report.Pass(
            profile: report.pass.profile, reason: report.pass.reason.rawValue,
            steps: report.pass.outcomes.map {
                Report.Step(
                    rule: $0.rule.summary, before: $0.before, after: $0.after, changed: $0.changed, warning: $0.warning)
            },
            recordedAttributes: report.recorded ? recorded : [], charsetConversion: conversion, notes: notes)
    }

    private static func show(_ value: String?) -> String {
        value.map { "\"\($0)\"" } ?? "(absent)"
    }

    private static func describe(_ decision: TranscodeDecision) -> String {
        switch decision {
        case .transcode(let syntax): return "transcoded to \(syntax), verified by decoding"
        case .keep(let reason): return "sent in its own syntax (\(reason.rawValue))"
        }
    }
}
