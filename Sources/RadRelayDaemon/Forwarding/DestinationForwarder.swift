import Foundation
import Logging
import Metrics
import NIOConcurrencyHelpers
import RadRelayConfig
import RadRelayCore
import RadRelayDIMSE
import RadRelayOutbox

/// Forwards one destination's queue (DESIGN §5): `associations` workers, each with its own
/// transport (a DICOM association or an HTTP connection), run claim → prepare → pace → send →
/// classify in a loop (stages in DeliveryStages.swift); a housekeeping task expires what is
/// older than `max_age`. Destinations share nothing but the database (and the global cap), so
/// one bad destination never blocks another (DESIGN §1.4).
///
/// **Scheduling.** With two or more workers the first is reserved for STAT/HIGH work, so a STAT
/// object never waits behind a routine one on the wire; the others claim by (priority, age) with
/// bounded aging, so STAT overtakes a draining backlog at the next object boundary. Each worker
/// alternates fresh work (queued since the destination was last up) and backlog (queued before,
/// and retries), so an outage's backlog never delays new studies. The decisions are the pure
/// `WorkerSchedule` / `ClaimQuery`; `Outbox.claimNext` finds the candidates.
///
/// **Health.** A `CircuitBreaker` (persisted in `destination_health`): after
/// `circuit.failures` consecutive destination-level failures no worker connects until a probe
/// (C-ECHO / HTTP) succeeds; probes back off up to `circuit.max_probe_interval`. Deliveries then
/// simply stay queued: destination-level failures never dead-letter anything. Going down and
/// coming back are logged as alerts and counted.
///
/// **Pacing.** Each worker's `WorkerPacer` charges the destination's `BandwidthLimiter` (and the
/// global one) from the DCMTK progress callback between PDUs, or per body chunk for STOW-RS, so
/// the rate is smooth; before starting an object it waits until earlier debt is paid.
///
/// **Idle costs nothing.** A worker with nothing due, or a destination that is down, sleeps on
/// the doorbell until new work, the next due time or the heartbeat tick, whichever comes first.
final class DestinationForwarder: Sendable {
    /// The destination's name (fixed for the forwarder's life).
    let name: String
    private let settings: NIOLockedValueBox<Configuration.Destination>
    private let outbox: Outbox
    private let preparer: any DeliveryPreparer
    private let doorbell = Doorbell()
    private let housekeepingBell = Doorbell()
    private let breaker: NIOLockedValueBox<CircuitBreaker>
    private let limiter: BandwidthLimiter
    private let globalLimiter: BandwidthLimiter?
    private let leaseSeconds: Double
    private let heartbeats: Heartbeats?
    private let now: @Sendable () -> EpochSeconds
    private let logger: Logger

    init(
        destination: Configuration.Destination,
        outbox: Outbox,
        preparer: any DeliveryPreparer = AsReceivedPreparer(),
        leaseSeconds: Double,
        clock: SiteClock = .utc,
        globalLimiter: BandwidthLimiter? = nil,
        heartbeats: Heartbeats? = nil,
        now: @escaping @Sendable () -> EpochSeconds,
        logger: Logger
    ) {
        name = destination.name
        settings = NIOLockedValueBox(destination)
        self.outbox = outbox
        self.preparer = preparer
        self.leaseSeconds = leaseSeconds
        self.globalLimiter = globalLimiter
        self.heartbeats = heartbeats
        self.now = now
        var logger = logger
        logger[metadataKey: "destination"] = "\(destination.name)"
        self.logger = logger
        limiter = BandwidthLimiter(name: destination.name, schedule: destination.bandwidth, clock: clock, now: now)
        var restored = CircuitBreaker()
        do {
            if let saved = try outbox.health(destination: destination.name) {
                restored = CircuitBreaker(
                    restoring: saved.state, downUntil: saved.downUntil, failures: saved.consecutiveFailures)
            }
        } catch {
            logger.error("Cannot read the saved destination health; starting as up", metadata: ["error": "\(error)"])
        }
        breaker = NIOLockedValueBox(restored)
    }

