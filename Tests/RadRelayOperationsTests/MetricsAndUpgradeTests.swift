import Foundation
import RadRelayTestSupport
import XCTest

/// The Prometheus endpoint, and the database upgrade rules: a backup before migrating, and a
/// database from a newer radrelay refused.
final class MetricsAndUpgradeTests: OperationsTestCase {
    func testMetricsHealthzReadyz() throws {
        var config = makeConfig(remotePort: freeLoopbackPort())
        config.extraYAML = "metrics:\n  enabled: true\n  bind: 127.0.0.1\n  port: 0\n"
        let daemon = try makeDaemon(config)
        XCTAssertEqual(try StoreSCU.send(files: try makeSeries(count: 2), port: try daemon.port(), calledAE: "RADRELAY").exitCode, 0)
        _ = try EchoSCU.echo(port: try daemon.port(), calledAE: "RADRELAY", callingAE: "INTRUDER")
        let endpoint = try XCTUnwrap(try daemon.json("/status")["metrics"] as? [String: Any])
        let port = try XCTUnwrap(endpoint["port"] as? Int)
        XCTAssertEqual(endpoint["address"] as? String, "127.0.0.1")

        let metrics = try SimpleHTTPClient.request(.tcp(host: "127.0.0.1", port: port), path: "/metrics")
        XCTAssertEqual(metrics.status, 200)
        XCTAssertTrue(metrics.headers.contains { $0.value.hasPrefix("text/plain; version=0.0.4") }, "\(metrics.headers)")
        for series in [
            "radrelay_build_info{version=", #"radrelay_associations_total{result="accepted"} "#,
            #"radrelay_associations_total{result="rejected"} 1"#, #"radrelay_cstore_responses_total{status="0x0000"} 2"#,
            "radrelay_received_bytes_total", "radrelay_ingest_duration_seconds_bucket",
            #"radrelay_outbox_deliveries{destination="remote",state="queued"}"#, "radrelay_disk_free_bytes",
            "radrelay_outbox_oldest_pending_age_seconds", "radrelay_ready 1",
        ] {
            XCTAssertTrue(metrics.text.contains(series), "no \(series) in:\n\(metrics.text)")
        }
        XCTAssertFalse(metrics.text.contains("SENTINEL"))
        XCTAssertEqual(try SimpleHTTPClient.request(.tcp(host: "127.0.0.1", port: port), path: "/healthz").status, 200)
        XCTAssertEqual(try SimpleHTTPClient.request(.tcp(host: "127.0.0.1", port: port), path: "/readyz").status, 200)
        XCTAssertEqual(try SimpleHTTPClient.request(.tcp(host: "127.0.0.1", port: port), path: "/nope").status, 404)
    }

