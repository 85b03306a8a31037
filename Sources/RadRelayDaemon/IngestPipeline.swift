import Foundation
import Logging
import Metrics
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import RadRelayConfig
import RadRelayCore
import RadRelayDIMSE
import RadRelayOutbox

/// The storage SCP's delegate: admits associations, gives each C-STORE a spool file, and turns
/// a received file into an acknowledged object in the fixed order of CONVENTIONS §10 —
/// validate → fsync → rename → fsync dir → one SQLite transaction (group commit) → respond.
/// Every failure on that path becomes a DIMSE status, never a success (CONVENTIONS §8).
final class IngestPipeline: StorageSCPDelegate {
    /// What a reload may swap while associations continue.
    struct Policy: Sendable {
        var admission: AdmissionPolicy
        var router: Router
        var minFreeDisk: DiskThreshold
        /// Where ingest resumes after `minFreeDisk` was crossed (hysteresis); nil: `minFreeDisk`.
        var resumeFreeDisk: DiskThreshold? = nil
        /// Issue 4: per destination, the pending bytes above which objects routed there are
        /// refused with 0xA700, and how to read the pending bytes (`Outbox.pendingBytes`).
        var backlogQuotas: [String: UInt64] = [:]
        var pendingBytes: (@Sendable () throws -> [String: UInt64])? = nil
    }

    private let policy: NIOLockedValueBox<Policy>
    /// The low-watermark state (issue 6): refusing from below `minFreeDisk` until `resumeFreeDisk`.
    private let watermark = NIOLockedValueBox(DiskWatermark())
    private let spool: Spool
    private let batcher: IngestBatcher
    private let blockingPool: NIOThreadPool
    private let logger: Logger
    private let onQueued: @Sendable (Set<String>) -> Void
    private let slots = NIOLockedValueBox<[String: SpoolSlot]>([:])

    init(
        policy: Policy,
        spool: Spool,
        batcher: IngestBatcher,
        blockingPool: NIOThreadPool,
        logger: Logger,
        onQueued: @escaping @Sendable (Set<String>) -> Void
    ) {
        self.policy = NIOLockedValueBox(policy)
        self.spool = spool
        self.batcher = batcher
        self.blockingPool = blockingPool
        self.logger = logger
        self.onQueued = onQueued
    }

    /// Swaps routing, allowlist and watermark (SIGHUP); associations in progress continue.
    func update(_ newPolicy: Policy) { policy.withLockedValue { $0 = newPolicy } }

    /// The policy in force (a reload changes parts of it).
    var currentPolicy: Policy { policy.withLockedValue { $0 } }

    /// True while C-STORE is refused for lack of disk space.
    var diskIsLow: Bool { watermark.withLockedValue { $0.isLow } }

    // MARK: - Associations

    func decideAssociation(_ request: AssociationRequestInfo) -> AssociationDecision {
        policy.withLockedValue { $0.admission }.decide(request)
    }

    func associationRejected(_ request: AssociationRequestInfo?, rejection: AssociationRejection, why: String) {
        GatewayMetrics.association(accepted: false)
        logger.warning(
            "Association rejected",
            metadata: LogEvent.associationRejected.metadata([
                "dicom_calling_aet": "\(request?.callingAE.value ?? "?")",
                "dicom_called_aet": "\(request?.calledAE.value ?? "?")",
                "dicom_peer_ip": "\(request?.peerAddress ?? "?")",
                "reject": "\(rejection)",
                "reason": "\(why)",
            ])
        )
    }

    func associationAccepted(_ association: AssociationInfo, acceptedContexts: Int) {
        GatewayMetrics.association(accepted: true)
        logger.info(
            "Association accepted",
            metadata: LogEvent.associationAccepted.metadata([
                "association": "\(association.id)",
                "dicom_calling_aet": "\(association.callingAE)",
                "dicom_called_aet": "\(association.calledAE)",
                "dicom_peer_ip": "\(association.peerAddress)",
                "contexts": "\(acceptedContexts)",
            ])
        )
    }

    func associationEnded(_ association: AssociationInfo, how: AssociationEnd) {
        logger.info("Association ended", metadata: ["association": "\(association.id)", "how": "\(how)"])
    }

    // MARK: - C-STORE

