import Foundation

/// A failure of the integration-test harness itself (a peer that did not start, a condition that
/// never became true). Its description is meant to be read in a test log.
public struct HarnessError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// Monotonic seconds, for measuring durations in tests (immune to wall-clock changes).
public func monotonicSeconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

/// Polls `condition` every `interval` seconds until it returns true or `timeout` seconds pass.
/// Use it instead of fixed sleeps: it returns as soon as the condition holds.
///
/// - Parameters:
///   - what: names the condition in the timeout error ("all 100 instances delivered").
///   - detail: evaluated only on timeout, to add the last observed state to the error.
/// - Throws: `HarnessError` on timeout, or whatever `condition` throws (a condition that should
///   merely be retried must catch its own errors and return false).
public func pollUntil(
    _ what: String,
    timeout: TimeInterval,
    interval: TimeInterval = 0.1,
    detail: () -> String = { "" },
    _ condition: () throws -> Bool
) throws {
    let deadline = monotonicSeconds() + timeout
    while true {
        if try condition() { return }
        if monotonicSeconds() >= deadline {
            let extra = detail()
            throw HarnessError(
                "timed out after \(timeout) s waiting for: \(what)" + (extra.isEmpty ? "" : "\n" + extra)
            )
        }
        Thread.sleep(forTimeInterval: interval)
    }
}

/// `pollUntil` with the failure detail written as an expression (`detail: peer.log()`), evaluated
/// only on timeout. Same behaviour as the closure form.
public func pollUntil(
    _ what: String,
    timeout: TimeInterval,
    interval: TimeInterval = 0.1,
    detail: @autoclosure () -> String,
    _ condition: () throws -> Bool
) throws {
    try pollUntil(what, timeout: timeout, interval: interval, detail: { detail() }, condition)
}

/// The last `lines` lines of a text file (for failure messages: daemon and Orthanc logs).
public func tailOfFile(_ url: URL, lines: Int = 40) -> String {
    guard let data = try? Data(contentsOf: url) else { return "(no log at \(url.path))" }
    let text = String(decoding: data, as: UTF8.self)
    let all = text.split(separator: "\n", omittingEmptySubsequences: false)
    return all.suffix(lines).joined(separator: "\n")
}

/// Regular files below `directory` (recursively), as paths relative to it. Empty when the
/// directory does not exist. Tests use it to check that refused objects leave nothing behind.
public func regularFiles(under directory: URL) -> Set<String> {
    guard
        let enumerator = FileManager.default.enumerator(
            at: directory, includingPropertiesForKeys: [.isRegularFileKey], options: []
        )
    else { return [] }
    var result = Set<String>()
    let base = directory.standardizedFileURL.path
    for case let url as URL in enumerator {
        guard (try? url.resourceValues(forKeys: [.isRegularFileKey]).isRegularFile) == true else { continue }
        var path = url.standardizedFileURL.path
        if path.hasPrefix(base + "/") { path.removeFirst(base.count + 1) }
        result.insert(path)
    }
    return result
}
