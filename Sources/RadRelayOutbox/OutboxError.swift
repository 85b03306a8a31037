/// Errors the outbox raises besides SQLite's own (`GRDB.DatabaseError`) and the file system's
/// (`FileSystemError`).
public enum OutboxError: Error, Equatable, CustomStringConvertible {
    /// An ingest request is malformed; nothing was written.
    case invalidRequest(String)
    /// No delivery has this id.
    case noSuchDelivery(Int64)
    /// A stored value cannot be read back as its type (a row edited by hand, or a bug).
    case corruptRow(String)
    /// The database did not accept WAL, `synchronous=FULL` or foreign keys, so acknowledging
    /// objects would break the durability promise (DESIGN §1.1).
    case unsafeDatabaseSettings(String)
    /// Startup reconcile found no file at all in the spool while `expectedFiles` rows need one.
    case spoolEmpty(directory: String, expectedFiles: Int)
    /// The database records schema migrations this version does not know: a newer radrelay
    /// wrote it. Opening it could corrupt it; nothing was changed.
    case schemaNewer(unknownMigrations: [String])

    /// A one-line explanation for logs and error output.
    public var description: String {
        switch self {
        case .invalidRequest(let why): return "invalid ingest request: \(why)"
        case .noSuchDelivery(let id): return "no delivery with id \(id)"
        case .corruptRow(let why): return "corrupt outbox row: \(why)"
        case .unsafeDatabaseSettings(let settings): return "database refused durable settings (\(settings))"
        case .spoolEmpty(let directory, let expected):
            return "spool directory \(directory) holds no file but \(expected) acknowledged objects need theirs; "
                + "is its file system mounted? Nothing was changed"
        case .schemaNewer(let unknown):
            return "the database was written by a newer radrelay (unknown schema migrations: "
                + unknown.joined(separator: ", ") + "); install that version or restore a backup. Nothing was changed"
        }
    }
}
