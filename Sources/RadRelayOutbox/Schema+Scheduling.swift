extension Schema {
    /// v3 (issue 4): study and series tracking with a stable state, per-(study, destination)
    /// priority for study-level inheritance, and held-until-stable deliveries.
    ///
    /// - `series`: first/last received and instance count per series; `stable_at` is set by the
    ///   stability sweep once no instance arrived for the quiet time, and cleared by ingest when
    ///   one does. `series_unstable` (partial) makes "what becomes stable next" one seek.
    /// - `study.stable_at`: set when every series of the study is stable; cleared on arrival.
    /// - `study_destination.priority`: the highest priority any instance of the study got for
    ///   that destination. Ingest raises new and pending deliveries of the study to it, so the
    ///   whole study inherits the highest priority seen, at O(log n) per object.
    /// - `delivery.hold_until_stable`: 1 for a delivery created `held` by a route with
    ///   `hold_until_stable`, so the sweep releases exactly those (never an operator's hold).
    /// - `delivery.route_profiles`: the route-level normalization profiles of the rules that
    ///   queued the delivery, comma-separated (profile names cannot contain commas); NULL: none.
    /// - Existing rows are carried over: series from their instances (left unstable, so the
    ///   first sweep settles them), study priorities from their deliveries.
    static let v3Scheduling = """
        CREATE TABLE series (
            series_instance_uid TEXT PRIMARY KEY NOT NULL CHECK (length(series_instance_uid) BETWEEN 1 AND 64),
            study_instance_uid TEXT NOT NULL CHECK (length(study_instance_uid) BETWEEN 1 AND 64),
            modality TEXT,
            first_received_at REAL NOT NULL,
            last_received_at REAL NOT NULL,
            instance_count INTEGER NOT NULL CHECK (instance_count >= 1),
            stable_at REAL,
            CHECK (last_received_at >= first_received_at)
        ) STRICT, WITHOUT ROWID;
        CREATE INDEX series_by_study ON series (study_instance_uid);
        CREATE INDEX series_unstable ON series (last_received_at) WHERE stable_at IS NULL;

        ALTER TABLE study ADD COLUMN stable_at REAL;
        CREATE INDEX study_unstable ON study (last_received_at) WHERE stable_at IS NULL;

        CREATE TABLE study_destination (
            study_instance_uid TEXT NOT NULL,
            destination TEXT NOT NULL CHECK (length(destination) > 0),
            priority INTEGER NOT NULL CHECK (priority BETWEEN 0 AND 3),
            PRIMARY KEY (study_instance_uid, destination)
        ) STRICT, WITHOUT ROWID;

        ALTER TABLE delivery ADD COLUMN hold_until_stable INTEGER NOT NULL DEFAULT 0
            CHECK (hold_until_stable IN (0, 1));
        CREATE INDEX delivery_held_until_stable ON delivery (instance_id) WHERE hold_until_stable = 1;
        ALTER TABLE delivery ADD COLUMN route_profiles TEXT CHECK (route_profiles IS NULL OR length(route_profiles) > 0);

        INSERT INTO series (series_instance_uid, study_instance_uid, modality, first_received_at, last_received_at,
                            instance_count)
            SELECT series_instance_uid, min(study_instance_uid), max(modality), min(received_at), max(received_at),
                   count(*)
            FROM instance WHERE series_instance_uid IS NOT NULL GROUP BY series_instance_uid;
        INSERT INTO study_destination (study_instance_uid, destination, priority)
            SELECT i.study_instance_uid, d.destination, max(d.priority)
            FROM delivery d JOIN instance i ON i.id = d.instance_id GROUP BY i.study_instance_uid, d.destination;
        """
}
