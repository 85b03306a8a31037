import GRDB
import Logging
import RadRelayCore

/// The durable outbox (DESIGN §4): one SQLite database in WAL mode with `synchronous=FULL`, plus
/// the spool directory beside it. Rows are the only truth; files are named by internal ids.
///
/// Every write is an intent method that runs as exactly one transaction (CONVENTIONS §11).
/// Spool files that a transaction makes unneeded are deleted only after it commits, so a crash
/// never leaves a live row without its file. Every method takes `now`; nothing here reads a clock.
///
/// Methods block the calling thread on SQLite (and on fsync at commit): call them from a
/// dedicated thread or queue, never from Swift's cooperative pool (`IngestBatcher` does this for
/// ingest). Take the `StateDirectoryLock` before opening an outbox.
public final class Outbox: Sendable {
    /// Tunables that are not per call.
    public struct Options: Sendable, Equatable {
        /// An identical object (same destination, SOP Instance UID and data set hash) re-sent
        /// within this many seconds of its delivery is not queued again (DESIGN §1.2).
        public var dedupWindow: Double
        /// How long a write waits for another process holding the database lock (for example
        /// an operator tool) before it fails.
        public var busyTimeout: Double

        /// Creates options; the defaults match the config's `outbox:` defaults.
        public init(dedupWindow: Double = 24 * 3600, busyTimeout: Double = 5) {
            self.dedupWindow = dedupWindow
            self.busyTimeout = busyTimeout
        }
    }

    /// File name of the database inside the state directory (SQLite adds `-wal` and `-shm`).
    public static let databaseFileName = "radrelay.sqlite"

    /// The spool directories this outbox's rows point into.
    public let spool: Spool
    /// The options the outbox was opened with.
    public let options: Options
    let pool: DatabasePool
    let logger: Logger

    /// Opens (creating if needed) the outbox of `stateDirectory`, which must exist, and migrates
    /// its schema. Does not reconcile: call `reconcile(now:)` before accepting objects.
    public init(
        stateDirectory: String,
        options: Options = Options(),
        logger: Logger = Logger(label: "radrelay.outbox")
    ) throws {
        self.options = options
        self.logger = logger
        spool = try Spool(stateDirectory: stateDirectory)

        var configuration = Configuration()
        configuration.busyMode = .timeout(options.busyTimeout)
        configuration.foreignKeysEnabled = true
        configuration.label = "radrelay.outbox"
        configuration.prepareDatabase { db in
            if !db.configuration.readonly {
                try db.execute(sql: "PRAGMA journal_mode = WAL")
            }
            try db.execute(sql: "PRAGMA synchronous = FULL")
            try db.execute(sql: "PRAGMA foreign_keys = ON")
        }
        let path = spool.absolutePath(relative: Outbox.databaseFileName)
        pool = try DatabasePool(path: path, configuration: configuration)
        // DatabasePool runs its own WAL set-up *after* prepareDatabase on the writer connection,
        // and that set-up lowers `synchronous` to NORMAL, which can lose the last commits on
        // power loss. Raise it again on the one writer connection the pool will ever use.
        try pool.barrierWriteWithoutTransaction { db in
            try db.execute(sql: "PRAGMA synchronous = FULL")
        }
        // Refuses a newer schema; backs the file up before migrating an older one.
        try Schema.migrate(pool, databasePath: path, logger: logger)
        let settings = try durabilitySettings()
        guard settings.journalMode == "wal", settings.synchronous == 2, settings.foreignKeys else {
            throw OutboxError.unsafeDatabaseSettings(
                "journal_mode=\(settings.journalMode) synchronous=\(settings.synchronous) "
                    + "foreign_keys=\(settings.foreignKeys)"
            )
        }
    }

    /// Closes the database connections. Further calls throw. Dropping the last reference closes
    /// them too; committed transactions are durable either way.
    public func close() throws {
        try pool.close()
    }

    /// The durability settings as the writer connection (the one that commits) reads them back:
    /// `journal_mode` (expect `wal`), `synchronous` (expect 2 = FULL) and `foreign_keys`.
    public func durabilitySettings() throws -> (journalMode: String, synchronous: Int, foreignKeys: Bool) {
        try pool.writeWithoutTransaction { db in
            let journalMode = try String.fetchOne(db, sql: "PRAGMA journal_mode") ?? ""
            let synchronous = try Int.fetchOne(db, sql: "PRAGMA synchronous") ?? -1
            let foreignKeys = try Bool.fetchOne(db, sql: "PRAGMA foreign_keys") ?? false
            return (journalMode, synchronous, foreignKeys)
        }
    }

    // MARK: - Helpers shared by the intent methods

    /// Runs `body` as one write transaction, then deletes the spool files it reported unneeded.
    /// The deletions come strictly after the commit: were they before, a crash could leave a
    /// committed row whose file is gone.
    func writeThenRemoveFiles<T>(_ body: (Database, inout [String]) throws -> T) throws -> T {
        var unneeded: [String] = []
        let result = try pool.write { db in try body(db, &unneeded) }
        for path in unneeded where !spool.remove(relative: path) {
            logger.warning(
                "Cannot remove an unneeded spool file; the next startup reconcile will",
                metadata: ["spool_path": "\(path)"]
            )
        }
        return result
    }

    /// When no delivery of `instanceID` still needs its file (all delivered, or none left),
    /// marks the file removed and returns its relative path for deletion after the commit. A
    /// dead delivery keeps the file, so an operator can retry it.
    static func releaseSpool(_ instanceID: Int64, now: EpochSeconds, db: Database) throws -> String? {
        let stillNeeded: Bool =
            try db.value(
                "SELECT EXISTS (SELECT 1 FROM delivery WHERE instance_id = ? AND state <> 'delivered')",
                [instanceID]
            ) ?? true
        let path: String? = try db.value(
            "SELECT spool_path FROM instance WHERE id = ? AND spool_removed_at IS NULL", [instanceID]
        )
        guard !stillNeeded, let path else { return nil }
        try db.run("UPDATE instance SET spool_removed_at = ? WHERE id = ?", [now, instanceID])
        return path
    }
}

// MARK: - Cached statements

extension Database {
    /// The first row of a cached statement's result.
    func row(_ sql: String, _ arguments: StatementArguments = []) throws -> Row? {
        try Row.fetchOne(cachedStatement(sql: sql), arguments: arguments)
    }

    /// All rows of a cached statement's result.
    func rows(_ sql: String, _ arguments: StatementArguments = []) throws -> [Row] {
        try Row.fetchAll(cachedStatement(sql: sql), arguments: arguments)
    }

    /// The first column of the first row of a cached statement's result.
    func value<T: DatabaseValueConvertible>(_ sql: String, _ arguments: StatementArguments = []) throws -> T? {
        try T.fetchOne(cachedStatement(sql: sql), arguments: arguments)
    }

    /// Executes a cached statement; returns the number of rows it changed.
    @discardableResult
    func run(_ sql: String, _ arguments: StatementArguments = []) throws -> Int {
        try cachedStatement(sql: sql).execute(arguments: arguments)
        return changesCount
    }
}
