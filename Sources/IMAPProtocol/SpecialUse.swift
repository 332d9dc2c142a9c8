/// A special-use attribute (RFC 6154): what a mailbox is for.
///
///     use-attr = "\All" / "\Archive" / "\Drafts" / "\Flagged" / "\Junk" / "\Sent" /
///                "\Trash" / use-attr-ext
///     use-attr-ext = "\" atom
///
///     C: t1 CREATE "Important Messages" (USE (\Flagged))
///
/// Known attributes are kept in their canonical spelling whatever case the client used;
/// unknown ones are kept as sent, so that CREATE can refuse them with `NO [USEATTR]`
/// (RFC 6154 §3) rather than BAD.
///
/// - SeeAlso: RFC 6154 §2, §3, §6; RFC 9051 §7.3.1
public struct SpecialUse: Hashable, Sendable, CustomStringConvertible {
    /// With its backslash: `\Sent`.
    public let name: String

    public init(_ name: String) {
        let known = SpecialUse.known.first { $0.uppercased() == name.uppercased() }
        self.name = known ?? name
    }

    public static let all = SpecialUse("\\All")
    public static let archive = SpecialUse("\\Archive")
    public static let drafts = SpecialUse("\\Drafts")
    public static let flagged = SpecialUse("\\Flagged")
    public static let junk = SpecialUse("\\Junk")
    public static let sent = SpecialUse("\\Sent")
    public static let trash = SpecialUse("\\Trash")

    static let known = ["\\All", "\\Archive", "\\Drafts", "\\Flagged", "\\Junk", "\\Sent", "\\Trash"]

    /// One of the seven of RFC 6154 §2.
    public var isKnown: Bool { SpecialUse.known.contains(name) }

    public var description: String { name }
}
