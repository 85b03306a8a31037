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
