import AsyncHTTPClient
import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import RadRelayCore

/// A DICOMweb STOW-RS sender (PS3.18 §10.5) for one destination connection.
///
/// `store` splits the instances into requests by the configured limits, streams each request
/// body from the files (`MultipartRelatedBody`), and judges the response per instance
/// (`STOWJudgement`). 413 halves the request. After a destination-level failure the remaining
/// requests are not sent: they get the same outcome, so a sick remote sees one request per
/// attempt, not one per queued object.
///
/// HTTP/1.1 only (one connection per worker, like one association), never follows redirects,
/// sends no `Expect: 100-continue`, and asks for DICOM JSON, reading DICOM XML as well
/// (`acceptHeader`; the response is read by its `Content-Type`, see `STOWJudgement`).
/// Credentials and TLS files are re-read when they change, so a rotated token, certificate or
/// CA bundle takes effect at the next request without a restart.
public final class STOWClient: Sendable {
    public let configuration: STOWConfiguration
    private let logger: Logger
    private let credentials: CredentialSource?
    private let now: @Sendable () -> EpochSeconds
    private let state = NIOLockedValueBox<ClientState>(ClientState())

    private struct ClientState {
        var client: HTTPClient?
        var tlsStamps: [FileStamp?] = []
        var shutDown = false
    }

    /// The `Accept` header of a store request: DICOM JSON only. A response in the Native DICOM
    /// Model XML (PS3.18 §10.5.3, PS3.19 Annex A) is still read — some servers answer in XML
    /// whatever they are asked — but it is not asked for with a q-list: Orthanc's DICOMweb plugin
    /// matches `Accept` as an exact string and logs an error on the remote for every request
    /// that carries a list, which a remote platform's operators would rightly complain about.
    static let acceptHeader = "application/dicom+json"

    /// The largest response body read; a STOW response for 1 000 instances is ~300 KB.
    static let maximumResponseBytes = 16 << 20

    public init(
        configuration: STOWConfiguration,
        logger: Logger = Logger(label: "radrelay.dicomweb.stow"),
        now: @escaping @Sendable () -> EpochSeconds = { Date().timeIntervalSince1970 }
    ) {
        self.configuration = configuration
        self.logger = logger
        self.credentials = configuration.auth.map(CredentialSource.init)
        self.now = now
    }

    /// Stores `instances` and reports one result per instance, in the same order. Never throws.
    /// `pace` is called before each body chunk with its size (bandwidth throttling).
    public func store(
        _ instances: [STOWInstance],
        pace: (@Sendable (Int) async -> Void)? = nil
    ) async -> [STOWInstanceResult] {
        let groups = STOWBatching.requests(
            instances,
            maxInstances: configuration.maxInstancesPerRequest,
            maxBytes: configuration.maxBytesPerRequest,
            byStudy: configuration.studyScoped
        )
        var results: [STOWInstanceResult] = []
        for group in groups {
            if let stop = results.last, Self.stopsTheRest(stop) {
                results += group.map { _ in stop }
                continue
            }
            results += await send(group, pace: pace)
        }
        return results
    }

    /// A connectivity and credentials check that stores nothing: `OPTIONS {base}/studies`.
    /// Any answer but 401/403/404/407/408/429/5xx counts as up (405 included: the route exists).
    public func probe() async -> STOWInstanceResult {
        let url = configuration.baseURL + "/studies"
        do {
            let client = try currentClient()
            var request = HTTPClientRequest(url: url)
            request.method = .OPTIONS
            if let credentials { request.headers.add(name: "Authorization", value: try credentials.authorization()) }
            let response = try await client.execute(request, timeout: .seconds(Int64(configuration.timeouts.connect + configuration.timeouts.read)), logger: logger)
            _ = try? await response.body.collect(upTo: 1 << 20)
            let status = Int(response.status.code)
            if let failure = FailureClass.forHTTPStatus(status), !(300...399).contains(status) {
                let notBefore = response.headers.first(name: "Retry-After").flatMap { RetryAfter.parse($0, now: now()) }
                return STOWInstanceResult(outcome: .failed(failure, status: nil, detail: "HTTP \(status)"), notBefore: notBefore)
            }
            return STOWInstanceResult(outcome: .delivered(status: .success))
        } catch {
            let (failure, detail) = HTTPFailure.classify(error)
            return STOWInstanceResult(outcome: .failed(failure, status: nil, detail: detail))
        }
    }

