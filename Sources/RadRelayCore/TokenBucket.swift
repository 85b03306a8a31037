/// A token bucket in bytes: `rate` bytes per second flow in, up to `capacity`; sending takes
/// bytes out. The bucket may go into debt: bytes already on the wire are charged after the fact
/// (DCMTK reports progress after each PDU), and the sender then waits until the debt is paid.
/// That keeps the long-run rate at `rate` and the short-run burst at `capacity`.
///
/// Worked example, rate 4 MB/s, capacity 400 kB, full at t = 0: a 16 kB PDU at t = 0 leaves
/// 384 kB, no wait; 30 PDUs later (480 kB sent) the bucket holds −96 kB plus what flowed in, so
/// the sender waits until the balance is back to zero (−96 kB / 4 MB/s = 24 ms when nothing flowed
/// in meanwhile).
///
/// `nil` rate is unlimited: nothing is ever owed. Time is a parameter; a clock that steps back
/// is treated as standing still.
public struct TokenBucket: Sendable, Equatable {
    /// Bytes per second; nil when unlimited.
    public private(set) var rate: Double?
    /// Largest balance (bytes): the burst a sender may send at once after idling.
    public private(set) var capacity: Double
    /// Current balance in bytes; negative while in debt.
    public private(set) var balance: Double
    /// When `balance` was last brought up to date.
    public private(set) var updatedAt: Double

    /// Capacity for a rate: 100 ms of traffic, at least 64 KiB (a few PDUs), so the rate is
    /// smooth at any cap.
    public static func defaultCapacity(for rate: Double) -> Double { max(64 * 1024, rate * 0.1) }

    /// A full bucket at `now`.
    public init(rate: Double?, now: Double, capacity: Double? = nil) {
        self.rate = rate
        self.capacity = capacity ?? rate.map(Self.defaultCapacity) ?? 0
        self.balance = self.capacity
        self.updatedAt = now
    }

    /// Changes the rate from `now` on (a schedule boundary or a reload). Bytes flowed in at the
    /// old rate until now; the balance keeps its debt and is clamped to the new capacity.
    public mutating func setRate(_ newRate: Double?, now: Double, capacity newCapacity: Double? = nil) {
        refill(now: now)
        let wasUnlimited = rate == nil
        rate = newRate
        capacity = newCapacity ?? newRate.map(Self.defaultCapacity) ?? 0
        // Coming from unlimited there is no debt to carry: start full, as a new bucket does.
        balance = newRate == nil ? 0 : (wasUnlimited ? capacity : min(balance, capacity))
    }

    /// Charges `bytes` that are being (or were just) sent and returns how long the sender must
    /// wait before sending more: 0 unless the bucket is now in debt.
    public mutating func consume(_ bytes: Int, now: Double) -> Double {
        charge(bytes, now: now)
        return delay(now: now)
    }

    /// Charges `bytes` without asking the sender to wait (STAT traffic that borrows from the
    /// cap): routine traffic pays the debt later.
    public mutating func charge(_ bytes: Int, now: Double) {
        refill(now: now)
        guard rate != nil else { return }
        balance -= Double(bytes)
    }

    /// Seconds until the balance is no longer negative (0 when it is not, or when unlimited).
    public func delay(now: Double) -> Double {
        guard let rate, rate > 0 else { return 0 }
        let elapsed = max(0, now - updatedAt)
        let current = min(capacity, balance + rate * elapsed)
        return current >= 0 ? 0 : -current / rate
    }

    private mutating func refill(now: Double) {
        let elapsed = max(0, now - updatedAt)
        updatedAt = max(updatedAt, now)
        guard let rate else { return }
        balance = min(capacity, balance + rate * elapsed)
    }
}

/// How STAT traffic meets a bandwidth cap (`bandwidth.stat`).
public enum StatBandwidthPolicy: String, Sendable, Equatable, CaseIterable {
    /// STAT is neither delayed nor counted: it may exceed the cap while it flows.
    case bypass
    /// STAT is never delayed but is counted; other traffic waits until the cap is paid back, so
    /// the average stays at the cap.
    case borrow
    /// STAT is paced like everything else (it still goes first).
    case capped
}

/// A bandwidth cap that changes with the time of day: the first window that contains the local
/// time gives the limit, else `limit` applies (`bandwidth:` in radrelay.yaml). A limit of nil is
/// unlimited.
public struct BandwidthSchedule: Sendable, Equatable {
    public struct Entry: Sendable, Equatable {
        public var window: TimeWindow
        /// Bytes per second; nil for unlimited.
        public var limit: Double?

        public init(window: TimeWindow, limit: Double?) {
            self.window = window
            self.limit = limit
        }
    }

    /// Bytes per second outside every window; nil for unlimited.
    public var limit: Double?
    public var entries: [Entry]
    public var stat: StatBandwidthPolicy

    public init(limit: Double? = nil, entries: [Entry] = [], stat: StatBandwidthPolicy = .borrow) {
        self.limit = limit
        self.entries = entries
        self.stat = stat
    }

    /// No cap at any time.
    public static let unlimited = BandwidthSchedule()

    /// True when the schedule never limits anything.
    public var isUnlimited: Bool { limit == nil && entries.allSatisfy { $0.limit == nil } }

    /// The limit in force at the wall-clock moment `local`.
    public func limit(at local: LocalTime) -> Double? {
        entries.first { $0.window.contains(local) }.map(\.limit) ?? limit
    }
}
