/// The result of one attempt to send one object to one destination, as a sender reports it.
/// Senders keep DCMTK's two channels apart: a transport failure is `.failed(.connection…)`,
/// a response status is `.delivered` or `.failed(forStoreStatus)` (CONVENTIONS §8).
public enum SendOutcome: Sendable, Equatable {
    /// The remote answered success or a warning status.
    case delivered(status: DIMSEStatus)
    /// The attempt failed; `status` is the remote's status when there was one.
    case failed(FailureClass, status: DIMSEStatus?, detail: String)
}

extension SendOutcome {
    /// The remote's status when the attempt failed with one.
    public var failureStatus: DIMSEStatus? {
        if case .failed(_, let status, _) = self { return status }
        return nil
    }
}
