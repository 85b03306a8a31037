import Foundation
import Logging
import NIOCore
import NIOPosix
import RadRelayConfig
import RadRelayCore
import RadRelayDIMSE
import RadRelayOutbox

/// The control socket's routes (issue 6). Reads and changes go through the outbox's intent
/// methods on the blocking pool; every change is logged with the caller's uid.
///
/// | route | what |
/// |---|---|
/// | `GET /status` | `StatusReport` |
/// | `GET /queue?destination=&state=&limit=` | deliveries |
/// | `GET /studies?limit=` | recent studies with progress per destination |
/// | `POST /retry`, `/requeue`, `/hold`, `/release`, `/purge` | `ControlCommands.Target` body |
/// | `POST /echo` | C-ECHO to a destination |
/// | `GET /config/check` | validates the configuration file as it is on disk now |
extension Daemon {
    func handleControl(_ request: ControlRequest) async -> (Int, Data) {
        do {
            switch (request.method, request.path) {
            case ("GET", "/status"): return try ok(try await fullStatusReport())
            case ("GET", "/queue"): return try ok(try await queueListing(request.query))
            case ("GET", "/studies"): return try ok(try await studiesListing(request.query))
            case ("GET", "/config/check"): return try ok(checkConfigurationFile())
            case ("POST", "/echo"): return try await echo(request)
            case ("POST", let path) where Self.changingCommands.contains(String(path.dropFirst())):
                return try await change(String(path.dropFirst()), request)
            default:
                return fail(404, "no such command: \(request.method) \(request.path)")
            }
        } catch let error as ControlCommands.CommandError {
            return fail(400, error.error)
        } catch {
            return fail(500, "\(error)")
        }
    }

    static let changingCommands: Set<String> = ["retry", "requeue", "hold", "release", "purge"]

    // MARK: - Status

    /// The status with everything issue 6 adds to the walking skeleton's.
    func fullStatusReport() async throws -> StatusReport {
        var report = try statusReport()
        let now = Date().timeIntervalSince1970
        let configuration = operations.running.withLockedValue { $0 }
        let (holds, studyHolds, byPriority, rates) = try await blockingPool.runIfActive { [outbox, configuration] in
            let holds = Set(try outbox.destinationHolds().map(\.destination))
            let studyHolds = try outbox.studyHolds()
            let byPriority = try outbox.pendingByPriority()
            var rates: [String: (count: Int, bytes: UInt64)] = [:]
            for destination in configuration.destinations {
                rates[destination.name] = try outbox.deliveredSince(now - 60, destination: destination.name)
            }
            return (holds, studyHolds, byPriority, rates)
        }
        report.studyHolds = studyHolds.map(Self.studyHoldEntry)
        report.listener.aeTitle = configuration.gateway.aeTitle.value
        for index in report.destinations.indices {
            let name = report.destinations[index].name
            let held = holds.contains(name)
            report.destinations[index].held = held
            if held { report.destinations[index].health = "held" }
            var buckets: [String: StatusReport.PriorityBucket] = [:]
            for priority in Priority.allCases {
                let bucket = byPriority[name]?[priority]
                buckets[priority.description] = .init(count: bucket?.count ?? 0, bytes: Int64(bucket?.bytes ?? 0))
            }
            report.destinations[index].pendingByPriority = buckets
            let rate = rates[name] ?? (0, 0)
            report.destinations[index].rate = .init(
                objectsPerSecond: Double(rate.count) / 60, bytesPerSecond: Double(rate.bytes) / 60,
                capBytesPerSecond: forwarders[name]?.bandwidthLimit  // issue 4: the cap in force now
            )
        }
        report.deadLetters = report.destinations.reduce(0) { $0 + ($1.counts["dead"] ?? 0) }
        report.disk = diskStatus(configuration.gateway)
        report.ready = operations.isReady && !(report.disk?.low ?? false)
        report.staleLoops = operations.heartbeats.staleLoops()
        report.restartPending = operations.restartPending.withLockedValue { $0 }
        if let address = operations.metricsAddress {
            report.metrics = .init(address: address.ipAddress ?? "", port: address.port ?? 0)
        }
        report.certificates = certificates.expiries().map {
            StatusReport.Certificate(name: $0.role, notAfter: $0.notAfter, daysLeft: $0.daysLeft(now: now))
        }.sorted { ($0.notAfter ?? 0) < ($1.notAfter ?? 0) }
        return report
    }

    /// Free space against the watermark, as status and metrics show it.
    func diskStatus(_ gateway: Configuration.Gateway) -> StatusReport.Disk? {
        guard let space = try? spool.freeSpace() else { return nil }
        return StatusReport.Disk(
            path: spool.stateDirectory,
            availableBytes: Int64(clamping: space.available),
            totalBytes: Int64(clamping: space.total),
            minFree: Self.describe(gateway.minFreeDisk),
            resumeFree: Self.describe(gateway.effectiveResumeFreeDisk),
            low: pipeline.diskIsLow
        )
    }

