import CoreMetrics
import Foundation
import Prometheus
import RadRelayCore

/// The gateway's swift-metrics instruments (issue 6). Event-driven counters and histograms are
/// recorded where things happen; queue depths, disk space and certificate expiry are read at
/// scrape time (`MetricsServer`). `radrelayd` bootstraps `MetricsSystem` with swift-prometheus;
/// without a bootstrap every call is a no-op.
///
/// Names follow Prometheus conventions: `_total` counters, `_seconds` and `_bytes` units.
public enum GatewayMetrics {
    // MARK: - Ingest

    /// An association was accepted or rejected (`result`), by calling AE title.
    public static func association(accepted: Bool) {
        Counter(label: "radrelay_associations_total", dimensions: [("result", accepted ? "accepted" : "rejected")])
            .increment()
    }

    /// A C-STORE-RSP was sent with `status` (hex, `0x0000`).
    public static func storeResponse(_ status: DIMSEStatus) {
        Counter(label: "radrelay_cstore_responses_total", dimensions: [("status", "\(status)")]).increment()
    }

    /// Bytes of an accepted object.
    public static func bytesReceived(_ bytes: UInt64) {
        Counter(label: "radrelay_received_bytes_total").increment(by: Int64(clamping: bytes))
    }

    /// An identical object that was acknowledged but not queued again (per destination).
    public static func dedupHit(destination: String) {
        Counter(label: "radrelay_dedup_hits_total", dimensions: [("destination", destination)]).increment()
    }

    /// From the last fragment to the C-STORE-RSP: validation, fsync, commit.
    public static func ingestDuration(_ duration: Duration) {
        Timer(label: "radrelay_ingest_duration_seconds").recordNanoseconds(duration.nanoseconds)
    }

    // MARK: - Forwarding (for the forwarder's workers)

    /// One forwarding attempt ended with `result` (`delivered`, `deferred`, `dead`), sending
    /// `bytes` in `duration`. Workers call this once per attempt.
    public static func forwardAttempt(destination: String, result: String, bytes: UInt64, duration: Duration) {
        Counter(label: "radrelay_forward_attempts_total", dimensions: [("destination", destination), ("result", result)])
            .increment()
        if result == "delivered" {
            Counter(label: "radrelay_sent_bytes_total", dimensions: [("destination", destination)])
                .increment(by: Int64(clamping: bytes))
        }
        Timer(label: "radrelay_forward_duration_seconds", dimensions: [("destination", destination)])
            .recordNanoseconds(duration.nanoseconds)
    }
}

extension Duration {
    var nanoseconds: Int64 {
        let parts = components
        return parts.seconds &* 1_000_000_000 &+ parts.attoseconds / 1_000_000_000
    }
}
