import CDCMTK
import RadRelayCore

extension DICOMFileInspector {
    /// `inspect`, plus the values of `attributes` from the main dataset, in the same single
    /// parse (issue 4: routing rules match any attribute; ingest must not read each file twice).
    ///
    /// A returned entry is present in the dataset; its values are split at `\` and keep their
    /// padding (the router trims it). An empty attribute maps to `[]`, a missing one has no
    /// entry. Text is as stored: bytes that are not UTF-8 (a Latin-1 description, say) come back
    /// as U+FFFD, so rules should test ASCII patterns, as descriptions almost always are.
    public static func inspect(
        path: String,
        transferSyntaxHint: String? = nil,
        expectedSOPClass: String? = nil,
        expectedSOPInstance: String? = nil,
        attributes: [DICOMTag]
    ) throws(InspectionError) -> (object: InspectedObject, attributes: [DICOMTag: [String]]) {
        try? DCMTKRuntime.initialize()
        try checkNestingDepth(path: path, transferSyntaxHint: transferSyntaxHint)
        let collector = AttributeCollector(tags: attributes)
        var raw = rr_inspection()
        var error = rr_error()
        let keys = attributes.map(\.value)
        let code = keys.withUnsafeBufferPointer { buffer in
            rr_inspect_file_attributes(
                path, transferSyntaxHint, buffer.baseAddress, buffer.count, collectAttribute,
                Unmanaged.passUnretained(collector).toOpaque(), &raw, &error)
        }
        switch code {
        case Int32(RR_INSPECT_OK): break
        case Int32(RR_INSPECT_UNREADABLE): throw .unreadable(String(cMessage: error))
        default: throw .parseFailed(String(cMessage: error))
        }
        let object = try interpret(raw, expectedSOPClass: expectedSOPClass, expectedSOPInstance: expectedSOPInstance)
        return (object, withExtendedLifetime(collector) { collector.values })
    }
}

/// Gathers the callback's values; lives only for one call, on one thread.
private final class AttributeCollector {
    let tags: [DICOMTag]
    var values: [DICOMTag: [String]] = [:]

    init(tags: [DICOMTag]) { self.tags = tags }

    func add(index: Int, value: String) {
        guard tags.indices.contains(index) else { return }
        values[tags[index]] =
            value.isEmpty ? [] : value.split(separator: "\\", omittingEmptySubsequences: false).map(String.init)
    }
}

/// A plain C function pointer forwarding to the collector passed as context.
private let collectAttribute: rr_attribute_fn = { context, index, value in
    guard let context, let value else { return }
    Unmanaged<AttributeCollector>.fromOpaque(context).takeUnretainedValue().add(
        index: index, value: String(cString: value))
}
