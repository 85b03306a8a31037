import Foundation

/// Certificates for TLS tests, made by the `openssl` CLI in a test's directory: a trusted CA, a
/// second (untrusted) CA, and leaf certificates signed by them. OpenSSL 3.0's `x509` has no
/// `-not_before`, so certificates with a chosen validity window (the expired one) are issued
/// with `openssl ca -startdate/-enddate`, which needs a tiny CA database.
public struct TestCertificates: Sendable {
    public let directory: URL

    /// Trusted CA (PEM) and the untrusted one.
    public var ca: String { path("ca.pem") }
    public var otherCA: String { path("other-ca.pem") }

    public func path(_ name: String) -> String { directory.appendingPathComponent(name).path }

    /// Makes both CAs. Leaves come from `issue`.
    public init(directory: URL) throws {
        self.directory = directory
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        for name in ["ca", "other-ca"] {
            try openssl([
                "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-sha256", "-days", "30",
                "-subj", "/CN=radrelay test \(name)", "-keyout", path("\(name).key"), "-out", path("\(name).pem"),
                "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
            ])
        }
    }

    /// Issues `name.pem` / `name.key` signed by `caName` ("ca" or "other-ca") for the DNS names
    /// and IP addresses in `subjectAltNames` (e.g. ["DNS:localhost", "IP:127.0.0.1"]), valid
    /// from `start` to `end` (`YYYYMMDDHHMMSSZ`; default: yesterday to in 30 days).
    @discardableResult
    public func issue(
        _ name: String,
        signedBy caName: String = "ca",
        subjectAltNames: [String] = ["DNS:localhost", "IP:127.0.0.1"],
        clientAuth: Bool = false,
        start: String? = nil,
        end: String? = nil
    ) throws -> (certificate: String, key: String) {
        let database = directory.appendingPathComponent("db-\(name)")
        try FileManager.default.createDirectory(at: database, withIntermediateDirectories: true)
        try Data().write(to: database.appendingPathComponent("index.txt"))
        try "01\n".write(to: database.appendingPathComponent("serial"), atomically: true, encoding: .utf8)
        let usage = clientAuth ? "clientAuth" : "serverAuth"
        let config = """
            [ ca ]
            default_ca = test
            [ test ]
            database = \(database.path)/index.txt
            serial = \(database.path)/serial
            new_certs_dir = \(database.path)
            default_md = sha256
            policy = anything
            unique_subject = no
            copy_extensions = none
            [ anything ]
            commonName = supplied
            [ leaf ]
            basicConstraints = critical,CA:FALSE
            keyUsage = critical,digitalSignature,keyEncipherment
            extendedKeyUsage = \(usage)
            subjectAltName = \(subjectAltNames.joined(separator: ","))
            """
        let configPath = database.appendingPathComponent("ca.cnf").path
        try config.write(toFile: configPath, atomically: true, encoding: .utf8)
        try openssl([
            "req", "-new", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=\(name)",
            "-keyout", path("\(name).key"), "-out", path("\(name).csr"),
        ])
        let formatter = DateFormatter()
        formatter.dateFormat = "yyyyMMddHHmmss'Z'"
        formatter.timeZone = TimeZone(identifier: "UTC")
        let from = start ?? formatter.string(from: Date().addingTimeInterval(-86400))
        let to = end ?? formatter.string(from: Date().addingTimeInterval(30 * 86400))
        try openssl([
            "ca", "-batch", "-config", configPath, "-extensions", "leaf", "-cert", path("\(caName).pem"),
            "-keyfile", path("\(caName).key"), "-in", path("\(name).csr"), "-out", path("\(name).pem"),
            "-startdate", from, "-enddate", to, "-notext",
        ])
        return (path("\(name).pem"), path("\(name).key"))
    }

    private func openssl(_ arguments: [String]) throws {
        let result = try ProcessRunner.run("/usr/bin/openssl", arguments, timeout: 60)
        guard result.exitCode == 0 else { throw HarnessError("openssl \(arguments.first ?? "") failed:\n\(result.output)") }
    }
}
