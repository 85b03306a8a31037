import CDCMTK
import Foundation
import Logging
import RadRelayCore

/// The shim's SCU for one destination plus the negotiation policy. Confined to the sender's
/// thread: every call blocks on the network.
final class SCUSession {
    private let scu: OpaquePointer
    private let progress: ProgressBox?
    private let logger: Logger
    private var plan = PresentationContextPlan()
    /// Every context the open association was negotiated with (accepted or declined); empty when
    /// none is open. See `PresentationContextPlan.decision`.
    private var proposed: Set<PresentationContextPlan.Context> = []

    init(configuration: DICOMSenderConfiguration, onProgress: (@Sendable (Int) -> Void)?, logger: Logger) {
        var error = rr_error()
        let created = configuration.host.withCString { host in
            configuration.callingAE.value.withCString { calling in
                configuration.calledAE.value.withCString { called in
                    var config = rr_scu_config(
                        host: host,
                        port: UInt16(clamping: configuration.port),
                        calling_ae: calling,
                        called_ae: called,
                        connect_timeout: DICOMSenderConfiguration.dcmtkSeconds(configuration.connectTimeout),
                        acse_timeout: DICOMSenderConfiguration.dcmtkSeconds(configuration.acseTimeout),
                        dimse_timeout: DICOMSenderConfiguration.dcmtkSeconds(configuration.dimseTimeout),
                        max_pdu: UInt32(clamping: configuration.maxPDU)
                    )
                    return rr_scu_create(&config, &error)
                }
            }
        }
        guard let created else { fatalError("rr_scu_create failed: \(String(cMessage: error))") }
        scu = created
        if let tls = configuration.tls { Self.applyTLS(tls, to: created) }  // issue 5
        progress = onProgress.map(ProgressBox.init)
        self.logger = logger
    }

    deinit {
        rr_scu_destroy(scu)
    }

    /// Whether an association is open now.
    var isAssociated: Bool { rr_scu_is_associated(scu) != 0 }

    /// One C-STORE, on the open association when it was negotiated with the object's class and
    /// syntax, else on a new one that proposes them (`PresentationContextPlan.decision`): an
    /// object is decompressed only when the remote itself declined its syntax.
    func send(_ object: OutgoingObject) -> SendOutcome {
        if rr_scu_drop_if_peer_closed(scu) != 0,
            PresentationContextPlan.decision(
                forSOPClass: object.sopClassUID, transferSyntax: object.transferSyntaxUID, proposed: proposed)
                == .renegotiate
        {
            logger.debug(
                "renegotiating for the object's transfer syntax",
                metadata: ["sopClass": "\(object.sopClassUID)", "transferSyntax": "\(object.transferSyntaxUID)"])
            release()
        }
        plan.note(sopClass: object.sopClassUID, transferSyntax: object.transferSyntaxUID)
        if !isAssociated {
            if let failure = associate() { return failure }
            guard rr_scu_can_send(scu, object.sopClassUID, object.transferSyntaxUID) != 0 else {
                return .failed(.sopClassNotSupported, status: nil, detail: SendOutcome.noContextDetail)
            }
        }
        var result = rr_net_result()
        if let progress {
            let context = Unmanaged.passUnretained(progress).toOpaque()
            rr_scu_store(
                scu, object.path, object.sopClassUID, object.sopInstanceUID, progressTrampoline, context,
                &result)
        } else {
            rr_scu_store(scu, object.path, object.sopClassUID, object.sopInstanceUID, nil, nil, &result)
        }
        let outcome = SendOutcome(result)
        if !isAssociated { logger.debug("association dropped", metadata: ["reason": "\(outcome)"]) }
        return outcome
    }

    /// One C-ECHO, on the open association when it has Verification, else on a new one.
    func echo() -> SendOutcome {
        var result = rr_net_result()
        if rr_scu_drop_if_peer_closed(scu) != 0 {
            rr_scu_echo(scu, &result)
            guard result.kind == Int32(RR_NET_NO_CONTEXT.rawValue) else { return SendOutcome(result) }
            release()
        }
        if let failure = associate() { return failure }
        rr_scu_echo(scu, &result)
        return SendOutcome(result)
    }

    /// A-RELEASE of the open association, if any; failures only drop it.
    func release() {
        guard isAssociated else { return }
        var result = rr_net_result()
        rr_scu_release(scu, &result)
        if result.kind != Int32(RR_NET_OK.rawValue) {
            logger.debug("association release failed", metadata: ["detail": "\(String(cMessage: result.error))"])
        } else {
            logger.debug("association released")
        }
    }

    /// Negotiates a new association with the plan's contexts; the failure outcome, or nil.
    private func associate() -> SendOutcome? {
        let contexts = plan.contexts()
        proposed = []
        // DCMTK copies these into its own parameters: the C strings only have to outlive the call.
        let strings = contexts.map { (strdup($0.abstractSyntax), strdup($0.transferSyntax)) }
        defer {
            strings.forEach {
                free($0.0); free($0.1)
            }
        }
        let requested = strings.map { rr_presentation_context(abstract_syntax: $0.0, transfer_syntax: $0.1) }
        var result = rr_net_result()
        _ = requested.withUnsafeBufferPointer { rr_scu_associate(scu, $0.baseAddress, $0.count, &result) }
        guard result.kind == Int32(RR_NET_OK.rawValue) else {
            let outcome = SendOutcome(result)
            logger.debug("association failed", metadata: ["outcome": "\(outcome)"])
            return outcome
        }
        proposed = Set(contexts)
        logger.debug("association established", metadata: ["proposedContexts": "\(contexts.count)"])
        return nil
    }
}

extension SCUSession {
    /// Turns on DICOM TLS for every later association (rr_tls.cpp).
    fileprivate static func applyTLS(_ tls: DICOMSenderConfiguration.TLS, to scu: OpaquePointer) {
        func withOptionalCString<R>(_ text: String?, _ body: (UnsafePointer<CChar>?) -> R) -> R {
            guard let text else { return body(nil) }
            return text.withCString { body($0) }
        }
        var error = rr_error()
        withOptionalCString(tls.caFile) { ca in
            withOptionalCString(tls.certificateFile) { certificate in
                withOptionalCString(tls.privateKeyFile) { key in
                    withOptionalCString(tls.serverName) { name in
                        var config = rr_tls_client_config(
                            ca_file: ca, certificate_file: certificate, private_key_file: key, server_name: name,
                            verify_hostname: tls.verifyHostname ? 1 : 0)
                        _ = rr_scu_set_tls(scu, &config, &error)
                    }
                }
            }
        }
    }
}

/// Holds the progress closure at a stable address for the C callback's context pointer.
final class ProgressBox {
    let handler: @Sendable (Int) -> Void
    init(_ handler: @escaping @Sendable (Int) -> Void) { self.handler = handler }
}

/// A plain C function pointer that forwards to the `ProgressBox` passed as context.
private let progressTrampoline: rr_progress_fn = { context, bytes in
    guard let context else { return }
    Unmanaged<ProgressBox>.fromOpaque(context).takeUnretainedValue().handler(Int(clamping: bytes))
}