    /// The destination as configured now (a reload may change it).
    var destination: Configuration.Destination { settings.withLockedValue { $0 } }

    /// New work was queued for this destination. While it is down and not yet due for a probe
    /// nobody is woken: a burst of ingest must not spin the workers of a dead destination.
    func wake() {
        let current = now()
        let asleep = breaker.withLockedValue { breaker -> Bool in
            switch breaker.state {
            case .down(let until, _): return current < until
            case .probing: return true
            default: return false
            }
        }
        if !asleep { doorbell.ring() }
    }

    /// Applies a reload: caps, schedules, retry and circuit policy, aging and max age take
    /// effect at once; the number of workers and the address need a restart.
    func apply(_ destination: Configuration.Destination, clock: SiteClock) {
        settings.withLockedValue { $0 = destination }
        limiter.update(schedule: destination.bandwidth, clock: clock)
        housekeepingBell.ring()
        doorbell.ring()
    }

    /// Health as status reports it: `up`, `degraded` or `down`, and the last failure.
    var health: (state: String, lastError: FailureClass?) {
        let breaker = breaker.withLockedValue { $0 }
        return (breaker.healthName, breaker.lastFailure)
    }

    /// The circuit breaker now (status and tests).
    var circuit: CircuitBreaker { breaker.withLockedValue { $0 } }

    /// The destination's cap in force now, bytes/s; nil when unlimited.
    var bandwidthLimit: Double? { limiter.currentLimit }

    /// Runs the workers and the housekeeping until the task is cancelled (graceful shutdown): a
    /// worker in the middle of a send finishes it and records the result before it stops.
    func run() async {
        let roles = WorkerSchedule.roles(workers: destination.associations)
        await withTaskGroup(of: Void.self) { group in
            for (index, role) in roles.enumerated() {
                group.addTask { await self.worker(index, role: role) }
            }
            group.addTask { await self.housekeeping() }
        }
    }

    // MARK: - Workers

    private func worker(_ index: Int, role: WorkerSchedule.Role) async {
        var logger = self.logger
        logger[metadataKey: "worker"] = "\(index)"
        let beat = heartbeats?.register("forwarder.\(name).\(index)")
        defer { beat?.end() }
        let pacer = WorkerPacer(limiters: [limiter] + [globalLimiter].compactMap { $0 }, onProgress: { beat?.tick() })
        let transport = makeTransport(pacer: pacer, logger: logger)
        var schedule = WorkerSchedule(role: role)
        while !Task.isCancelled {
            beat?.tick()
            let current = now()
            switch breaker.withLockedValue({ $0.permit(at: current) }) {
            case .wait(let until):
                await sleep(until: until ?? current + 60)
                continue
            case .probe:
                beat?.busy(allowingSilence: peerSilenceAllowance)
                await probe(with: transport, logger: logger)
                beat?.idle()
                continue
            case .send:
                break
            }
            let destination = self.destination
            let query = schedule.nextQuery(
                freshSince: breaker.withLockedValue { $0.upSince }, aging: destination.aging)
            let claimed: (delivery: ClaimedDelivery, lane: WorkLane)?
            do {
                claimed = try outbox.claimNext(
                    destination: name, now: current, leaseSeconds: leaseSeconds, query: query)
            } catch {
                logger.error("Outbox claim failed", metadata: ["error": "\(error)"])
                await sleep(until: current + 5)
                continue
            }
            guard let claimed else {
                let due = try? outbox.nextDueTime(
                    destination: name, now: current, minimumPriority: query.minimumPriority)
                await sleep(until: due ?? current + 60)
                continue
            }
            let first = claimed.delivery
            schedule.claimed(from: claimed.lane)
            var deliveries = [first]
            if transport.prefersBatches {
                deliveries += claimMore(after: first, limits: transport.batchLimits, logger: logger)
            }
            await pacer.waitForCredit(priority: first.priority)
            await forward(deliveries, with: transport, pacer: pacer, beat: beat, logger: logger)
        }
        await transport.shutdown()
    }

