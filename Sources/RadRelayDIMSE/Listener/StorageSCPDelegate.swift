import NIOCore
import RadRelayCore

/// What the listener knows about a peer asking for an association.
public struct AssociationRequestInfo: Sendable, Equatable {
    public var callingAE: AETitle
    public var calledAE: AETitle
    /// Peer IP address as text, without port.
    public var peerAddress: String
    public var implementationClassUID: String?
    public var implementationVersionName: String?
}

/// The policy's answer to an association request.
public enum AssociationDecision: Sendable, Equatable {
    /// Accept; `callerLimit` caps concurrent associations from this calling AE (nil: no cap
    /// beyond the global one).
    case accept(callerLimit: Int?)
    /// A-ASSOCIATE-RJ with PS3.8 §9.3.4 result/source/reason, e.g. 1/1/3 calling AE not
    /// recognized, 1/1/7 called AE not recognized.
    case reject(AssociationRejection)
}

/// A-ASSOCIATE-RJ parameters (PS3.8 Table 9-21).
public struct AssociationRejection: Sendable, Equatable, CustomStringConvertible {
    public var result: UInt8
    public var source: UInt8
    public var reason: UInt8

    public init(result: UInt8, source: UInt8, reason: UInt8) {
        self.result = result
        self.source = source
        self.reason = reason
    }

    /// 1/1/3: rejected-permanent, service-user, calling-AE-title-not-recognized.
    public static let callingAENotRecognized = AssociationRejection(result: 1, source: 1, reason: 3)
    /// 1/1/7: rejected-permanent, service-user, called-AE-title-not-recognized.
    public static let calledAENotRecognized = AssociationRejection(result: 1, source: 1, reason: 7)
    /// 2/3/2: rejected-transient, service-provider (presentation), local-limit-exceeded.
    public static let localLimitExceeded = AssociationRejection(result: 2, source: 3, reason: 2)
    /// 1/2/2: rejected-permanent, service-provider (ACSE), protocol-version-not-supported.
    public static let protocolVersionNotSupported = AssociationRejection(result: 1, source: 2, reason: 2)
    /// 1/1/2: rejected-permanent, service-user, application-context-name-not-supported.
    public static let applicationContextNotSupported = AssociationRejection(result: 1, source: 1, reason: 2)

    /// 1/3/2: rejected-permanent, service-provider (presentation), local-limit-exceeded: the
    /// A-ASSOCIATE-RQ is longer than the listener accepts (64 KiB). PS3.8 §9.3.2 sets no maximum
    /// for this PDU, so an over-long one is not an invalid PDU (A-ABORT, PS3.8 §9.2 Evt19) but a
    /// request this acceptor cannot take (AE-6: A-ASSOCIATE-RJ); permanent, because the same
    /// request would be refused again.
    public static let requestTooLong = AssociationRejection(result: 1, source: 3, reason: 2)

    public var description: String { "\(result)/\(source)/\(reason)" }
}

/// An established association, as the delegate sees it in store callbacks.
public struct AssociationInfo: Sendable, Equatable {
    public var callingAE: AETitle
    public var calledAE: AETitle
    public var peerAddress: String
    /// Unique per listener run; ties log lines of one association together.
    public var id: UInt64
}

/// A C-STORE-RQ whose data set is about to arrive.
public struct StoreRequestInfo: Sendable, Equatable {
    public var association: AssociationInfo
    /// Affected SOP Class / Instance UID from the command (not yet validated).
    public var sopClassUID: String
    public var sopInstanceUID: String
    /// The presentation context's transfer syntax: the data set's encoding.
    public var transferSyntaxUID: String
    /// DIMSE priority (0 medium, 1 high, 2 low; PS3.7 Table E.1-1).
    public var dimsePriority: UInt16
}

/// The delegate's answer to a starting C-STORE.
public enum StoreStart: Sendable, Equatable {
    /// Stream the object to this new file (created exclusively by the listener, mode 0600).
    case write(path: String)
    /// Refuse without storing: the data set is read and discarded, then this status is sent.
    case refuse(DIMSEStatus, comment: String)
}

/// A completely received object, written to `path` as a Part 10 file.
public struct ReceivedObject: Sendable, Equatable {
    public var request: StoreRequestInfo
    public var path: String
    /// SHA-256 (lowercase hex) of the data set bytes as received, without the file meta group.
    public var datasetSHA256: String
    /// Size of the whole file in bytes.
    public var fileSize: UInt64
}

/// The C-STORE-RSP to send.
public struct StoreResponse: Sendable, Equatable {
    public var status: DIMSEStatus
    /// (0000,0902) Error Comment: constant text, never PHI.
    public var errorComment: String?

    public init(status: DIMSEStatus, errorComment: String? = nil) {
        self.status = status
        self.errorComment = errorComment
    }
}

/// Why an association ended, for logs and counters.
public enum AssociationEnd: Sendable, Equatable {
    case released
    case abortedByPeer
    case abortedByUs(String)
    case connectionLost
    case timedOut(String)
}

/// The policy and storage the listener calls into. The listener owns the protocol; the delegate
/// owns every decision (who may associate) and every durable effect (where bytes go, when they
/// are committed). Callbacks other than `completeStore` run on an event loop: keep them fast.
public protocol StorageSCPDelegate: AnyObject, Sendable {
    /// Decides an association request (allowlist, called AE).
    func decideAssociation(_ request: AssociationRequestInfo) -> AssociationDecision
    /// An association was rejected (by policy, limit, or a malformed request) or accepted.
    func associationRejected(_ request: AssociationRequestInfo?, rejection: AssociationRejection, why: String)
    func associationAccepted(_ association: AssociationInfo, acceptedContexts: Int)
    func associationEnded(_ association: AssociationInfo, how: AssociationEnd)
    /// A C-STORE-RQ command arrived; say where its data set goes.
    func beginStore(_ request: StoreRequestInfo) -> StoreStart
    /// The data set arrived completely in `object.path`. Validate, make durable, commit, and
    /// return the status. The response is sent only when this returns (DESIGN §1.1).
    func completeStore(_ object: ReceivedObject) async -> StoreResponse
    /// The same as `completeStore(_:)`, for the listener: the future completes with the status
    /// to send (on any thread; the listener hops to `eventLoop`). A delegate that can finish the
    /// work without Swift concurrency implements this to save the task hand-offs per object; the
    /// default runs `completeStore(_:)` in a task.
    func completeStore(_ object: ReceivedObject, eventLoop: any EventLoop) -> EventLoopFuture<StoreResponse>
    /// The data set will never complete (peer aborted, connection lost, write failed, too
    /// large): remove whatever was written at `path`.
    func abandonStore(_ request: StoreRequestInfo, path: String)
}

extension StorageSCPDelegate {
    public func completeStore(_ object: ReceivedObject, eventLoop: any EventLoop) -> EventLoopFuture<StoreResponse> {
        eventLoop.makeFutureWithTask { await self.completeStore(object) }
    }
}