    func beginStore(_ request: StoreRequestInfo) -> StoreStart {
        let (threshold, resume) = policy.withLockedValue { ($0.minFreeDisk, $0.resumeFreeDisk ?? $0.minFreeDisk) }
        // A statvfs per object costs microseconds; a stale cached value could let a burst
        // fill the disk past the watermark.
        guard let space = try? spool.freeSpace() else {
            GatewayMetrics.storeResponse(.outOfResources)
            return .refuse(.outOfResources, comment: "gateway cannot check its disk")
        }
        // Hysteresis (issue 6): once below min_free_disk, refuse until resume_free_disk.
        let (low, transition) = watermark.withLockedValue { state in
            let transition = state.observe(
                belowLow: threshold.isBelow(available: space.available, total: space.total),
                atOrAboveResume: resume.isReached(available: space.available, total: space.total)
            )
            return (state.isLow, transition)
        }
        let diskMeta: Logger.Metadata = ["available_bytes": "\(space.available)", "total_bytes": "\(space.total)"]
        switch transition {
        case .becameLow?:
            logger.error("Disk below min_free_disk: refusing C-STORE", metadata: LogEvent.diskLow.metadata(diskMeta))
        case .recovered?:
            logger.notice("Disk space recovered: accepting C-STORE again", metadata: LogEvent.diskRecovered.metadata(diskMeta))
        case nil: break
        }
        if low {
            GatewayMetrics.storeResponse(.outOfResources)
            return .refuse(.outOfResources, comment: "gateway disk below its low watermark")
        }
        let slot = spool.allocate()
        slots.withLockedValue { $0[slot.partPath] = slot }
        return .write(path: slot.partPath)
    }

    func abandonStore(_ request: StoreRequestInfo, path: String) {
        guard let slot = slots.withLockedValue({ $0.removeValue(forKey: path) }) else { return }
        spool.discard(slot)
    }

    func completeStore(_ object: ReceivedObject) async -> StoreResponse {
        await withCheckedContinuation { continuation in
            complete(object) { continuation.resume(returning: $0) }
        }
    }

    /// The listener's entry point: the whole path runs on one blocking-pool thread —
    /// validate → fsync → rename → submit to the batcher, which commits on that same thread when
    /// no other commit is in flight — and the promise is completed from there, so the only
    /// hand-offs per object are event loop → pool and back (docs/benchmarks.md).
    func completeStore(_ object: ReceivedObject, eventLoop: any EventLoop) -> EventLoopFuture<StoreResponse> {
        let promise = eventLoop.makePromise(of: StoreResponse.self)
        complete(object) { promise.succeed($0) }
        return promise.futureResult
    }

    /// Runs the C-STORE completion on the blocking pool and calls `done` exactly once with the
    /// response, after the commit covering the object (or after refusing it).
    private func complete(_ object: ReceivedObject, done: @escaping @Sendable (StoreResponse) -> Void) {
        let started = ContinuousClock.now
        let finish: @Sendable (StoreResponse) -> Void = { response in
            GatewayMetrics.storeResponse(response.status)
            GatewayMetrics.ingestDuration(ContinuousClock.now - started)
            if response.status.rawValue == 0 { GatewayMetrics.bytesReceived(object.fileSize) }
            done(response)
        }
        // Validation and fsync block: run them on the blocking pool, never on the event loop
        // or Swift's cooperative pool (DESIGN §3).
        blockingPool.submit { [self] poolState in
            guard case .active = poolState else {
                if let slot = slots.withLockedValue({ $0.removeValue(forKey: object.path) }) { spool.discard(slot) }
                finish(StoreResponse(status: .outOfResources, errorComment: "gateway cannot store the object"))
                return
            }
            switch prepare(object) {
            case .respond(let response):
                finish(response)
            case .commit(let ingest, let pending):
                // Commits here when no other commit is in flight (this is a blocking-pool
                // thread); else the thread already committing calls back.
                batcher.submit(ingest, commitOnCallingThread: true) { [self] outcome in
                    switch outcome {
                    case .success(let result):
                        FaultPoint.hit("ingest-after-commit-before-response")  // issue 7: test builds only
                        if result.allDuplicates {
                            _ = spool.remove(relative: pending.slot.finalRelativePath)
                        }
                        // Committed: the response goes out first, the logs and wake-ups follow.
                        finish(StoreResponse(status: .success))
                        committed(result, pending)
                    case .failure(let error):
                        finish(commitFailed(error, slot: pending.slot, meta: pending.meta))
                    }
                }
            }
        }
    }

