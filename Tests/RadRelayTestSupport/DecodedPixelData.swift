import Foundation

/// Pixel data compared after decoding (issue 3): a transcoded file must decode to exactly the
/// source's pixels. Decoding uses DCMTK's command-line decoders (`dcmdjpls`, `dcmdjpeg`, `dcmdrle`,
/// separate processes, not the code under test) and hashing uses pydicom, like `PixelData`.
public enum DecodedPixelData {
    /// One file's identity, stored transfer syntax and decoded Pixel Data digest.
    public struct Digest: Sendable, Equatable {
        public let sopInstanceUID: String
        public let transferSyntaxUID: String
        public let sha256: String
    }

    private static let describeScript = """
        import sys, warnings
        warnings.simplefilter("ignore")
        import pydicom
        for path in sys.argv[1:]:
            ds = pydicom.dcmread(path, stop_before_pixels=True)
            print(ds.SOPInstanceUID, ds.file_meta.TransferSyntaxUID, path)
        """

    private static let decoders: [String: String] = [
        "1.2.840.10008.1.2.4.80": "/usr/bin/dcmdjpls",
        "1.2.840.10008.1.2.4.81": "/usr/bin/dcmdjpls",
        "1.2.840.10008.1.2.4.57": "/usr/bin/dcmdjpeg",
        "1.2.840.10008.1.2.4.70": "/usr/bin/dcmdjpeg",
        "1.2.840.10008.1.2.5": "/usr/bin/dcmdrle",
    ]

    /// Digests of `files` (any order), decoding compressed ones into `scratch` first.
    public static func digests(files: [URL], scratch: URL) throws -> [Digest] {
        guard !files.isEmpty else { return [] }
        let described = try ProcessRunner.run(
            "/usr/bin/env", ["python3", "-c", describeScript] + files.map(\.path), timeout: 120)
        guard described.exitCode == 0 else { throw HarnessError("describing files failed: \(described.output)") }
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        var syntaxByUID: [String: String] = [:]
        var decodedFiles: [URL] = []
        for (index, line) in described.stdout.split(separator: "\n").enumerated() {
            let parts = line.split(separator: " ", maxSplits: 2).map(String.init)
            guard parts.count == 3 else { continue }
            syntaxByUID[parts[0]] = parts[1]
            guard let decoder = decoders[parts[1]] else {
                decodedFiles.append(URL(fileURLWithPath: parts[2]))
                continue
            }
            let output = scratch.appendingPathComponent("decoded-\(index).dcm")
            let result = try ProcessRunner.run(decoder, [parts[2], output.path], timeout: 120)
            guard result.exitCode == 0 else {
                throw HarnessError("\(decoder) failed on \(parts[2]):\n\(result.output)")
            }
            decodedFiles.append(output)
        }
        return try PixelData.digests(files: decodedFiles).map {
            Digest(
                sopInstanceUID: $0.sopInstanceUID, transferSyntaxUID: syntaxByUID[$0.sopInstanceUID] ?? "",
                sha256: $0.sha256)
        }
    }

    /// Decoded digests by SOP Instance UID.
    public static func byUID(files: [URL], scratch: URL) throws -> [String: Digest] {
        Dictionary(
            try digests(files: files, scratch: scratch).map { ($0.sopInstanceUID, $0) }, uniquingKeysWith: { a, _ in a }
        )
    }
}