    /// The one-line STATUS for `systemctl status`: port, pending, oldest age, destinations
    /// down or held, disk.
    func statusSummary() async throws -> String {
        let report = try statusReport()
        let pending = report.destinations.reduce(0) { sum, d in
            sum + ["queued", "active", "deferred", "held"].reduce(0) { $0 + (d.counts[$1] ?? 0) }
        }
        let oldest = report.destinations.compactMap(\.oldestPendingAgeSeconds).max()
        let down = report.destinations.filter { $0.health != "up" }.map(\.name)
        var parts = ["port \(report.listener.port)", "pending \(pending)"]
        if let oldest { parts.append("oldest \(Int(oldest))s") }
        parts.append(down.isEmpty ? "all \(report.destinations.count) destinations up" : "down: \(down.joined(separator: ","))")
        parts.append(pipeline.diskIsLow ? "DISK LOW: refusing objects" : "disk ok")
        let dead = report.destinations.reduce(0) { $0 + ($1.counts["dead"] ?? 0) }
        if dead > 0 { parts.append("dead \(dead)") }
        return parts.joined(separator: ", ")
    }

    static func describe(_ threshold: DiskThreshold) -> String {
        switch threshold {
        case .percent(let p): return p == p.rounded() ? "\(Int(p))%" : "\(p)%"
        case .bytes(let b): return "\(b)B"
        }
    }

    // MARK: - Listings

    private func queueListing(_ query: [String: String]) async throws -> ControlCommands.Queue {
        var state: DeliveryState?
        if let raw = query["state"], !raw.isEmpty {
            guard let parsed = DeliveryState(rawValue: raw) else {
                throw ControlCommands.CommandError(
                    "unknown state '\(raw)'; one of " + DeliveryState.allCases.map(\.rawValue).joined(separator: ", "))
            }
            state = parsed
        }
        let destination = query["destination"].flatMap { $0.isEmpty ? nil : $0 }
        let stateFilter = state
        let limit = min(10_000, max(1, Int(query["limit"] ?? "") ?? 100))
        let rows = try await blockingPool.runIfActive { [outbox] in
            try outbox.deliveryListing(destination: destination, state: stateFilter, limit: limit)
        }
        return ControlCommands.Queue(
            deliveries: rows.map { row in
                let d = row.delivery
                return ControlCommands.QueueEntry(
                    id: d.id, destination: d.destination, state: d.state.rawValue, priority: d.priority.description,
                    attempts: d.attempts, bytes: Int64(clamping: d.byteSize), queuedAt: d.queuedAt,
                    nextAttemptAt: d.nextAttemptAt, studyKey: StudyKey.make(row.studyInstanceUID),
                    lastError: d.lastErrorClass.map { "\($0.rawValue): \(d.lastErrorDetail ?? "")" }
                )
            }
        )
    }

    private func studiesListing(_ query: [String: String]) async throws -> ControlCommands.Studies {
        let limit = min(1000, max(1, Int(query["limit"] ?? "") ?? 20))
        let (studies, holds) = try await blockingPool.runIfActive { [outbox] in
            (try outbox.recentStudies(limit: limit), try outbox.studyHolds())
        }
        let holdsByStudy = Dictionary(grouping: holds.map(Self.studyHoldEntry), by: \.studyInstanceUID)
        return ControlCommands.Studies(
            studies: studies.map { study in
                ControlCommands.StudyEntry(
                    studyKey: StudyKey.make(study.studyInstanceUID), studyInstanceUID: study.studyInstanceUID,
                    instances: study.instanceCount, priority: study.priority.description,
                    firstReceivedAt: study.firstReceivedAt, lastReceivedAt: study.lastReceivedAt,
                    destinations: study.destinations.mapValues { counts in
                        Dictionary(uniqueKeysWithValues: counts.map { ($0.key.rawValue, $0.value) })
                    },
                    holds: holdsByStudy[study.studyInstanceUID]
                )
            }
        )
    }

    static func studyHoldEntry(_ hold: StudyHold) -> StatusReport.StudyHold {
        StatusReport.StudyHold(
            studyKey: StudyKey.make(hold.studyInstanceUID), studyInstanceUID: hold.studyInstanceUID,
            destination: hold.destination, heldAt: hold.heldAt, heldByUID: hold.heldByUID)
    }

    private func checkConfigurationFile() -> ControlCommands.ConfigCheck {
        guard let path = operations.options.configPath else {
            return .init(path: "", valid: false, error: "the daemon was started without a configuration file path")
        }
        do {
            let loaded = try ConfigurationLoader.load(path: path)
            let running = operations.running.withLockedValue { $0 }
            return .init(
                path: path, valid: true, error: nil,
                restartRequired: ReloadPlan.restartRequired(running: running, loaded: loaded)
            )
        } catch {
            return .init(path: path, valid: false, error: "\(error)")
        }
    }

    // MARK: - Changing commands

