import Foundation
import RadRelayDIMSE
import RadRelayTestSupport
import XCTest

/// Test objects made with pydicom: generated CT slices and edited copies of them.
enum DICOMFixtures {
    /// Generates `count` small CT slices in `directory` and returns their paths in name order.
    static func ctSlices(_ count: Int, in directory: URL, size: Int = 64) throws -> [URL] {
        try TestData.makeCTSeries(count: count, in: directory, rows: size, columns: size)
        return try FileManager.default.contentsOfDirectory(at: directory, includingPropertiesForKeys: nil)
            .filter { $0.pathExtension == "dcm" }
            .sorted { $0.path < $1.path }
    }

    /// Runs a Python snippet with `sys.argv[1:] == arguments`; pydicom is imported as `pydicom`.
    static func python(_ code: String, _ arguments: [String]) throws {
        let result = try ProcessRunner.run(
            "/usr/bin/env", ["python3", "-c", "import sys, pydicom\n" + code] + arguments, timeout: 30
        )
        guard result.exitCode == 0 else { throw HarnessError("python failed:\n" + result.output) }
    }

    /// Copies `source` to `destination`, setting `keyword` (in dataset and file meta where the
    /// meta has a counterpart) to `value`, or deleting it when `value` is nil.
    static func edit(_ source: URL, to destination: URL, keyword: String, value: String?) throws {
        try python(
            """
            ds = pydicom.dcmread(sys.argv[1])
            key, value = sys.argv[3], (sys.argv[4] if len(sys.argv) > 4 else None)
            meta = {"SOPClassUID": "MediaStorageSOPClassUID", "SOPInstanceUID": "MediaStorageSOPInstanceUID"}
            if value is None:
                delattr(ds, key)
            else:
                setattr(ds, key, value)
                if key in meta:
                    setattr(ds.file_meta, meta[key], value)
            ds.save_as(sys.argv[2], write_like_original=True)
            """,
            [source.path, destination.path, keyword] + (value.map { [$0] } ?? [])
        )
    }

    /// Copies `source` without its last `count` bytes.
    static func truncate(_ source: URL, to destination: URL, droppingLast count: Int) throws {
        let data = try Data(contentsOf: source)
        try data.prefix(data.count - count).write(to: destination)
    }

    /// Copies `source` up to `offset` bytes into the header of its Pixel Data element.
    static func truncateInsidePixelDataHeader(_ source: URL, to destination: URL, offset: Int) throws {
        let data = try Data(contentsOf: source)
        let tag = Data([0xE0, 0x7F, 0x10, 0x00])
        guard let range = data.range(of: tag, options: .backwards) else { throw HarnessError("no Pixel Data") }
        try data.prefix(range.lowerBound + offset).write(to: destination)
    }

    /// The SOP Instance UID of a file, read with pydicom (independent of the code under test).
    static func sopInstanceUID(of file: URL) throws -> String {
        let result = try ProcessRunner.run(
            "/usr/bin/env",
            [
                "python3", "-c", "import sys, pydicom; print(pydicom.dcmread(sys.argv[1]).SOPInstanceUID)",
                file.path,
            ],
            timeout: 30
        )
        guard result.exitCode == 0 else { throw HarnessError(result.output) }
        return result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// The object to send for `file`, its identity read by the inspector.
    static func outgoing(_ file: URL) throws -> OutgoingObject {
        let object = try DICOMFileInspector.inspect(path: file.path)
        return OutgoingObject(
            path: file.path, sopClassUID: object.sopClassUID.value,
            sopInstanceUID: object.sopInstanceUID.value, transferSyntaxUID: object.transferSyntaxUID)
    }
}
