import Foundation
import Logging
import NIOConcurrencyHelpers
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
    }

    private let policy: NIOLockedValueBox<Policy>
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

    // MARK: - Associations

    func decideAssociation(_ request: AssociationRequestInfo) -> AssociationDecision {
        policy.withLockedValue { $0.admission }.decide(request)
    }

    func associationRejected(_ request: AssociationRequestInfo?, rejection: AssociationRejection, why: String) {
        logger.warning(
            "Association rejected",
            metadata: [
                "dicom_calling_aet": "\(request?.callingAE.value ?? "?")",
                "dicom_called_aet": "\(request?.calledAE.value ?? "?")",
                "dicom_peer_ip": "\(request?.peerAddress ?? "?")",
                "reject": "\(rejection)",
                "reason": "\(why)",
            ]
        )
    }

    func associationAccepted(_ association: AssociationInfo, acceptedContexts: Int) {
        logger.info(
            "Association accepted",
            metadata: [
                "association": "\(association.id)",
                "dicom_calling_aet": "\(association.callingAE)",
                "dicom_called_aet": "\(association.calledAE)",
                "dicom_peer_ip": "\(association.peerAddress)",
                "contexts": "\(acceptedContexts)",
            ]
        )
    }

    func associationEnded(_ association: AssociationInfo, how: AssociationEnd) {
        logger.info("Association ended", metadata: ["association": "\(association.id)", "how": "\(how)"])
    }

    // MARK: - C-STORE

    func beginStore(_ request: StoreRequestInfo) -> StoreStart {
        let threshold = policy.withLockedValue { $0.minFreeDisk }
        // A statvfs per object costs microseconds; a stale cached value could let a burst
        // fill the disk past the watermark.
        guard let space = try? spool.freeSpace() else {
            return .refuse(.outOfResources, comment: "gateway cannot check its disk")
        }
        if threshold.isBelow(available: space.available, total: space.total) {
            logger.error("Disk below min_free_disk: refusing C-STORE", metadata: ["available": "\(space.available)"])
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
        guard let slot = slots.withLockedValue({ $0.removeValue(forKey: object.path) }) else {
            return StoreResponse(status: .processingFailure, errorComment: "internal error: unknown spool file")
        }
        let request = object.request
        var meta: Logger.Metadata = [
            "association": "\(request.association.id)",
            "dicom_calling_aet": "\(request.association.callingAE)",
        ]
        // Validation and fsync block: run them on the blocking pool, never on the event loop
        // or Swift's cooperative pool (DESIGN §3).
        let inspected: InspectedObject
        do {
            inspected = try await blockingPool.runIfActive { [spool] in
                let result = try DICOMFileInspector.inspect(
                    path: object.path,
                    expectedSOPClass: request.sopClassUID,
                    expectedSOPInstance: request.sopInstanceUID
                )
                // The directory fsync after the rename is batched: the batcher syncs the spool
                // directory once per group commit, before the transaction (FIELD-NOTES).
                try spool.makeDurable(slot, syncDirectory: false)
                return result
            }
        } catch let error as InspectionError {
            spool.discard(slot)
            logger.warning("C-STORE refused: invalid object", metadata: meta.merging(["error": "\(error)"]) { $1 })
            if case .sopClassMismatch = error {
                return StoreResponse(status: .dataSetDoesNotMatchSOPClass, errorComment: "SOP class differs from command")
            }
            return StoreResponse(status: .cannotUnderstand, errorComment: error.statusComment)
        } catch {
            spool.discard(slot)
            logger.error("C-STORE refused: cannot make object durable", metadata: meta.merging(["error": "\(error)"]) { $1 })
            return StoreResponse(status: .outOfResources, errorComment: "gateway cannot store the object")
        }

        let facts = ObjectFacts(
            callingAE: request.association.callingAE,
            calledAE: request.association.calledAE,
            sourceIP: request.association.peerAddress,
            modality: inspected.modality,
            sopClassUID: inspected.sopClassUID
        )
        let decision = policy.withLockedValue { $0.router }.route(facts)
        guard !decision.destinations.isEmpty else {
            spool.discard(slot)
            logger.error("C-STORE refused: no route matches this object", metadata: meta)
            return StoreResponse(status: .outOfResources, errorComment: "no route for this object")
        }
        let result: IngestResult
        do {
            let ingest = IngestRequest(
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
            result = try await batcher.submit(ingest)
        } catch {
            spool.discard(slot)
            logger.error("C-STORE refused: outbox commit failed", metadata: meta.merging(["error": "\(error)"]) { $1 })
            return StoreResponse(status: .outOfResources, errorComment: "gateway cannot queue the object")
        }
        if result.allDuplicates {
            _ = spool.remove(relative: slot.finalRelativePath)
        }
        let queued = Set(result.outcomes.filter { $0.value.queuedSomething }.map(\.key))
        meta["destinations"] = "\(decision.destinations.keys.sorted().joined(separator: ","))"
        meta["queued"] = "\(queued.count)"
        for destination in result.corrections {
            logger.warning(
                "Correction: same SOP Instance UID with different content queued again",
                metadata: meta.merging(["destination": "\(destination)"]) { $1 }
            )
        }
        logger.info("Object stored", metadata: meta)
        if !queued.isEmpty { onQueued(queued) }
        return StoreResponse(status: .success)
    }
}
