import Logging

/// The events an operator follows in the journal, each with a stable `MESSAGE_ID` (a 128-bit id,
/// as `journalctl MESSAGE_ID=…` and `journalctl -o verbose` show it). Ids are part of the
/// operator contract: never change one, add new cases with new ids.
///
/// Log an event by merging its metadata into the call's: `logger.info("Object stored",
/// metadata: LogEvent.objectStored.metadata.merging(fields) { $1 })`. The journal handler turns
/// `message_id` into the `MESSAGE_ID` field and `event` into `RADRELAY_EVENT`.
public enum LogEvent: String, Sendable, CaseIterable {
    case daemonStarted = "daemon-started"
    case daemonStopping = "daemon-stopping"
    case associationAccepted = "association-accepted"
    case associationRejected = "association-rejected"
    case objectStored = "object-stored"
    case objectQueued = "object-queued"
    case objectRefused = "object-refused"
    case duplicateIgnored = "duplicate-ignored"
    case delivered = "delivered"
    case deferred = "deferred"
    case deadLettered = "dead-lettered"
    case destinationDown = "destination-down"
    case destinationUp = "destination-up"
    case diskLow = "disk-low"
    case diskRecovered = "disk-recovered"
    case configReloaded = "config-reloaded"
    case configReloadFailed = "config-reload-failed"
    case operatorCommand = "operator-command"
    case retentionPruned = "retention-pruned"
    case databaseBackedUp = "database-backed-up"
    case dcmtkMessage = "dcmtk-message"

    /// The journal `MESSAGE_ID`: 32 lowercase hex digits, fixed per event.
    public var messageID: String {
        switch self {
        case .daemonStarted: return "c30a9478ce364aef81cf2cad25c21586"
        case .daemonStopping: return "bb1aaff54bc845f78a62e5d0220d53c1"
        case .associationAccepted: return "0199bdc096ad4eee97057efc43bec30c"
        case .associationRejected: return "279245e307cb43209757ca2643c5e15a"
        case .objectStored: return "97e1ace37c7545498ac08b34630ebd96"
        case .objectQueued: return "b731076f32874975b1fcca1820592edb"
        case .objectRefused: return "9930cb7e12c34708b4016bb5da6b3efa"
        case .duplicateIgnored: return "366e9a66437843c2b010b42af885e412"
        case .delivered: return "5929d95c5a1b4c4dbbc6a42b313ab3c2"
        case .deferred: return "a0c4de268f3441809f4d89700694df19"
        case .deadLettered: return "930b1e6160884f02bd37957cb0d56a09"
        case .destinationDown: return "129806e707cd442bb5a0a416ff1a4131"
        case .destinationUp: return "6cc4dc6600ed4ce8b3757e3f419d1bb4"
        case .diskLow: return "5f000b53c2454f4c86ca0f2735d6931b"
        case .diskRecovered: return "04062857cf394ef79098f61c59053691"
        case .configReloaded: return "ebbbe5510f064f9b9261864cc9c413a3"
        case .configReloadFailed: return "3c1e4617b86d402db2dbb692c9e62498"
        case .operatorCommand: return "dc4b06ed67d643bb9d344ba75a8f8227"
        case .retentionPruned: return "fc2d084f82f94f87bb11a539004c7d07"
        case .databaseBackedUp: return "582150b6777a4d6ebbea7460ce661232"
        case .dcmtkMessage: return "af67b881e5d4444d8a54c8cd56c25e2d"
        }
    }

    /// `message_id` and `event` metadata for a log call.
    public var metadata: Logger.Metadata {
        ["message_id": .string(messageID), "event": .string(rawValue)]
    }

    /// This event's metadata merged with `fields` (which win on a clash, except the event's own keys).
    public func metadata(_ fields: Logger.Metadata) -> Logger.Metadata {
        fields.merging(metadata) { $1 }
    }
}

/// Metadata keys whose values identify a patient. The journal handler drops them unless
/// `logging.log_phi` is on, and even then keeps them only at debug and trace level.
public enum PHIMetadataKeys {
    public static let all: Set<String> = [
        "patient_name", "patient_id", "patient_birth_date", "other_patient_ids", "other_patient_names",
        "patient_address", "accession_number",
    ]
}
