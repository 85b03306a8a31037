/// HTTP and STOW-RS outcomes mapped onto failure classes (DESIGN §4, PS3.18 §10.5).
///
/// A STOW-RS response is judged per instance from its body whatever the HTTP status, except for
/// the statuses that say the request as a whole was not processed: those defer every instance of
/// the request and never dead-letter anything (an expired token must not wipe the backlog).
///
/// | HTTP status | class | |
/// |---|---|---|
/// | 401, 403, 407 | `httpAuthentication` | destination-level |
/// | 404 | `httpNotFound` | destination-level |
/// | 408 | `timeout` | destination-level |
/// | 429, 5xx, 3xx (redirects are never followed), 1xx | `httpUnavailable` | destination-level |
/// | 413 | — | the batch is halved; alone, `payloadTooLarge` (object-level) |
/// | 200, 202, 409, other 4xx | — | per instance, from the body |
extension FailureClass {
    /// The destination-level class for an HTTP status that says nothing per instance, or nil
    /// when the response body decides per instance (and for 413, which the sender handles by
    /// halving the batch).
    public static func forHTTPStatus(_ status: Int) -> FailureClass? {
        switch status {
        case 401, 403, 407: return .httpAuthentication
        case 404: return .httpNotFound
        case 408: return .timeout
        case 429: return .httpUnavailable
        case 500...599: return .httpUnavailable
        case 100...199, 300...399: return .httpUnavailable
        case 413: return nil
        case 200...299, 400...499: return nil
        default: return .httpUnavailable
        }
    }

    /// Classifies the Failure Reason (0008,1197) of a FailedSOPSequence item (PS3.18 §10.5.3,
    /// PS3.4 B.2.3): 0xA9xx, 0xC122 and 0x0122 are dead at once; 0xA7xx is the remote out of
    /// resources (destination-level); every other reason is retried, then dead after
    /// `RetryPolicy.maxObjectAttempts` attempts.
    public static func forSTOWFailureReason(_ reason: UInt16) -> FailureClass {
        switch reason {
        case 0xC122: return .transferSyntaxNotSupported
        case 0x0122: return .sopClassNotSupported
        default: return forStoreStatus(DIMSEStatus(reason))
        }
    }
}
