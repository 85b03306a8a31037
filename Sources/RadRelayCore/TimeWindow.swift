import Foundation

/// A day of the week, numbered as `Calendar` does (Sunday = 1).
public enum Weekday: Int, Sendable, CaseIterable, Comparable, CustomStringConvertible {
    case sunday = 1, monday, tuesday, wednesday, thursday, friday, saturday

    /// The day before (Sunday before Monday, Saturday before Sunday).
    public var previous: Weekday { Weekday(rawValue: rawValue == 1 ? 7 : rawValue - 1)! }

    /// The day after.
    public var next: Weekday { Weekday(rawValue: rawValue == 7 ? 1 : rawValue + 1)! }

    /// Three-letter English abbreviation, as the configuration spells days: `mon`.
    public var description: String { ["sun", "mon", "tue", "wed", "thu", "fri", "sat"][rawValue - 1] }

    /// Parses `mon`, `monday`, `Mon` (three letters or the full name, any case).
    public init?(name: String) {
        let lower = name.lowercased()
        let full = ["sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday"]
        guard let index = full.firstIndex(where: { $0 == lower || (lower.count == 3 && $0.hasPrefix(lower)) })
        else { return nil }
        self.init(rawValue: index + 1)
    }

    public static func < (lhs: Weekday, rhs: Weekday) -> Bool { lhs.rawValue < rhs.rawValue }
}

/// A wall-clock moment in the site's time zone: the weekday and the second of the day.
public struct LocalTime: Sendable, Equatable, CustomStringConvertible {
    public var weekday: Weekday
    /// 0 ..< 86 400 (a leap second shows as 86 399).
    public var secondOfDay: Int

    public init(weekday: Weekday, secondOfDay: Int) {
        self.weekday = weekday
        self.secondOfDay = secondOfDay
    }

    public var description: String { "\(weekday) \(TimeOfDay(seconds: secondOfDay))" }
}

/// A time of day `HH:MM` or `HH:MM:SS`, from 00:00 to 24:00 (24:00 only as an end).
public struct TimeOfDay: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// Seconds since midnight, 0 … 86 400.
    public var seconds: Int

    public init(seconds: Int) { self.seconds = seconds }

    public init(hour: Int, minute: Int, second: Int = 0) { seconds = hour * 3600 + minute * 60 + second }

    /// Parses `07:00`, `7:30`, `19:00:30` or `24:00`; nil when malformed or out of range.
    public init?(parsing text: String) {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard (2...3).contains(parts.count),
            parts.allSatisfy({ !$0.isEmpty && $0.count <= 2 && $0.allSatisfy(\.isASCIIDigitCharacter) })
        else { return nil }
        let numbers = parts.map { Int($0)! }
        let (hour, minute, second) = (numbers[0], numbers[1], numbers.count == 3 ? numbers[2] : 0)
        guard parts[1].count == 2, parts.count == 2 || parts[2].count == 2, minute < 60, second < 60 else { return nil }
        guard hour < 24 || (hour == 24 && minute == 0 && second == 0) else { return nil }
        self.init(hour: hour, minute: minute, second: second)
    }

    public static let midnight = TimeOfDay(seconds: 0)
    public static let endOfDay = TimeOfDay(seconds: 86_400)

    public static func < (lhs: TimeOfDay, rhs: TimeOfDay) -> Bool { lhs.seconds < rhs.seconds }

    public var description: String {
        let h = seconds / 3600, m = seconds / 60 % 60, s = seconds % 60
        func two(_ n: Int) -> String { n < 10 ? "0\(n)" : "\(n)" }
        return s == 0 ? "\(two(h)):\(two(m))" : "\(two(h)):\(two(m)):\(two(s))"
    }
}

/// Days of the week plus a local time range, e.g. nights `mon-fri 19:00–07:00` or weekends
/// `sat,sun 00:00–24:00`, evaluated on the site's wall clock (so it follows the time zone's
/// daylight-saving rules: 07:00 is 07:00 local in summer and in winter).
///
/// - `from < to`: the listed days, from `from` (inclusive) to `to` (exclusive).
/// - `from > to`: the window wraps midnight. It *starts* on a listed day at `from` and runs into
///   the next day until `to`: `fri 22:00–06:00` covers Friday 22:00 to Saturday 06:00, not
///   Friday 00:00–06:00.
/// - On the day clocks go forward, local times that do not exist are skipped (a window
///   02:30–03:30 then starts at 03:00); on the day they go back, the repeated hour is inside a
///   window as often as it occurs.
public struct TimeWindow: Sendable, Equatable, CustomStringConvertible {
    public var days: Set<Weekday>
    public var from: TimeOfDay
    public var to: TimeOfDay

    /// A window; `from == to` is refused by the configuration (it would be empty or ambiguous).
    public init(days: Set<Weekday> = Set(Weekday.allCases), from: TimeOfDay = .midnight, to: TimeOfDay = .endOfDay) {
        self.days = days
        self.from = from
        self.to = to
    }

    /// True when the wall-clock moment `local` lies inside the window.
    public func contains(_ local: LocalTime) -> Bool {
        let t = local.secondOfDay
        if from < to {
            return days.contains(local.weekday) && t >= from.seconds && t < to.seconds
        }
        // Wrapping: the evening part belongs to the listed day, the morning part to the day after.
        return (days.contains(local.weekday) && t >= from.seconds)
            || (days.contains(local.weekday.previous) && t < to.seconds)
    }

    public var description: String {
        let dayText =
            days.count == 7 ? "daily" : Weekday.allCases.filter(days.contains).map(\.description).joined(separator: ",")
        return "\(dayText) \(from)-\(to)"
    }
}

/// The site's wall clock: turns UTC instants (stored times are UTC) into local weekday and time
/// in the configured time zone. A value type; `TimeZone` carries the zone's DST rules.
public struct SiteClock: Sendable, Equatable {
    public var timeZone: TimeZone
    private var calendar: Calendar

    public init(timeZone: TimeZone) {
        self.timeZone = timeZone
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = timeZone
        self.calendar = calendar
    }

    /// UTC, for tests and for rules without time windows.
    public static let utc = SiteClock(timeZone: TimeZone(identifier: "UTC")!)

    /// The local weekday and time of day of `instant`.
    public func local(_ instant: EpochSeconds) -> LocalTime {
        let date = Date(timeIntervalSince1970: instant)
        let parts = calendar.dateComponents([.weekday, .hour, .minute, .second], from: date)
        let second = (parts.hour ?? 0) * 3600 + (parts.minute ?? 0) * 60 + (parts.second ?? 0)
        return LocalTime(weekday: Weekday(rawValue: parts.weekday ?? 1) ?? .sunday, secondOfDay: min(second, 86_399))
    }

    public static func == (lhs: SiteClock, rhs: SiteClock) -> Bool { lhs.timeZone == rhs.timeZone }
}

extension Character {
    fileprivate var isASCIIDigitCharacter: Bool { isASCII && isNumber }
}
