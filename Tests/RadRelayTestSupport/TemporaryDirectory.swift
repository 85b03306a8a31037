import Foundation

/// A directory under the system temp dir, removed when `remove()` is called (tests call it in a
/// `defer`). Each integration test gets its own, so tests never share state.
public struct TemporaryDirectory: Sendable {
    public let url: URL
    public var path: String { url.path }

    public init(prefix: String = "radrelay-test") throws {
        let base = URL(fileURLWithPath: NSTemporaryDirectory(), isDirectory: true)
        url = base.appendingPathComponent("\(prefix)-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    /// A path inside the directory (not created).
    public func file(_ name: String) -> URL { url.appendingPathComponent(name) }

    /// Creates and returns a subdirectory.
    public func subdirectory(_ name: String) throws -> URL {
        let dir = url.appendingPathComponent(name, isDirectory: true)
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir
    }

    public func remove() {
        try? FileManager.default.removeItem(at: url)
    }
}
