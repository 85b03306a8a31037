import Foundation
import XCTest

/// Base class of the test cases that run the built daemon against real peers (the end-to-end and
/// fault suites): a `DaemonTestFixture` per test, made in `setUpWithError` by `makeFixture()` and
/// torn down in `tearDown`, and the helpers that start peers and daemons through it.
open class DaemonTestCase: XCTestCase {
    /// This test's temp dir, peers and daemons; nil outside a test.
    public private(set) var fixture: DaemonTestFixture?

    /// This test's directory.
    public var temp: TemporaryDirectory! { fixture?.temp }

    /// Whether this test has failed so far (assertions or unexpected exceptions).
    public var hasFailed: Bool { (testRun?.failureCount ?? 0) + (testRun?.unexpectedExceptionCount ?? 0) > 0 }

    /// The fixture for one test; subclasses name their temp dir prefix and the tools they need.
    open func makeFixture() throws -> DaemonTestFixture {
        try DaemonTestFixture(prefix: "radrelay-test")
    }

    open override func setUpWithError() throws {
        try super.setUpWithError()
        continueAfterFailure = true
        fixture = try makeFixture()
    }

    open override func tearDown() {
        fixture?.tearDown(failed: hasFailed)
        fixture = nil
        super.tearDown()
    }

    /// Registers work for `tearDown`, run (last registered first) before any peer stops.
    public func addCleanup(_ body: @escaping () -> Void) { fixture!.addCleanup(body) }

    // MARK: - Peers

    /// An Orthanc with its own directory (on `dicomPort`, else a free port); started unless
    /// `start` is false.
    public func makeOrthanc(dicomPort: Int? = nil, start: Bool = true) throws -> OrthancProcess {
        var options = OrthancProcess.Options()
        options.dicomPort = dicomPort
        return try fixture!.makeOrthanc(options: options, start: start)
    }

    /// A started fault proxy to `port`.
    public func makeProxy(to port: Int) throws -> TCPFaultProxy { try fixture!.makeProxy(to: port) }

    /// A started scripted storage SCP answering every C-STORE with `status`.
    public func makeScriptedSCP(status: UInt16 = 0) throws -> ScriptedStoreSCP {
        try fixture!.makeScriptedSCP(status: status)
    }

    /// A daemon for `config` in `directory` (default: a new `daemon-<n>` in the temp dir), started
    /// (and ready) unless `start` is false. `environment` is added to the daemon's (e.g.
    /// `RADRELAY_FAULT_POINTS`). Daemons made with the same `directory` share its config and log.
    public func makeDaemon(
        _ config: RadRelayTestConfig,
        environment: [String: String] = [:],
        directory: URL? = nil,
        start: Bool = true
    ) throws -> RadRelayDaemonProcess {
        try fixture!.makeDaemon(config, environment: environment, directory: directory, start: start)
    }
}
