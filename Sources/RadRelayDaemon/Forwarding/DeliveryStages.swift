import RadRelayCore
import RadRelayDIMSE
import RadRelayOutbox

/// The object a transport sends: the received spool file, or a derived variant of it
/// (normalized and/or transcoded per destination, issue 3).
struct PreparedObject: Sendable, Equatable {
    var path: String
    var sopClassUID: String
    var sopInstanceUID: String
    var transferSyntaxUID: String
    /// Bytes that will go on the wire (for pacing and metrics).
    var byteSize: UInt64
}

/// Stage "prepare" of claim → prepare → pace → send → classify (DESIGN §2). Turns a claimed
/// delivery into the file to send. Must never fail an object for a reason of its own: a
/// preparer that cannot produce a variant returns the object as received (and logs/counts it).
protocol DeliveryPreparer: Sendable {
    func prepare(_ delivery: ClaimedDelivery) async -> PreparedObject
}

/// Sends the object as received (issue 2's behaviour; the default).
struct AsReceivedPreparer: DeliveryPreparer {
    func prepare(_ delivery: ClaimedDelivery) async -> PreparedObject {
        PreparedObject(
            path: delivery.spoolPath,
            sopClassUID: delivery.sopClassUID.value,
            sopInstanceUID: delivery.sopInstanceUID.value,
            transferSyntaxUID: delivery.transferSyntaxUID.value,
            byteSize: delivery.byteSize
        )
    }
}

/// Stage "send": one connection's worth of transport to a destination (a DICOM association, or
/// later an HTTP connection). One instance per worker; not shared between workers.
protocol DeliveryTransport: Sendable {
    func send(_ object: PreparedObject) async -> SendOutcome
    /// A connectivity probe (C-ECHO, or an HTTP request) that sends no object.
    func probe() async -> SendOutcome
    /// Releases the connection; called once when the worker stops.
    func shutdown() async
    /// How many objects one `sendBatch` may carry (issue 5; default one, see STOWTransport.swift).
    var batchLimits: BatchLimits { get }
    /// Whether the forwarder claims and sends through `sendBatch` (default false).
    var prefersBatches: Bool { get }
    /// Sends several objects of one priority together; one result per item, in order
    /// (default: `send` each in turn).
    func sendBatch(_ items: [BatchItem]) async -> [TransportResult]
    /// True when the transport charges the worker's `WorkerPacer` while bytes are on the wire
    /// (issue 4: smooth pacing at PDU / chunk granularity); otherwise the forwarder charges each
    /// object's bytes to the bandwidth cap after the send (the average still holds).
    var pacesOnTheWire: Bool { get }
}

extension DeliveryTransport {
    var pacesOnTheWire: Bool { false }
}

/// DICOM C-STORE over a DCMTK association (`DICOMSender`).
struct DICOMTransport: DeliveryTransport {
    let sender: DICOMSender

    func send(_ object: PreparedObject) async -> SendOutcome {
        await sender.send(
            OutgoingObject(
                path: object.path,
                sopClassUID: object.sopClassUID,
                sopInstanceUID: object.sopInstanceUID,
                transferSyntaxUID: object.transferSyntaxUID
            )
        )
    }

    func probe() async -> SendOutcome { await sender.echo() }

    func shutdown() async { await sender.shutdown() }

    /// The sender's progress callback feeds the worker's pacer (DestinationForwarder).
    var pacesOnTheWire: Bool { true }
}
