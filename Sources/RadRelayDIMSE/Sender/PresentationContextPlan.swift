/// Which presentation contexts a new association proposes (PS3.8 §9.3.2.2).
///
/// The object at hand comes first: its SOP class with its own transfer syntax, then Explicit VR
/// Little Endian, then Implicit VR Little Endian, each as a separate context so the peer can pick
/// (it can accept only one syntax per context). Verification is always proposed, ahead of the
/// rest so it cannot fall off the end. The classes sent recently follow, so a study mixing, say,
/// CT and SR objects does not renegotiate at every switch. At most 128 contexts, the protocol's
/// limit (odd context IDs 1–255).
struct PresentationContextPlan {
    /// A proposed context: one abstract syntax, one transfer syntax.
    struct Context: Equatable {
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
