import RadRelayCore
import RadRelayOutbox

/// The JSON documents of the control socket's changing commands and listings (issue 6). Field
/// names are part of the operator contract: add, never rename.
public enum ControlCommands {
    /// Body of `POST /retry`, `/requeue`, `/hold`, `/release`, `/purge`: exactly one of
    /// `delivery`, `study` or `destination` (with `study`, `destination` narrows it).
    public struct Target: Codable, Sendable, Equatable {
        public var delivery: Int64?
        public var study: String?
        public var destination: String?
        /// `purge` only: the states to delete (default `dead`).
        public var states: [String]?
        /// `purge` only: without it the answer only counts what would be deleted.
        public var confirm: Bool?

        public init(
            delivery: Int64? = nil, study: String? = nil, destination: String? = nil, states: [String]? = nil,
            confirm: Bool? = nil
        ) {
            self.delivery = delivery
            self.study = study
            self.destination = destination
            self.states = states
            self.confirm = confirm
        }

        /// The outbox target, or a message saying what is wrong.
        func outboxTarget() -> Swift.Result<OperatorTarget, CommandError> {
            switch (delivery, study, destination) {
            case (let id?, nil, nil): return .success(.delivery(id))
            case (nil, let uid?, let name):
                // A study hold is stored (and matched against later objects): refuse what no
                // object can carry rather than keep a hold that never applies.
                guard (try? DICOMUID(uid)) != nil else {
                    return .failure(CommandError("'\(uid)' is not a valid Study Instance UID"))
                }
                return .success(.study(uid, destination: name))
            case (nil, nil, let name?): return .success(.destination(name))
            default: return .failure(CommandError("give exactly one of delivery, study or destination"))
            }
        }
    }

    /// The answer to a changing command.
    public struct CommandResult: Codable, Sendable, Equatable {
        public var command: String
        public var target: String
        /// Deliveries changed (deleted, for purge).
        public var changed: Int
        /// `purge` without `confirm`: nothing was deleted; `changed` is what would be.
        public var dryRun: Bool? = nil

        enum CodingKeys: String, CodingKey {
            case command, target, changed
            case dryRun = "dry_run"
        }
    }

    /// One row of `GET /queue`.
    public struct QueueEntry: Codable, Sendable, Equatable {
        public var id: Int64
        public var destination: String
        public var state: String
        public var priority: String
        public var attempts: Int
        public var bytes: Int64
        public var queuedAt: Double
        public var nextAttemptAt: Double?
        public var studyKey: String
        public var lastError: String?

        enum CodingKeys: String, CodingKey {
            case id, destination, state, priority, attempts, bytes
            case queuedAt = "queued_at"
            case nextAttemptAt = "next_attempt_at"
            case studyKey = "study_key"
            case lastError = "last_error"
        }
    }

    /// `GET /queue`.
    public struct Queue: Codable, Sendable, Equatable {
        public var deliveries: [QueueEntry]
    }

    /// One row of `GET /studies`.
    public struct StudyEntry: Codable, Sendable, Equatable {
        public var studyKey: String
        /// The Study Instance UID: operators need it for `retry --study` (the control socket is
        /// readable by the service's group only, unlike the journal).
        public var studyInstanceUID: String
        public var instances: Int
        public var priority: String
        public var firstReceivedAt: Double
        public var lastReceivedAt: Double
        /// Destination → state → deliveries.
        public var destinations: [String: [String: Int]]
        /// The operator holds on this study (`hold --study`), nil when none.
        public var holds: [StatusReport.StudyHold]? = nil

        enum CodingKeys: String, CodingKey {
            case studyKey = "study_key"
            case studyInstanceUID = "study_instance_uid"
            case instances, priority, destinations, holds
            case firstReceivedAt = "first_received_at"
            case lastReceivedAt = "last_received_at"
        }
    }

    /// `GET /studies`.
    public struct Studies: Codable, Sendable, Equatable {
        public var studies: [StudyEntry]
    }

    /// `POST /echo` body.
    public struct EchoRequest: Codable, Sendable, Equatable {
        public var destination: String
        public init(destination: String) { self.destination = destination }
    }

    /// `POST /echo` answer.
    public struct EchoResult: Codable, Sendable, Equatable {
        public var destination: String
        public var kind: String
        public var ok: Bool
        /// The remote's status, `0x0000` on success.
        public var status: String?
        public var failure: String?
        public var detail: String?
        public var seconds: Double
    }

    /// `GET /config/check` answer: the daemon's configuration file validated as on disk now.
    public struct ConfigCheck: Codable, Sendable, Equatable {
        public var path: String
        public var valid: Bool
        public var error: String?
        /// Changed keys that a reload would not apply (need a restart).
        public var restartRequired: [String]?

        public init(path: String, valid: Bool, error: String?, restartRequired: [String]? = nil) {
            self.path = path
            self.valid = valid
            self.error = error
            self.restartRequired = restartRequired
        }

        enum CodingKeys: String, CodingKey {
            case path, valid, error
            case restartRequired = "restart_required"
        }
    }

    /// An error answer: `{"error": "..."}`.
    public struct CommandError: Error, Codable, Sendable, Equatable {
        public var error: String
        public init(_ error: String) { self.error = error }
    }
}
