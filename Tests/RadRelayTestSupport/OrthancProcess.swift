import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Debian's Orthanc (`/usr/sbin/Orthanc`) as the "remote platform" of end-to-end tests: an
/// ordinary child process on free loopback ports (never 4242/8042) with its storage, index and
/// configuration in a test's own directory.
///
/// **Counting C-STOREs.** Orthanc's instance count hides re-sends, so a Lua
/// `ReceivedInstanceFilter` appends the SOP Instance UID of every received instance to
/// `received-stores.log` and accepts it; with `OverwriteInstances: true` a re-sent instance is
/// received (and counted) again. Verified with DCMTK storescu: sending the same file twice gives
/// two lines. `receivedStoreCounts()` reads that file.
///
/// Orthanc 1.10 has no bind-address option, so its ports listen on all interfaces (FIELD-NOTES).
public final class OrthancProcess: @unchecked Sendable {
    /// Settings of one Orthanc instance.
    public struct Options: Sendable {
        /// Orthanc's own AE title (`DicomAet`); called AE titles are not checked.
        public var aeTitle = "ORTHANC"
        /// DICOM port; nil picks a free one.
        public var dicomPort: Int? = nil
        /// HTTP port; nil picks a free one.
        public var httpPort: Int? = nil
        /// Load the DICOMweb plugin (STOW-RS at `/dicom-web/`).
        public var dicomWeb = false
        /// Extra top-level configuration keys, as JSON text fragments (`"Key": value`).
        public var extraConfiguration: [String: String] = [:]
        public init() {}
    }

    /// The Orthanc executable.
    public static let executable = URL(fileURLWithPath: "/usr/sbin/Orthanc")
    /// The DICOMweb plugin shipped by Debian's `orthanc-dicomweb`.
    public static let dicomWebPlugin = "/usr/share/orthanc/plugins/libOrthancDicomWeb.so"

    /// Orthanc's AE title.
    public let aeTitle: String
    /// The DICOM port (127.0.0.1 and every other interface).
    public let dicomPort: Int
    /// The REST API port.
    public let httpPort: Int
    /// Directory holding configuration, storage, index, log and the store-count log.
    public let directory: URL
    /// One line per received C-STORE: the SOP Instance UID.
    public let storeLogURL: URL
    private let child: ChildProcess

    /// Prepares an Orthanc in `directory` (created if needed); call `start()`.
    public init(directory: URL, options: Options = Options()) throws {
        self.directory = directory
        aeTitle = options.aeTitle
        dicomPort = options.dicomPort ?? freeLoopbackPort()
        var http = options.httpPort ?? freeLoopbackPort()
        while http == dicomPort { http = freeLoopbackPort() }
        httpPort = http
        let fm = FileManager.default
        try fm.createDirectory(at: directory, withIntermediateDirectories: true)
        let storage = directory.appendingPathComponent("storage")
        let index = directory.appendingPathComponent("index")
        try fm.createDirectory(at: storage, withIntermediateDirectories: true)
        try fm.createDirectory(at: index, withIntermediateDirectories: true)
        storeLogURL = directory.appendingPathComponent("received-stores.log")
        _ = fm.createFile(atPath: storeLogURL.path, contents: nil)

        let lua = directory.appendingPathComponent("count-stores.lua")
        let luaText = """
            -- Written by the radrelay test harness: one line per received instance (C-STORE).
            function ReceivedInstanceFilter(dicom, origin, info)
              local f = io.open([[\(storeLogURL.path)]], "a")
              f:write(dicom.SOPInstanceUID .. "\\n")
              f:close()
              return true
            end
            """
        try luaText.write(to: lua, atomically: true, encoding: .utf8)

        var entries: [String: String] = [
            "Name": json("radrelay-test-orthanc"),
            "StorageDirectory": json(storage.path),
            "IndexDirectory": json(index.path),
            "HttpPort": String(httpPort),
            "DicomPort": String(dicomPort),
            "DicomAet": json(aeTitle),
            "DicomCheckCalledAet": "false",
            "DicomAlwaysAllowStore": "true",
            "DicomAlwaysAllowEcho": "true",
            "RemoteAccessAllowed": "false",
            "AuthenticationEnabled": "false",
            "OverwriteInstances": "true",
            "StorageCompression": "false",
            "LuaScripts": "[\(json(lua.path))]",
            "Plugins": options.dicomWeb ? "[\(json(Self.dicomWebPlugin))]" : "[]",
            "DicomWeb": options.dicomWeb ? #"{"Enable": true, "Root": "/dicom-web/"}"# : #"{"Enable": false}"#,
            "HttpsCACertificates": json(""),
            "SaveJobs": "false",
        ]
        for (key, value) in options.extraConfiguration { entries[key] = value }
        let config =
            "{\n"
            + entries.sorted { $0.key < $1.key }
            .map { "  \(json($0.key)): \($0.value)" }
            .joined(separator: ",\n") + "\n}\n"
        let configDir = directory.appendingPathComponent("config")
        try fm.createDirectory(at: configDir, withIntermediateDirectories: true)
        try config.write(to: configDir.appendingPathComponent("orthanc.json"), atomically: true, encoding: .utf8)

        child = ChildProcess(
            executable: Self.executable,
            arguments: [configDir.path],
            logURL: directory.appendingPathComponent("orthanc.log")
        )
    }