    /// One transport per worker, for the destination's kind, wired to the worker's pacer.
    private func makeTransport(pacer: WorkerPacer, logger: Logger) -> any DeliveryTransport {
        let destination = self.destination
        if destination.kind == .stow {  // issue 5
            return STOWTransport(
                destination: destination, pace: { bytes in await pacer.onWireAsync(bytes) }, logger: logger)
        }
        return DICOMTransport(
            sender: DICOMSender(
                configuration: DICOMSenderConfiguration(destination: destination),
                onProgress: { bytes in pacer.onWire(bytes) },
                logger: logger
            )
        )
    }

    /// More due deliveries of the first one's priority for a transport that sends several per
    /// request (STOW-RS), within its limits.
    private func claimMore(after first: ClaimedDelivery, limits: BatchLimits, logger: Logger) -> [ClaimedDelivery] {
        guard limits.maxInstances > 1, first.byteSize < limits.maxBytes else { return [] }
        do {
            return try outbox.claimBatch(
                destination: name, priority: first.priority, now: now(), leaseSeconds: leaseSeconds,
                limit: limits.maxInstances - 1, maxBytes: limits.maxBytes - first.byteSize)
        } catch {
            logger.error("Outbox batch claim failed", metadata: ["error": "\(error)"])
            return []
        }
    }

    // MARK: - Sending and bookkeeping

    /// The longest a worker may legitimately hear nothing from its remote during one send or
    /// probe: the destination's own timeouts for each silent phase back to back (DICOM: connect,
    /// A-ASSOCIATE-AC, C-STORE-RSP; STOW-RS: connect, then the longer of a stalled upload and a
    /// stalled response), plus a margin for the thread hand-offs. Bytes on the wire tick the
    /// heartbeat anyway; past this the transport's timeouts have failed and the watchdog must act.
    private var peerSilenceAllowance: Duration {
        let destination = self.destination
        let seconds: Double
        if destination.kind == .stow, let http = destination.stow?.timeouts {
            seconds = http.connect + max(http.read, http.write)
        } else {
            seconds = destination.timeouts.connect + destination.timeouts.acse + destination.timeouts.dimse
        }
        return .milliseconds(Int64(min(seconds, 86_400) * 1000)) + .seconds(5)
    }

    /// How long preparing (normalizing, transcoding) one batch may run without a tick.
    private static let preparationSilenceAllowance = Duration.seconds(120)

    private func forward(
        _ deliveries: [ClaimedDelivery],
        with transport: any DeliveryTransport,
        pacer: WorkerPacer,
        beat: Heartbeat?,
        logger: Logger
    ) async {
        // Transcoding a large object on a busy pool does not tick; allow it a bounded while.
        beat?.busy(allowingSilence: Self.preparationSilenceAllowance)
        var prepared: [BatchItem] = []
        for delivery in deliveries {
            prepared.append(BatchItem(delivery: delivery, object: await preparer.prepare(delivery)))
        }
        let items = prepared
        beat?.idle()
        await FaultPoint.stall("forward-before-send")  // issue 6: a stuck send, test builds only
        pacer.begin(priority: deliveries.map(\.priority).max() ?? .routine)
        let started = ContinuousClock.now
        beat?.busy(allowingSilence: peerSilenceAllowance)
        let results = await withLeaseRenewal(deliveries.map(\.deliveryID), logger: logger) {
            if transport.prefersBatches { return await transport.sendBatch(items) }
            return [TransportResult(outcome: await transport.send(items[0].object), notBefore: nil)]
        }
        beat?.idle()
        FaultPoint.hit("forward-after-send-before-mark")  // issue 7: test builds only
        let duration = ContinuousClock.now - started
        if !transport.pacesOnTheWire { pacer.charge(Int(clamping: items.reduce(0) { $0 + $1.object.byteSize })) }
        let destination = self.destination
        let finished = now()
        for (index, item) in items.enumerated() {
            let result =
                index < results.count
                ? results[index] : TransportResult(outcome: .failed(.localError, status: nil, detail: "no result"))
            record(result, for: item, duration: duration, destination: destination, now: finished, logger: logger)
        }
    }

