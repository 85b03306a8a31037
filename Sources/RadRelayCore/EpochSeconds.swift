/// A point in time as the wall clock shows it, in seconds since 1970-01-01 UTC. The core never
/// asks the system for the time: callers pass `now`, tests pass fixed values. Stored as UTC.
public typealias EpochSeconds = Double
