import Logging
import NIOCore
import RadRelayCore

#if canImport(Glibc)
import Glibc
#endif

/// Runs one association on one connection: PS3.8's acceptor state machine reduced to what a
/// storage SCP needs (association negotiation, C-ECHO, C-STORE, release, abort), with a timer
/// for every phase. One instance per connection, always on that connection's event loop, so no
/// peer can hold up another (docs/decisions.md, "accept path").
final class AssociationHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = PDUFrame
    typealias OutboundOut = ByteBuffer

    private enum State {
        /// Connected; waiting for the A-ASSOCIATE-RQ (ARTIM timer running).
        case awaitingAssociateRequest
        /// Established, between messages.
        case idle
        /// Command fragments are arriving on `contextID`.
        case receivingCommand(contextID: UInt8, buffer: ByteBuffer)
        /// A C-STORE data set is streaming to disk.
        case receivingDataSet(StoreInProgress)
        /// The data set is complete; the delegate is validating and committing it.
        case awaitingCompletion
        /// A-RELEASE-RP or A-ABORT sent, or the association was rejected; closing.
        case closing
    }

    /// A C-STORE whose data set is arriving.
    private struct StoreInProgress {
        var contextID: UInt8
        var command: DIMSECommandSet
        var request: StoreRequestInfo
        /// nil when the object is being discarded (refused, too large, or a write failed).
        var fileDescriptor: Int32?
        var path: String?
        var hasher: SHA256Hasher
        var bytesWritten: UInt64
        /// Status to answer once the data set is complete, when already decided.
        var refusal: StoreResponse?
    }

    private let configuration: StorageSCPConfiguration
    private let delegate: any StorageSCPDelegate
    private let limiter: AssociationLimiter
    private let associationID: UInt64
    private var logger: Logger

    private var state: State = .awaitingAssociateRequest
    private var association: AssociationInfo?
    private var acceptedContexts: [UInt8: (abstractSyntax: String, transferSyntax: String)] = [:]
    private var holdsLimiterSlot = false
    /// Registered with the limiter as a connection without a complete A-ASSOCIATE-RQ.
    private var awaitingRequestRegistered = false
    private var timer: Scheduled<Void>?
    /// Frames that arrived while the delegate was committing; processed after the response.
    private var pendingFrames: [PDUFrame] = []

    init(
        configuration: StorageSCPConfiguration,
        delegate: any StorageSCPDelegate,
        limiter: AssociationLimiter,
        associationID: UInt64,
        logger: Logger
    ) {
        self.configuration = configuration
        self.delegate = delegate
        self.limiter = limiter
        self.associationID = associationID
        self.logger = logger
        self.logger[metadataKey: "association"] = "\(associationID)"
    }

    // MARK: - Channel events

    func channelActive(context: ChannelHandlerContext) {
        armTimer(context: context, seconds: configuration.acseTimeout, phase: "acse")
        // Fault suite bug 3: connections without a complete A-ASSOCIATE-RQ are capped; past the
        // cap the oldest one goes (see AssociationLimiter for the memory bound and the choice).
        let limit = AssociationLimiter.pendingLimit(maxAssociations: configuration.maxAssociations)
        let admission = limiter.connectionOpened(context.channel, limit: limit)
        awaitingRequestRegistered = true
        if let evicted = admission.evicted {
            let meta: Logger.Metadata = ["pending": "\(admission.pending)", "limit": "\(limit)"]
            if admission.saturationBegan {
                logger.warning("Too many connections without an A-ASSOCIATE-RQ: closing the oldest", metadata: meta)
            } else {
                logger.debug("Too many connections without an A-ASSOCIATE-RQ: closing the oldest", metadata: meta)
            }
            evicted.close(promise: nil)
        }
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        timer?.cancel()
        leavePending(context: context)
        if case .receivingDataSet(let store) = state { abandon(store) }
        if let association {
            if case .closing = state {} else { delegate.associationEnded(association, how: .connectionLost) }
        }
        releaseLimiterSlot()
        state = .closing
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        if let tooLong = error as? AssociateRequestTooLong, case .awaitingAssociateRequest = state {
            leavePending(context: context)
            // The delegate's rejection log cannot name the peer (the request was not parsed).
            logger.notice(
                "A-ASSOCIATE-RQ longer than accepted: rejected",
                metadata: [
                    "dicom_peer_ip": "\(context.channel.remoteAddress?.ipAddress ?? "unknown")",
                    "pdu_length": "\(tooLong.length)", "limit": "\(tooLong.limit)",
                ]
            )
            reject(context: context, info: nil, .requestTooLong, why: "A-ASSOCIATE-RQ longer than 64 KiB")
        } else if error is AssociateRequestTooLong {
            // A second A-ASSOCIATE-RQ on an established association: a protocol error anyway.
            abort(context: context, reason: 6, why: "A-ASSOCIATE-RQ longer than 64 KiB on an association")
        } else if let protocolError = error as? PDUProtocolError {
            abort(context: context, reason: protocolError.abortReason, why: protocolError.detail)
        } else {
            logger.debug("Connection error", metadata: ["error": "\(error)"])
            context.close(promise: nil)
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        if case .awaitingCompletion = state {
            pendingFrames.append(frame)
            if pendingFrames.count > 64 {
                abort(context: context, reason: 2, why: "peer sent too many PDUs while a store was being committed")
            }
            return
        }
        handle(frame, context: context)
    }

    // MARK: - PDU dispatch

    private func handle(_ frame: PDUFrame, context: ChannelHandlerContext) {
        var body = frame.body
        do throws(PDUProtocolError) {
            switch (frame.type, state) {
            case (PDU.TypeCode.associateRequest.rawValue, .awaitingAssociateRequest):
                // The request is complete: from here on `max_associations` bounds this connection.
                leavePending(context: context)
                try negotiate(AssociateRequest(parsing: &body), context: context)
            case (PDU.TypeCode.data.rawValue, .idle), (PDU.TypeCode.data.rawValue, .receivingCommand),
                (PDU.TypeCode.data.rawValue, .receivingDataSet):
                for pdv in try PDU.presentationDataValues(&body) {
                    try receive(pdv, context: context)
                    if case .closing = state { return }
                }
                rearmForCurrentPhase(context: context)
            case (PDU.TypeCode.releaseRequest.rawValue, .idle):
                timer?.cancel()
                if let association { delegate.associationEnded(association, how: .released) }
                state = .closing
                context.writeAndFlush(wrapOutboundOut(PDUEncoder.releaseResponse(allocator: context.channel.allocator)))
                    .whenComplete { _ in context.close(promise: nil) }
            case (PDU.TypeCode.abort.rawValue, _):
                if case .receivingDataSet(let store) = state { abandon(store) }
                if let association { delegate.associationEnded(association, how: .abortedByPeer) }
                state = .closing
                context.close(promise: nil)
            case (_, .closing):
                return
            default:
                throw PDUProtocolError(abortReason: 2, detail: "unexpected PDU for the association state")
            }
        } catch {
            abort(context: context, reason: error.abortReason, why: error.detail)
        }
    }

    // MARK: - Association negotiation

    private func negotiate(_ request: AssociateRequest, context: ChannelHandlerContext) {
        let peer = context.channel.remoteAddress?.ipAddress ?? "unknown"
        guard let calling = try? AETitle(request.callingAE) else {
            reject(context: context, info: nil, .callingAENotRecognized, why: "calling AE title is not valid")
            return
        }
        guard let called = try? AETitle(request.calledAE) else {
            reject(context: context, info: nil, .calledAENotRecognized, why: "called AE title is not valid")
            return
        }
        let info = AssociationRequestInfo(
            callingAE: calling,
            calledAE: called,
            peerAddress: peer,
            implementationClassUID: request.implementationClassUID,
            implementationVersionName: request.implementationVersionName
        )
        guard request.protocolVersion & 0x0001 != 0 else {
            reject(context: context, info: info, .protocolVersionNotSupported, why: "protocol version not supported")
            return
        }
        guard request.applicationContext == dicomApplicationContext else {
            reject(context: context, info: info, .applicationContextNotSupported, why: "unknown application context")
            return
        }
        switch delegate.decideAssociation(info) {
        case .reject(let rejection):
            reject(context: context, info: info, rejection, why: "refused by policy")
            return
        case .accept(let callerLimit):
            guard limiter.acquire(caller: calling.value, callerLimit: callerLimit, globalLimit: configuration.maxAssociations)
            else {
                reject(context: context, info: info, .localLimitExceeded, why: "association limit reached")
                return
            }
            holdsLimiterSlot = true
        }

        var results: [(id: UInt8, result: UInt8, transferSyntax: String)] = []
        for proposed in request.presentationContexts {
            let fallback = proposed.transferSyntaxes.first ?? AcceptedTransferSyntaxes.implicitVRLittleEndian
            guard acceptsAbstractSyntax(proposed.abstractSyntax) else {
                results.append((proposed.id, 3, fallback))  // abstract-syntax-not-supported
                continue
            }
            guard
                let chosen = AcceptedTransferSyntaxes.preferenceOrder.first(where: proposed.transferSyntaxes.contains)
            else {
                results.append((proposed.id, 4, fallback))  // transfer-syntaxes-not-supported
                continue
            }
            results.append((proposed.id, 0, chosen))
            acceptedContexts[proposed.id] = (proposed.abstractSyntax, chosen)
        }
        let established = AssociationInfo(callingAE: calling, calledAE: called, peerAddress: peer, id: associationID)
        association = established
        state = .idle
        // The peer's maximum PDU length is not needed: our only messages are responses of a few
        // hundred bytes, far below any maximum a peer may announce.
        let accept = PDUEncoder.associateAccept(
            request: request,
            results: results,
            maxPDULength: UInt32(configuration.maxPDULength),
            implementationClassUID: Part10Header.implementationClassUID,
            implementationVersionName: Part10Header.implementationVersionName,
            allocator: context.channel.allocator
        )
        context.writeAndFlush(wrapOutboundOut(accept), promise: nil)
        delegate.associationAccepted(established, acceptedContexts: acceptedContexts.count)
        armTimer(context: context, seconds: configuration.idleTimeout, phase: "idle")
    }

    private func acceptsAbstractSyntax(_ uid: String) -> Bool {
        if uid == verificationSOPClassUID { return true }
        guard (try? DICOMUID(uid)) != nil else { return false }
        if uid.hasPrefix("1.2.840.10008.") { return DICOMFileInspector.isStorageSOPClass(uid) }
        return configuration.acceptPrivateSOPClasses
    }

    private func reject(
        context: ChannelHandlerContext,
        info: AssociationRequestInfo?,
        _ rejection: AssociationRejection,
        why: String
    ) {
        timer?.cancel()
        state = .closing
        delegate.associationRejected(info, rejection: rejection, why: why)
        let pdu = PDUEncoder.associateReject(
            result: rejection.result,
            source: rejection.source,
            reason: rejection.reason,
            allocator: context.channel.allocator
        )
        context.writeAndFlush(wrapOutboundOut(pdu)).whenComplete { _ in context.close(promise: nil) }
    }

    // MARK: - DIMSE messages

    private func receive(_ pdv: PresentationDataValue, context: ChannelHandlerContext) throws(PDUProtocolError) {
        guard acceptedContexts[pdv.contextID] != nil else {
            throw PDUProtocolError(abortReason: 6, detail: "PDV on a presentation context that was not accepted")
        }
        switch state {
        case .idle:
            guard pdv.isCommand else { throw PDUProtocolError(abortReason: 2, detail: "data set before its command") }
            var fragment = pdv.fragment
            var buffer = context.channel.allocator.buffer(capacity: fragment.readableBytes)
            buffer.writeBuffer(&fragment)
            state = .receivingCommand(contextID: pdv.contextID, buffer: buffer)
            if pdv.isLast { try commandComplete(context: context) }
        case .receivingCommand(let contextID, var buffer):
            guard pdv.isCommand, pdv.contextID == contextID else {
                throw PDUProtocolError(abortReason: 2, detail: "command fragments interleaved")
            }
            var fragment = pdv.fragment
            guard buffer.readableBytes + fragment.readableBytes <= 65536 else {
                throw PDUProtocolError(abortReason: 6, detail: "command set larger than 64 KiB")
            }
            buffer.writeBuffer(&fragment)
            state = .receivingCommand(contextID: contextID, buffer: buffer)
            if pdv.isLast { try commandComplete(context: context) }
        case .receivingDataSet(var store):
            guard !pdv.isCommand, pdv.contextID == store.contextID else {
                throw PDUProtocolError(abortReason: 2, detail: "data set fragment expected")
            }
            write(pdv.fragment, to: &store)
            if pdv.isLast {
                complete(store, context: context)
            } else {
                state = .receivingDataSet(store)
            }
        default:
            throw PDUProtocolError(abortReason: 2, detail: "P-DATA-TF in an unexpected state")
        }
    }

    private func commandComplete(context: ChannelHandlerContext) throws(PDUProtocolError) {
        guard case .receivingCommand(let contextID, let buffer) = state else { return }
        let command = try DIMSECommandSet(parsing: buffer)
        let abstractSyntax = acceptedContexts[contextID]!.abstractSyntax
        switch command.commandField {
        case DIMSECommandSet.Field.cEchoRequest.rawValue:
            guard !command.hasDataSet else { throw PDUProtocolError(abortReason: 6, detail: "C-ECHO-RQ with a data set") }
            var response = DIMSECommandSet(commandField: .cEchoResponse)
            response.affectedSOPClassUID = command.affectedSOPClassUID ?? verificationSOPClassUID
            response.messageIDBeingRespondedTo = command.messageID ?? 0
            response.status = DIMSEStatus.success.rawValue
            send(response, contextID: contextID, context: context)
            state = .idle
        case DIMSECommandSet.Field.cStoreRequest.rawValue:
            guard command.hasDataSet else { throw PDUProtocolError(abortReason: 6, detail: "C-STORE-RQ without a data set") }
            startStore(command, contextID: contextID, abstractSyntax: abstractSyntax, context: context)
        default:
            // PS3.7 C.4.2: an operation we do not provide on an accepted context.
            var response = DIMSECommandSet(commandField: .cEchoResponse)
            response.commandField = command.commandField | 0x8000
            response.affectedSOPClassUID = command.affectedSOPClassUID
            response.messageIDBeingRespondedTo = command.messageID ?? 0
            response.status = 0x0211  // Unrecognized Operation
            if command.hasDataSet {
                throw PDUProtocolError(abortReason: 2, detail: "unsupported DIMSE operation with a data set")
            }
            send(response, contextID: contextID, context: context)
            state = .idle
        }
    }

    private func startStore(
        _ command: DIMSECommandSet,
        contextID: UInt8,
        abstractSyntax: String,
        context: ChannelHandlerContext
    ) {
        let request = StoreRequestInfo(
            association: association!,
            sopClassUID: command.affectedSOPClassUID ?? "",
            sopInstanceUID: command.affectedSOPInstanceUID ?? "",
            transferSyntaxUID: acceptedContexts[contextID]!.transferSyntax,
            dimsePriority: command.priority ?? 0
        )
        var store = StoreInProgress(
            contextID: contextID,
            command: command,
            request: request,
            fileDescriptor: nil,
            path: nil,
            hasher: SHA256Hasher(),
            bytesWritten: 0,
            refusal: nil
        )
        if request.sopClassUID != abstractSyntax {
            // PS3.4 B.2.3: the command's SOP class must be the context's abstract syntax.
            store.refusal = StoreResponse(status: .dataSetDoesNotMatchSOPClass, errorComment: "SOP class differs from presentation context")
        } else if (try? DICOMUID(request.sopClassUID)) == nil || (try? DICOMUID(request.sopInstanceUID)) == nil {
            store.refusal = StoreResponse(status: .cannotUnderstand, errorComment: "invalid affected SOP UID in command")
        } else {
            switch delegate.beginStore(request) {
            case .refuse(let status, let comment):
                store.refusal = StoreResponse(status: status, errorComment: comment)
            case .write(let path):
                let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
                if fd < 0 {
                    logger.error("Cannot create spool file", metadata: ["errno": "\(errno)"])
                    store.refusal = StoreResponse(status: .outOfResources, errorComment: "cannot create spool file")
                } else {
                    store.fileDescriptor = fd
                    store.path = path
                    let header = Part10Header.encode(
                        sopClassUID: request.sopClassUID,
                        sopInstanceUID: request.sopInstanceUID,
                        transferSyntaxUID: request.transferSyntaxUID,
                        sourceAETitle: request.association.callingAE.value,
                        allocator: context.channel.allocator
                    )
                    writeRaw(header, to: &store)
                }
            }
        }
        state = .receivingDataSet(store)
    }

    /// Appends a data set fragment to the spool file and the hash. Writes go straight to the
    /// page cache on the event loop (microseconds each); the fsync that makes them durable runs
    /// in `completeStore`, off the event loop.
    private func write(_ fragment: ByteBuffer, to store: inout StoreInProgress) {
        guard store.refusal == nil else { return }
        let hasher = store.hasher
        fragment.withUnsafeReadableBytes { hasher.update($0) }
        writeRaw(fragment, to: &store)
        if store.bytesWritten > configuration.maxObjectSize, store.refusal == nil {
            store.refusal = StoreResponse(status: .outOfResources, errorComment: "object exceeds max_object_size")
            discardFile(&store)
        }
    }

    private func writeRaw(_ bytes: ByteBuffer, to store: inout StoreInProgress) {
        guard let fd = store.fileDescriptor else { return }
        let ok = bytes.withUnsafeReadableBytes { raw -> Bool in
            var offset = 0
            while offset < raw.count {
                let n = Glibc.write(fd, raw.baseAddress! + offset, raw.count - offset)
                if n < 0 {
                    if errno == EINTR { continue }
                    return false
                }
                offset += n
            }
            return true
        }
        store.bytesWritten += UInt64(bytes.readableBytes)
        if !ok {
            logger.error("Cannot write spool file", metadata: ["errno": "\(errno)"])
            store.refusal = StoreResponse(status: .outOfResources, errorComment: "cannot write spool file")
            discardFile(&store)
        }
    }

    private func discardFile(_ store: inout StoreInProgress) {
        if let fd = store.fileDescriptor { close(fd) }
        store.fileDescriptor = nil
        if let path = store.path { delegate.abandonStore(store.request, path: path) }
        store.path = nil
    }

    private func abandon(_ store: StoreInProgress) {
        var store = store
        discardFile(&store)
    }

    private func complete(_ store: StoreInProgress, context: ChannelHandlerContext) {
        var store = store
        if let refusal = store.refusal {
            discardFile(&store)
            sendStoreResponse(refusal, for: store, context: context)
            state = .idle
            return
        }
        close(store.fileDescriptor!)
        let object = ReceivedObject(
            request: store.request,
            path: store.path!,
            datasetSHA256: store.hasher.finalize(),
            fileSize: store.bytesWritten
        )
        state = .awaitingCompletion
        timer?.cancel()
        // Stop reading until the response is out: the peer must wait for it anyway (no
        // asynchronous operations are negotiated), and this bounds what a misbehaving peer can
        // queue on us.
        context.channel.setOption(ChannelOptions.autoRead, value: false).whenComplete { _ in }
        let delegate = self.delegate
        let loopBound = NIOLoopBound((self, context, store), eventLoop: context.eventLoop)
        // The delegate completes the future from its own thread; one hop back to this loop.
        delegate.completeStore(object, eventLoop: context.eventLoop).hop(to: context.eventLoop).whenSuccess { response in
            let (handler, context, store) = loopBound.value
            handler.storeCommitted(response, store: store, context: context)
        }
    }

    private func storeCommitted(_ response: StoreResponse, store: StoreInProgress, context: ChannelHandlerContext) {
        guard case .awaitingCompletion = state else { return }  // connection went away meanwhile
        sendStoreResponse(response, for: store, context: context)
        state = .idle
        context.channel.setOption(ChannelOptions.autoRead, value: true).whenComplete { _ in }
        armTimer(context: context, seconds: configuration.idleTimeout, phase: "idle")
        let frames = pendingFrames
        pendingFrames = []
        for frame in frames {
            if case .closing = state { return }
            handle(frame, context: context)
        }
    }

    private func sendStoreResponse(_ response: StoreResponse, for store: StoreInProgress, context: ChannelHandlerContext) {
        var command = DIMSECommandSet(commandField: .cStoreResponse)
        command.affectedSOPClassUID = store.command.affectedSOPClassUID
        command.affectedSOPInstanceUID = store.command.affectedSOPInstanceUID
        command.messageIDBeingRespondedTo = store.command.messageID ?? 0
        command.status = response.status.rawValue
        command.errorComment = response.errorComment
        send(command, contextID: store.contextID, context: context)
    }

    private func send(_ command: DIMSECommandSet, contextID: UInt8, context: ChannelHandlerContext) {
        let bytes = command.encoded(allocator: context.channel.allocator)
        context.writeAndFlush(
            wrapOutboundOut(PDUEncoder.command(bytes, contextID: contextID, allocator: context.channel.allocator)),
            promise: nil
        )
    }

    // MARK: - Abort and timers

    private func abort(context: ChannelHandlerContext, reason: UInt8, why: String) {
        if case .closing = state { return }
        timer?.cancel()
        if case .receivingDataSet(let store) = state { abandon(store) }
        logger.notice("Association aborted", metadata: ["reason": "\(why)"])
        if let association { delegate.associationEnded(association, how: .abortedByUs(why)) }
        state = .closing
        let pdu = PDUEncoder.abort(source: 2, reason: reason, allocator: context.channel.allocator)
        context.writeAndFlush(wrapOutboundOut(pdu)).whenComplete { _ in context.close(promise: nil) }
    }

    private func rearmForCurrentPhase(context: ChannelHandlerContext) {
        switch state {
        case .idle: armTimer(context: context, seconds: configuration.idleTimeout, phase: "idle")
        case .receivingCommand, .receivingDataSet: armTimer(context: context, seconds: configuration.dimseTimeout, phase: "dimse")
        default: break
        }
    }

    private func armTimer(context: ChannelHandlerContext, seconds: Double, phase: String) {
        timer?.cancel()
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        timer = context.eventLoop.scheduleTask(in: .milliseconds(Int64(seconds * 1000))) {
            let (handler, context) = loopBound.value
            handler.timedOut(phase: phase, context: context)
        }
    }

    private func timedOut(phase: String, context: ChannelHandlerContext) {
        switch state {
        case .awaitingAssociateRequest:
            // No association yet: nothing to abort at the DICOM level, just drop the socket.
            state = .closing
            logger.info("Connection closed: no A-ASSOCIATE-RQ within the ACSE timeout")
            context.close(promise: nil)
        case .closing, .awaitingCompletion:
            break
        default:
            if let association { delegate.associationEnded(association, how: .timedOut(phase)) }
            let store: StoreInProgress? = { if case .receivingDataSet(let s) = state { return s } else { return nil } }()
            if let store { abandon(store) }
            state = .closing
            let pdu = PDUEncoder.abort(source: 2, reason: 0, allocator: context.channel.allocator)
            context.writeAndFlush(wrapOutboundOut(pdu)).whenComplete { _ in context.close(promise: nil) }
        }
    }

    private func leavePending(context: ChannelHandlerContext) {
        guard awaitingRequestRegistered else { return }
        awaitingRequestRegistered = false
        limiter.connectionLeftPending(context.channel)
    }

    private func releaseLimiterSlot() {
        guard holdsLimiterSlot, let association else { return }
        holdsLimiterSlot = false
        limiter.release(caller: association.callingAE.value)
    }
}
