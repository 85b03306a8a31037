import Foundation
import Glibc
import RadRelayOutbox
import RadRelayTestSupport
import XCTest

final class SpoolTests: XCTestCase {
    var state: TemporaryDirectory!
    var spool: Spool!

    override func setUpWithError() throws {
        state = try TemporaryDirectory(prefix: "radrelay-spool")
        spool = try Spool(stateDirectory: state.path)
    }

    override func tearDown() {
        state?.remove()
    }

    func testSlotsAreNamedByFreshUUIDsInsideTheSpool() throws {
        let one = spool.allocate()
        let two = spool.allocate()

        XCTAssertNotEqual(one.id, two.id)
        XCTAssertEqual(one.partPath, "\(state.path)/spool/incoming/\(one.id.uuidString.lowercased()).part")
        XCTAssertEqual(one.finalRelativePath, "spool/\(one.id.uuidString.lowercased()).dcm")
        XCTAssertEqual(one.finalPath, spool.absolutePath(relative: one.finalRelativePath))
        XCTAssertFalse(FileManager.default.fileExists(atPath: one.partPath), "allocating creates no file")
        XCTAssertEqual(spool.slot(partPath: one.partPath), one)
        XCTAssertNil(spool.slot(partPath: "\(state.path)/spool/incoming/../../etc.part"))
        XCTAssertNil(spool.slot(partPath: "/tmp/\(one.id.uuidString.lowercased()).part"))
    }

    func testMakeDurableMovesTheCompleteFileIntoTheSpool() throws {
        let slot = spool.allocate()
        try Data("dataset".utf8).write(to: URL(fileURLWithPath: slot.partPath))

        try spool.makeDurable(slot)

        XCTAssertFalse(FileManager.default.fileExists(atPath: slot.partPath))
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: slot.finalPath)), Data("dataset".utf8))
    }

    func testMakeDurableReportsTheFailingCallAndErrno() throws {
        let slot = spool.allocate()
        XCTAssertThrowsError(try spool.makeDurable(slot)) { error in
            let failure = error as? FileSystemError
            XCTAssertEqual(failure?.code, ENOENT)
            XCTAssertEqual(failure?.path, slot.partPath)
            XCTAssertEqual(failure?.isOutOfSpace, false)
        }
    }

    func testDiscardRemovesWhateverExistsAndNeverThrows() throws {
        let slot = spool.allocate()
        spool.discard(slot)
        try Data("x".utf8).write(to: URL(fileURLWithPath: slot.partPath))
        spool.discard(slot)
        XCTAssertFalse(FileManager.default.fileExists(atPath: slot.partPath))

        try Data("x".utf8).write(to: URL(fileURLWithPath: slot.partPath))
        try spool.makeDurable(slot, syncDirectory: false)
        try spool.syncDirectory()
        spool.discard(slot)
        XCTAssertFalse(FileManager.default.fileExists(atPath: slot.finalPath))
        XCTAssertTrue(spool.remove(relative: slot.finalRelativePath), "removing a missing file is fine")
    }

    func testFreeSpaceComesFromTheStateFileSystem() throws {
        let space = try spool.freeSpace()
        XCTAssertGreaterThan(space.total, 0)
        XCTAssertLessThanOrEqual(space.available, space.total)
    }

    func testOpeningAgainKeepsExistingFiles() throws {
        let slot = spool.allocate()
        try Data("x".utf8).write(to: URL(fileURLWithPath: slot.partPath))
        try spool.makeDurable(slot)

        spool = try Spool(stateDirectory: state.path)

        XCTAssertTrue(FileManager.default.fileExists(atPath: slot.finalPath))
    }
}
