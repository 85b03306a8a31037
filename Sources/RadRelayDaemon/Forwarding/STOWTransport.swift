import Foundation
import Logging
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
        return STOWConfiguration(
            baseURL: stow.url,
            studyScoped: stow.studyScoped,
            auth: stow.auth,
            maxInstancesPerRequest: stow.maxInstancesPerRequest,
            maxBytesPerRequest: stow.maxBytesPerRequest,
            tls: destination.tls?.clientSettings,
            proxy: stow.proxy,
            timeouts: stow.timeouts
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

// MARK: - DICOM TLS settings

/// `destinations[].tls` for a `kind: dicom` destination, as the DCMTK sender takes it.
enum DICOMTLSSettings {
    static func make(_ tls: Configuration.ClientTLS) -> DICOMSenderConfiguration.TLS { tls.clientSettings }
}
