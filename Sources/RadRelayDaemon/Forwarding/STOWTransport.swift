import Foundation
import Logging
import NIOConcurrencyHelpers
import RadRelayConfig
import RadRelayCore
import RadRelayDICOMweb
import RadRelayDIMSE
import RadRelayOutbox

// MARK: - Batches (issue 5)

/// How many deliveries a transport takes in one go. A DICOM association sends one object per
/// C-STORE; a STOW-RS request carries several instances.
struct BatchLimits: Sendable, Equatable {
    var maxInstances: Int
    var maxBytes: UInt64

    static let single = BatchLimits(maxInstances: 1, maxBytes: .max)
}

/// One object of a batch, with the delivery it belongs to.
struct BatchItem: Sendable {
    var delivery: ClaimedDelivery
    var object: PreparedObject
}

/// The outcome of one object of a batch, with the remote's `Retry-After` when it named one.
struct TransportResult: Sendable, Equatable {
    var outcome: SendOutcome
    var notBefore: EpochSeconds?
}

extension DeliveryTransport {
    /// One object at a time unless the transport says otherwise.
    var batchLimits: BatchLimits { .single }

    /// Whether the forwarder should claim and send through `sendBatch` (even one object at a
    /// time, so `Retry-After` is honoured).
    var prefersBatches: Bool { false }

    /// Sends each object in turn with `send`.
    func sendBatch(_ items: [BatchItem]) async -> [TransportResult] {
        var results: [TransportResult] = []
        for item in items { results.append(TransportResult(outcome: await send(item.object), notBefore: nil)) }
        return results
    }
}

// MARK: - STOW-RS

/// DICOMweb STOW-RS to a `kind: stow` destination (`STOWClient`): one HTTP/1.1 connection per
/// worker, several instances per request.
struct STOWTransport: DeliveryTransport {
    let client: STOWClient
    /// Called before each body chunk with its size (bandwidth pacing); nil when unthrottled.
    let pace: (@Sendable (Int) async -> Void)?

    init(destination: Configuration.Destination, pace: (@Sendable (Int) async -> Void)? = nil, logger: Logger) {
        self.client = STOWClient(configuration: Self.configuration(for: destination), logger: logger)
        self.pace = pace
    }

    /// The client's settings for a configured destination.
    static func configuration(for destination: Configuration.Destination) -> STOWConfiguration {
        guard let stow = destination.stow else {
            preconditionFailure("kind stow without STOW settings: the config loader guarantees them")
        }
        let tls = destination.tls.map {
            STOWConfiguration.TLS(
                caFile: $0.ca, certificateFile: $0.certificate, privateKeyFile: $0.privateKey,
                verifyHostname: $0.verifyHostname, serverName: $0.serverName)
        }
        let auth = stow.auth.map { auth -> STOWConfiguration.Auth in
            switch auth {
            case .bearerTokenFile(let path): return .bearerTokenFile(path)
            case .basicAuthFile(let path): return .basicAuthFile(path)
            }
        }
        return STOWConfiguration(
            baseURL: stow.url,
            studyScoped: stow.studyScoped,
            auth: auth,
            maxInstancesPerRequest: stow.maxInstancesPerRequest,
            maxBytesPerRequest: stow.maxBytesPerRequest,
            tls: tls,
            proxy: stow.proxy.map { STOWConfiguration.Proxy(host: $0.host, port: $0.port) },
            timeouts: STOWConfiguration.Timeouts(
                connect: stow.timeouts.connect, read: stow.timeouts.read, write: stow.timeouts.write,
                request: stow.timeouts.request, idle: stow.timeouts.idle)
        )
    }

    var batchLimits: BatchLimits {
        BatchLimits(
            maxInstances: client.configuration.maxInstancesPerRequest,
            maxBytes: client.configuration.maxBytesPerRequest)
    }

    var prefersBatches: Bool { true }

    func send(_ object: PreparedObject) async -> SendOutcome {
        let instance = STOWInstance(
            path: object.path, sopInstanceUID: object.sopInstanceUID, sopClassUID: object.sopClassUID,
            studyInstanceUID: "", byteSize: object.byteSize)
        return await client.store([instance], pace: pace).first?.outcome
            ?? .failed(.localError, status: nil, detail: "no result")
    }

