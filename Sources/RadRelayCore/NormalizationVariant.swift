/// A destination's `transfer_syntax:` (issue 3): the syntax objects are sent in. These names are
/// a contract with operators' tools; keep them.
public enum CompressionTarget: String, Sendable, Equatable, CaseIterable {
    case asReceived = "as-received"
    case jpegLSLossless = "jpeg-ls-lossless"
    case jpegLossless = "jpeg-lossless"
    case rle
    case deflate
    case explicitLE = "explicit-le"

    /// The transfer syntax UID (PS3.5 Annex A), nil for `as-received`.
    public var transferSyntaxUID: String? {
        switch self {
        case .asReceived: return nil
        case .jpegLSLossless: return Syntax.jpegLSLossless
        case .jpegLossless: return Syntax.jpegLosslessSV1
        case .rle: return Syntax.rleLossless
        case .deflate: return Syntax.deflatedExplicitLittleEndian
        case .explicitLE: return Syntax.explicitLittleEndian
        }
    }
}

extension CompressionTarget {
    /// Transfer syntax UIDs the compression policy knows (PS3.5 Annex A, PS3.6 Annex A).
    public enum Syntax {
        public static let implicitLittleEndian = "1.2.840.10008.1.2"
        public static let explicitLittleEndian = "1.2.840.10008.1.2.1"
        public static let explicitBigEndian = "1.2.840.10008.1.2.2"
        public static let deflatedExplicitLittleEndian = "1.2.840.10008.1.2.1.99"
        public static let jpegLosslessProcess14 = "1.2.840.10008.1.2.4.57"
        public static let jpegLosslessSV1 = "1.2.840.10008.1.2.4.70"
        public static let jpegLSLossless = "1.2.840.10008.1.2.4.80"
        public static let rleLossless = "1.2.840.10008.1.2.5"

        /// Native (not encapsulated) encodings, which any DICOM toolkit reads.
        static let native: Set<String> = [
            implicitLittleEndian, explicitLittleEndian, explicitBigEndian, deflatedExplicitLittleEndian,
        ]
        /// Encapsulated lossless syntaxes that Debian's DCMTK can decode (JPEG 2000 is missing).
        static let decodableLossless: Set<String> = [
            jpegLosslessProcess14, jpegLosslessSV1, jpegLSLossless, rleLossless,
        ]
        /// Encapsulated syntaxes that are lossy (or may be, as JPEG 2000 .91): never transcoded.
        static let lossy: Set<String> = [
            "1.2.840.10008.1.2.4.50", "1.2.840.10008.1.2.4.51", "1.2.840.10008.1.2.4.81", "1.2.840.10008.1.2.4.91",
            "1.2.840.10008.1.2.4.93", "1.2.840.10008.1.2.4.95", "1.2.840.10008.1.2.4.100", "1.2.840.10008.1.2.4.101",
            "1.2.840.10008.1.2.4.102", "1.2.840.10008.1.2.4.103", "1.2.840.10008.1.2.4.104", "1.2.840.10008.1.2.4.105",
            "1.2.840.10008.1.2.4.106", "1.2.840.10008.1.2.4.107", "1.2.840.10008.1.2.4.108", "1.2.840.10008.1.2.4.202",
            "1.2.840.10008.1.2.4.203",
        ]
    }
}

/// Whether an object is transcoded to a destination's target syntax, and if not, why
/// (issue 3: lossy sources go as received, JPEG 2000 has no codec here, objects without pixel
/// data pass through).
public enum TranscodeDecision: Sendable, Equatable {
    case transcode(toSyntax: String)
    case keep(KeepReason)

    public enum KeepReason: String, Sendable, Equatable {
        /// The destination asks for `as-received`.
        case asReceivedRequested = "as_received"
        /// The object is already in the target syntax.
        case alreadyInTarget = "already_in_target"
        /// No pixel data (SR, PR, KO…): nothing to compress.
        case noPixelData = "no_pixel_data"
        /// The source is lossy: re-encoding it would be a second generation; it goes as is.
        case lossySource = "lossy_source"
        /// The source is encapsulated in a syntax without a decoder here (JPEG 2000, video,
        /// private syntaxes).
        case noCodec = "no_codec"
    }

