/// Why a send did not end in "delivered". Every failure is either destination-level (the
/// destination as a whole is unwell; the object is fine and must wait) or object-level (this
/// object will never be accepted as it is). Stored in the outbox as `rawValue`.
public enum FailureClass: String, Sendable, CaseIterable, Codable {
    // MARK: Destination-level: deferred with backoff, never dead-lettered.
    /// TCP connect refused, reset or unreachable; DNS failure.
    case connection
    /// A network phase (connect, ACSE, DIMSE) timed out.
    case timeout
    /// A-ASSOCIATE-RJ, whatever its reason: on go-live day the remote may simply not know us yet.
    case associationRejected = "association_rejected"
    /// The peer aborted the association (A-ABORT or A-P-ABORT) mid-transfer.
    case aborted
    /// DIMSE 0xA7xx: the remote is out of resources.
    case remoteOutOfResources = "remote_out_of_resources"
    /// TLS handshake or certificate failure.
    case tls
    /// HTTP 401, 403 or 407: the remote or a proxy refuses our credentials (an expired token must
    /// not wipe the backlog). See `FailureClass+HTTP.swift`.
    case httpAuthentication = "http_auth"
    /// HTTP 404: the DICOMweb base URL is wrong or the service is not deployed yet.
    case httpNotFound = "http_not_found"
    /// HTTP 429, 5xx, a redirect (never followed) or another status that says nothing per
    /// instance: the remote is unwell or busy.
    case httpUnavailable = "http_unavailable"
    /// A STOW-RS response body that cannot be parsed, or that lists an instance we sent in
    /// neither ReferencedSOPSequence nor FailedSOPSequence (PS3.18 §10.5.3).
    case unparsableResponse = "unparsable_response"

    // MARK: Object-level: dead-lettered at once or after a few attempts.
    /// DIMSE 0xA9xx: data set does not match the SOP class.
    case dataSetMismatch = "dataset_mismatch"
    /// DIMSE 0x0122 or no acceptable presentation context: the remote does not take this class.
    case sopClassNotSupported = "sop_class_not_supported"
    /// DIMSE 0xCxxx: the remote cannot understand the object.
    case cannotUnderstand = "cannot_understand"
    /// STOW-RS Failure Reason 0xC122: the remote does not take the instance's transfer syntax.
    case transferSyntaxNotSupported = "transfer_syntax_not_supported"
    /// HTTP 413 for a request holding this instance alone: it exceeds the remote's body limit.
    case payloadTooLarge = "payload_too_large"
    /// DIMSE 0x0110 processing failure.
    case processingFailure = "processing_failure"
    /// Any other failure status.
    case unknownStatus = "unknown_status"
    /// The spool file of an acknowledged object is gone (found by startup reconcile).
    case spoolMissing = "spool_missing"
    /// The local file could not be read or sent for a reason inside radrelay.
    case localError = "local_error"
    /// Expired: older than the destination's maximum age.
    case expired

    /// True when the failure says nothing about the object itself.
    public var isDestinationLevel: Bool {
        switch self {
        case .connection, .timeout, .associationRejected, .aborted, .remoteOutOfResources, .tls: return true
        case .httpAuthentication, .httpNotFound, .httpUnavailable, .unparsableResponse: return true
        default: return false
        }
    }

    /// Classifies a failure status from a C-STORE-RSP (PS3.4 B.2.3, PS3.7 C).
    public static func forStoreStatus(_ status: DIMSEStatus) -> FailureClass {
        switch status.rawValue {
        case 0xA700...0xA7FF: return .remoteOutOfResources
        case 0xA900...0xA9FF: return .dataSetMismatch
        case 0x0122: return .sopClassNotSupported
        case 0xC000...0xCFFF: return .cannotUnderstand
        case 0x0110: return .processingFailure
        default: return .unknownStatus
        }
    }
}
