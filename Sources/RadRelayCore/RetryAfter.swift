/// The HTTP `Retry-After` header (RFC 9110 §10.2.3), as a point in time, and how the retry
/// policy honours it (`CircuitBreaker.sendFinished(_:now:policy:unitRandom:notBefore:)` does the same
/// for a destination's health).
public enum RetryAfter {
    /// A server may not push a destination further out than this (seconds): a mistyped or
    /// hostile `Retry-After: 999999999` must not stall a site's backlog for years.
    public static let maximumDelay: Double = 3600

    /// The time `value` names: delay-seconds (`120`) or an IMF-fixdate (`Sun, 06 Nov 1994
    /// 08:49:37 GMT`), clamped to `now ... now + maximumDelay`. Nil when unparsable.
    public static func parse(_ value: String, now: EpochSeconds) -> EpochSeconds? {
        let text = value.trimmingRetryAfterSpaces()
        if !text.isEmpty, text.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) {
            guard let seconds = Double(text) else { return nil }
            return now + min(seconds, maximumDelay)
        }
        guard let date = imfFixdate(text) else { return nil }
        return min(max(date, now), now + maximumDelay)
    }

    /// Parses `Sun, 06 Nov 1994 08:49:37 GMT` (the only form senders may generate).
    static func imfFixdate(_ text: String) -> EpochSeconds? {
        let parts = text.split(separator: " ")
        guard parts.count == 6, parts[0].hasSuffix(","), parts[5] == "GMT" else { return nil }
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        guard let day = Int(parts[1]), (1...31).contains(day),
            let monthIndex = months.firstIndex(of: String(parts[2])),
            let year = Int(parts[3]), year >= 1970
        else { return nil }
        let clock = parts[4].split(separator: ":")
        guard clock.count == 3, let hour = Int(clock[0]), let minute = Int(clock[1]), let second = Int(clock[2]),
            (0...23).contains(hour), (0...59).contains(minute), (0...60).contains(second)
        else { return nil }
        let days = daysFromCivil(year: year, month: monthIndex + 1, day: day)
        return Double(days * 86400 + hour * 3600 + minute * 60 + second)
    }

    /// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
    static func daysFromCivil(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let mp = (month + 9) % 12
        let doy = (153 * mp + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }
}

extension RetryPolicy {
    /// `disposition(for:attempt:now:unitRandom:)`, but a deferral waits at least until
    /// `notBefore` when the remote named a time (`Retry-After`). The later of the backoff and
    /// the remote's time wins, so `Retry-After: 0` never makes a tight loop.
    public func disposition(
        for outcome: SendOutcome,
        attempt: Int,
        now: EpochSeconds,
        unitRandom: Double,
        notBefore: EpochSeconds?
    ) -> DeliveryDisposition {
        let plain = disposition(for: outcome, attempt: attempt, now: now, unitRandom: unitRandom)
        guard let notBefore, case .deferred(let backoff, let failure, let detail) = plain else { return plain }
        return .deferred(notBefore: max(backoff, notBefore), failure: failure, detail: detail)
    }
}

extension String {
    fileprivate func trimmingRetryAfterSpaces() -> String {
        var scalars = Substring(self)
        while let first = scalars.first, first == " " || first == "\t" { scalars.removeFirst() }
        while let last = scalars.last, last == " " || last == "\t" { scalars.removeLast() }
        return String(scalars)
    }
}
