import GRDB
import RadRelayCore

extension Outbox {
    // MARK: - Ingest

    /// Records a batch of received objects and queues their deliveries in ONE transaction (one
    /// flush for the whole batch: group commit). Each request's C-STORE-RSP may be sent once
    /// this returns; if it throws, nothing of the batch was recorded and every object must be
    /// refused.
    ///
    /// Dedup per destination, on (destination, SOP Instance UID, sha256) (DESIGN §1.2):
    /// - identical delivery pending (queued, active, deferred, held) → `.duplicatePending`;
    /// - identical delivery delivered within `options.dedupWindow` before `now` →
    ///   `.duplicateRecentlyDelivered`;
    /// - identical delivery delivered earlier, or dead → that row is re-queued (pointed at the
    ///   new instance, attempts reset) → `.queued`;
    /// - same UID with other content only → a new delivery → `.correction`;
    /// - otherwise a new delivery → `.queued`.
    ///
    /// When no destination queued anything, the instance is not kept and its new spool file is
    /// deleted after the commit (`IngestResult.allDuplicates`). Requests are applied in order, so
    /// a batch may hold duplicates of its own earlier requests.
    public func ingest(_ requests: [IngestRequest], now: EpochSeconds) throws -> [IngestResult] {
        for request in requests { try request.validate() }
        guard !requests.isEmpty else { return [] }
        let window = options.dedupWindow
        return try writeThenRemoveFiles { db, unneeded in
            try requests.map { request in
                try Outbox.ingestOne(request, now: now, dedupWindow: window, db: db, unneeded: &unneeded)
            }
        }
    }

    /// What to do for one destination, decided before anything is written.
    private enum Plan {
        case insert(IngestOutcome)
        case requeue(deliveryID: Int64, previousInstanceID: Int64)
        case none(IngestOutcome, deliveryID: Int64)
    }

    private static func ingestOne(
        _ request: IngestRequest,
        now: EpochSeconds,
        dedupWindow: Double,
        db: Database,
        unneeded: inout [String]
    ) throws -> IngestResult {
        // Sorted so that the delivery ids of one object come out in a stable order.
        // Issue 4: the whole study inherits the highest priority seen (Outbox+Studies.swift).
        let routes = try Outbox.inheritStudyPriority(request, db: db).sorted { $0.key < $1.key }
        var plans: [(destination: String, priority: Priority, plan: Plan)] = []
        for (destination, priority) in routes {
            let plan = try plan(request, destination: destination, now: now, dedupWindow: dedupWindow, db: db)
            plans.append((destination, priority, plan))
        }

        var outcomes: [String: IngestOutcome] = [:]
        var deliveryIDs: [String: Int64] = [:]
        let needsInstance = plans.contains { if case .none = $0.plan { false } else { true } }
        guard needsInstance else {
            for (destination, _, plan) in plans {
                if case .none(let outcome, let id) = plan {
                    outcomes[destination] = outcome
                    deliveryIDs[destination] = id
                }
            }
            unneeded.append(request.spoolPath)
            return IngestResult(instanceID: nil, outcomes: outcomes, deliveryIDs: deliveryIDs)
        }

        let instancePriority = routes.map(\.value).max() ?? .routine
        let instanceID = try insertInstance(request, priority: instancePriority, now: now, db: db)
        let study = request.studyInstanceUID.value
        for (destination, priority, plan) in plans {
            switch plan {
            case .none(let outcome, let id):
                outcomes[destination] = outcome
                deliveryIDs[destination] = id
            case .insert(let outcome):
                try db.run(
                    """
                    INSERT INTO delivery (instance_id, destination, sop_instance_uid, sha256, byte_size, priority,
                                          state, attempts, queued_at)
                    VALUES (?, ?, ?, ?, ?, ?, \(Outbox.initialStateSQL), 0, ?)
                    """,
                    [
                        instanceID, destination, request.sopInstanceUID.value, request.sha256,
                        Int64(request.byteSize), priority.rawValue, destination, study, destination, now,
                    ]
                )
                outcomes[destination] = outcome
                deliveryIDs[destination] = db.lastInsertedRowID
            case .requeue(let id, let previousInstanceID):
                try db.run(
                    """
                    UPDATE delivery
                    SET instance_id = ?, byte_size = ?, priority = ?, state = \(Outbox.initialStateSQL), attempts = 0,
                        queued_at = ?, next_attempt_at = NULL, lease_until = NULL, delivered_at = NULL,
                        last_error_class = NULL, last_error_detail = NULL, last_status = NULL
                    WHERE id = ?
                    """,
                    [instanceID, Int64(request.byteSize), priority.rawValue, destination, study, destination, now, id]
                )
                if let path = try releaseSpool(previousInstanceID, now: now, db: db) { unneeded.append(path) }
                outcomes[destination] = .queued
                deliveryIDs[destination] = id
            }
        }
        try applyRouteActions(request, outcomes: outcomes, deliveryIDs: deliveryIDs, db: db)  // issue 4
        try upsertStudy(request, priority: instancePriority, now: now, db: db)
        try trackSeries(request, now: now, db: db)  // issue 4
        return IngestResult(instanceID: instanceID, outcomes: outcomes, deliveryIDs: deliveryIDs)
    }

