// How mailbox names become Maildir++ folder directories, and back.
//
// Layout: Dovecot's Maildir++ with `separator = /` (doc.dovecot.org "Maildir mailbox
// format", "Mailbox names"). INBOX is the account's Maildir itself; every other mailbox
// is a directory directly in it, named "." followed by its levels joined with ".":
//
//     INBOX        <account>/
//     Sent         <account>/.Sent/
//     a/b          <account>/.a.b/
//     INBOX/x      <account>/.INBOX.x/
//     Entwürfe     <account>/.Entw&APw-rfe/
//     v1.2         <account>/.v1\2e2/
//
// Each level is written in modified UTF-7 (RFC 3501 §5.1.3), Dovecot's default for
// Maildir++ folder names, so a Maildir Dovecot kept can be served and ours can be read
// by Dovecot. The on-disk level separator "." cannot stand for itself inside a level,
// so it is escaped as `\2e`, and the escape character "\" as `\5c` — what Dovecot's
// `listescape` plugin writes. "/" is the IMAP separator and never occurs in a level.
//
// Security: names come from clients. Every name has passed `MailboxNaming.problem(with:)`
// before it gets here (no empty, "." or ".." level, no control characters, bounded
// length). Whatever the name, the directory name it maps to is one path component
// (modified UTF-7 writes "/" in base64 as ","), starts with "." (so it never collides
// with `cur`, `new`, `tmp`, the index or `dovecot-uidlist`), and is never "." or ".."
// (a level is never empty, and "." is escaped). The mapping is injective: modified
// UTF-7 is, the escapes are, and "." only ever separates levels. Directory names read
// from disk are accepted only when they decode to a valid name that maps back to the
// very same directory name, so listing and opening always agree.
// Limits: a level of up to 200 octets (MailboxNaming) can grow to 600 characters when it
// is all dots; a name the file system refuses as too long is `.limitExceeded`.

import MailCore
import MailStore

/// The mapping between mailbox names and Maildir++ folder directory names.
///
/// - SeeAlso: RFC 3501 §5.1.3 (modified UTF-7), doc.dovecot.org "Maildir mailbox format"
enum MaildirFolderName {
    /// The directory-name prefix of trees being deleted (`..deleted.<unique>`). No folder
    /// name starts with two dots: a level's leading "." is always escaped.
    static let deletedPrefix = "..deleted."

    /// `name` with its first level in upper case when that level is INBOX (`inbox/x` →
    /// `INBOX/x`): INBOX is case-insensitive (RFC 9051 §5.1), and so is it as the parent
    /// of its children, as Dovecot treats it.
    static func normalized(_ name: String) -> String {
        let levels = name.split(separator: MailboxNaming.separator, maxSplits: 1, omittingEmptySubsequences: false)
        // ASCII case only: "ınbox" (dotless ı) is not INBOX, though Unicode upper-cases it so.
        guard let first = levels.first, first.utf8.count == 5,
            first.utf8.map({ $0 | 0x20 }).elementsEqual("inbox".utf8)
        else { return name }
        return levels.count == 1 ? "INBOX" : "INBOX" + String(MailboxNaming.separator) + levels[1]
    }

    /// Whether `name` is `prefix` followed by more, compared octet by octet (Swift's
    /// `hasPrefix` compares canonically equivalent text as equal, but two names that
    /// differ only in Unicode normalization are two mailboxes, in two directories).
    static func hasPrefix(_ name: String, _ prefix: String) -> Bool {
        name.utf8.count > prefix.utf8.count && name.utf8.starts(with: prefix.utf8)
    }

    /// `name` with `prefix` (an octet prefix ending at a separator) replaced by `replacement`.
    static func replacingPrefix(_ prefix: String, of name: String, with replacement: String) -> String {
        replacement + String(decoding: name.utf8.dropFirst(prefix.utf8.count), as: UTF8.self)
    }

    /// The directory name (`.a.b`) of a valid, normalized mailbox name other than INBOX.
    static func directoryName(for name: String) -> String {
        var result = ""
        for level in name.split(separator: MailboxNaming.separator, omittingEmptySubsequences: false) {
            result += "."
            for character in encodeModifiedUTF7(String(level)) {
                switch character {
                case ".": result += "\\2e"
                case "\\": result += "\\5c"
                default: result.append(character)
                }
            }
        }
        return result
    }

    /// The mailbox name a folder directory stands for, or nil when the directory is no
    /// folder of ours: not starting with ".", not decodable, not a valid name, INBOX
    /// itself, or not in the canonical form `directoryName(for:)` writes.
    static func mailboxName(forDirectory directory: String) -> String? {
        guard directory.utf8.first == UInt8(ascii: "."), directory.utf8.dropFirst().first != UInt8(ascii: ".") else {
            return nil
        }
        var levels: [String] = []
        for encoded in directory.dropFirst().split(separator: ".", omittingEmptySubsequences: false) {
            guard let unescaped = unescape(encoded), let level = decodeModifiedUTF7(unescaped) else { return nil }
            levels.append(level)
        }
        let name = levels.joined(separator: String(MailboxNaming.separator))
        guard MailboxNaming.problem(with: name) == nil, normalized(name) == name, name != "INBOX",
            directoryName(for: name) == directory
        else { return nil }
        return name
    }

    /// `\XX` (two hex digits) → the byte; nil for a malformed escape or a non-ASCII result.
    private static func unescape(_ text: Substring) -> String? {
        var output: [UInt8] = []
        var bytes = text.utf8[...]
        while let byte = bytes.popFirst() {
            guard byte == UInt8(ascii: "\\") else {
                output.append(byte)
                continue
            }
            guard let high = bytes.popFirst().flatMap(hexValue), let low = bytes.popFirst().flatMap(hexValue) else {
                return nil
            }
            output.append(high << 4 | low)
        }
        return String(decoding: output, as: UTF8.self)
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return byte - UInt8(ascii: "A") + 10
        default: return nil
        }
    }

    // MARK: - Modified UTF-7 (RFC 3501 §5.1.3)
    //
    // A copy of IMAPProtocol's coder: the store may not import a protocol module.

    /// Modified UTF-7, as Dovecot names folder directories (`MailCore.ModifiedUTF7`).
    ///
    ///     Entwürfe → Entw&APw-rfe        日本語 → &ZeVnLIqe-        & → &-
    static func encodeModifiedUTF7(_ text: String) -> String { ModifiedUTF7.encode(text) }

    /// The text of a modified UTF-7 string, or nil when it is malformed. Anything it
    /// accepts that is not canonical is caught by the round-trip check in
    /// `mailboxName(forDirectory:)`.
    static func decodeModifiedUTF7(_ text: String) -> String? { ModifiedUTF7.decode(text) }
}
