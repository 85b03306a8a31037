import Foundation
import RadRelayTestSupport
import XCTest

/// Settings of the fault suite (issue 7). The default test command runs a fast subset;
/// `make faults` sets `RADRELAY_FAULT_FULL=1` and `RADRELAY_FAULT_CYCLES=50`.
enum FaultSuite {
    /// Full suite: more cycles, bigger floods, and the cases that document known daemon bugs.
    static var full: Bool { ProcessInfo.processInfo.environment["RADRELAY_FAULT_FULL"] == "1" }

    /// Kill cycles per kill -9 case.
    static var cycles: Int {
        if let raw = ProcessInfo.processInfo.environment["RADRELAY_FAULT_CYCLES"], let n = Int(raw), n > 0 { return n }
        return full ? 50 : 5
    }

    /// Marks a case that currently fails because of a known daemon bug (described in
    /// docs/reliability.md): skipped in the default test run so CI stays green, run (and failing)
    /// in `make faults` until the daemon is fixed.
    static func knownBug(_ description: String) throws {
        guard full else { throw XCTSkip("known daemon bug, run by `make faults`: \(description)") }
    }
}
