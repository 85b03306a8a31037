import RadRelayCore

/// One received object, durable in the spool, to be recorded and queued for the destinations the
/// router chose. Built by the listener after `Spool.makeDurable(_:)`.
public struct IngestRequest: Sendable, Equatable {
    /// The spool file, relative to the state directory (`SpoolSlot.finalRelativePath`).
    public var spoolPath: String
    /// SOP Instance UID (0008,0018): the identity half of the dedup key.
    public var sopInstanceUID: DICOMUID
    /// SOP Class UID (0008,0016).
    public var sopClassUID: DICOMUID
    /// Study Instance UID (0020,000D).
    public var studyInstanceUID: DICOMUID
    /// Series Instance UID (0020,000E), when present.
    public var seriesInstanceUID: DICOMUID?
    /// The transfer syntax the data set is encoded in, as received.
    public var transferSyntaxUID: DICOMUID
    /// Size of the spool file in bytes.
    public var byteSize: UInt64
    /// SHA-256 (64 lowercase hex digits) of the data set without its file meta group: the
    /// content half of the dedup key.
    public var sha256: String
    /// The sender's calling AE title.
    public var callingAE: AETitle
    /// The AE title the sender called us by.
    public var calledAE: AETitle
    /// The peer's IP address as text, without port.
    public var sourceIP: String
    /// Modality (0008,0060), when present.
    public var modality: String?
    /// Destination name → priority, as the router decided. Must not be empty.
    public var routes: [String: Priority]
    /// Destinations (of `routes`) whose deliveries wait, held, until the study is stable
    /// (a route's `hold_until_stable`, issue 4).
    public var holdUntilStable: Set<String> = []
    /// Per destination, the route-level normalization profiles the matching rules name, in
    /// order (issue 4 stores them with the delivery for the preparer, issue 3).
    public var routeProfiles: [String: [String]] = [:]

    /// Creates a request; `sha256` is lower-cased.
    public init(
        spoolPath: String,
        sopInstanceUID: DICOMUID,
        sopClassUID: DICOMUID,
        studyInstanceUID: DICOMUID,
        seriesInstanceUID: DICOMUID? = nil,
        transferSyntaxUID: DICOMUID,
        byteSize: UInt64,
        sha256: String,
        callingAE: AETitle,
        calledAE: AETitle,
        sourceIP: String,
        modality: String? = nil,
        routes: [String: Priority]
    ) {
        self.spoolPath = spoolPath
        self.sopInstanceUID = sopInstanceUID
        self.sopClassUID = sopClassUID
        self.studyInstanceUID = studyInstanceUID
        self.seriesInstanceUID = seriesInstanceUID
        self.transferSyntaxUID = transferSyntaxUID
        self.byteSize = byteSize
        self.sha256 = sha256.lowercased()
        self.callingAE = callingAE
        self.calledAE = calledAE
        self.sourceIP = sourceIP
        self.modality = modality
        self.routes = routes
    }

    /// Throws `OutboxError.invalidRequest` when the request could not be stored as it is. Checked
    /// before any transaction, so one bad request never fails a group commit of good ones.
    public func validate() throws(OutboxError) {
        let name = spoolPath.dropFirst(Spool.directoryName.count + 1)
        guard spoolPath.hasPrefix(Spool.directoryName + "/"), !name.isEmpty, !name.contains("/"),
            name != ".", name != ".."
        else {
            throw .invalidRequest("spool path must name a file directly in spool/")
        }
        guard sha256.utf8.count == 64, sha256.utf8.allSatisfy({ $0.isLowercaseHexDigit }) else {
            throw .invalidRequest("sha256 must be 64 hex digits")
        }
        guard byteSize <= UInt64(Int64.max) else { throw .invalidRequest("byte size out of range") }
        guard !routes.isEmpty else { throw .invalidRequest("no destination") }
        guard routes.keys.allSatisfy({ !$0.isEmpty }) else { throw .invalidRequest("empty destination name") }
    }
}

/// What ingest did for one destination of one request.
public enum IngestOutcome: String, Sendable, Equatable, CustomStringConvertible {
    /// A new delivery was queued, or an old delivered-long-ago or dead one was queued again.
    case queued
    /// The same SOP Instance UID was already known for this destination with *different*
    /// content: a new delivery was queued beside the old one. Log it as a warning (DESIGN §1.2).
    case correction
    /// An identical object is still pending for this destination: nothing new was queued.
    case duplicatePending
    /// An identical object was delivered within the dedup window: nothing new was queued.
    case duplicateRecentlyDelivered

    /// True when this destination got a delivery to send.
    public var queuedSomething: Bool { self == .queued || self == .correction }

    /// The stored spelling.
    public var description: String { rawValue }
}

/// The result of ingesting one request.
public struct IngestResult: Sendable, Equatable {
    /// The new instance row, or nil when every destination was a duplicate. In that case the
    /// outbox has already deleted the new spool file (after the commit): the object is
    /// acknowledged, and the copy that is pending or was delivered stands for it.
    public var instanceID: Int64?
    /// Outcome per destination.
    public var outcomes: [String: IngestOutcome]
    /// Per destination, the delivery that now stands for this object: the new or re-queued one,
    /// or the pending or delivered duplicate.
    public var deliveryIDs: [String: Int64]

    /// Creates a result.
    public init(instanceID: Int64?, outcomes: [String: IngestOutcome], deliveryIDs: [String: Int64]) {
        self.instanceID = instanceID
        self.outcomes = outcomes
        self.deliveryIDs = deliveryIDs
    }

    /// True when nothing new was queued anywhere, so no instance row was kept.
    public var allDuplicates: Bool { instanceID == nil }

    /// Destinations for which this object is a correction, sorted.
    public var corrections: [String] { outcomes.filter { $0.value == .correction }.map(\.key).sorted() }
}

extension UInt8 {
    fileprivate var isLowercaseHexDigit: Bool {
        (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(self) || (UInt8(ascii: "a")...UInt8(ascii: "f")).contains(self)
    }
}