    /// What `prepare` leaves for after the commit.
    private struct PendingStore: Sendable {
        var slot: SpoolSlot
        var meta: Logger.Metadata
        var decision: RoutingDecision
        var studyUID: String
        var sopInstanceUID: String
    }

    private enum Prepared: Sendable {
        case respond(StoreResponse)
        case commit(IngestRequest, PendingStore)
    }

    /// Everything before the commit, on a blocking-pool thread: validation overlapped with the
    /// file's write-back, fsync, rename, routing, quota. Returns the refusal, or the request to
    /// commit.
    private func prepare(_ object: ReceivedObject) -> Prepared {
        guard let slot = slots.withLockedValue({ $0.removeValue(forKey: object.path) }) else {
            return .respond(StoreResponse(status: .processingFailure, errorComment: "internal error: unknown spool file"))
        }
        let request = object.request
        var meta: Logger.Metadata = [
            "association": "\(request.association.id)",
            "dicom_calling_aet": "\(request.association.callingAE)",
        ]
        let inspected: InspectedObject
        let attributes: [DICOMTag: [String]]
        let routing = policy.withLockedValue { $0.router }
        do {
            // The directory fsync after the rename is batched: the batcher syncs the spool
            // directory once per group commit, before the transaction (FIELD-NOTES). The file's
            // write-back starts before validation and the fsync waits for it after.
            (inspected, attributes) = try spool.makeDurable(slot, syncDirectory: false) {
                // One parse validates the object and reads what the routing rules test (issue 4).
                try DICOMFileInspector.inspect(
                    path: object.path,
                    expectedSOPClass: request.sopClassUID,
                    expectedSOPInstance: request.sopInstanceUID,
                    attributes: Array(routing.requiredTags)
                )
            }
        } catch let error as InspectionError {
            spool.discard(slot)
            var fields = meta.merging(["error": "\(error)"]) { $1 }
            // Fault suite bug 1: how deep the refused object nests, for the operator.
            if let depth = error.nestingDepth { fields["nesting_depth"] = "\(depth)" }
            logger.warning("C-STORE refused: invalid object", metadata: LogEvent.objectRefused.metadata(fields))
            if case .sopClassMismatch = error {
                return .respond(StoreResponse(status: .dataSetDoesNotMatchSOPClass, errorComment: "SOP class differs from command"))
            }
            return .respond(StoreResponse(status: .cannotUnderstand, errorComment: error.statusComment))
        } catch {
            spool.discard(slot)
            logger.error(
                "C-STORE refused: cannot make object durable",
                metadata: LogEvent.objectRefused.metadata(meta.merging(["error": "\(error)"]) { $1 })
            )
            return .respond(StoreResponse(status: .outOfResources, errorComment: "gateway cannot store the object"))
        }

        // The study UID keys study tracking and priority inheritance. Missing or invalid, it is
        // the sender's fault: 0xC000 (not 0xA700, which a PACS would retry forever).
        guard let studyText = inspected.studyInstanceUID, (try? DICOMUID(studyText)) != nil else {
            spool.discard(slot)
            logger.warning(
                "C-STORE refused: invalid object",
                metadata: LogEvent.objectRefused.metadata(meta.merging(["error": "missing or invalid Study Instance UID"]) { $1 })
            )
            return .respond(StoreResponse(status: .cannotUnderstand, errorComment: "missing or invalid Study Instance UID"))
        }

        let facts = ObjectFacts(
            callingAE: request.association.callingAE,
            calledAE: request.association.calledAE,
            sourceIP: request.association.peerAddress,
            modality: inspected.modality,
            sopClassUID: inspected.sopClassUID,
            attributes: attributes,
            dimsePriority: request.dimsePriority,
            receivedAt: Date().timeIntervalSince1970
        )
        let decision = routing.route(facts)
        // Issue 4: an object no rule routes is refused (0x0124), never accepted and dropped.
        guard !decision.destinations.isEmpty else {
            spool.discard(slot)
            logger.error("C-STORE refused: no route matches this object", metadata: LogEvent.objectRefused.metadata(meta))
            return .respond(StoreResponse(status: .notAuthorized, errorComment: "no route for this object"))
        }
        if let full = destinationOverQuota(decision) {
            spool.discard(slot)
            meta["destination"] = "\(full)"
            logger.warning(
                "C-STORE refused: destination backlog over its quota", metadata: LogEvent.objectRefused.metadata(meta))
            return .respond(StoreResponse(status: .outOfResources, errorComment: "destination backlog over quota"))
        }
        do {
            var ingest = IngestRequest(
                spoolPath: slot.finalRelativePath,
                sopInstanceUID: inspected.sopInstanceUID,
                sopClassUID: inspected.sopClassUID,
                studyInstanceUID: try DICOMUID(inspected.studyInstanceUID ?? ""),
                seriesInstanceUID: inspected.seriesInstanceUID.flatMap { try? DICOMUID($0) },
                transferSyntaxUID: try DICOMUID(inspected.transferSyntaxUID),
                byteSize: object.fileSize,
                sha256: object.datasetSHA256,
                callingAE: request.association.callingAE,
                calledAE: request.association.calledAE,
                sourceIP: request.association.peerAddress,
                modality: inspected.modality,
                routes: decision.destinations
            )
            ingest.holdUntilStable = decision.heldUntilStable  // issue 4
            ingest.routeProfiles = decision.normalization
            FaultPoint.hit("ingest-after-fsync-before-commit")  // issue 7: test builds only
            return .commit(
                ingest,
                PendingStore(
                    slot: slot, meta: meta, decision: decision, studyUID: studyText,
                    sopInstanceUID: inspected.sopInstanceUID.value
                )
            )
        } catch {
            return .respond(commitFailed(error, slot: slot, meta: meta))
        }
    }

