import Foundation
import RadRelayTestSupport
import XCTest

/// DICOM TLS end to end (issue 5), with certificates the test makes with openssl: the gateway's
/// TLS listener beside the plain one, and DICOM TLS destinations against DCMTK `storescp +tls`.
final class TLSTests: EndToEndTestCase {
    private func logText(_ daemon: RadRelayDaemonProcess) -> String {
        (try? String(contentsOf: daemon.logURL, encoding: .utf8)) ?? ""
    }

    /// storescu +tls with a trusted client certificate gets in; an untrusted or absent client
    /// certificate is refused when one is required; plaintext to the TLS port and TLS to the
    /// plain port fail cleanly with a logged reason; the plain port keeps working beside it.
    func testInboundTLSWithRequiredClientCertificates() throws {
        let certs = try TestCertificates(directory: try temp.subdirectory("certs"))
        let server = try certs.issue("gateway")
        let client = try certs.issue("pacs", clientAuth: true)
        let stranger = try certs.issue("stranger", signedBy: "other-ca", clientAuth: true)
        var config = try makeConfig(remotePort: freeLoopbackPort())  // nothing listens: objects wait
        let tlsPort = freeLoopbackPort()
        config.extraGatewayLines = [
            "tls_port: \(tlsPort)",
            "tls: { certificate: \"\(server.certificate)\", private_key: \"\(server.key)\", "
                + "client_ca: \"\(certs.ca)\", require_client_certificate: true }",
        ]
        let daemon = try makeDaemon(config)
        let files = try SharedTestData.shared.ctSeries100().prefix(2).files

        let trusted = try StoreSCU.send(
            files: [files[0]], port: tlsPort, calledAE: "RADRELAY",
            extraArguments: ["+tls", client.key, client.certificate, "+cf", certs.ca], timeout: 30)
        XCTAssertEqual(trusted.exitCode, 0, trusted.output + daemon.failureContext())

        let untrusted = try StoreSCU.send(
            files: [files[1]], port: tlsPort, calledAE: "RADRELAY",
            extraArguments: ["+tls", stranger.key, stranger.certificate, "+cf", certs.ca], timeout: 30)
        XCTAssertNotEqual(untrusted.exitCode, 0, "a client certificate from an unknown CA is refused")

        let anonymous = try StoreSCU.send(
            files: [files[1]], port: tlsPort, calledAE: "RADRELAY", extraArguments: ["+tla", "+cf", certs.ca], timeout: 30)
        XCTAssertNotEqual(anonymous.exitCode, 0, "no client certificate is refused when one is required")

        let plaintextToTLS = try StoreSCU.send(files: [files[1]], port: tlsPort, calledAE: "RADRELAY", timeout: 30)
        XCTAssertNotEqual(plaintextToTLS.exitCode, 0)
        XCTAssertFalse(plaintextToTLS.timedOut)

        let tlsToPlain = try StoreSCU.send(
            files: [files[1]], port: daemon.port, calledAE: "RADRELAY",
            extraArguments: ["+tls", client.key, client.certificate, "+cf", certs.ca], timeout: 30)
        XCTAssertNotEqual(tlsToPlain.exitCode, 0)
        XCTAssertFalse(tlsToPlain.timedOut)

        try storeOrFail([files[1]], to: daemon)  // the plain listener still works beside the TLS one

        let status = try daemon.waitForStatus("two objects queued", timeout: 10) {
            ($0.destination("remote")?.counts.total ?? 0) == 2
        }
        XCTAssertEqual(status.destination("remote")?.counts.total, 2, "only the trusted TLS and the plain sends got in")
        try pollUntil("refusals logged", timeout: 5) {
            let log = logText(daemon)
            return log.contains("DICOM TLS handshake failed") && log.contains("TLS handshake on the plain DICOM port")
        }
    }

