import Logging
import RadRelayCore

/// One outbound DICOM Storage SCU association to one destination (PS3.4 Annex B, PS3.7 §9.1.1),
/// driven by DCMTK on a dedicated OS thread.
///
/// Requests run one at a time, in call order. The open association is reused when it was
/// negotiated with the next object's SOP class in the file's transfer syntax; otherwise it is
/// released and a new one proposes that class with the file's syntax, Explicit VR LE and Implicit
/// VR LE as separate contexts, plus Verification and the classes (with every syntax) sent
/// recently. An object is converted to an uncompressed syntax only when the remote declined its
/// own syntax on the association it goes out on, so a mixed stream keeps its compression
/// (`PresentationContextPlan.decision`). After `idleRelease` seconds without work the association
/// is released. After any transport failure it is aborted and the next request connects again.
///
/// Outcomes keep DCMTK's two channels apart (CONVENTIONS §8): a response status maps by its
/// PS3.7 category (success and warning, including 0xBxxx, are delivered; failures by
/// `FailureClass.forStoreStatus`), a transport failure by its kind (`connection`, `timeout`,
/// `associationRejected` with detail "result/source/reason" from the A-ASSOCIATE-RJ, `aborted`),
/// an unreadable or mismatching local file as `localError`, and no accepted context as
/// `sopClassNotSupported`.
///
/// Call `shutdown()` when done; dropping the last reference also ends the thread once it drains.
/// Cancelling a caller's task does not interrupt a request already queued.
public final class DICOMSender: Sendable {
    /// The destination and timeouts this sender was made with.
    public let configuration: DICOMSenderConfiguration
    private let thread: SenderThread

    /// Starts the sender's thread; connects lazily, on the first request.
    ///
    /// - Parameters:
    ///   - onProgress: called on the sender's thread with the number of dataset bytes written
    ///     since the previous call while a C-STORE is on the wire. It may block, which paces the
    ///     transfer.
    ///   - logger: association events at debug level; never PHI.
    public init(
        configuration: DICOMSenderConfiguration,
        onProgress: (@Sendable (Int) -> Void)? = nil,
        logger: Logger = Logger(label: "radrelay.dimse.sender")
    ) {
        try? DCMTKRuntime.initialize()
        self.configuration = configuration
        var logger = logger
        logger[metadataKey: "destination"] = "\(configuration.calledAE)@\(configuration.host):\(configuration.port)"
        thread = SenderThread(configuration: configuration, onProgress: onProgress, logger: logger)
        thread.start()
    }

    deinit {
        thread.requestStop(waiter: nil)
    }

    /// Sends one object with C-STORE and reports how it ended. Never throws: every failure is an
    /// outcome. After `shutdown()` it answers `.failed(.localError, …)` without sending.
    public func send(_ object: OutgoingObject) async -> SendOutcome {
        await withCheckedContinuation { continuation in
            if !thread.submit(.send(object, continuation)) { continuation.resume(returning: Self.stopped) }
        }
    }

    /// Sends a C-ECHO (PS3.7 §9.1.5), on the open association or a new one; delivered with
    /// status 0x0000 when the peer answers success.
    public func echo() async -> SendOutcome {
        await withCheckedContinuation { continuation in
            if !thread.submit(.echo(continuation)) { continuation.resume(returning: Self.stopped) }
        }
    }

    /// Finishes the queued requests, releases the association (A-RELEASE) and ends the thread.
    /// Safe to call more than once.
    public func shutdown() async {
        await withCheckedContinuation { continuation in
            thread.requestStop(waiter: continuation)
        }
    }

    private static let stopped = SendOutcome.failed(.localError, status: nil, detail: "the sender is shut down")
}

/// One-off C-ECHO, for "test connection" commands.
public enum DICOMEcho {
    /// Opens an association, sends one C-ECHO, releases, and reports the outcome.
    public static func echo(_ configuration: DICOMSenderConfiguration) async -> SendOutcome {
        let sender = DICOMSender(configuration: configuration)
        let outcome = await sender.echo()
        await sender.shutdown()
        return outcome
    }
}
