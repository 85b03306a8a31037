import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOPosix
import RadRelayCore
import RadRelayTestSupport
import XCTest

@testable import RadRelayDIMSE

/// A storage SCP delegate for listener tests: admits `allowedCaller` to `calledAE`, writes each
/// object into a temp directory, validates it with the real DCMTK inspector and records what
/// happened. It stands in for the daemon's ingest pipeline so the listener is tested alone.
final class RecordingDelegate: StorageSCPDelegate {
    struct Record: Sendable {
        var object: ReceivedObject
        var response: StoreResponse
    }

    let directory: URL
    let allowedCaller: String
    let calledAE: String
    private let state = NIOLockedValueBox<(records: [Record], abandoned: [String], rejections: [AssociationRejection], counter: Int)>(([], [], [], 0))

    init(directory: URL, allowedCaller: String = "STORESCU", calledAE: String = "RADRELAY") {
        self.directory = directory
        self.allowedCaller = allowedCaller
        self.calledAE = calledAE
    }

    var records: [Record] { state.withLockedValue { $0.records } }
    var abandoned: [String] { state.withLockedValue { $0.abandoned } }
    var rejections: [AssociationRejection] { state.withLockedValue { $0.rejections } }

    func decideAssociation(_ request: AssociationRequestInfo) -> AssociationDecision {
        guard request.callingAE.value == allowedCaller else { return .reject(.callingAENotRecognized) }
        guard request.calledAE.value == calledAE else { return .reject(.calledAENotRecognized) }
        return .accept(callerLimit: 2)
    }

    func associationRejected(_ request: AssociationRequestInfo?, rejection: AssociationRejection, why: String) {
        state.withLockedValue { $0.rejections.append(rejection) }
    }

    func associationAccepted(_ association: AssociationInfo, acceptedContexts: Int) {}
    func associationEnded(_ association: AssociationInfo, how: AssociationEnd) {}

    func beginStore(_ request: StoreRequestInfo) -> StoreStart {
        let n = state.withLockedValue { state -> Int in
            state.counter += 1
            return state.counter
        }
        return .write(path: directory.appendingPathComponent("object-\(n).part").path)
    }

    func completeStore(_ object: ReceivedObject) async -> StoreResponse {
        let response: StoreResponse
        do {
            _ = try DICOMFileInspector.inspect(
                path: object.path,
                expectedSOPClass: object.request.sopClassUID,
                expectedSOPInstance: object.request.sopInstanceUID
            )
            response = StoreResponse(status: .success)
        } catch {
            try? FileManager.default.removeItem(atPath: object.path)
            response = StoreResponse(status: .cannotUnderstand, errorComment: "invalid")
        }
        state.withLockedValue { $0.records.append(Record(object: object, response: response)) }
        return response
    }

    func abandonStore(_ request: StoreRequestInfo, path: String) {
        try? FileManager.default.removeItem(atPath: path)
        state.withLockedValue { $0.abandoned.append(path) }
    }
}

/// Starts a `StorageSCP` on 127.0.0.1 port 0 for one test.
final class ListenerFixture {
    let directory: TemporaryDirectory
    let delegate: RecordingDelegate
    let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
    let scp: StorageSCP
    private(set) var port = 0

    init(configure: (inout StorageSCPConfiguration) -> Void = { _ in }) throws {
        try DCMTKRuntime.initialize()
        directory = try TemporaryDirectory(prefix: "radrelay-listener")
        delegate = RecordingDelegate(directory: directory.url)
        var configuration = StorageSCPConfiguration(host: "127.0.0.1", port: 0, maxAssociations: 4)
        configure(&configuration)
        scp = StorageSCP(configuration: configuration, delegate: delegate, group: group, logger: Logger(label: "test"))
    }

    func start() async throws {
        let address = try await scp.start()
        port = address.port!
    }

    func stop() async {
        await scp.stopAccepting()
        await scp.drain(timeout: 1)
        try? await group.shutdownGracefully()
        directory.remove()
    }
}