    /// Closes the connection; later calls fail with `localError` without sending.
    public func shutdown() async {
        let client = state.withLockedValue { state -> HTTPClient? in
            state.shutDown = true
            defer { state.client = nil }
            return state.client
        }
        try? await client?.shutdown()
    }

    // MARK: - One request

    private static func stopsTheRest(_ result: STOWInstanceResult) -> Bool {
        if case .failed(let failure, _, _) = result.outcome { return failure.isDestinationLevel && failure != .unparsableResponse }
        return false
    }

    private func send(_ instances: [STOWInstance], pace: (@Sendable (Int) async -> Void)?) async -> [STOWInstanceResult] {
        let body: MultipartRelatedBody
        do {
            body = try MultipartRelatedBody(paths: instances.map(\.path), pace: pace)
        } catch {
            return await withoutUnreadable(instances, error: error, pace: pace)
        }
        let url = configuration.studyScoped
            ? configuration.baseURL + "/studies/" + (instances.first?.studyInstanceUID ?? "")
            : configuration.baseURL + "/studies"
        let started = ContinuousClock.now
        var meta: Logger.Metadata = ["instances": "\(instances.count)", "bytes": "\(body.length)"]
        do {
            let client = try currentClient()
            var request = HTTPClientRequest(url: url)
            request.method = .POST
            request.headers.add(name: "Content-Type", value: body.contentType)
            request.headers.add(name: "Accept", value: Self.acceptHeader)
            if let credentials { request.headers.add(name: "Authorization", value: try credentials.authorization()) }
            request.body = .stream(body.chunks, length: .known(body.length))
            let response = try await client.execute(
                request, timeout: .milliseconds(Int64(configuration.timeouts.request * 1000)), logger: logger)
            let bytes = try await response.body.collect(upTo: Self.maximumResponseBytes)
            let status = Int(response.status.code)
            meta["http_status"] = "\(status)"
            let elapsed = (ContinuousClock.now - started).components
            meta["duration_ms"] = "\(elapsed.seconds * 1000 + elapsed.attoseconds / 1_000_000_000_000_000)"
            logger.debug("STOW-RS request answered", metadata: meta)
            let verdict = STOWJudgement.judge(
                status: status,
                retryAfter: response.headers.first(name: "Retry-After"),
                body: Array(buffer: bytes),
                contentType: response.headers.first(name: "Content-Type"),
                sent: instances,
                now: now()
            )
            switch verdict {
            case .perInstance(let results):
                return results
            case .halveBatch:
                logger.info("STOW-RS request too large; halving", metadata: meta)
                let half = instances.count / 2
                let first = await send(Array(instances[..<half]), pace: pace)
                if let stop = first.last, Self.stopsTheRest(stop) {
                    return first + instances[half...].map { _ in stop }
                }
                return first + (await send(Array(instances[half...]), pace: pace))
            }
        } catch let error as MultipartBodyError {
            return await withoutUnreadable(instances, error: error, pace: pace)
        } catch let error as CredentialError {
            meta["detail"] = "\(error)"
            logger.warning("STOW-RS credentials unavailable", metadata: meta)
            return instances.map { _ in STOWInstanceResult(outcome: .failed(.httpAuthentication, status: nil, detail: "\(error)")) }
        } catch {
            let (failure, detail) = HTTPFailure.classify(error)
            meta["detail"] = "\(detail)"
            logger.debug("STOW-RS request failed", metadata: meta)
            return instances.map { _ in STOWInstanceResult(outcome: .failed(failure, status: nil, detail: detail)) }
        }
    }

    /// An instance whose file cannot be read fails alone (`localError`); the others go again
    /// without it.
    private func withoutUnreadable(
        _ instances: [STOWInstance],
        error: Error,
        pace: (@Sendable (Int) async -> Void)?
    ) async -> [STOWInstanceResult] {
        guard let bodyError = error as? MultipartBodyError, instances.indices.contains(bodyError.index) else {
            return instances.map { _ in STOWInstanceResult(outcome: .failed(.localError, status: nil, detail: "\(error)")) }
        }
        let bad = bodyError.index
        let failed = STOWInstanceResult(outcome: .failed(.localError, status: nil, detail: "spool file unreadable: \(bodyError)"))
        var rest = instances
        rest.remove(at: bad)
        var results = rest.isEmpty ? [] : await send(rest, pace: pace)
        results.insert(failed, at: bad)
        return results
    }