    // MARK: - Lifecycle

    /// Starts Orthanc and waits (up to `timeout` s) until its REST API answers `/system`.
    public func start(timeout: TimeInterval = 20) throws {
        try child.start()
        let deadline = monotonicSeconds() + timeout
        while true {
            if (try? SimpleHTTPClient.request(endpoint, path: "/system", timeout: 1))?.status == 200 { return }
            if !child.isRunning {
                throw HarnessError(
                    "Orthanc exited (\(child.exitStatus.map(String.init) ?? "?")) during start-up:\n\(logTail())")
            }
            if monotonicSeconds() > deadline {
                throw HarnessError("Orthanc did not answer /system within \(timeout) s:\n\(logTail())")
            }
            Thread.sleep(forTimeInterval: 0.05)
        }
    }

    /// SIGTERM and wait (SIGKILL after `timeout` s). Harmless when not running.
    public func stop(timeout: TimeInterval = 15) {
        child.stop(timeout: timeout)
    }

    /// SIGKILL (fast teardown, or a remote that crashes).
    public func kill() { child.killNow() }

    /// SIGSTOP: the process keeps its sockets but answers nothing (a hung remote).
    public func pause() { child.send(signal: SIGSTOP) }

    /// SIGCONT after `pause()`.
    public func resume() { child.send(signal: SIGCONT) }

    /// The pid of the running Orthanc (0 before start).
    public var pid: Int32 { child.pid }

    /// Whether Orthanc is running.
    public var isRunning: Bool { child.isRunning }

    /// The last lines of Orthanc's log.
    public func logTail(lines: Int = 30) -> String { child.logTail(lines: lines) }

    /// The REST endpoint.
    public var endpoint: SimpleHTTPClient.Endpoint { .tcp(host: "127.0.0.1", port: httpPort) }

    // MARK: - What arrived

    /// Received C-STOREs per SOP Instance UID, re-sends included (from the Lua filter's log).
    public func receivedStoreCounts() -> [String: Int] {
        var counts: [String: Int] = [:]
        for uid in receivedStoreLog() { counts[uid, default: 0] += 1 }
        return counts
    }

    /// Every received C-STORE's SOP Instance UID in arrival order.
    public func receivedStoreLog() -> [String] {
        guard let data = try? Data(contentsOf: storeLogURL) else { return [] }
        // Only complete lines: the filter may be writing right now.
        var text = String(decoding: data, as: UTF8.self)
        if let lastNewline = text.lastIndex(of: "\n") {
            text = String(text[..<lastNewline])
        } else {
            return []
        }
        return text.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }

    /// The SOP Instance UIDs Orthanc stores now (REST `/instances?expand`).
    public func instanceUIDs() throws -> Set<String> {
        Set(try instanceIDsByUID().keys)
    }

    /// Orthanc's resource id for each stored SOP Instance UID.
    public func instanceIDsByUID() throws -> [String: String] {
        guard
            let list = try SimpleHTTPClient.getJSON(endpoint, path: "/instances?expand", timeout: 30)
                as? [[String: Any]]
        else {
            throw HarnessError("Orthanc /instances?expand did not return a list")
        }
        var result: [String: String] = [:]
        for item in list {
            guard let id = item["ID"] as? String,
                let tags = item["MainDicomTags"] as? [String: Any],
                let uid = tags["SOPInstanceUID"] as? String
            else { continue }
            result[uid] = id
        }
        return result
    }