    /// The breaker learns from the outcome; the retry policy turns it into the delivery's fate.
    private func record(
        _ result: TransportResult,
        for item: BatchItem,
        duration: Duration,
        destination: Configuration.Destination,
        now finished: EpochSeconds,
        logger: Logger
    ) {
        let delivery = item.delivery
        let random = Double.random(in: 0..<1)
        let action = breaker.withLockedValue {
            $0.sendFinished(
                result.outcome, now: finished, policy: destination.circuitPolicy, unitRandom: random,
                notBefore: result.notBefore)
        }
        perform(action, logger: logger)
        let disposition = destination.retry.disposition(
            for: result.outcome, attempt: delivery.attempts, now: finished, unitRandom: random,
            notBefore: result.notBefore)
        var meta: Logger.Metadata = [
            "delivery": "\(delivery.deliveryID)", "attempt": "\(delivery.attempts)",
            // Queued → this outcome: for a delivery, the object's latency through the gateway.
            "priority": "\(delivery.priority)", "waited_ms": "\(Int((finished - delivery.queuedAt) * 1000))",
        ]
        let outcomeName: String
        switch disposition {
        case .delivered(let status):
            outcomeName = "delivered"
            meta["dimse_status"] = "\(status)"
            logger.info("Delivered", metadata: LogEvent.delivered.metadata(meta))
        case .deferred(let notBefore, let failure, let detail):
            outcomeName = "deferred"
            meta["failure"] = "\(failure.rawValue)"
            meta["detail"] = "\(detail)"
            meta["retry_in_s"] = "\(Int(notBefore - finished))"
            logger.warning("Delivery deferred", metadata: LogEvent.deferred.metadata(meta))
        case .dead(let failure, let detail):
            outcomeName = "dead"
            meta["failure"] = "\(failure.rawValue)"
            meta["detail"] = "\(detail)"
            logger.critical("Delivery dead-lettered", metadata: LogEvent.deadLettered.metadata(meta))
        }
        GatewayMetrics.forwardAttempt(
            destination: name, result: outcomeName, bytes: item.object.byteSize, duration: duration)
        do {
            try outbox.apply(
                disposition, deliveryID: delivery.deliveryID, failureStatus: result.outcome.failureStatus, now: finished
            )
        } catch {
            // The row stays active; its lease expires and the delivery is retried. At most one
            // re-send, which the remote's idempotence by UID absorbs (DESIGN §1.2).
            logger.error("Cannot record delivery result", metadata: ["error": "\(error)"])
        }
    }

    /// Keeps the leases of `ids` alive while `body` runs (a large object under a cap can take
    /// longer than the lease; without renewal another worker would send it again).
    private func withLeaseRenewal<T: Sendable>(
        _ ids: [Int64],
        logger: Logger,
        _ body: @Sendable () async -> T
    ) async -> T {
        let lease = leaseSeconds
        let renewal = Task { [outbox, now] in
            while !Task.isCancelled {
                try? await Task.sleep(for: .seconds(max(1, lease / 3)))
                if Task.isCancelled { return }
                for id in ids { _ = try? outbox.extendLease(deliveryID: id, until: now() + lease) }
            }
        }
        defer { renewal.cancel() }
        return await body()
    }

    // MARK: - Health

    private func probe(with transport: any DeliveryTransport, logger: Logger) async {
        let outcome = await transport.probe()
        let destination = self.destination
        let action = breaker.withLockedValue {
            $0.probeFinished(
                outcome, now: now(), policy: destination.circuitPolicy, unitRandom: Double.random(in: 0..<1))
        }
        if case .failed(let failure, _, let detail) = outcome {
            logger.debug("Probe failed", metadata: ["failure": "\(failure.rawValue)", "detail": "\(detail)"])
        }
        perform(action, logger: logger)
        // Workers waiting for the probe's verdict go round again.
        doorbell.ring()
    }

