import Logging
import Synchronization

/// What every `JournalLogHandler` of the process reads on each log call, shared so that a
/// configuration reload (SIGHUP) changes the level and the PHI rule of loggers that already
/// exist.
public final class JournalLogSettings: Sendable {
    /// One consistent view of the settings.
    public struct Snapshot: Sendable, Equatable {
        /// Least severe level written.
        public var level: Logger.Level
        /// `logging.log_phi`: patient identifiers may appear, at debug and trace level only.
        public var allowPHI: Bool
        /// Metadata keys that identify a patient (dropped unless `allowPHI`).
        public var phiKeys: Set<String>
        /// Metadata keys dropped whatever the level (e.g. `study_uid` unless configured).
        public var suppressedKeys: Set<String>

        public init(
            level: Logger.Level = .info,
            allowPHI: Bool = false,
            phiKeys: Set<String> = [],
            suppressedKeys: Set<String> = []
        ) {
            self.level = level
            self.allowPHI = allowPHI
            self.phiKeys = phiKeys
            self.suppressedKeys = suppressedKeys
        }
    }

    private let state: Mutex<Snapshot>

    public init(_ snapshot: Snapshot = Snapshot()) { state = Mutex(snapshot) }

    /// The current settings.
    public var snapshot: Snapshot { state.withLock { $0 } }

    /// The current level (read on every log call).
    public var level: Logger.Level { state.withLock { $0.level } }

    /// Replaces the settings (on reload).
    public func update(_ snapshot: Snapshot) { state.withLock { $0 = snapshot } }
}
