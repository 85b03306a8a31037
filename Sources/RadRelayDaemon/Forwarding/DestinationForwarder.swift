import Foundation
import Logging
import NIOConcurrencyHelpers
import RadRelayConfig
import RadRelayCore
import RadRelayDIMSE
import RadRelayOutbox

/// Forwards one destination's queue: `associations` workers, each with its own transport
/// (a DICOM association), run claim → prepare → send → classify in a loop (DESIGN §5; the
/// stages are in DeliveryStages.swift). Destinations share nothing
/// but the database, so one bad destination never blocks another (DESIGN §1.4).
final class DestinationForwarder: Sendable {
    let destination: Configuration.Destination
    private let outbox: Outbox
    private let preparer: any DeliveryPreparer
    private let doorbell = Doorbell()
    private let gate = NIOLockedValueBox(DestinationGate())
    private let leaseSeconds: Double
    private let now: @Sendable () -> EpochSeconds
    private let logger: Logger

    init(
        destination: Configuration.Destination,
        outbox: Outbox,
        preparer: any DeliveryPreparer = AsReceivedPreparer(),
        leaseSeconds: Double,
        now: @escaping @Sendable () -> EpochSeconds,
        logger: Logger
    ) {
        self.destination = destination
        self.outbox = outbox
        self.preparer = preparer
        self.leaseSeconds = leaseSeconds
        self.now = now
        var logger = logger
        logger[metadataKey: "destination"] = "\(destination.name)"
        self.logger = logger
    }

    /// New work was queued for this destination.
    func wake() { doorbell.ring() }

    /// Health as status reports it.
    var health: (state: String, lastError: FailureClass?) {
        let gate = gate.withLockedValue { $0 }
        return (gate.isOpen(at: now()) ? "up" : "backing-off", gate.lastFailure)
    }

    /// Runs the workers until the task is cancelled (graceful shutdown): a worker in the middle
    /// of a send finishes it and records the result before it stops.
    func run() async {
        await withTaskGroup(of: Void.self) { group in
            for index in 0..<destination.associations {
                group.addTask { await self.worker(index) }
            }
        }
    }

    private func worker(_ index: Int) async {
        var logger = self.logger
        logger[metadataKey: "worker"] = "\(index)"
        let transport = makeTransport(logger)
        while !Task.isCancelled {
            let current = now()
            let gateOpenAt = gate.withLockedValue { $0.closedUntil }
            if let gateOpenAt, gateOpenAt > current {
                await doorbellOrTimeout(seconds: gateOpenAt - current)
                continue
            }
            let claimed: ClaimedDelivery?
            do {
                claimed = try outbox.claimDue(destination: destination.name, now: current, leaseSeconds: leaseSeconds)
            } catch {
                logger.error("Outbox claim failed", metadata: ["error": "\(error)"])
                await doorbellOrTimeout(seconds: 5)
                continue
            }
            guard let delivery = claimed else {
                let wake = (try? outbox.nextWakeUp(destination: destination.name, now: current)) ?? nil
                // Sleep until something becomes due, a new object arrives, or 60 s pass: an
                // idle destination costs no CPU (no polling loop).
                await doorbellOrTimeout(seconds: min(60, max(0.01, (wake ?? current + 60) - current)))
                continue
            }
            await forward(delivery, with: transport, logger: logger)
        }
        await transport.shutdown()
    }

    /// One transport per worker, for the destination's kind.
    private func makeTransport(_ logger: Logger) -> any DeliveryTransport {
        DICOMTransport(
            sender: DICOMSender(
                configuration: DICOMSenderConfiguration(
                    host: destination.host,
                    port: destination.port,
                    calledAE: destination.aeTitle,
                    callingAE: destination.callingAETitle,
                    connectTimeout: destination.timeouts.connect,
                    acseTimeout: destination.timeouts.acse,
                    dimseTimeout: destination.timeouts.dimse,
                    idleRelease: destination.timeouts.idle
                ),
                logger: logger
            )
        )
    }

    private func forward(_ delivery: ClaimedDelivery, with transport: any DeliveryTransport, logger: Logger) async {
        let object = await preparer.prepare(delivery)
        let outcome = await transport.send(object)
        let finished = now()
        let random = Double.random(in: 0..<1)
        gate.withLockedValue { $0.record(outcome, now: finished, policy: destination.retry, unitRandom: random) }
        let disposition = destination.retry.disposition(
            for: outcome,
            attempt: delivery.attempts,
            now: finished,
            unitRandom: random
        )
        var meta: Logger.Metadata = ["delivery": "\(delivery.deliveryID)", "attempt": "\(delivery.attempts)"]
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
            try outbox.apply(disposition, deliveryID: delivery.deliveryID, failureStatus: outcome.failureStatus, now: finished)
        } catch {
            // The row stays active; its lease expires and the delivery is retried. At most one
            // re-send, which the remote's idempotence by UID absorbs (DESIGN §1.2).
            logger.error("Cannot record delivery result", metadata: ["error": "\(error)"])
        }
    }

    private func doorbellOrTimeout(seconds: Double) async {
        await doorbell.wait(timeout: .milliseconds(Int64(seconds * 1000)), clock: ContinuousClock())
    }
}
