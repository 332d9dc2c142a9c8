/// A message flag: a system flag (`\Seen`, …) or a keyword (`$Forwarded`, `NonJunk`).
///
///     flag           = "\Answered" / "\Flagged" / "\Deleted" / "\Seen" / "\Draft" /
///                      flag-keyword / flag-extension
///     flag-keyword   = "$MDNSent" / "$Forwarded" / "$Junk" / "$NotJunk" / "$Phishing" /
///                      atom
///     flag-extension = "\" atom
///     flag-fetch     = flag / "\Recent"          ; RFC 3501 only
///
/// System flag names match case-insensitively and are kept in their canonical spelling;
/// keywords are kept as sent (RFC 9051 §2.3.2: they are case-insensitive too, which the
/// store applies when it compares them).
///
/// `\Recent` is parsed (so that a client sending it gets a precise refusal) but cannot be
/// set by a client (RFC 3501 §2.3.2); neither can an unknown `\` flag (`.extension`):
/// STORE and APPEND refuse both with BAD.
///
/// - SeeAlso: RFC 9051 §2.3.2 (flags), §9 (flag); RFC 3501 §2.3.2 (\Recent)
public enum Flag: Hashable, Sendable, CustomStringConvertible {
    /// `\Answered`
    case answered
    /// `\Flagged`
    case flagged
    /// `\Deleted`
    case deleted
    /// `\Seen`
    case seen
    /// `\Draft`
    case draft
    /// `\Recent` (RFC 3501): set by the server only; gone in IMAP4rev2.
    case recent
    /// A keyword (an atom), as sent.
    case keyword(String)
    /// A `\` flag we do not know (`flag-extension`), without the backslash.
    case `extension`(String)

    /// Whether a client may set or clear this flag with STORE or APPEND.
    public var isSettable: Bool {
        switch self {
        case .answered, .flagged, .deleted, .seen, .draft, .keyword: return true
        case .recent, .extension: return false
        }
    }

    /// The flag as written on the wire: `\Seen`, `$Forwarded`.
    public var description: String {
        switch self {
        case .answered: return "\\Answered"
        case .flagged: return "\\Flagged"
        case .deleted: return "\\Deleted"
        case .seen: return "\\Seen"
        case .draft: return "\\Draft"
        case .recent: return "\\Recent"
        case .keyword(let name): return name
        case .extension(let name): return "\\" + name
        }
    }

    /// The system flag for the atom after a backslash, matched case-insensitively.
    static func system(_ name: String) -> Flag {
        switch name.uppercased() {
        case "ANSWERED": return .answered
        case "FLAGGED": return .flagged
        case "DELETED": return .deleted
        case "SEEN": return .seen
        case "DRAFT": return .draft
        case "RECENT": return .recent
        default: return .extension(name)
        }
    }
}