    /// Persists and announces a breaker transition.
    private func perform(_ action: CircuitBreaker.Action, logger: Logger) {
        let state = breaker.withLockedValue { $0 }
        switch action {
        case .none:
            return
        case .wentDown(let until, let failure):
            logger.error(
                "Destination down: no connection attempts until a probe succeeds",
                metadata: LogEvent.destinationDown.metadata([
                    "failure": "\(failure.rawValue)", "consecutive_failures": "\(state.consecutiveFailures)",
                    "probe_in_s": "\(Int(max(0, until - now())))",
                ]))
            Counter(label: "radrelay_destination_down_total", dimensions: [("destination", name)]).increment()
        case .stayedDown(let until):
            logger.debug("Destination still down", metadata: ["probe_in_s": "\(Int(max(0, until - now())))"])
        case .cameUp:
            logger.notice(
                "Destination up again",
                metadata: LogEvent.destinationUp.metadata(["after_failures": "\(state.consecutiveFailures)"]))
            Counter(label: "radrelay_destination_up_total", dimensions: [("destination", name)]).increment()
            do {
                try outbox.makeDeferredDue(destination: name, now: now())
            } catch {
                logger.error("Cannot make deferred deliveries due", metadata: ["error": "\(error)"])
            }
        case .healthy:
            break
        }
        Gauge(label: "radrelay_destination_up", dimensions: [("destination", name)])
            .record(state.healthName == "down" ? 0 : 1)
        do {
            try outbox.saveHealth(
                destination: name,
                DestinationHealthRecord(
                    state: state.healthName, downUntil: state.downUntil, consecutiveFailures: state.consecutiveFailures)
            )
        } catch {
            logger.error("Cannot save destination health", metadata: ["error": "\(error)"])
        }
    }

    // MARK: - Housekeeping

    /// Expires deliveries older than `max_age` (dead-letter class `expired`, an alert), then
    /// sleeps until the next one could expire.
    private func housekeeping() async {
        let beat = heartbeats?.register("forwarder.\(name).housekeeping")
        defer { beat?.end() }
        while !Task.isCancelled {
            beat?.tick()
            let current = now()
            var next = current + 3600
            if let maxAge = destination.maxAge {
                do {
                    let expired = try outbox.expire(destination: name, queuedBefore: current - maxAge, now: current)
                    if expired > 0 {
                        logger.error(
                            "Deliveries older than max_age dead-lettered",
                            metadata: LogEvent.deadLettered.metadata([
                                "count": "\(expired)", "failure": "\(FailureClass.expired.rawValue)",
                                "max_age_s": "\(Int(maxAge))",
                            ]))
                        Counter(label: "radrelay_expired_total", dimensions: [("destination", name)])
                            .increment(by: Int64(expired))
                    }
                    if let oldest = try outbox.oldestExpirable(destination: name) { next = min(next, oldest + maxAge) }
                } catch {
                    logger.error("Expiry sweep failed", metadata: ["error": "\(error)"])
                    next = current + 60
                }
            }
            await housekeepingBell.wait(timeout: waitDuration(until: max(next, current + 1)), clock: ContinuousClock())
        }
    }

    // MARK: - Waiting

    /// Sleeps until `deadline`, a ring, or the heartbeat tick, whichever comes first.
    private func sleep(until deadline: EpochSeconds) async {
        await doorbell.wait(timeout: waitDuration(until: deadline), clock: ContinuousClock())
    }

    private func waitDuration(until deadline: EpochSeconds) -> Duration {
        let seconds = min(max(deadline - now(), 0.01), 60)
        let capped = heartbeats.map { min(Duration.seconds(seconds), $0.tickInterval) } ?? .seconds(seconds)
        return capped
    }
}

extension STOWTransport {
    /// The forwarder gives every STOW-RS transport a pacer for its body chunks.
    var pacesOnTheWire: Bool { pace != nil }
}
