/// Which presentation contexts a new association proposes (PS3.8 §9.3.2.2).
///
/// The object at hand comes first: its SOP class with its own transfer syntax, then Explicit VR
/// Little Endian, then Implicit VR Little Endian, each as a separate context so the peer can pick
/// (it can accept only one syntax per context). Verification is always proposed, ahead of the
/// rest so it cannot fall off the end. The classes sent recently follow, each with every stored
/// syntax seen for it plus the two uncompressed fallbacks, so a stream mixing, say, SR and CT
/// objects, or uncompressed and JPEG-LS CT images, does not renegotiate at every switch. At most
/// 128 contexts, the protocol's limit (odd context IDs 1–255).
///
/// `decision(forSOPClass:transferSyntax:proposed:)` is the rule for reusing an open association.
struct PresentationContextPlan {
    /// A proposed context: one abstract syntax, one transfer syntax.
    struct Context: Hashable {
        var abstractSyntax: String
        var transferSyntax: String
    }

    static let verificationSOPClass = "1.2.840.10008.1.1"
    static let explicitVRLittleEndian = "1.2.840.10008.1.2.1"
    static let implicitVRLittleEndian = "1.2.840.10008.1.2"
    static let maximumContexts = 128
    static let maximumRememberedClasses = 16

    /// SOP classes sent recently, most recent first, each with the stored syntaxes seen for it.
    private(set) var recentClasses: [(sopClass: String, transferSyntaxes: [String])] = []

    /// Moves `sopClass` to the front and records `transferSyntax` as its preferred syntax.
    mutating func note(sopClass: String, transferSyntax: String) {
        var syntaxes: [String] = []
        if let index = recentClasses.firstIndex(where: { $0.sopClass == sopClass }) {
            syntaxes = recentClasses.remove(at: index).transferSyntaxes
        }
        syntaxes.removeAll { $0 == transferSyntax }
        syntaxes.insert(transferSyntax, at: 0)
        recentClasses.insert((sopClass, syntaxes), at: 0)
        if recentClasses.count > Self.maximumRememberedClasses { recentClasses.removeLast() }
    }

    /// The contexts to propose, in order.
    func contexts() -> [Context] {
        var result = [Context(abstractSyntax: Self.verificationSOPClass, transferSyntax: Self.implicitVRLittleEndian)]
        for (sopClass, syntaxes) in recentClasses {
            var ordered: [String] = []
            for syntax in syntaxes + [Self.explicitVRLittleEndian, Self.implicitVRLittleEndian]
            where !ordered.contains(syntax) {
                ordered.append(syntax)
            }
            guard result.count + ordered.count <= Self.maximumContexts else { break }
            result += ordered.map { Context(abstractSyntax: sopClass, transferSyntax: $0) }
        }
        return result
    }
}

// MARK: - Reusing an open association

extension PresentationContextPlan {
    /// What to do with the open association before sending an object on it.
    enum Decision: Equatable {
        /// Send on the open association: as stored when the remote accepted the object's
        /// (class, syntax) context, else converted to an accepted uncompressed syntax, else the
        /// send fails with "no presentation context accepted".
        case reuse
        /// Release it and negotiate a new association whose plan includes the object's class and
        /// syntax.
        case renegotiate
    }

    /// The renegotiation rule. A remote accepts a context only in a syntax we proposed for it
    /// (PS3.8 §9.3.2.2, §9.3.3.2), so "this association has no context in the object's syntax"
    /// means one of two things:
    ///
    /// - we proposed (class, syntax) on it and the remote declined: asking again gets the same
    ///   answer, so reuse; the shim decompresses to the uncompressed syntax the remote accepted,
    ///   losslessly, exactly as on a fresh association;
    /// - we never proposed it (the association was negotiated for earlier objects, say
    ///   uncompressed ones, or before a reload switched the destination to JPEG-LS): a new
    ///   association could carry the object as stored, so renegotiate rather than silently
    ///   decompress it.
    ///
    /// `proposed` is every context the open association was negotiated with, accepted or not.
    /// Because a new plan proposes every syntax seen for a class, a stream alternating between
    /// syntaxes renegotiates once, not at every switch.
    static func decision(forSOPClass sopClass: String, transferSyntax: String, proposed: Set<Context>) -> Decision {
        proposed.contains(Context(abstractSyntax: sopClass, transferSyntax: transferSyntax)) ? .reuse : .renegotiate
    }
}