    private func commitFailed(_ error: any Error, slot: SpoolSlot, meta: Logger.Metadata) -> StoreResponse {
        spool.discard(slot)
        logger.error(
            "C-STORE refused: outbox commit failed",
            metadata: LogEvent.objectRefused.metadata(meta.merging(["error": "\(error)"]) { $1 })
        )
        return StoreResponse(status: .outOfResources, errorComment: "gateway cannot queue the object")
    }

    /// After the commit and the success response (on the thread that ran the commit): logs and
    /// the wake-up of the destinations' forwarders.
    private func committed(_ result: IngestResult, _ pending: PendingStore) {
        var meta = pending.meta
        let queued = Set(result.outcomes.filter { $0.value.queuedSomething }.map(\.key))
        meta["destinations"] = "\(pending.decision.destinations.keys.sorted().joined(separator: ","))"
        meta["queued"] = "\(queued.count)"
        for destination in result.corrections {
            // An alert (issue 4): journal priority 3 and a counter, since the PACS will never know.
            logger.error(
                "Correction: same SOP Instance UID with different content queued again",
                metadata: meta.merging(["destination": "\(destination)"]) { $1 }
            )
            Counter(label: "radrelay_corrections_total", dimensions: [("destination", destination)]).increment()
        }
        // Issue 6: what a person following one study in the journal needs — STUDY_KEY always,
        // the UIDs only when logging.log_uids (the journal handler drops them otherwise).
        meta["study_key"] = "\(StudyKey.make(pending.studyUID))"
        meta["study_uid"] = "\(pending.studyUID)"
        meta["sop_instance_uid"] = "\(pending.sopInstanceUID)"
        meta["dimse_status"] = "0x0000"
        logger.info("Object stored", metadata: LogEvent.objectStored.metadata(meta))
        for (destination, outcome) in result.outcomes.sorted(by: { $0.key < $1.key }) {
            var fields = meta
            fields["destination"] = "\(destination)"
            fields["outcome"] = "\(outcome)"
            if let id = result.deliveryIDs[destination] { fields["delivery"] = "\(id)" }
            if outcome.queuedSomething {
                logger.info("Object queued for destination", metadata: LogEvent.objectQueued.metadata(fields))
            } else {
                GatewayMetrics.dedupHit(destination: destination)
                logger.info("Duplicate object not queued again", metadata: LogEvent.duplicateIgnored.metadata(fields))
            }
        }
        if !queued.isEmpty { onQueued(queued) }
    }

    /// The first destination of `decision` whose pending backlog has reached its quota (issue 4),
    /// so a dead destination refuses new work for itself instead of filling the disk for all.
    private func destinationOverQuota(_ decision: RoutingDecision) -> String? {
        let (quotas, pending) = policy.withLockedValue { ($0.backlogQuotas, $0.pendingBytes) }
        let capped = decision.destinations.keys.filter { quotas[$0] != nil }.sorted()
        guard !capped.isEmpty, let pending else { return nil }
        // A SQLite read: called on the blocking pool, like every other file and database access here.
        guard let backlog = try? pending() else { return nil }
        return capped.first { backlog[$0, default: 0] >= quotas[$0]! }
    }
}
