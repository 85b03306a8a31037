import Foundation
import RadRelayCore
import RadRelayDIMSE

/// `radrelay-transcode-bench`: codec throughput of the forwarder's own transform path (issue 3;
/// driven by `scripts/bench/compression.py`). Builds the `--target` variant of every file with
/// `VariantBuilder` on a `TransformPool` of `--workers` threads, exactly as the preparer does,
/// and prints one JSON line: slices, seconds, slices/s, pixel and file compression ratios.
///
///     radrelay-transcode-bench [--workers N] [--target NAME] [--no-verify] [--repeat R] FILE...
///
/// Not part of the daemon and not run by `swift test`; build it with
/// `swift build -c release --scratch-path .build-release --product radrelay-transcode-bench`.
@main
struct TranscodeBench {
    static func main() async throws {
        var args = Array(CommandLine.arguments.dropFirst())
        func option(_ name: String) -> String? {
            guard let i = args.firstIndex(of: name), i + 1 < args.count else { return nil }
            let value = args[i + 1]
            args.removeSubrange(i...(i + 1))
            return value
        }
        func flag(_ name: String) -> Bool {
            guard let i = args.firstIndex(of: name) else { return false }
            args.remove(at: i)
            return true
        }
        let workers = Int(option("--workers") ?? "1") ?? 1
        let repeats = max(1, Int(option("--repeat") ?? "1") ?? 1)
        guard let target = CompressionTarget(rawValue: option("--target") ?? "jpeg-ls-lossless") else {
            FileHandle.standardError.write(Data("unknown --target\n".utf8))
            exit(2)
        }
        let verify = !flag("--no-verify")
        let files = args
        guard !files.isEmpty else {
            FileHandle.standardError.write(
                Data("usage: radrelay-transcode-bench [--workers N] [--target NAME] [--no-verify] FILE...\n".utf8))
            exit(2)
        }
        try DCMTKRuntime.initialize()
        let scratch = NSTemporaryDirectory() + "radrelay-transcode-bench-\(getpid())"
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: scratch) }

        let pool = TransformPool(workers: workers)
        let variant = Normalization.Variant(target: target)
        let record = CoercionRecord(modifyingSystem: "BENCH", sourceOfPreviousValues: "BENCH", dateTime: "")
        var best = Double.infinity
        var bestCPU = Double.infinity
        var reports: [VariantReport] = []
        for _ in 0..<repeats {
            let started = ContinuousClock.now
            let cpuStarted = cpuSeconds()
            reports = await withTaskGroup(of: VariantReport?.self) { group in
                for (index, file) in files.enumerated() {
                    let output = scratch + "/\(index).dcm"
                    group.addTask {
                        await pool.run {
                            VariantBuilder.build(
                                source: file, output: output, variant: variant, record: record, verify: verify)
                        }
                    }
                }
                var collected: [VariantReport] = []
                for await report in group { if let report { collected.append(report) } }
                return collected
            }
            let elapsed = ContinuousClock.now - started
            bestCPU = min(bestCPU, cpuSeconds() - cpuStarted)
            best = min(best, Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)
        }
        await pool.shutdown()

        let inputBytes = files.reduce(UInt64(0)) { $0 + fileSize($1) }
        var outputBytes: UInt64 = 0
        var pixelBytes: UInt64 = 0
        var failures = 0
        for report in reports {
            if case .written(_, let size) = report.outcome { outputBytes += size } else { failures += 1 }
            pixelBytes += report.pixelBytes
        }
        // Encapsulated pixel data ≈ output file minus the same header as the input.
        let headerBytes = inputBytes > pixelBytes ? inputBytes - pixelBytes : 0
        let encoded = outputBytes > headerBytes ? outputBytes - headerBytes : outputBytes
        let result: [String: Any] = [
            "target": target.rawValue, "workers": workers, "verify": verify, "slices": files.count,
            "failures": failures, "seconds": best, "slices_per_second": Double(files.count) / best,
            // CPU time is what the work costs whatever else runs on a shared machine: slices/s
            // that `workers` otherwise idle cores would sustain.
            "cpu_seconds": bestCPU,
            "cpu_bound_slices_per_second": Double(files.count) / (bestCPU / Double(workers)),
            "file_ratio": outputBytes > 0 ? Double(inputBytes) / Double(outputBytes) : 0,
            "pixel_ratio": encoded > 0 && pixelBytes > 0 ? Double(pixelBytes) / Double(encoded) : 0,
            "encode_ms_mean": reports.map(\.encodeSeconds).reduce(0, +) * 1000 / Double(max(reports.count, 1)),
            "verify_ms_mean": reports.map(\.verifySeconds).reduce(0, +) * 1000 / Double(max(reports.count, 1)),
        ]
        let data = try JSONSerialization.data(withJSONObject: result, options: [.sortedKeys])
        print(String(decoding: data, as: UTF8.self))
    }

    /// User plus system CPU seconds of this process so far.
    static func cpuSeconds() -> Double {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        func seconds(_ time: timeval) -> Double { Double(time.tv_sec) + Double(time.tv_usec) / 1e6 }
        return seconds(usage.ru_utime) + seconds(usage.ru_stime)
    }

    static func fileSize(_ path: String) -> UInt64 {
        ((try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? NSNumber)?.uint64Value ?? 0
    }
}