    /// The decision for an object stored in `sourceSyntax`.
    public static func decide(sourceSyntax: String, target: CompressionTarget, hasPixelData: Bool) -> Self {
        guard let targetSyntax = target.transferSyntaxUID else { return .keep(.asReceivedRequested) }
        guard hasPixelData else { return .keep(.noPixelData) }
        if sourceSyntax == targetSyntax { return .keep(.alreadyInTarget) }
        if CompressionTarget.Syntax.lossy.contains(sourceSyntax) { return .keep(.lossySource) }
        guard
            CompressionTarget.Syntax.native.contains(sourceSyntax)
                || CompressionTarget.Syntax.decodableLossless.contains(sourceSyntax)
        else { return .keep(.noCodec) }
        return .transcode(toSyntax: targetSyntax)
    }
}

extension Normalization {
    /// Per-source normalization (`sources:` in the config): the profiles applied to every object
    /// from a calling AE, and the character set assumed for its objects that declare none.
    public struct Source: Sendable, Equatable {
        public var callingAE: AETitle
        public var profiles: [String]
        /// A Specific Character Set defined term (e.g. `ISO_IR 100`) for objects without
        /// (0008,0005): the legacy case of Latin-1 bytes sent with no declaration.
        public var assumedCharset: String?

        public init(callingAE: AETitle, profiles: [String] = [], assumedCharset: String? = nil) {
            self.callingAE = callingAE
            self.profiles = profiles
            self.assumedCharset = assumedCharset
        }
    }

    /// The profiles and source assignments of a configuration, resolving what one delivery needs.
    public struct Assignment: Sendable, Equatable {
        public var profiles: [String: Profile]
        public var sources: [Source]

        public init(profiles: [String: Profile] = [:], sources: [Source] = []) {
            self.profiles = profiles
            self.sources = sources
        }

        /// True when no profile is assigned anywhere (normalization is off).
        public var isEmpty: Bool {
            sources.allSatisfy { $0.profiles.isEmpty && $0.assumedCharset == nil } && profiles.isEmpty
        }

        /// The variant a delivery needs: the source's profiles, then the route's, each once, in
        /// that order; unknown profile names are skipped (the config loader rejects them).
        public func variant(callingAE: AETitle, routeProfiles: [String], target: CompressionTarget) -> Variant {
            let source = sources.first { $0.callingAE == callingAE }
            var names: [String] = []
            for name in (source?.profiles ?? []) + routeProfiles where !names.contains(name) { names.append(name) }
            return Variant(
                profiles: names.compactMap { profiles[$0] },
                assumedCharset: source?.assumedCharset,
                target: target
            )
        }
    }

    /// What a destination gets of one received object: the normalization passes, the character
    /// set assumed for undeclared text, and the target syntax. Deliveries needing equal variants
    /// share one derived file, named by `key`.
    public struct Variant: Sendable, Equatable {
        public var profiles: [Profile]
        public var assumedCharset: String?
        public var target: CompressionTarget

        public init(profiles: [Profile] = [], assumedCharset: String? = nil, target: CompressionTarget = .asReceived) {
            self.profiles = profiles
            self.assumedCharset = assumedCharset
            self.target = target
        }

        /// True when the variant is the received file itself.
        public var isIdentity: Bool { profiles.isEmpty && target == .asReceived }

        /// 16 hex digits identifying the variant (FNV-1a 64 of its canonical form): part of
        /// derived file names, which are built from internal ids and this key only.
        public var key: String {
            let canonical =
                "v1|\(target.rawValue)|\(assumedCharset ?? "-")|" + profiles.map(\.canonical).joined(separator: "|")
            var hash: UInt64 = 0xcbf2_9ce4_8422_2325
            for byte in canonical.utf8 {
                hash ^= UInt64(byte)
                hash = hash &* 0x0000_0100_0000_01B3
            }
            let digits = String(hash, radix: 16)
            return String(repeating: "0", count: 16 - digits.count) + digits
        }
    }
}
