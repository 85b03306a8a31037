import RadRelayCore
import XCTest

/// Attribute tests of routing rules, and the tag/keyword dictionary they name attributes with.
final class ValueMatcherTests: XCTestCase {
    func testEqualsAndOneOfIgnoreCaseAndPaddingForAttributes() {
        XCTAssertTrue(ValueMatcher.equals("CT").matches(["ct "]))
        XCTAssertTrue(ValueMatcher(.oneOf(["MR", "CT"])).matches(["CT"]))
        XCTAssertFalse(ValueMatcher(.oneOf(["MR", "CT"])).matches(["PT"]))
        XCTAssertFalse(ValueMatcher.equals("CT").matches(nil), "a missing attribute equals nothing")
    }

    func testAETitlesCompareExactly() {
        let matcher = ValueMatcher.equals("ED_CT", ignoresCase: false)
        XCTAssertTrue(matcher.matches(["ED_CT"]))
        XCTAssertFalse(matcher.matches(["ed_ct"]))
    }

    func testAnyValueOfAMultiValuedAttributeMatches() {
        XCTAssertTrue(ValueMatcher.equals("DERIVED").matches(["ORIGINAL", "DERIVED", "AXIAL"]))
    }

    func testWildcards() {
        let stat = ValueMatcher(.wildcard(["*STAT*"]))
        XCTAssertTrue(stat.matches(["CT HEAD stat"]))
        XCTAssertTrue(stat.matches(["STAT"]))
        XCTAssertFalse(stat.matches(["CT HEAD"]))
        XCTAssertTrue(ValueMatcher(.wildcard(["CT?"])).matches(["CT1"]))
        XCTAssertFalse(ValueMatcher(.wildcard(["CT?"])).matches(["CT12"]))
        XCTAssertTrue(ValueMatcher(.wildcard(["a*b*c"])).matches(["aXXbYYc"]))
        XCTAssertFalse(ValueMatcher(.wildcard(["a*b*c"])).matches(["aXXbYY"]))
        XCTAssertTrue(ValueMatcher(.wildcard(["*"])).matches(["anything"]))
        // Backtracking stays linear-ish on a hostile pattern.
        XCTAssertFalse(
            ValueMatcher(.wildcard([String(repeating: "*a", count: 30) + "b"])).matches([
                String(repeating: "a", count: 64)
            ]))
    }

    func testRegexIsFoundAnywhereAndIgnoresCase() throws {
        let stroke = ValueMatcher(.regex([try TextPattern("code\\s+stroke")]))
        XCTAssertTrue(stroke.matches(["CT HEAD CODE  STROKE"]))
        XCTAssertFalse(stroke.matches(["CT HEAD"]))
        let anchored = ValueMatcher(.regex([try TextPattern("^STAT$")]))
        XCTAssertTrue(anchored.matches(["stat"]))
        XCTAssertFalse(anchored.matches(["NOT STAT"]))
        XCTAssertThrowsError(try TextPattern("(unclosed"))
    }

    func testPresentAndAbsentTreatEmptyAsAbsent() {
        XCTAssertTrue(ValueMatcher(.present).matches(["ACC1"]))
        XCTAssertFalse(ValueMatcher(.present).matches([]))
        XCTAssertFalse(ValueMatcher(.present).matches(["  "]))
        XCTAssertFalse(ValueMatcher(.present).matches(nil))
        XCTAssertTrue(ValueMatcher(.absent).matches(nil))
        XCTAssertTrue(ValueMatcher(.absent).matches([""]))
        XCTAssertFalse(ValueMatcher(.absent).matches(["X"]))
    }

    func testTagsParseInEveryNotation() {
        XCTAssertEqual(DICOMTag(parsing: "(0008,1030)"), DICOMTag(0x0008, 0x1030))
        XCTAssertEqual(DICOMTag(parsing: "0040,1003"), .requestedProcedurePriority)
        XCTAssertEqual(DICOMTag(parsing: "0009abcd"), DICOMTag(0x0009, 0xABCD))
        XCTAssertNil(DICOMTag(parsing: "(0008,103)"))
        XCTAssertNil(DICOMTag(parsing: "Modality"))
        XCTAssertEqual(DICOMTag(0x0008, 0x1030).description, "(0008,1030)")
        XCTAssertTrue(DICOMTag(0x0009, 0x0010).isPrivate)
    }

    func testKeywordsResolveThroughTheDictionary() {
        XCTAssertEqual(DICOMDictionary.tag(forKeyword: "StudyDescription"), DICOMTag(0x0008, 0x1030))
        XCTAssertEqual(DICOMDictionary.tag(forKeyword: "RequestedProcedureDescription"), DICOMTag(0x0032, 0x1060))
        XCTAssertEqual(DICOMDictionary.tag(forKeyword: "Modality"), .modality)
        XCTAssertNil(DICOMDictionary.tag(forKeyword: "studydescription"), "keywords are case-sensitive")
        XCTAssertNil(DICOMDictionary.tag(forKeyword: "NoSuchKeyword"))
        XCTAssertEqual(DICOMDictionary.keyword(for: .requestedProcedurePriority), "RequestedProcedurePriority")
        XCTAssertEqual(DICOMDictionary.tag(keywordOrTag: "(0008,1030)"), DICOMTag(0x0008, 0x1030))
        XCTAssertEqual(DICOMDictionary.name(of: DICOMTag(0x0008, 0x0060)), "Modality (0008,0060)")
        XCTAssertGreaterThan(DICOMDictionary.keywords.count, 4000)
    }
}
