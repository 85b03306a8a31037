import NIOConcurrencyHelpers
import NIOCore

/// Counts live associations, globally and per calling AE, across all event loops; and bounds the
/// connections that have not completed their A-ASSOCIATE-RQ yet (fault suite bug 3).
///
/// Before its A-ASSOCIATE-RQ is complete a connection is anonymous: `max_associations` and the
/// allowlist apply only once the request has been read. What such a connection may cost is
/// bounded twice:
///
/// - each buffers at most `maxAssociateRequestPDULength` bytes (64 KiB, PDU header included; a
///   longer request is rejected from its 6-byte header, see `PDUFrameDecoder`);
/// - at most `pendingLimit(maxAssociations:)` of them exist at once (`max(256, 4 ×
///   max_associations)`); a connection beyond that makes the oldest one close, as if its ARTIM
///   timer (the ACSE timeout) had fired.
///
/// So pre-association buffers stay below `pendingLimit × 64 KiB`: 16 MiB at the default
/// `max_associations: 16` (256 × 64 KiB), plus channel state and allocator slack per connection
/// (measured on radrelayd: +26 to +29 MiB RSS for 300 to 1 000 connections each holding 60 KB of
/// a request), against ~1 MiB × any number of connections before. Closing the *oldest* rather than refusing the
/// newest keeps the service open during a flood of silent or half-sent requests: a real peer
/// sends its request within milliseconds of connecting, so it completes long before a flooder
/// can push it out, while the flooder's own stalled connections are the ones that go. The floor
/// of 256 keeps well above the 100 idle connections the fault suite opens beside an echo (and
/// above normal reconnect bursts), so nothing is closed early in ordinary operation.
/// Established associations never count here and are never closed by it.
final class AssociationLimiter: Sendable {
    /// The largest A-ASSOCIATE-RQ PDU accepted, 6-byte header included (so the PDU-length field
    /// is at most 65 530).
    ///
    /// PS3.8 §9.3.2 sets no maximum for this PDU (the Maximum Length sub-item bounds P-DATA-TF
    /// only), so this is a local limit sized from real requests: DCMTK's storescu proposing every
    /// storage class is ~13 KB; pynetdicom's 128 storage contexts × its 4 default transfer
    /// syntaxes ~18 KB; 128 contexts (the most PS3.8 allows an association, odd IDs 1–255) × 10
    /// transfer syntaxes of ~22 bytes ~38 KB. Only a peer proposing 128 contexts with about 18
    /// or more transfer syntaxes each would exceed it. Neither pynetdicom (reads any announced length)
    /// nor dcm4che (16 MiB for every PDU type, then A-ABORT) helps with a memory bound, as each
    /// holds one thread per connection instead. A longer request gets A-ASSOCIATE-RJ 1/3/2
    /// (`AssociationRejection.requestTooLong`).
    static let maxAssociateRequestPDULength = 65_536

    /// Connections allowed to be waiting for or reading their A-ASSOCIATE-RQ at once, all
    /// listeners together: `max(256, 4 × maxAssociations)`. See the type's comment for the bound.
    static func pendingLimit(maxAssociations: Int) -> Int {
        max(256, 4 * max(0, maxAssociations))
    }

    private struct Counts {
        var total = 0
        var perCaller: [String: Int] = [:]
    }

    /// Connections without a complete A-ASSOCIATE-RQ, by arrival order.
    private struct Pending {
        var nextSequence: UInt64 = 0
        var sequenceOf: [ObjectIdentifier: UInt64] = [:]
        var channels: [UInt64: any Channel] = [:]
        /// The limit was hit and has not eased since (for one log line per episode).
        var saturated = false
    }

    /// What `connectionOpened` decided.
    struct Admission {
        /// The oldest pending connection, for the caller to close; nil when under the limit.
        var evicted: (any Channel)?
        /// Pending connections now, the new one included, the evicted one not.
        var pending: Int
        /// True for the first eviction after the count was below half the limit.
        var saturationBegan: Bool
    }

    private let counts = NIOLockedValueBox(Counts())
    private let pending = NIOLockedValueBox(Pending())

    /// Takes a slot unless either limit is reached.
    func acquire(caller: String, callerLimit: Int?, globalLimit: Int) -> Bool {
        counts.withLockedValue { counts in
            let current = counts.perCaller[caller, default: 0]
            guard counts.total < globalLimit else { return false }
            if let callerLimit, current >= callerLimit { return false }
            counts.total += 1
            counts.perCaller[caller] = current + 1
            return true
        }
    }

    func release(caller: String) {
        counts.withLockedValue { counts in
            counts.total -= 1
            let remaining = counts.perCaller[caller, default: 1] - 1
            counts.perCaller[caller] = remaining > 0 ? remaining : nil
        }
    }

    var active: Int { counts.withLockedValue { $0.total } }

    // MARK: - Connections before their A-ASSOCIATE-RQ

    /// Registers a new connection that has not sent its A-ASSOCIATE-RQ. Beyond `limit` such
    /// connections the oldest is removed and returned; the caller closes it (outside any lock).
    func connectionOpened(_ channel: any Channel, limit: Int) -> Admission {
        pending.withLockedValue { pending in
            let sequence = pending.nextSequence
            pending.nextSequence += 1
            pending.sequenceOf[ObjectIdentifier(channel)] = sequence
            pending.channels[sequence] = channel
            guard pending.channels.count > limit, let oldest = pending.channels.keys.min(),
                let evicted = pending.channels.removeValue(forKey: oldest)
            else {
                if pending.channels.count < limit / 2 { pending.saturated = false }
                return Admission(evicted: nil, pending: pending.channels.count, saturationBegan: false)
            }
            pending.sequenceOf[ObjectIdentifier(evicted)] = nil
            let began = !pending.saturated
            pending.saturated = true
            return Admission(evicted: evicted, pending: pending.channels.count, saturationBegan: began)
        }
    }

    /// The connection's A-ASSOCIATE-RQ is complete, or the connection closed. Idempotent.
    func connectionLeftPending(_ channel: any Channel) {
        pending.withLockedValue { pending in
            guard let sequence = pending.sequenceOf.removeValue(forKey: ObjectIdentifier(channel)) else { return }
            pending.channels[sequence] = nil
        }
    }

    /// Connections currently without a complete A-ASSOCIATE-RQ.
    var pendingConnections: Int { pending.withLockedValue { $0.channels.count } }
}
