import Foundation

/// DCMTK's `storescu` as the sending PACS. Always `/usr/bin/storescu`: pynetdicom installs a
/// console script of the same name that shadows it on PATH (FIELD-NOTES). Runs with
/// `TCP_NODELAY=1` (this DCMTK build sets the option only then).
///
/// DCMTK storescu exits non-zero (167) when a store answers a failure status, and non-zero when
/// the association is rejected; the output says why.
public enum StoreSCU {
    public static let executable = "/usr/bin/storescu"

    /// Sends `files` on one association to `host:port`.
    ///
    /// - Parameters:
    ///   - extraArguments: more storescu options (e.g. `-v`, `-xs`), placed before the peer.
    ///   - timeout: the whole run is killed after this many seconds.
    @discardableResult
    public static func send(
        files: [URL],
        host: String = "127.0.0.1",
        port: Int,
        calledAE: String,
        callingAE: String = "STORESCU",
        extraArguments: [String] = [],
        timeout: TimeInterval = 120
    ) throws -> ProcessResult {
        let arguments =
            ["-aec", calledAE, "-aet", callingAE] + extraArguments + [host, String(port)] + files.map(\.path)
        return try ProcessRunner.run(executable, arguments, environment: ["TCP_NODELAY": "1"], timeout: timeout)
    }

    /// Sends every `.dcm` file of `directory`, in name order.
    @discardableResult
    public static func send(
        directory: URL,
        host: String = "127.0.0.1",
        port: Int,
        calledAE: String,
        callingAE: String = "STORESCU",
        extraArguments: [String] = [],
        timeout: TimeInterval = 120
    ) throws -> ProcessResult {
        let files = try FileManager.default.contentsOfDirectory(at: directory, includingPropertiesForKeys: nil)
            .filter { $0.pathExtension == "dcm" }
            .sorted { $0.path < $1.path }
        return try send(
            files: files, host: host, port: port, calledAE: calledAE, callingAE: callingAE,
            extraArguments: extraArguments, timeout: timeout)
    }
}

/// DCMTK's `echoscu` (`/usr/bin/echoscu`, never the PATH one): one C-ECHO on a new association.
public enum EchoSCU {
    public static let executable = "/usr/bin/echoscu"

    /// Sends one C-ECHO; `result.duration` is the wall time including process start. The DCMTK
    /// connect, ACSE and DIMSE timeouts are set to `timeout` so a stalled peer cannot hang a test.
    @discardableResult
    public static func echo(
        host: String = "127.0.0.1",
        port: Int,
        calledAE: String,
        callingAE: String = "ECHOSCU",
        timeout: Int = 10
    ) throws -> ProcessResult {
        let t = String(timeout)
        return try ProcessRunner.run(
            executable,
            ["-aec", calledAE, "-aet", callingAE, "-to", t, "-ta", t, "-td", t, host, String(port)],
            environment: ["TCP_NODELAY": "1"],
            timeout: TimeInterval(timeout) + 5
        )
    }
}