    /// Downloads the stored Part 10 file of one instance.
    public func instanceFile(orthancID: String) throws -> Data {
        let response = try SimpleHTTPClient.request(endpoint, path: "/instances/\(orthancID)/file", timeout: 30)
        guard response.status == 200 else {
            throw HarnessError("Orthanc /instances/\(orthancID)/file answered \(response.status)")
        }
        return response.body
    }

    /// SHA-256 of the Pixel Data value of the instance as Orthanc stored it (the whole stored file is
    /// fetched and its Pixel Data hashed with pydicom, like the source files: see `PixelData`).
    public func pixelDataSHA256(sopInstanceUID: String) throws -> String {
        guard let id = try instanceIDsByUID()[sopInstanceUID] else {
            throw HarnessError("Orthanc has no instance \(sopInstanceUID)")
        }
        let scratch = directory.appendingPathComponent("download-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: scratch) }
        let file = scratch.appendingPathComponent("instance.dcm")
        try instanceFile(orthancID: id).write(to: file)
        guard let hash = try PixelData.sha256BySOPInstanceUID(files: [file])[sopInstanceUID] else {
            throw HarnessError("stored instance \(sopInstanceUID) has no Pixel Data")
        }
        return hash
    }

    /// SHA-256 of the Pixel Data of every stored instance, by SOP Instance UID (one download per
    /// instance, one python run for all).
    public func pixelDataSHA256ByUID() throws -> [String: String] {
        let scratch = directory.appendingPathComponent("download-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: scratch) }
        var files: [URL] = []
        for (n, (_, id)) in try instanceIDsByUID().enumerated() {
            let file = scratch.appendingPathComponent("i\(n).dcm")
            try instanceFile(orthancID: id).write(to: file)
            files.append(file)
        }
        return try PixelData.sha256BySOPInstanceUID(files: files)
    }
}

/// A JSON string literal for `text`.
private func json(_ text: String) -> String {
    let data = try! JSONSerialization.data(withJSONObject: [text], options: [])
    let array = String(decoding: data, as: UTF8.self)
    return String(array.dropFirst().dropLast())
}

/// Pixel Data digests of Part 10 files, computed with pydicom (the raw bytes of the top-level
/// (7FE0,0010) value, as stored: identical bytes mean identical pixels for uncompressed syntaxes).
public enum PixelData {
    /// One file's identity and Pixel Data digest.
    public struct Digest: Sendable, Equatable {
        public let file: URL
        public let sopInstanceUID: String
        public let sha256: String
    }

    private static let script = """
        import hashlib, sys, warnings
        warnings.simplefilter("ignore")
        import pydicom
        for path in sys.argv[1:]:
            ds = pydicom.dcmread(path)
            print(ds.SOPInstanceUID, hashlib.sha256(ds.PixelData).hexdigest(), path)
        """

    /// Digests of `files`, in the same order.
    public static func digests(files: [URL]) throws -> [Digest] {
        guard !files.isEmpty else { return [] }
        let result = try ProcessRunner.run("/usr/bin/env", ["python3", "-c", script] + files.map(\.path), timeout: 300)
        guard result.exitCode == 0 else { throw HarnessError("pixel hashing failed: \(result.output)") }
        var digests: [Digest] = []
        for line in result.stdout.split(separator: "\n") {
            let parts = line.split(separator: " ", maxSplits: 2)
            guard parts.count == 3 else { continue }
            digests.append(
                Digest(
                    file: URL(fileURLWithPath: String(parts[2])), sopInstanceUID: String(parts[0]),
                    sha256: String(parts[1])))
        }
        guard digests.count == files.count else {
            throw HarnessError("pixel hashing returned \(digests.count) of \(files.count) files: \(result.output)")
        }
        return digests
    }

    /// SHA-256 of each file's Pixel Data, keyed by its SOP Instance UID.
    public static func sha256BySOPInstanceUID(files: [URL]) throws -> [String: String] {
        var hashes: [String: String] = [:]
        for d in try digests(files: files) { hashes[d.sopInstanceUID] = d.sha256 }
        return hashes
    }
}
