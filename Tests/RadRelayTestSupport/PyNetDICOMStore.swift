import Foundation

/// Sends deliberately broken (or good) C-STOREs with pynetdicom, for the "bad objects" tests.
///
/// The object is made with pydicom from a valid source file, then sent with pynetdicom's chunked
/// mode (`STORE_SEND_CHUNKED_DATASET`): the dataset bytes after the file meta go out exactly as
/// they are in the file, and the command's Affected SOP Class/Instance UIDs come from the file
/// meta (Media Storage SOP Class/Instance UID). That is what makes the mismatches possible: the
/// file meta says one thing (the command), the dataset another.
public enum PyNetDICOMStore {
    /// What to send.
    public enum Case: String, Sendable, CaseIterable {
        /// The source object with a fresh SOP Instance UID; expected 0x0000.
        case good
        /// The dataset cut in the middle of Pixel Data (the last element declares more bytes than
        /// arrive); expected 0xC000.
        case truncated
        /// SOP Instance UID `../../x` in command and dataset; expected 0xC000.
        case traversalUID = "traversal-uid"
        /// The command's Affected SOP Instance UID differs from the dataset's; expected 0xC000.
        case uidMismatch = "uid-mismatch"
        /// The dataset has no SOP Instance UID; expected 0xC000.
        case missingUID = "missing-uid"
        /// The command says CT Image Storage, the dataset MR Image Storage; expected 0xA900.
        case classMismatch = "class-mismatch"
    }

    /// The outcome of one send.
    public struct Result: Decodable, Sendable, CustomStringConvertible {
        public let `case`: String
        /// Whether the association was accepted.
        public let associated: Bool
        /// The C-STORE-RSP status, nil when no response came (abort, timeout, not associated).
        public let status: Int?
        /// SOP Instance UID in the command (from the file meta).
        public let commandSOPInstanceUID: String?
        /// SOP Instance UID in the dataset (nil when absent).
        public let datasetSOPInstanceUID: String?
        /// Whether the association was aborted by the peer.
        public let aborted: Bool
        /// Error text from the script, if any.
        public let error: String?

        enum CodingKeys: String, CodingKey {
            case `case`, associated, status, aborted, error
            case commandSOPInstanceUID = "command_sop_instance_uid"
            case datasetSOPInstanceUID = "dataset_sop_instance_uid"
        }

        public var statusHex: String {
            guard let status else { return "none" }
            let hex = String(status, radix: 16, uppercase: true)
            return "0x" + String(repeating: "0", count: max(0, 4 - hex.count)) + hex
        }

        public var description: String {
            "\(`case`): associated=\(associated) status=\(statusHex) aborted=\(aborted)"
                + (error.map { " error=\($0)" } ?? "")
        }
    }

    /// Crafts the object for `case` from `source` (a valid uncompressed Part 10 file) in
    /// `workDirectory` and sends it on a new association.
    public static func send(
        _ case: Case,
        source: URL,
        workDirectory: URL,
        host: String = "127.0.0.1",
        port: Int,
        calledAE: String,
        callingAE: String = "STORESCU",
        timeout: TimeInterval = 60
    ) throws -> Result {
        let script = workDirectory.appendingPathComponent("radrelay-bad-store.py")
        if !FileManager.default.fileExists(atPath: script.path) {
            try Self.script.write(to: script, atomically: true, encoding: .utf8)
        }
        let output = workDirectory.appendingPathComponent("case-\(`case`.rawValue)-\(UUID().uuidString).dcm")
        let run = try ProcessRunner.run(
            "/usr/bin/env",
            [
                "python3", script.path, "--case", `case`.rawValue, "--source", source.path, "--out", output.path,
                "--host", host, "--port", String(port), "--called", calledAE, "--calling", callingAE,
            ],
            timeout: timeout
        )
        guard run.exitCode == 0, let line = run.stdout.split(separator: "\n").last(where: { $0.hasPrefix("{") }) else {
            throw HarnessError(
                "pynetdicom store script failed (exit \(run.exitCode), timed out: \(run.timedOut)):\n\(run.output)")
        }
        return try JSONDecoder().decode(Result.self, from: Data(line.utf8))
    }

    static let script = #"""
        # Written by the radrelay test harness (RadRelayTestSupport/PyNetDICOMStore.swift).
        import argparse, json, logging, os, sys, uuid, warnings
        warnings.simplefilter("ignore")
        logging.disable(logging.CRITICAL)
        import pydicom
        from pynetdicom import AE, _config
        from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian

        CT = "1.2.840.10008.5.1.4.1.1.2"
        MR = "1.2.840.10008.5.1.4.1.1.4"

        def new_uid():
            return "2.25." + str(uuid.uuid4().int)

        p = argparse.ArgumentParser()
        for a in ("case", "source", "out", "host", "called", "calling"):
            p.add_argument("--" + a, required=True)
        p.add_argument("--port", type=int, required=True)
        args = p.parse_args()

        ds = pydicom.dcmread(args.source)
        meta = ds.file_meta
        uid = new_uid()
        ds.SOPInstanceUID = uid
        meta.MediaStorageSOPInstanceUID = uid
        truncate = False
        if args.case == "good":
            pass
        elif args.case == "truncated":
            truncate = True
        elif args.case == "traversal-uid":
            ds.SOPInstanceUID = "../../x"
            meta.MediaStorageSOPInstanceUID = "../../x"
        elif args.case == "uid-mismatch":
            ds.SOPInstanceUID = new_uid()
        elif args.case == "missing-uid":
            del ds.SOPInstanceUID
        elif args.case == "class-mismatch":
            ds.SOPClassUID = MR
            meta.MediaStorageSOPClassUID = CT
        else:
            sys.exit("unknown case " + args.case)
        # write_like_original=True keeps the file meta as set here (False would copy the dataset's
        # UIDs into it and undo the mismatches).
        ds.save_as(args.out, write_like_original=True)
        if truncate:
            size = os.path.getsize(args.out)
            pixel_bytes = len(ds.PixelData)
            with open(args.out, "r+b") as f:
                f.truncate(size - pixel_bytes // 2)

        check = pydicom.dcmread(args.out, stop_before_pixels=True)
        command_uid = str(check.file_meta.MediaStorageSOPInstanceUID)
        dataset_uid = str(check.SOPInstanceUID) if "SOPInstanceUID" in check else None

        _config.STORE_SEND_CHUNKED_DATASET = True
        ae = AE(ae_title=args.calling)
        ae.acse_timeout = 10
        ae.dimse_timeout = 30
        ae.network_timeout = 30
        ae.add_requested_context(str(check.file_meta.MediaStorageSOPClassUID),
                                 [ExplicitVRLittleEndian, ImplicitVRLittleEndian])
        result = {"case": args.case, "associated": False, "status": None, "aborted": False, "error": None,
                  "command_sop_instance_uid": command_uid, "dataset_sop_instance_uid": dataset_uid}
        assoc = ae.associate(args.host, args.port, ae_title=args.called)
        if assoc.is_established:
            result["associated"] = True
            try:
                rsp = assoc.send_c_store(args.out)
                if rsp is not None and "Status" in rsp:
                    result["status"] = int(rsp.Status)
                else:
                    result["error"] = "no C-STORE response"
            except Exception as e:
                result["error"] = "%s: %s" % (type(e).__name__, e)
            result["aborted"] = bool(assoc.is_aborted)
            if assoc.is_established:
                assoc.release()
        else:
            result["error"] = "association not established (rejected=%s aborted=%s)" % (
                assoc.is_rejected, assoc.is_aborted)
        print(json.dumps(result))
        """#
}
