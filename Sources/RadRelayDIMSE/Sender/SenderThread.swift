import Foundation
import Logging
import RadRelayCore

/// The dedicated OS thread behind a `DICOMSender`: a FIFO of jobs guarded by a condition
/// variable. DCMTK blocks for up to a whole timeout per call, so it must never run on Swift's
/// cooperative pool; results go back through the jobs' continuations.
final class SenderThread: @unchecked Sendable {
    /// Work for the thread; each job resumes its continuation exactly once.
    enum Job {
        case send(OutgoingObject, CheckedContinuation<SendOutcome, Never>)
        case echo(CheckedContinuation<SendOutcome, Never>)
    }

    private let configuration: DICOMSenderConfiguration
    private let onProgress: (@Sendable (Int) -> Void)?
    private let logger: Logger

    // Guarded by `condition`.
    private let condition = NSCondition()
    private var jobs: [Job] = []
    private var stopRequested = false
    private var finished = false
    private var stopWaiters: [CheckedContinuation<Void, Never>] = []

    init(configuration: DICOMSenderConfiguration, onProgress: (@Sendable (Int) -> Void)?, logger: Logger) {
        self.configuration = configuration
        self.onProgress = onProgress
        self.logger = logger
    }

    /// Starts the thread; it keeps this object alive until it ends.
    func start() {
        let thread = Thread { [self] in run() }
        thread.name = "radrelay-sender"
        thread.stackSize = 4 << 20  // DCMTK recurses per nested sequence while loading a dataset
        thread.start()
    }

    /// Queues a job; false once a stop was requested (the caller answers the job itself).
    func submit(_ job: Job) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        guard !stopRequested else { return false }
        jobs.append(job)
        condition.signal()
        return true
    }

    /// Asks the thread to finish the queued jobs, release the association and end. `waiter`, if
    /// any, is resumed once the thread has ended.
    func requestStop(waiter: CheckedContinuation<Void, Never>?) {
        condition.lock()
        stopRequested = true
        if let waiter {
            if finished {
                condition.unlock()
                waiter.resume()
                return
            }
            stopWaiters.append(waiter)
        }
        condition.signal()
        condition.unlock()
    }

    // MARK: - On the thread

    private func run() {
        let session = SCUSession(configuration: configuration, onProgress: onProgress, logger: logger)
        var lastActivity = ContinuousClock.now
        while let job = nextJob(session: session, lastActivity: lastActivity) {
            switch job {
            case .send(let object, let continuation):
                continuation.resume(returning: session.send(object))
            case .echo(let continuation):
                continuation.resume(returning: session.echo())
            }
            lastActivity = .now
        }
        session.release()
        condition.lock()
        finished = true
        let waiters = stopWaiters
        stopWaiters = []
        condition.unlock()
        waiters.forEach { $0.resume() }
    }

    /// The next job, or nil when stopped with nothing queued. While idle with an open
    /// association, waits only until the idle deadline and then releases it.
    private func nextJob(session: SCUSession, lastActivity: ContinuousClock.Instant) -> Job? {
        condition.lock()
        defer { condition.unlock() }
        while jobs.isEmpty {
            if stopRequested { return nil }
            guard session.isAssociated else {
                condition.wait()
                continue
            }
            let remaining = ContinuousClock.now.duration(to: lastActivity + .seconds(configuration.idleRelease))
            if remaining <= .zero {
                // Release without the lock, so callers can queue work meanwhile.
                condition.unlock()
                session.release()
                condition.lock()
            } else {
                _ = condition.wait(until: Date(timeIntervalSinceNow: remaining.seconds))
            }
        }
        return jobs.removeFirst()
    }
}

extension Duration {
    /// The duration in (fractional) seconds.
    fileprivate var seconds: Double {
        Double(components.seconds) + Double(components.attoseconds) / 1e18
    }
}