    // MARK: - The HTTP client

    /// The client for the current TLS files; a new one (and a new connection) when any of them
    /// changed since the last request.
    private func currentClient() throws -> HTTPClient {
        let files = configuration.tls?.files ?? []
        let stamps = files.map { FileStamp(path: $0) }
        let (client, stale): (HTTPClient?, HTTPClient?) = try state.withLockedValue { state in
            if state.shutDown { throw STOWClientError.shutDown }
            if let client = state.client, state.tlsStamps == stamps { return (client, nil) }
            let old = state.client
            state.client = try makeClient()
            state.tlsStamps = stamps
            return (state.client, old)
        }
        if let stale {
            logger.info("TLS files changed; new HTTPS connection")
            Task { try? await stale.shutdown() }
        }
        return client!
    }

    private func makeClient() throws -> HTTPClient {
        var config = HTTPClient.Configuration(
            tlsConfiguration: try makeTLSConfiguration(),
            redirectConfiguration: .disallow,
            timeout: .init(
                connect: .milliseconds(Int64(configuration.timeouts.connect * 1000)),
                read: .milliseconds(Int64(configuration.timeouts.read * 1000)),
                write: .milliseconds(Int64(configuration.timeouts.write * 1000))
            ),
            connectionPool: .init(
                idleTimeout: .milliseconds(Int64(configuration.timeouts.idle * 1000)),
                concurrentHTTP1ConnectionsPerHostSoftLimit: 1
            ),
            proxy: configuration.proxy.map { .server(host: $0.host, port: $0.port) },
            decompression: .disabled
        )
        config.httpVersion = .http1Only
        return HTTPClient(eventLoopGroup: MultiThreadedEventLoopGroup.singleton, configuration: config)
    }

    /// TLS 1.2 or newer; the CA bundle (loaded now, so a changed file means a changed
    /// configuration) replaces the system trust store; the client certificate for mutual TLS.
    func makeTLSConfiguration() throws -> TLSConfiguration {
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.minimumTLSVersion = .tlsv12
        guard let settings = configuration.tls else { return tls }
        do {
            if let ca = settings.caFile { tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(ca)) }
            if let certificate = settings.certificateFile, let key = settings.privateKeyFile {
                tls.certificateChain = try NIOSSLCertificate.fromPEMFile(certificate).map { .certificate($0) }
                tls.privateKey = .privateKey(try NIOSSLPrivateKey(file: key, format: .pem))
            }
        } catch {
            throw STOWClientError.tlsFiles("\(error)")
        }
        tls.certificateVerification = settings.verifyHostname ? .fullVerification : .noHostnameVerification
        return tls
    }
}

/// Errors of the client itself.
enum STOWClientError: Error, CustomStringConvertible {
    case shutDown
    case tlsFiles(String)

    var description: String {
        switch self {
        case .shutDown: return "the STOW-RS client is shut down"
        case .tlsFiles(let detail): return "TLS certificate or key files unusable: \(detail)"
        }
    }
}

/// Transport errors → failure classes: every one is destination-level.
enum HTTPFailure {
    static func classify(_ error: any Error) -> (FailureClass, String) {
        if let error = error as? STOWClientError {
            switch error {
            case .shutDown: return (.localError, error.description)
            case .tlsFiles: return (.tls, error.description)
            }
        }
        if let error = error as? HTTPClientError {
            switch error {
            case .connectTimeout, .tlsHandshakeTimeout, .readTimeout, .writeTimeout, .deadlineExceeded,
                .getConnectionFromPoolTimeout, .httpProxyHandshakeTimeout, .socksHandshakeTimeout:
                return (.timeout, "\(error)")
            case .proxyAuthenticationRequired:
                return (.httpAuthentication, "proxy authentication required (407)")
            default:
                return (.connection, "\(error)")
            }
        }
        if error is NIOSSLError || error is BoringSSLError || error is NIOSSLExtraError {
            return (.tls, "TLS: \(error)")
        }
        let type = String(reflecting: Swift.type(of: error))
        if type.contains("SSL") { return (.tls, "TLS: \(error)") }
        return (.connection, "\(error)")
    }
}
