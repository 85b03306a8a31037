import RadRelayConfig
import XCTest

final class ValueGrammarTests: XCTestCase {
    // MARK: - Sizes

    func testSIPrefixesArePowersOf1000() {
        let table: [(String, UInt64)] = [
            ("64k", 64_000), ("64K", 64_000), ("64kB", 64_000), ("64KB", 64_000),
            ("500M", 500_000_000), ("500MB", 500_000_000),
            ("8G", 8_000_000_000), ("8GB", 8_000_000_000),
            ("2T", 2_000_000_000_000), ("2TB", 2_000_000_000_000),
        ]
        for (text, bytes) in table { XCTAssertEqual(ValueGrammar.byteCount(text), bytes, text) }
    }

    func testBinaryPrefixesArePowersOf1024() {
        let table: [(String, UInt64)] = [
            ("1KiB", 1024), ("1Ki", 1024), ("64KiB", 65_536),
            ("1MiB", 1_048_576), ("1Mi", 1_048_576),
            ("8GiB", 8_589_934_592), ("8Gi", 8_589_934_592),
            ("1TiB", 1_099_511_627_776), ("1Ti", 1_099_511_627_776),
        ]
        for (text, bytes) in table { XCTAssertEqual(ValueGrammar.byteCount(text), bytes, text) }
    }

    func testBareNumbersAndBAreBytes() {
        let table: [(String, UInt64)] = [("0", 0), ("4096", 4096), ("100B", 100), ("65536", 65_536)]
        for (text, bytes) in table { XCTAssertEqual(ValueGrammar.byteCount(text), bytes, text) }
    }

    func testSizesAllowFractionsAndSpacesWhenTheResultIsWholeBytes() {
        XCTAssertEqual(ValueGrammar.byteCount("1.5G"), 1_500_000_000)
        XCTAssertEqual(ValueGrammar.byteCount("0.5KiB"), 512)
        XCTAssertEqual(ValueGrammar.byteCount("12 MB"), 12_000_000)
        XCTAssertEqual(ValueGrammar.byteCount(" 8GiB "), 8_589_934_592)
    }

    func testMalformedSizesAreRejected() {
        let invalid = [
            "", "MB", "-1", "+1", "1.5", "1.0001k", "8gb", "8 GIB", "1mb", "5Mb", "1e3", "0x10", "8GiBs", "1..5k",
            ".5k", "5.k", "1PiB", "9223372036854775808", "10000000T", "8 G iB",
        ]
        for text in invalid { XCTAssertNil(ValueGrammar.byteCount(text), text) }
    }

    // MARK: - Durations

    func testDurations() {
        let table: [(String, Double)] = [
            ("30", 30), ("2.5", 2.5), ("0", 0), ("0s", 0), ("30s", 30), ("5m", 300), ("24h", 86_400),
            ("1d", 86_400), ("250ms", 0.25), ("1h30m", 5_400), ("1m 30s", 90), ("1.5h", 5_400), ("10 s", 10),
        ]
        for (text, seconds) in table { XCTAssertEqual(ValueGrammar.seconds(text), seconds, text) }
    }

    func testMalformedDurationsAreRejected() {
        let invalid = ["", "s", "5 minutes", "-5s", "5x", "1h30", "1.2.3s", "PT5M", "5M", "5S", "5sec", "1e2s"]
        for text in invalid { XCTAssertNil(ValueGrammar.seconds(text), text) }
    }

    // MARK: - Percentages and thresholds

    func testPercentages() {
        let table: [(String, Double)] = [("5%", 5), ("2.5%", 2.5), ("0%", 0), ("100%", 100), ("5 %", 5)]
        for (text, value) in table { XCTAssertEqual(ValueGrammar.percent(text), value, text) }
        for text in ["101%", "%", "5", "-1%", "5%%", "five%"] { XCTAssertNil(ValueGrammar.percent(text), text) }
    }

    func testDiskThresholdIsAPercentageOrASize() {
        XCTAssertEqual(ValueGrammar.diskThreshold("5%"), .percent(5))
        XCTAssertEqual(ValueGrammar.diskThreshold("10GiB"), .bytes(10 << 30))
        XCTAssertEqual(ValueGrammar.diskThreshold("500MB"), .bytes(500_000_000))
        XCTAssertEqual(ValueGrammar.diskThreshold("0"), .bytes(0))
        XCTAssertNil(ValueGrammar.diskThreshold("5 percent"))
    }

    func testDiskThresholdComparison() {
        XCTAssertTrue(DiskThreshold.percent(5).isBelow(available: 4, total: 100))
        XCTAssertFalse(DiskThreshold.percent(5).isBelow(available: 5, total: 100))
        XCTAssertTrue(DiskThreshold.bytes(1000).isBelow(available: 999, total: 1 << 40))
        XCTAssertFalse(DiskThreshold.bytes(1000).isBelow(available: 1000, total: 1 << 40))
    }
}
