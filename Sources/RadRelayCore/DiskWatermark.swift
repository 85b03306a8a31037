/// The free-disk low watermark with hysteresis (`gateway.min_free_disk` / `resume_free_disk`):
/// ingest is refused (0xA700) from the moment free space falls below the low threshold until it
/// rises to the resume threshold, so a disk hovering around one value does not flap between
/// accepting and refusing. Pure: the caller measures and compares, this decides.
///
/// | state | free < low | low ≤ free < resume | free ≥ resume |
/// |---|---|---|---|
/// | accepting | → refusing (`.becameLow`) | accepting | accepting |
/// | refusing | refusing | refusing | → accepting (`.recovered`) |
public struct DiskWatermark: Sendable, Equatable {
    /// A change of state worth a log line and a metric.
    public enum Transition: Sendable, Equatable {
        case becameLow
        case recovered
    }

    /// True while ingest is refused.
    public private(set) var isLow = false

    public init() {}

    /// Feeds one measurement: `belowLow` when free space is under the low threshold,
    /// `atOrAboveResume` when it has reached the resume threshold.
    public mutating func observe(belowLow: Bool, atOrAboveResume: Bool) -> Transition? {
        if !isLow, belowLow {
            isLow = true
            return .becameLow
        }
        if isLow, atOrAboveResume, !belowLow {
            isLow = false
            return .recovered
        }
        return nil
    }
}
