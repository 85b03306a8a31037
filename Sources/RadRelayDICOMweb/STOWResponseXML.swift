import Foundation

#if canImport(FoundationXML)
    import FoundationXML
#endif

extension STOWResponse {
    /// Parses an `application/dicom+xml` body: the Native DICOM Model (PS3.19 Annex A) of the
    /// STOW-RS response data set (PS3.18 §10.5.3), into exactly what `parse(json:)` extracts:
    /// Referenced SOP Sequence (0008,1199) items with Warning Reason (0008,1196), Failed SOP
    /// Sequence (0008,1198) items with Failure Reason (0008,1197), each by Referenced SOP Instance
    /// UID (0008,1155). Nil when the bytes are not such a document; a document with neither
    /// sequence parses to an empty response.
    ///
    /// Strict, because a response we cannot read fully must never count as a delivery: any
    /// parser error or warning, a root other than `NativeDicomModel`, a sequence holding anything
    /// but `Item`s (and empty `Value`s), a repeated or malformed `tag`, or an item without a UID
    /// makes the whole document nil. Hardened against hostile remotes: the body must be UTF-8, a document that
    /// declares any entity (`<!ENTITY`, internal or external) is refused before parsing, and
    /// external entities and DTDs are never loaded. Elements of a foreign XML namespace are
    /// skipped with their content; unprefixed elements and the PS3.19 namespace count.
    public static func parse(xml bytes: [UInt8]) -> STOWResponse? {
        guard let root = NativeDICOMModel.parse(bytes) else { return nil }
        guard let dataSet = NativeDICOMModel.attributes(of: root),
            let referenced = NativeDICOMModel.items(dataSet[referencedSOPSequence]),
            let failed = NativeDICOMModel.items(dataSet[failedSOPSequence])
        else { return nil }
        var response = STOWResponse()
        for item in referenced {
            guard let uid = NativeDICOMModel.uid(item[referencedSOPInstanceUID]) else { return nil }
            response.referenced[uid] = NativeDICOMModel.code(item[warningReason])
        }
        for item in failed {
            guard let uid = NativeDICOMModel.uid(item[referencedSOPInstanceUID]) else { return nil }
            response.failed[uid] = NativeDICOMModel.code(item[failureReason])
        }
        return response
    }
}

/// The few parts of the Native DICOM Model (PS3.19 Annex A) a STOW-RS response needs: a
/// document of `DicomAttribute` elements (keyed by `tag`), whose values are `Value` elements
/// or, for SQ, `Item` elements holding `DicomAttribute`s again.
enum NativeDICOMModel {
    /// The XML namespace of the Native DICOM Model (PS3.19 A.1).
    static let namespace = "http://dicom.nema.org/PS3.19/models/NativeDICOM"

    /// One element of the document (foreign-namespace elements are not kept).
    struct Element {
        var name: String
        var attributes: [String: String]
        var children: [Element] = []
        var text = ""
    }

    /// The document's root element when the bytes are a well-formed, entity-free UTF-8 XML
    /// document whose root is `NativeDicomModel`; nil otherwise.
    static func parse(_ bytes: [UInt8]) -> Element? {
        guard !bytes.isEmpty, let text = String(validating: bytes, as: UTF8.self) else { return nil }
        // Entities have no place in a STOW-RS response; refusing their declarations rules out
        // external entities (XXE) and expansion bombs whatever libxml2 would do with them.
        guard !text.contains("<!ENTITY") else { return nil }
        let parser = XMLParser(data: Data(bytes))
        parser.shouldProcessNamespaces = true
        parser.shouldReportNamespacePrefixes = false
        parser.shouldResolveExternalEntities = false
        let builder = TreeBuilder()
        parser.delegate = builder
        // FoundationXML parses in libxml2's recover mode: `parse()` can return true for a broken
        // document, so the error reports decide.
        let ok = withExtendedLifetime(builder) { parser.parse() }
        guard ok, parser.parserError == nil, !builder.failed, let root = builder.root,
            root.name == "NativeDicomModel"
        else { return nil }
        return root
    }