    private func change(_ command: String, _ request: ControlRequest) async throws -> (Int, Data) {
        let body: ControlCommands.Target
        do {
            body = try JSONDecoder().decode(ControlCommands.Target.self, from: request.body)
        } catch {
            throw ControlCommands.CommandError("the body must be a JSON object with delivery, study or destination")
        }
        let target = try body.outboxTarget().get()
        let names = Set(configuration.destinations.map(\.name))
        if let name = body.destination, !names.contains(name) {
            throw ControlCommands.CommandError("no destination named '\(name)'")
        }
        var states: Set<DeliveryState> = [.dead]
        if command == "purge", let raw = body.states {
            states = []
            for name in raw {
                guard let state = DeliveryState(rawValue: name), state != .active else {
                    throw ControlCommands.CommandError("cannot purge state '\(name)'")
                }
                states.insert(state)
            }
        }
        let uid = request.callerUID.map { Int($0) }
        let now = Date().timeIntervalSince1970
        let dryRun = command == "purge" && body.confirm != true
        let purgeStates = states
        let changed: Int = try await blockingPool.runIfActive { [outbox] in
            switch command {
            case "retry": return try outbox.retryDead(target, now: now)
            case "requeue": return try outbox.requeue(target, now: now)
            case "hold": return try outbox.hold(target, byUID: uid, now: now)
            case "release": return try outbox.release(target, now: now)
            default:
                return dryRun
                    ? try outbox.purgeCount(target, states: purgeStates)
                    : try outbox.purge(target, states: purgeStates, now: now)
            }
        }
        if !dryRun {
            var meta: Logger.Metadata = [
                "command": "\(command)", "target": "\(target)", "changed": "\(changed)",
                "caller_uid": "\(request.callerUID.map(String.init) ?? "unknown")",
                "caller_pid": "\(request.callerPID.map(String.init) ?? "unknown")",
            ]
            if command == "purge" { meta["states"] = "\(states.map(\.rawValue).sorted().joined(separator: ","))" }
            logger.notice("Operator command", metadata: LogEvent.operatorCommand.metadata(meta))
            for forwarder in forwarders.values { forwarder.wake() }
        }
        return try ok(
            ControlCommands.CommandResult(
                command: command, target: "\(target)", changed: changed, dryRun: command == "purge" ? dryRun : nil
            )
        )
    }

    private func echo(_ request: ControlRequest) async throws -> (Int, Data) {
        guard let body = try? JSONDecoder().decode(ControlCommands.EchoRequest.self, from: request.body) else {
            throw ControlCommands.CommandError("the body must be {\"destination\": NAME}")
        }
        guard let destination = configuration.destinations.first(where: { $0.name == body.destination }) else {
            throw ControlCommands.CommandError("no destination named '\(body.destination)'")
        }
        let started = ContinuousClock.now
        let result: ControlCommands.EchoResult
        switch destination.kind {
        case .dicom:
            let outcome = await DICOMEcho.echo(senderConfiguration(for: destination))
            let seconds = Self.seconds(since: started)
            switch outcome {
            case .delivered(let status):
                result = .init(
                    destination: destination.name, kind: "dicom", ok: true, status: "\(status)", failure: nil,
                    detail: nil, seconds: seconds)
            case .failed(let failure, let status, let detail):
                result = .init(
                    destination: destination.name, kind: "dicom", ok: false, status: status.map { "\($0)" },
                    failure: failure.rawValue, detail: detail, seconds: seconds)
            }
        default:
            let probe = await httpProbe(destination)
            result = .init(
                destination: destination.name, kind: destination.kind.rawValue, ok: probe.ok, status: probe.status,
                failure: probe.ok ? nil : "connection", detail: probe.detail, seconds: Self.seconds(since: started))
        }
        logger.notice(
            "Operator command",
            metadata: LogEvent.operatorCommand.metadata([
                "command": "echo", "destination": "\(destination.name)", "ok": "\(result.ok)",
                "caller_uid": "\(request.callerUID.map(String.init) ?? "unknown")",
            ])
        )
        return try ok(result)
    }

    /// The echo for non-DIMSE destinations: a TCP connect to the endpoint (the remote is
    /// reachable and listening). A full HTTP probe is the STOW transport's to offer.
    private func httpProbe(_ destination: Configuration.Destination) async -> (ok: Bool, status: String?, detail: String) {
        do {
            let channel = try await ClientBootstrap(group: group)
                .connectTimeout(TimeAmount.seconds(Int64(max(1, destination.timeouts.connect))))
                .connect(host: destination.host, port: destination.port).get()
            try? await channel.close()
            return (true, nil, "TCP connect to \(destination.host):\(destination.port) succeeded")
        } catch {
            return (false, nil, "\(error)")
        }
    }

    static func seconds(since start: ContinuousClock.Instant) -> Double {
        let elapsed = ContinuousClock.now - start
        return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
    }

    // MARK: - JSON

    private func ok<T: Encodable>(_ value: T) throws -> (Int, Data) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        return (200, try encoder.encode(value))
    }

    private func fail(_ status: Int, _ message: String) -> (Int, Data) {
        let data = (try? JSONEncoder().encode(ControlCommands.CommandError(message))) ?? Data("{}".utf8)
        return (status, data)
    }
}

extension Daemon {
    /// The same sender settings the destination's workers use, for `echo`.
    func senderConfiguration(for destination: Configuration.Destination) -> DICOMSenderConfiguration {
        DICOMSenderConfiguration(destination: destination)
    }
}
