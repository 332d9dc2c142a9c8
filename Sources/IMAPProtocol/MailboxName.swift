import MailCore
/// A mailbox name as the client sent it: UTF-8 text (IMAP4rev2 and UTF8=ACCEPT, RFC 9051
/// §5.1) or, from an IMAP4rev1 client, modified UTF-7 in ASCII (RFC 3501 §5.1.3), which
/// the session converts with `decodeModifiedUTF7`/`encodeModifiedUTF7` when it knows
/// which the client speaks. `INBOX` in any case is the inbox and is stored as "INBOX".
///
///     mailbox = "INBOX" / astring
///               ; INBOX is case-insensitive. All case variants of INBOX (e.g.,
///               ; "iNbOx") MUST be interpreted as INBOX not as an astring.
///
///     C: A142 SELECT INBOX         MailboxName.inbox
///     C: A142 SELECT iNbOx         MailboxName.inbox
///     C: A932 EXAMINE blurdybloop  MailboxName("blurdybloop")
///
/// The parser refuses names that are not UTF-8 or that contain control characters
/// (RFC 9051 §5.1: they "SHOULD NOT" be used; they could not be echoed in a response
/// line without a literal, and have no use).
///
/// - SeeAlso: RFC 9051 §5.1, §9 (mailbox); RFC 3501 §5.1.3 (modified UTF-7)
public struct MailboxName: Hashable, Sendable, CustomStringConvertible {
    /// The name; "INBOX" for every case variant of it.
    public let name: String

    public init(_ name: String) {
        self.name = MailboxName.isInboxName(name) ? "INBOX" : name
    }

    public static let inbox = MailboxName("INBOX")

    public var isInbox: Bool { name == "INBOX" }

    /// The name quoted and escaped, for logs.
    public var description: String { String(reflecting: name) }

    static func isInboxName(_ name: String) -> Bool {
        let bytes = Array(name.utf8)
        return bytes.count == 5 && IMAPGrammar.matches(bytes[...], "INBOX")
    }

    // MARK: - Modified UTF-7

    /// The Unicode name for a name in modified UTF-7, or `nil` when `text` is not
    /// well-formed modified UTF-7 (`ModifiedUTF7.decode`).
    ///
    ///     &ZeVnLIqe-     日本語
    ///
    /// - SeeAlso: RFC 3501 §5.1.3
    public static func decodeModifiedUTF7(_ text: String) -> String? { ModifiedUTF7.decode(text) }

    /// `text` in modified UTF-7 (`ModifiedUTF7.encode`).
    public static func encodeModifiedUTF7(_ text: String) -> String { ModifiedUTF7.encode(text) }
}