    /// The `DicomAttribute` children of a data set (the root or an `Item`) by upper-case tag;
    /// nil when one has no 8-hex-digit `tag` or a tag occurs twice.
    static func attributes(of dataSet: Element) -> [String: Element]? {
        var result: [String: Element] = [:]
        for child in dataSet.children where child.name == "DicomAttribute" {
            guard let tag = child.attributes["tag"]?.uppercased(), tag.utf8.count == 8,
                tag.allSatisfy(\.isHexDigit), result[tag] == nil
            else { return nil }
            result[tag] = child
        }
        return result
    }

    /// The items of an SQ attribute, each as its attributes by tag; [] when absent or empty, nil
    /// when malformed (a malformed item, or a child that is neither an `Item` nor an empty
    /// `Value`: Orthanc's DICOMweb plugin writes `<Value number="1" />` after a sequence's items).
    static func items(_ attribute: Element?) -> [[String: Element]]? {
        guard let attribute else { return [] }
        var result: [[String: Element]] = []
        for child in attribute.children {
            if child.name == "Value" && child.children.isEmpty
                && child.text.allSatisfy({ $0.isWhitespace })
            {
                continue
            }
            guard child.name == "Item", let item = attributes(of: child) else { return nil }
            result.append(item)
        }
        return result
    }

    /// The first value's text (`number="1"`, else the first `Value`), nil when there is none.
    static func firstValue(_ attribute: Element?) -> String? {
        guard let attribute else { return nil }
        let values = attribute.children.filter { $0.name == "Value" }
        return (values.first { $0.attributes["number"] == "1" } ?? values.first)?.text
    }

    private static let uidPadding = CharacterSet.whitespacesAndNewlines.union(CharacterSet(charactersIn: "\0"))

    /// A UI value without the padding and the layout whitespace around it; nil when empty.
    static func uid(_ attribute: Element?) -> String? {
        guard let value = firstValue(attribute) else { return nil }
        let trimmed = value.trimmingCharacters(in: uidPadding)
        return trimmed.isEmpty ? nil : trimmed
    }

    /// A US value (decimal as PS3.19 writes it; hexadecimal tolerated like the JSON path).
    static func code(_ attribute: Element?) -> UInt16? {
        guard let value = firstValue(attribute) else { return nil }
        let text = value.trimmingCharacters(in: .whitespacesAndNewlines)
        return UInt16(text) ?? UInt16(text.replacingOccurrences(of: "0x", with: ""), radix: 16)
    }

    /// SAX events → `Element` tree. Any error report fails the document.
    private final class TreeBuilder: NSObject, XMLParserDelegate {
        var root: Element?
        var failed = false
        private var stack: [Element] = []
        /// Depth inside a skipped (foreign-namespace) element; 0 when not skipping.
        private var skipping = 0

        func parser(
            _ parser: XMLParser,
            didStartElement elementName: String,
            namespaceURI: String?,
            qualifiedName qName: String?,
            attributes attributeDict: [String: String]
        ) {
            if skipping > 0 {
                skipping += 1
                return
            }
            if let uri = namespaceURI, !uri.isEmpty, uri != NativeDICOMModel.namespace {
                skipping = 1
                return
            }
            if stack.isEmpty && root != nil { failed = true }
            stack.append(Element(name: elementName, attributes: attributeDict))
        }

        func parser(
            _ parser: XMLParser,
            didEndElement elementName: String,
            namespaceURI: String?,
            qualifiedName qName: String?
        ) {
            if skipping > 0 {
                skipping -= 1
                return
            }
            guard let element = stack.popLast() else {
                failed = true
                return
            }
            if stack.isEmpty {
                root = element
            } else {
                stack[stack.count - 1].children.append(element)
            }
        }

        func parser(_ parser: XMLParser, foundCharacters string: String) {
            guard skipping == 0, !stack.isEmpty else { return }
            stack[stack.count - 1].text += string
        }

        func parser(_ parser: XMLParser, foundCDATA CDATABlock: Data) {
            guard skipping == 0, !stack.isEmpty else { return }
            stack[stack.count - 1].text += String(decoding: CDATABlock, as: UTF8.self)
        }

        func parser(_ parser: XMLParser, resolveExternalEntityName name: String, systemID: String?) -> Data? {
            failed = true
            return nil
        }

        func parser(_ parser: XMLParser, parseErrorOccurred parseError: Error) { failed = true }

        func parser(_ parser: XMLParser, validationErrorOccurred validationError: Error) { failed = true }
    }
}