    func sendBatch(_ items: [BatchItem]) async -> [TransportResult] {
        let instances = items.map {
            STOWInstance(
                path: $0.object.path, sopInstanceUID: $0.object.sopInstanceUID, sopClassUID: $0.object.sopClassUID,
                studyInstanceUID: $0.delivery.studyInstanceUID.value, byteSize: $0.object.byteSize)
        }
        return await client.store(instances, pace: pace).map { TransportResult(outcome: $0.outcome, notBefore: $0.notBefore) }
    }

    func probe() async -> SendOutcome { await client.probe().outcome }

    func shutdown() async { await client.shutdown() }
}

// MARK: - The batch step of the forwarder

/// claim → prepare → pace → send → classify for a batch: after `claimDue` took `first`, claims
/// more due deliveries of the same priority up to the transport's limits (`Outbox.claimBatch`),
/// sends them in one go, and records each result with `Retry-After` honoured.
enum BatchForwarding {
    static func forward(
        first: ClaimedDelivery,
        transport: any DeliveryTransport,
        destination: Configuration.Destination,
        outbox: Outbox,
        preparer: any DeliveryPreparer,
        gate: NIOLockedValueBox<DestinationGate>,
        leaseSeconds: Double,
        now: @Sendable () -> EpochSeconds,
        logger: Logger
    ) async {
        let limits = transport.batchLimits
        var deliveries = [first]
        if limits.maxInstances > 1, first.byteSize < limits.maxBytes {
            do {
                deliveries += try outbox.claimBatch(
                    destination: destination.name,
                    priority: first.priority,
                    now: now(),
                    leaseSeconds: leaseSeconds,
                    limit: limits.maxInstances - 1,
                    maxBytes: limits.maxBytes - first.byteSize
                )
            } catch {
                logger.error("Outbox batch claim failed", metadata: ["error": "\(error)"])
            }
        }
        var items: [BatchItem] = []
        for delivery in deliveries { items.append(BatchItem(delivery: delivery, object: await preparer.prepare(delivery))) }
        let results = await transport.sendBatch(items)
        let finished = now()
        for (index, delivery) in deliveries.enumerated() {
            let result = index < results.count
                ? results[index] : TransportResult(outcome: .failed(.localError, status: nil, detail: "no result"))
            let random = Double.random(in: 0..<1)
            gate.withLockedValue {
                $0.record(result.outcome, now: finished, policy: destination.retry, unitRandom: random, notBefore: result.notBefore)
            }
            let disposition = destination.retry.disposition(
                for: result.outcome, attempt: delivery.attempts, now: finished, unitRandom: random,
                notBefore: result.notBefore)
            var meta: Logger.Metadata = [
                "delivery": "\(delivery.deliveryID)", "attempt": "\(delivery.attempts)", "batch": "\(deliveries.count)",
            ]
            switch disposition {
            case .delivered(let status):
                meta["dimse_status"] = "\(status)"
                logger.info("Delivered", metadata: meta)
            case .deferred(let notBefore, let failure, let detail):
                meta["failure"] = "\(failure.rawValue)"
                meta["detail"] = "\(detail)"
                meta["retry_in_s"] = "\(Int(notBefore - finished))"
                logger.warning("Delivery deferred", metadata: meta)
            case .dead(let failure, let detail):
                meta["failure"] = "\(failure.rawValue)"
                meta["detail"] = "\(detail)"
                logger.critical("Delivery dead-lettered", metadata: meta)
            }
            do {
                try outbox.apply(
                    disposition, deliveryID: delivery.deliveryID, failureStatus: result.outcome.failureStatus, now: finished)
            } catch {
                logger.error("Cannot record delivery result", metadata: ["error": "\(error)"])
            }
        }
    }
}

// MARK: - DICOM TLS settings

/// `destinations[].tls` for a `kind: dicom` destination, as the DCMTK sender takes it.
enum DICOMTLSSettings {
    static func make(_ tls: Configuration.ClientTLS) -> DICOMSenderConfiguration.TLS {
        DICOMSenderConfiguration.TLS(
            caFile: tls.ca, certificateFile: tls.certificate, privateKeyFile: tls.privateKey,
            verifyHostname: tls.verifyHostname, serverName: tls.serverName)
    }
}
