import Glibc
import RadRelayOutbox
import RadRelayTestSupport
import XCTest

final class StateDirectoryLockTests: XCTestCase {
    var state: TemporaryDirectory!

    override func setUpWithError() throws {
        state = try TemporaryDirectory(prefix: "radrelay-lock")
    }

    override func tearDown() {
        state?.remove()
    }

    /// flock locks belong to an open file description, so a second open in this same process
    /// is refused exactly as a second daemon would be.
    func testSecondAcquirerIsRefusedWithTheOwnersPid() throws {
        let first = try StateDirectoryLock(stateDirectory: state.path)
        XCTAssertTrue(first.isHeld)

        XCTAssertThrowsError(try StateDirectoryLock(stateDirectory: state.path)) { error in
            XCTAssertEqual(error as? StateDirectoryLockError, .alreadyLocked(pid: getpid(), stateDirectory: state.path))
            XCTAssertEqual(
                "\(error)", "another radrelayd (pid \(getpid())) is using state directory \(state.path)"
            )
        }

        first.release()
        XCTAssertFalse(first.isHeld)
        let second = try StateDirectoryLock(stateDirectory: state.path, pid: 4242)
        XCTAssertTrue(second.isHeld)
        XCTAssertThrowsError(try StateDirectoryLock(stateDirectory: state.path)) { error in
            XCTAssertEqual(error as? StateDirectoryLockError, .alreadyLocked(pid: 4242, stateDirectory: state.path))
        }
    }

    func testDroppingTheLockReleasesIt() throws {
        var lock: StateDirectoryLock? = try StateDirectoryLock(stateDirectory: state.path)
        XCTAssertNotNil(lock)
        lock = nil

        XCTAssertNoThrow(try StateDirectoryLock(stateDirectory: state.path))
    }

    func testMissingStateDirectoryIsAFileSystemError() {
        XCTAssertThrowsError(try StateDirectoryLock(stateDirectory: state.path + "/missing")) { error in
            guard case .fileSystem(let failure)? = error as? StateDirectoryLockError else {
                return XCTFail("unexpected \(error)")
            }
            XCTAssertEqual(failure.code, ENOENT)
        }
    }
}
