import CDCMTK
import RadRelayCore

extension SendOutcome {
    /// Maps one shim result onto the outcome vocabulary (CONVENTIONS §8): a response status is
    /// delivered or failed by its PS3.7 category; a transport failure by its kind, never by status.
    init(_ result: rr_net_result) {
        let detail = String(cMessage: result.error)
        switch rr_net_kind(rawValue: UInt32(bitPattern: result.kind)) {
        case RR_NET_OK where result.has_status != 0:
            let status = DIMSEStatus(result.status)
            switch status.category {
            case .success, .warning:
                self = .delivered(status: status)
            default:
                self = .failed(FailureClass.forStoreStatus(status), status: status, detail: "response status \(status)")
            }
        case RR_NET_CONNECTION: self = .failed(.connection, status: nil, detail: detail)
        case RR_NET_TIMEOUT: self = .failed(.timeout, status: nil, detail: detail)
        case RR_NET_REJECTED:
            let fields = "\(result.reject_result)/\(result.reject_source)/\(result.reject_reason)"
            self = .failed(.associationRejected, status: nil, detail: fields)
        case RR_NET_ABORTED: self = .failed(.aborted, status: nil, detail: detail)
        case RR_NET_TLS: self = .failed(.tls, status: nil, detail: detail)
        case RR_NET_NO_CONTEXT: self = .failed(.sopClassNotSupported, status: nil, detail: Self.noContextDetail)
        default: self = .failed(.localError, status: nil, detail: detail.isEmpty ? "no response" : detail)
        }
    }

    /// The detail of every "peer accepted no context for this class" outcome.
    static let noContextDetail = "no presentation context accepted"
}