    /// Every metric family issue 6 lists, after objects were stored, forwarded to Orthanc and
    /// re-sent (dedup): associations, C-STORE results by status, bytes in and out, outbox depth,
    /// bytes and oldest age per destination and state, forward attempts by result, ingest and
    /// forward duration histograms, dedup hits, rate and cap per destination, health, disk free,
    /// certificate expiry, build info, readiness.
    func testEveryIssueMetricFamilyAfterStoreAndForward() throws {
        let orthanc = try OrthancProcess(directory: try temp.subdirectory("orthanc"))
        try orthanc.start()
        addCleanup { orthanc.stop() }
        let certs = try TestCertificates(directory: try temp.subdirectory("certs"))
        let server = try certs.issue("gateway")
        var config = makeConfig(remotePort: orthanc.dicomPort)
        config.destinations[0].aeTitle = "ORTHANC"
        config.destinations[0].extraLines = ["bandwidth: { limit: 50MB/s }"]
        config.extraGatewayLines = [
            "tls_port: 0", "tls: { certificate: \"\(server.certificate)\", private_key: \"\(server.key)\" }",
        ]
        config.extraYAML = "metrics:\n  enabled: true\n  bind: 127.0.0.1\n  port: 0\n"
        let daemon = try makeDaemon(config)
        let files = try makeSeries(count: 2)
        XCTAssertEqual(try StoreSCU.send(files: files, port: try daemon.port(), calledAE: "RADRELAY").exitCode, 0)
        try pollUntil("both delivered", timeout: 60, detail: daemon.logTail()) { try orthanc.instanceUIDs().count == 2 }
        // The same two again: acknowledged, not queued again (dedup hits).
        XCTAssertEqual(try StoreSCU.send(files: files, port: try daemon.port(), calledAE: "RADRELAY").exitCode, 0)

        let endpoint = try XCTUnwrap(try daemon.json("/status")["metrics"] as? [String: Any])
        let port = try XCTUnwrap(endpoint["port"] as? Int)
        var text = ""
        try pollUntil("delivery counted as delivered", timeout: 20) {
            text = try SimpleHTTPClient.request(.tcp(host: "127.0.0.1", port: port), path: "/metrics").text
            return text.contains(#"radrelay_outbox_deliveries{destination="remote",state="delivered"} 2"#)
        }
        for series in [
            "radrelay_build_info{version=", "radrelay_uptime_seconds ", "radrelay_ready 1",
            #"radrelay_associations_total{result="accepted"} 2"#, "radrelay_active_associations ",
            #"radrelay_cstore_responses_total{status="0x0000"} 4"#,
            "radrelay_received_bytes_total ", #"radrelay_sent_bytes_total{destination="remote"} "#,
            #"radrelay_outbox_deliveries{destination="remote",state="queued"} 0"#,
            #"radrelay_outbox_bytes{destination="remote",state="delivered"} "#,
            #"radrelay_outbox_oldest_pending_age_seconds{destination="remote"} "#,
            #"radrelay_forward_attempts_total{destination="remote",result="delivered"} 2"#,
            "radrelay_ingest_duration_seconds_bucket",
            #"radrelay_forward_duration_seconds_bucket{destination="remote""#,
            #"radrelay_dedup_hits_total{destination="remote"} 2"#,
            #"radrelay_destination_rate_bytes_per_second{destination="remote"} "#,
            #"radrelay_destination_bandwidth_limit_bytes_per_second{destination="remote"} 50000000"#,
            #"radrelay_destination_up{destination="remote"} 1"#,
            "radrelay_disk_free_bytes ", "radrelay_disk_total_bytes ", "radrelay_disk_low 0",
            "radrelay_certificate_not_after_seconds{role=",
        ] {
            XCTAssertTrue(text.contains(series), "no \(series) in:\n\(text)")
        }
        let lines = text.split(separator: "\n")
        let sent = lines.first { $0.hasPrefix(#"radrelay_sent_bytes_total{destination="remote"}"#) }
        XCTAssertGreaterThan(Double(sent?.split(separator: " ").last ?? "") ?? 0, 0, "no bytes out: \(sent ?? "")")
        let rate = lines.first { $0.hasPrefix("radrelay_destination_rate_bytes_per_second") }
        XCTAssertGreaterThan(Double(rate?.split(separator: " ").last ?? "") ?? 0, 0, "no rate: \(rate ?? "")")
        XCTAssertFalse(text.contains("SENTINEL"))
    }

    func testBackupBeforeMigrationAndNewerSchemaRefused() throws {
        let config = makeConfig(remotePort: freeLoopbackPort())
        let first = try makeDaemon(config)
        XCTAssertEqual(first.terminate(), 0)
        let database = URL(fileURLWithPath: config.stateDirectory).appendingPathComponent("radrelay.sqlite").path

        // Pretend the database predates v2-operations: the next start backs it up, then migrates.
        try sql(
            database,
            "DELETE FROM grdb_migrations WHERE identifier = 'v2-operations'; DROP TABLE destination_hold; "
                + "DROP INDEX instance_by_study; DROP INDEX delivery_by_delivered_at;")
        let second = try makeDaemon(config)
        let backups = try FileManager.default.contentsOfDirectory(atPath: config.stateDirectory)
            .filter { $0.hasPrefix("radrelay.sqlite.backup-") }
        XCTAssertEqual(backups.count, 1, "no backup before migrating: \(backups)")
        XCTAssertTrue(second.log.contains("Database backed up before schema migration"))
        XCTAssertEqual(second.terminate(), 0)

        // A migration this version does not know: refused, nothing changed.
        try sql(database, "INSERT INTO grdb_migrations (identifier) VALUES ('v99-from-the-future');")
        let third = try makeDaemon(config, start: false)
        XCTAssertThrowsError(try third.start())
        try pollUntil("daemon exits", timeout: 20) { !third.isRunning }
        XCTAssertTrue(third.log.contains("newer radrelay"), third.logTail())
        XCTAssertTrue(third.log.contains("v99-from-the-future"))
    }

    private func sql(_ database: String, _ statements: String) throws {
        let script = "import sqlite3,sys\nc=sqlite3.connect(sys.argv[1])\nc.executescript(sys.argv[2])\nc.commit()\n"
        let result = try ProcessRunner.run("/usr/bin/env", ["python3", "-c", script, database, statements], timeout: 30)
        guard result.exitCode == 0 else { throw HarnessError("sqlite: \(result.output)") }
    }
}
