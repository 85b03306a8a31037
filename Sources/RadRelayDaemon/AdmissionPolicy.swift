import RadRelayConfig
import RadRelayCore
import RadRelayDIMSE

/// Who may open an association (DESIGN §1.7: calling-AE + IP allowlist on by default), as a
/// pure function of the configuration so a reload can swap it atomically.
struct AdmissionPolicy: Sendable, Equatable {
    var calledAETitles: [AETitle]
    var allowedCallers: [Configuration.AllowedCaller]

    init(gateway: Configuration.Gateway) {
        calledAETitles = gateway.calledAETitles
        allowedCallers = gateway.allowedCallers
    }

    /// PS3.8 §9.3.4: an unknown caller (AE or address) is 1/1/3, an unknown called AE 1/1/7.
    /// The caller is checked first so an unknown peer learns nothing about our AE titles.
    func decide(_ request: AssociationRequestInfo) -> AssociationDecision {
        guard
            let caller = allowedCallers.first(where: { $0.aeTitle == request.callingAE }),
            caller.hosts.isEmpty || caller.hosts.contains(where: { $0.contains(request.peerAddress) })
        else { return .reject(.callingAENotRecognized) }
        guard calledAETitles.contains(request.calledAE) else { return .reject(.calledAENotRecognized) }
        return .accept(callerLimit: caller.maxAssociations)
    }
}
