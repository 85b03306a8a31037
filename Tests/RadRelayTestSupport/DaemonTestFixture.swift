import Foundation

/// The per-test resources of an integration test that runs the built daemon: its own temp dir,
/// and the daemons, Orthancs, fault proxies and scripted SCPs it starts, all stopped (by pid) in
/// `tearDown(failed:)`. The end-to-end, fault and operations test cases each hold one and keep
/// their own helper names on top of it.
///
/// On failure, each daemon's log tail and each Orthanc's log are printed, and the temp dir is
/// kept for inspection unless `RADRELAY_E2E_CLEAN` is set (docs/reliability.md).
public final class DaemonTestFixture: @unchecked Sendable {
    /// This test's directory.
    public let temp: TemporaryDirectory
    /// How many lines of a daemon's log a failed test prints.
    public let failureLogLines: Int

    // Started peers, stopped in `tearDown` in reverse order of starting.
    private var daemons: [RadRelayDaemonProcess] = []
    private var orthancs: [OrthancProcess] = []
    private var proxies: [TCPFaultProxy] = []
    private var scripted: [ScriptedStoreSCP] = []
    private var cleanups: [() -> Void] = []

    /// Checks that every path in `requiredTools` is an executable (throwing a `HarnessError` that
    /// ends with `missingToolHint` otherwise), then creates a temp dir named `prefix-<uuid>`.
    public init(
        prefix: String,
        requiredTools: [String] = [],
        missingToolHint: String = "",
        failureLogLines: Int = 80
    ) throws {
        for tool in requiredTools {
            guard FileManager.default.isExecutableFile(atPath: tool) else {
                throw HarnessError("\(tool) is missing: \(missingToolHint)")
            }
        }
        temp = try TemporaryDirectory(prefix: prefix)
        self.failureLogLines = failureLogLines
    }

    /// Registers work for `tearDown(failed:)`, run (last registered first) before any peer stops.
    public func addCleanup(_ body: @escaping () -> Void) { cleanups.append(body) }

    /// The path of a state directory in this test's dir (not created).
    public func stateDirectory(_ name: String = "state") -> String {
        temp.url.appendingPathComponent(name).path
    }

    // MARK: - Peers

    /// An Orthanc in its own subdirectory `orthanc-<n>`; started unless `start` is false.
    public func makeOrthanc(options: OrthancProcess.Options = .init(), start: Bool = true) throws -> OrthancProcess {
        let orthanc = try OrthancProcess(
            directory: try temp.subdirectory("orthanc-\(orthancs.count)"), options: options)
        orthancs.append(orthanc)
        if start { try orthanc.start() }
        return orthanc
    }

    /// A started fault proxy to `port` on loopback.
    public func makeProxy(to port: Int) throws -> TCPFaultProxy {
        let proxy = TCPFaultProxy(targetPort: port)
        try proxy.start()
        proxies.append(proxy)
        return proxy
    }

    /// A started scripted storage SCP answering every C-STORE with `status`.
    public func makeScriptedSCP(status: UInt16 = 0) throws -> ScriptedStoreSCP {
        let peer = try ScriptedStoreSCP(directory: try temp.subdirectory("scripted-\(scripted.count)"), status: status)
        scripted.append(peer)
        try peer.start()
        return peer
    }

    /// A daemon for `config` in `directory` (default: a new subdirectory `daemon-<n>`), started
    /// (and ready) unless `start` is false. `environment` is added to the daemon's. Daemons made
    /// with the same `directory` share its config file and log.
    public func makeDaemon(
        _ config: RadRelayTestConfig,
        environment: [String: String] = [:],
        directory: URL? = nil,
        start: Bool = true
    ) throws -> RadRelayDaemonProcess {
        let daemon = try RadRelayDaemonProcess(
            config: config, directory: try directory ?? temp.subdirectory("daemon-\(daemons.count)"),
            environment: environment)
        daemons.append(daemon)
        if start { try daemon.start() }
        return daemon
    }

    // MARK: - Teardown

    /// Runs the cleanups, stops daemons, proxies, scripted SCPs and Orthancs (each kind in
    /// reverse order), then removes the temp dir — or, when `failed`, prints the logs and keeps
    /// it unless `RADRELAY_E2E_CLEAN` is set.
    public func tearDown(failed: Bool) {
        for cleanup in cleanups.reversed() { cleanup() }
        cleanups = []
        for daemon in daemons.reversed() {
            daemon.stop()
            if failed { print(daemon.failureContext(lines: failureLogLines)) }
        }
        for proxy in proxies.reversed() { proxy.stop() }
        for peer in scripted.reversed() { peer.stop() }
        for orthanc in orthancs.reversed() {
            // SIGKILL: a test's Orthanc is thrown away, and SIGTERM costs ~2 s per instance.
            orthanc.kill()
            if failed { print("--- Orthanc log (\(orthanc.directory.path)) ---\n\(orthanc.logTail())\n--- end ---") }
        }
        daemons = []
        proxies = []
        scripted = []
        orthancs = []
        if failed && ProcessInfo.processInfo.environment["RADRELAY_E2E_CLEAN"] == nil {
            print("test failed: keeping \(temp.path) for inspection")
        } else {
            temp.remove()
        }
    }
}
