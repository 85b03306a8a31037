import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A scripted remote platform (pynetdicom storage SCP) that answers every C-STORE with a status
/// the test chooses and can change while it runs: 0x0000, a warning (0xB000), out of resources
/// (0xA700), data set does not match SOP class (0xA900), cannot understand (0xC000)…
///
/// Every C-STORE it receives is logged as `<SOP Instance UID> <status hex>` to `storeLogURL`, so
/// tests count attempts per object the same way as with `OrthancProcess`.
public final class ScriptedStoreSCP: @unchecked Sendable {
    /// The DICOM port (127.0.0.1).
    public let port: Int
    /// The AE title it answers to (called AE titles are not checked).
    public let aeTitle: String
    /// One line per received C-STORE.
    public let storeLogURL: URL
    private let statusURL: URL
    private let child: ChildProcess

    /// Prepares the SCP in `directory`, answering `status` until told otherwise.
    public init(directory: URL, aeTitle: String = "SCRIPTED", status: UInt16 = 0x0000) throws {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        self.aeTitle = aeTitle
        port = freeLoopbackPort()
        storeLogURL = directory.appendingPathComponent("received-stores.log")
        statusURL = directory.appendingPathComponent("status")
        _ = FileManager.default.createFile(atPath: storeLogURL.path, contents: nil)
        let script = directory.appendingPathComponent("scripted-scp.py")
        try Self.script.write(to: script, atomically: true, encoding: .utf8)
        child = ChildProcess(
            executable: URL(fileURLWithPath: "/usr/bin/env"),
            arguments: [
                "python3", script.path, "--port", String(port), "--ae", aeTitle, "--status-file", statusURL.path,
                "--log", storeLogURL.path,
            ],
            logURL: directory.appendingPathComponent("scripted-scp.log")
        )
        try setStatus(status)
    }

    /// Starts the SCP and waits until it accepts connections.
    public func start(timeout: TimeInterval = 20) throws {
        try child.start()
        try pollUntil("scripted SCP listening on \(port)", timeout: timeout, detail: child.logTail()) {
            if !child.isRunning { throw HarnessError("scripted SCP exited:\n\(child.logTail())") }
            guard let fd = try? Socket.connectTCP(host: "127.0.0.1", port: port, timeout: 0.5) else { return false }
            close(fd)
            return true
        }
    }

    /// Changes the status answered from the next C-STORE on.
    public func setStatus(_ status: UInt16) throws {
        try String(format: "%04X\n", status).write(to: statusURL, atomically: true, encoding: .utf8)
    }

    /// Stops it (SIGKILL: it holds nothing worth a graceful stop).
    public func stop() { child.killNow() }

    /// The received C-STOREs in order: (SOP Instance UID, status answered).
    public func receivedStores() -> [(uid: String, status: UInt16)] {
        guard let data = try? Data(contentsOf: storeLogURL) else { return [] }
        return String(decoding: data, as: UTF8.self).split(separator: "\n").compactMap { line in
            let parts = line.split(separator: " ")
            guard parts.count == 2, let status = UInt16(parts[1], radix: 16) else { return nil }
            return (String(parts[0]), status)
        }
    }

    /// Received C-STOREs per SOP Instance UID.
    public func receivedStoreCounts() -> [String: Int] {
        var counts: [String: Int] = [:]
        for store in receivedStores() { counts[store.uid, default: 0] += 1 }
        return counts
    }

    /// The log tail, for failure messages.
    public func logTail() -> String { child.logTail() }

    static let script = #"""
        # Written by the radrelay test harness (RadRelayTestSupport/ScriptedStoreSCP.swift).
        import argparse, logging, sys, time, warnings
        warnings.simplefilter("ignore")
        logging.disable(logging.CRITICAL)
        from pynetdicom import AE, evt, AllStoragePresentationContexts
        from pynetdicom.sop_class import Verification

        p = argparse.ArgumentParser()
        p.add_argument("--port", type=int, required=True)
        p.add_argument("--ae", required=True)
        p.add_argument("--status-file", required=True)
        p.add_argument("--log", required=True)
        args = p.parse_args()

        def handle_store(event):
            try:
                status = int(open(args.status_file).read().strip() or "0", 16)
            except Exception:
                status = 0xA700
            uid = str(event.request.AffectedSOPInstanceUID)
            with open(args.log, "a") as f:
                f.write("%s %04X\n" % (uid, status))
            return status

        ae = AE(ae_title=args.ae)
        ae.require_called_aet = False
        ae.maximum_associations = 32
        ae.acse_timeout = 30
        ae.dimse_timeout = 30
        ae.network_timeout = 60
        for context in AllStoragePresentationContexts:
            ae.add_supported_context(context.abstract_syntax)
        ae.add_supported_context(Verification)
        ae.start_server(("127.0.0.1", args.port), block=False,
                        evt_handlers=[(evt.EVT_C_STORE, handle_store)])
        print("listening", flush=True)
        while True:
            time.sleep(3600)
        """#
}
