import RadRelayCore

/// One instance to store: a Part 10 file on disk (the spool file or a derived variant).
public struct STOWInstance: Sendable, Equatable {
    /// Absolute path of the Part 10 file; read in chunks while the request body streams.
    public var path: String
    /// SOP Instance UID, to find the instance in the response.
    public var sopInstanceUID: String
    /// SOP Class UID (checked against the response's Referenced SOP Class UID when present).
    public var sopClassUID: String
    /// Study Instance UID (the request URL when study-scoped).
    public var studyInstanceUID: String
    /// File size in bytes (for batching; the body length is taken from the file itself).
    public var byteSize: UInt64

    public init(path: String, sopInstanceUID: String, sopClassUID: String, studyInstanceUID: String, byteSize: UInt64) {
        self.path = path
        self.sopInstanceUID = sopInstanceUID
        self.sopClassUID = sopClassUID
        self.studyInstanceUID = studyInstanceUID
        self.byteSize = byteSize
    }
}

/// How one instance of a STOW-RS request ended, for the retry policy.
public struct STOWInstanceResult: Sendable, Equatable {
    /// Delivered (with the warning reason as status when there was one) or failed by class.
    public var outcome: SendOutcome
    /// The remote's `Retry-After`, when it gave one with a destination-level failure.
    public var notBefore: EpochSeconds?

    public init(outcome: SendOutcome, notBefore: EpochSeconds? = nil) {
        self.outcome = outcome
        self.notBefore = notBefore
    }
}

/// Splits instances into requests by the limits: at most `maxInstances` and `maxBytes` per
/// request (an instance larger than `maxBytes` goes alone), in order, and one study per request
/// when `byStudy`.
public enum STOWBatching {
    public static func requests(
        _ instances: [STOWInstance],
        maxInstances: Int,
        maxBytes: UInt64,
        byStudy: Bool
    ) -> [[STOWInstance]] {
        var groups: [[STOWInstance]] = []
        var current: [STOWInstance] = []
        var bytes: UInt64 = 0
        for instance in instances {
            let full = current.count >= maxInstances
                || (!current.isEmpty && bytes + instance.byteSize > maxBytes)
                || (byStudy && current.first.map { $0.studyInstanceUID != instance.studyInstanceUID } ?? false)
            if full {
                groups.append(current)
                current = []
                bytes = 0
            }
            current.append(instance)
            bytes += instance.byteSize
        }
        if !current.isEmpty { groups.append(current) }
        return groups
    }
}
