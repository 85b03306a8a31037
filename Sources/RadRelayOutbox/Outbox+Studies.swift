import GRDB
import RadRelayCore

/// The outcome of one stability sweep.
public struct StabilitySweep: Sendable, Equatable {
    /// Series that became stable.
    public var stableSeries: Int
    /// Studies that became stable.
    public var stableStudies: Int
    /// Held-until-stable deliveries that were queued, per destination.
    public var released: [String: Int]
    /// When the next series can become stable (if nothing else arrives); nil when none is
    /// waiting.
    public var nextCheck: EpochSeconds?
}

/// What the outbox knows about one study's stability, for status and tests.
public struct StudyStability: Sendable, Equatable {
    public var studyInstanceUID: String
    public var stableAt: EpochSeconds?
    public var series: [SeriesRecord]
}

/// One series row.
public struct SeriesRecord: Sendable, Equatable {
    public var seriesInstanceUID: String
    public var modality: String?
    public var firstReceivedAt: EpochSeconds
    public var lastReceivedAt: EpochSeconds
    public var instanceCount: Int
    /// Nil while instances may still arrive.
    public var stableAt: EpochSeconds?
}

extension Outbox {
    // MARK: - Study tracking (issue 4), called inside the ingest transaction

    /// Applies study-level priority inheritance for one request and returns its routes with the
    /// inherited priorities: each destination gets at least the highest priority any instance of
    /// the study got there before, and when this object raises it, the study's pending
    /// deliveries to that destination are raised too (DESIGN §1.3: the whole study is STAT).
    static func inheritStudyPriority(_ request: IngestRequest, db: Database) throws -> [String: Priority] {
        var routes = request.routes
        let study = request.studyInstanceUID.value
        for (destination, priority) in request.routes {
            let known: Int? = try db.value(
                "SELECT priority FROM study_destination WHERE study_instance_uid = ? AND destination = ?",
                [study, destination]
            )
            let inherited = known.flatMap(Priority.init(rawValue:))
            if let inherited, inherited >= priority {
                routes[destination] = inherited
                continue
            }
            try db.run(
                """
                INSERT INTO study_destination (study_instance_uid, destination, priority) VALUES (?, ?, ?)
                ON CONFLICT (study_instance_uid, destination) DO UPDATE SET priority = excluded.priority
                """,
                [study, destination, priority.rawValue]
            )
            guard inherited != nil else { continue }
            // Rare (once per study and level): the study's earlier instances wait at a lower
            // priority. instance_by_study + delivery_by_instance keep this to the study's rows.
            try db.run(
                """
                UPDATE delivery SET priority = ?
                WHERE destination = ? AND priority < ? AND state IN ('queued', 'active', 'deferred', 'held')
                  AND instance_id IN (SELECT id FROM instance WHERE study_instance_uid = ?)
                """,
                [priority.rawValue, destination, priority.rawValue, study]
            )
        }
        return routes
    }

    /// The route actions on the deliveries this request created or re-queued: their route-level
    /// normalization profiles, and `held` (marked so the stability sweep releases them) for
    /// destinations whose route holds until the study is stable.
    static func applyRouteActions(
        _ request: IngestRequest,
        outcomes: [String: IngestOutcome],
        deliveryIDs: [String: Int64],
        db: Database
    ) throws {
        for (destination, outcome) in outcomes where outcome.queuedSomething {
            guard let id = deliveryIDs[destination] else { continue }
            let profiles = request.routeProfiles[destination] ?? []
            try db.run(
                "UPDATE delivery SET route_profiles = ? WHERE id = ?",
                [profiles.isEmpty ? nil : profiles.joined(separator: ","), id]
            )
        }
        for destination in request.holdUntilStable where outcomes[destination]?.queuedSomething == true {
            guard let id = deliveryIDs[destination] else { continue }
            try db.run(
                "UPDATE delivery SET state = 'held', hold_until_stable = 1 WHERE id = ? AND state IN ('queued', 'held')",
                [id]
            )
        }
    }