    /// The state of a new or re-queued delivery: `held` on a destination an operator has held
    /// (`destination_hold`, issue 6) or of a study an operator has held for all destinations or
    /// this one (`study_hold`, v4), else `queued`. Takes three arguments: destination, Study
    /// Instance UID, destination. Two index seeks into (usually empty) tables.
    static let initialStateSQL = """
        (CASE WHEN EXISTS (SELECT 1 FROM destination_hold WHERE destination = ?)
                OR EXISTS (SELECT 1 FROM study_hold
                           WHERE study_instance_uid = ? AND (destination IS NULL OR destination = ?))
              THEN 'held' ELSE 'queued' END)
        """

    private static func plan(
        _ request: IngestRequest,
        destination: String,
        now: EpochSeconds,
        dedupWindow: Double,
        db: Database
    ) throws -> Plan {
        let uid = request.sopInstanceUID.value
        // One index seek (the UNIQUE (destination, sop_instance_uid, sha256) index, by its
        // prefix) answers both questions: is this exact content known, and is the UID known with
        // other content (a correction)? Usually no row at all; a few when corrections were sent.
        let rows = try db.rows(
            "SELECT id, instance_id, state, delivered_at, sha256 FROM delivery WHERE destination = ? AND sop_instance_uid = ?",
            [destination, uid]
        )
        if let row = rows.first(where: { ($0["sha256"] as String) == request.sha256 }) {
            let id: Int64 = row["id"]
            let rawState: String = row["state"]
            guard let state = DeliveryState(rawValue: rawState) else {
                throw OutboxError.corruptRow("delivery \(id) has state \(rawState)")
            }
            if state.isPending { return .none(.duplicatePending, deliveryID: id) }
            if state == .delivered, let deliveredAt: Double = row["delivered_at"], deliveredAt > now - dedupWindow {
                return .none(.duplicateRecentlyDelivered, deliveryID: id)
            }
            return .requeue(deliveryID: id, previousInstanceID: row["instance_id"])
        }
        return .insert(rows.isEmpty ? .queued : .correction)
    }

    private static func insertInstance(
        _ request: IngestRequest,
        priority: Priority,
        now: EpochSeconds,
        db: Database
    ) throws -> Int64 {
        try db.run(
            """
            INSERT INTO instance (sop_instance_uid, sop_class_uid, study_instance_uid, series_instance_uid,
                                  transfer_syntax_uid, spool_path, byte_size, sha256, calling_ae, called_ae,
                                  source_ip, modality, received_at, priority)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """,
            [
                request.sopInstanceUID.value, request.sopClassUID.value, request.studyInstanceUID.value,
                request.seriesInstanceUID?.value, request.transferSyntaxUID.value, request.spoolPath,
                Int64(request.byteSize), request.sha256, request.callingAE.value, request.calledAE.value,
                request.sourceIP, request.modality, now, priority.rawValue,
            ]
        )
        return db.lastInsertedRowID
    }

    private static func upsertStudy(
        _ request: IngestRequest,
        priority: Priority,
        now: EpochSeconds,
        db: Database
    ) throws {
        try db.run(
            """
            INSERT INTO study (study_instance_uid, first_received_at, last_received_at, instance_count, priority)
            VALUES (?, ?, ?, 1, ?)
            ON CONFLICT (study_instance_uid) DO UPDATE
            SET last_received_at = max(last_received_at, excluded.last_received_at),
                first_received_at = min(first_received_at, excluded.first_received_at),
                instance_count = instance_count + 1,
                priority = max(priority, excluded.priority),
                stable_at = NULL
            """,
            [request.studyInstanceUID.value, now, now, priority.rawValue]
        )
    }
}