    /// The gateway sends over DICOM TLS to storescp +tls: succeeds with the right CA; refused with
    /// a wrong CA, an expired certificate, a certificate for another host, and TLS to a plain
    /// port, with nothing sent to those remotes.
    func testOutboundTLSVerifiesCertificateExpiryAndHostName() throws {
        let certs = try TestCertificates(directory: try temp.subdirectory("certs"))
        let good = try certs.issue("remote-good")
        let expired = try certs.issue("remote-expired", start: "20200101000000Z", end: "20200201000000Z")
        let otherHost = try certs.issue("remote-otherhost", subjectAltNames: ["DNS:pacs.other.example"])

        func tlsSCP(_ name: String, _ leaf: (certificate: String, key: String)?) throws -> StoreSCPProcess {
            let scp = try StoreSCPProcess(
                directory: try temp.subdirectory(name),
                extraArguments: leaf.map { ["+tls", $0.key, $0.certificate, "-ic"] } ?? [])
            try scp.start()
            addCleanup { scp.stop() }
            return scp
        }
        let goodSCP = try tlsSCP("scp-good", good)
        let wrongCASCP = try tlsSCP("scp-wrongca", good)  // storescp serves one association at a time
        let expiredSCP = try tlsSCP("scp-expired", expired)
        let otherHostSCP = try tlsSCP("scp-otherhost", otherHost)
        let plainSCP = try tlsSCP("scp-plain", nil)

        var config = try makeConfig(remotePort: goodSCP.port)
        config.destinations = [
            .init(name: "good", aeTitle: "STORESCP", port: goodSCP.port, associations: 1),
            .init(name: "wrongca", aeTitle: "STORESCP", port: wrongCASCP.port, associations: 1),
            .init(name: "expired", aeTitle: "STORESCP", port: expiredSCP.port, associations: 1),
            .init(name: "wronghost", aeTitle: "STORESCP", port: otherHostSCP.port, associations: 1),
            .init(name: "tlstoplain", aeTitle: "STORESCP", port: plainSCP.port, associations: 1),
            .init(name: "plaintotls", aeTitle: "STORESCP", port: goodSCP.port, associations: 1),
        ]
        let tlsLines = [
            "good": "tls: { ca: \"\(certs.ca)\" }",
            "wrongca": "tls: { ca: \"\(certs.otherCA)\" }",
            "expired": "tls: { ca: \"\(certs.ca)\" }",
            "wronghost": "tls: { ca: \"\(certs.ca)\", verify_hostname: true }",
            "tlstoplain": "tls: { ca: \"\(certs.ca)\" }",
        ]
        for index in config.destinations.indices {
            if let line = tlsLines[config.destinations[index].name] { config.destinations[index].extraLines = [line] }
        }
        let daemon = try makeDaemon(config)
        let files = try SharedTestData.shared.ctSeries100().prefix(2).files
        try storeOrFail(files, to: daemon)

        let status = try daemon.waitForStatus("good delivered, the rest failed at least once", timeout: 40) { status in
            guard status.destination("good")?.counts.delivered == 2 else { return false }
            return ["wrongca", "expired", "wronghost", "tlstoplain", "plaintotls"].allSatisfy {
                status.destination($0)?.lastError != nil
            }
        }
        for name in ["wrongca", "expired", "wronghost", "tlstoplain", "plaintotls"] {
            let destination = try XCTUnwrap(status.destination(name))
            XCTAssertEqual(destination.counts.delivered, 0, name)
            XCTAssertEqual(destination.counts.dead, 0, "\(name): a TLS failure never dead-letters")
        }
        let expectations = [
            "wrongca": "certificate verify failed", "expired": "certificate has expired",
            "wronghost": "mismatch", "tlstoplain": "tls:",
        ]
        for (name, text) in expectations {
            let lastError = status.destination(name)?.lastError ?? ""
            XCTAssertTrue(lastError.lowercased().contains(text), "\(name): \(lastError)")
            XCTAssertTrue(lastError.hasPrefix("tls:"), "\(name): \(lastError)")
        }
        XCTAssertEqual(goodSCP.receivedFiles().count, 2, "only the good destination's two objects arrived")
        XCTAssertEqual(wrongCASCP.receivedFiles().count, 0)
        XCTAssertEqual(expiredSCP.receivedFiles().count, 0)
        XCTAssertEqual(otherHostSCP.receivedFiles().count, 0)
        XCTAssertEqual(plainSCP.receivedFiles().count, 0)
    }
}