    /// Records the arrival in its series: a new series, or one more instance (which makes a
    /// stable series, and its study, unstable again).
    static func trackSeries(_ request: IngestRequest, now: EpochSeconds, db: Database) throws {
        guard let series = request.seriesInstanceUID?.value else { return }
        try db.run(
            """
            INSERT INTO series (series_instance_uid, study_instance_uid, modality, first_received_at, last_received_at,
                                instance_count)
            VALUES (?, ?, ?, ?, ?, 1)
            ON CONFLICT (series_instance_uid) DO UPDATE
            SET last_received_at = max(last_received_at, excluded.last_received_at),
                first_received_at = min(first_received_at, excluded.first_received_at),
                instance_count = instance_count + 1,
                modality = coalesce(modality, excluded.modality),
                stable_at = NULL
            """,
            [series, request.studyInstanceUID.value, request.modality, now, now]
        )
    }

    /// The route-level normalization profiles stored with a delivery (the preparer applies them
    /// after the source's); empty when none.
    public func routeProfiles(deliveryID: Int64) throws -> [String] {
        try pool.read { db in
            let text: String? = try db.value("SELECT route_profiles FROM delivery WHERE id = ?", [deliveryID])
            return text.map { $0.split(separator: ",").map(String.init) } ?? []
        }
    }

    // MARK: - Stability

    /// Marks series stable that received nothing for `quietTime` seconds before `now`, then the
    /// studies all of whose series are stable (and quiet), then queues the held-until-stable
    /// deliveries of those studies, except those an operator holds (a held destination or a held
    /// study: they wait for the operator's release). One transaction.
    public func markStable(now: EpochSeconds, quietTime: Double) throws -> StabilitySweep {
        let cutoff = now - quietTime
        return try pool.write { db in
            let stableSeries = try db.run(
                "UPDATE series SET stable_at = last_received_at + ? WHERE stable_at IS NULL AND last_received_at <= ?",
                [quietTime, cutoff]
            )
            let stableStudies = try db.run(
                """
                UPDATE study SET stable_at = last_received_at + ?
                WHERE stable_at IS NULL AND last_received_at <= ?
                  AND NOT EXISTS (
                      SELECT 1 FROM series
                      WHERE series.study_instance_uid = study.study_instance_uid AND series.stable_at IS NULL)
                """,
                [quietTime, cutoff]
            )
            var released: [String: Int] = [:]
            let waiting = try db.rows(
                """
                SELECT d.id, d.destination FROM delivery d
                JOIN instance i ON i.id = d.instance_id
                JOIN study s ON s.study_instance_uid = i.study_instance_uid
                WHERE d.hold_until_stable = 1 AND d.state = 'held' AND s.stable_at IS NOT NULL
                  AND d.destination NOT IN (SELECT destination FROM destination_hold)
                  AND NOT EXISTS (SELECT 1 FROM study_hold h
                                  WHERE h.study_instance_uid = i.study_instance_uid
                                    AND (h.destination IS NULL OR h.destination = d.destination))
                """
            )
            for row in waiting {
                let id: Int64 = row["id"]
                try db.run("UPDATE delivery SET state = 'queued', hold_until_stable = 0 WHERE id = ?", [id])
                released[row["destination"], default: 0] += 1
            }
            let nextSeries: Double? = try db.value("SELECT min(last_received_at) FROM series WHERE stable_at IS NULL")
            let nextStudy: Double? = try db.value("SELECT min(last_received_at) FROM study WHERE stable_at IS NULL")
            let next = [nextSeries, nextStudy].compactMap { $0 }.min().map { $0 + quietTime }
            return StabilitySweep(
                stableSeries: stableSeries, stableStudies: stableStudies, released: released, nextCheck: next)
        }
    }

    /// A study's stable state and its series.
    public func stability(studyInstanceUID: String) throws -> StudyStability? {
        try pool.read { db in
            guard let study = try db.row("SELECT stable_at FROM study WHERE study_instance_uid = ?", [studyInstanceUID])
            else { return nil }
            let series = try db.rows(
                "SELECT * FROM series WHERE study_instance_uid = ? ORDER BY first_received_at, series_instance_uid",
                [studyInstanceUID]
            ).map { row in
                SeriesRecord(
                    seriesInstanceUID: row["series_instance_uid"], modality: row["modality"],
                    firstReceivedAt: row["first_received_at"], lastReceivedAt: row["last_received_at"],
                    instanceCount: row["instance_count"], stableAt: row["stable_at"])
            }
            return StudyStability(studyInstanceUID: studyInstanceUID, stableAt: study["stable_at"], series: series)
        }
    }
}
