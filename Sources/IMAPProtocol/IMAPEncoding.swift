/// How strings go on the wire in responses: as an atom, a quoted string or a literal,
/// whichever the value allows.
///
///     astring = 1*ASTRING-CHAR / string
///     string  = quoted / literal
///     nstring = string / nil
///     quoted  = DQUOTE *QUOTED-CHAR DQUOTE
///     QUOTED-CHAR = <any TEXT-CHAR except quoted-specials> / "\" quoted-specials /
///                   UTF8-2 / UTF8-3 / UTF8-4
///     literal = "{" number64 ["+"] "}" CRLF *CHAR8
///
///     astring("INBOX")         INBOX
///     astring("two words")     "two words"
///     astring("")              ""
///     astring("a\"b")          "a\"b"
///     astring("line\r\nbreak") {11}CRLF line␍␊break
///
/// Non-ASCII text is quoted only when `allowUTF8` (the client speaks IMAP4rev2 or enabled
/// UTF8=ACCEPT, RFC 9051 §5.1, RFC 6855); otherwise, and for anything that is not UTF-8
/// or holds CR or LF, it is a literal, which every client accepts. A value holding NUL
/// can only be a `literal8` (`~{n}`, RFC 3516), which only BINARY contexts allow; callers
/// send message content through FETCH BINARY for that.
///
/// - SeeAlso: RFC 9051 §4.3 (strings), §9; RFC 3501 §4.3 (7-bit quoted strings)
public enum IMAPEncoding {
    /// An atom when every octet is an ASTRING-CHAR (and the value is not `NIL`, which
    /// a client could read as nil where an nstring is allowed), else `string`.
    public static func astring(_ value: String, allowUTF8: Bool = false) -> [UInt8] {
        astring(Array(value.utf8), allowUTF8: allowUTF8)
    }

    public static func astring(_ bytes: [UInt8], allowUTF8: Bool = false) -> [UInt8] {
        if !bytes.isEmpty, bytes.allSatisfy(IMAPGrammar.isAstringChar), !IMAPGrammar.matches(bytes, "NIL") {
            return bytes
        }
        return string(bytes, allowUTF8: allowUTF8)
    }

    /// A quoted string when the value allows it, else a literal.
    public static func string(_ value: String, allowUTF8: Bool = false) -> [UInt8] {
        string(Array(value.utf8), allowUTF8: allowUTF8)
    }

    public static func string(_ bytes: [UInt8], allowUTF8: Bool = false) -> [UInt8] {
        quoted(bytes, allowUTF8: allowUTF8) ?? literal(bytes)
    }

    /// `NIL` for `nil`, else `string`.
    public static func nstring(_ bytes: [UInt8]?, allowUTF8: Bool = false) -> [UInt8] {
        guard let bytes else { return Array("NIL".utf8) }
        return string(bytes, allowUTF8: allowUTF8)
    }

    /// The quoted form (with `"` and `\` escaped), or `nil` when the value cannot be
    /// quoted: it holds NUL, CR or LF, or octets over 0x7F that are not UTF-8 or not
    /// allowed (`allowUTF8` false).
    public static func quoted(_ value: String, allowUTF8: Bool = false) -> [UInt8]? {
        quoted(Array(value.utf8), allowUTF8: allowUTF8)
    }

    public static func quoted(_ bytes: [UInt8], allowUTF8: Bool = false) -> [UInt8]? {
        var hasEightBit = false
        for byte in bytes {
            if byte == 0 || byte == 13 || byte == 10 { return nil }
            if byte >= 0x80 { hasEightBit = true }
        }
        if hasEightBit {
            guard allowUTF8, String(validating: bytes, as: UTF8.self) != nil else { return nil }
        }
        var output: [UInt8] = [UInt8(ascii: "\"")]
        output.reserveCapacity(bytes.count + 2)
        for byte in bytes {
            if byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") { output.append(UInt8(ascii: "\\")) }
            output.append(byte)
        }
        output.append(UInt8(ascii: "\""))
        return output
    }

    /// `{n}` CRLF and the octets; `~{n}` (literal8, RFC 3516 §4.2) when they hold NUL,
    /// which a plain literal cannot carry (CHAR8 excludes it).
    public static func literal(_ bytes: [UInt8]) -> [UInt8] {
        let prefix = bytes.contains(0) ? "~{\(bytes.count)}\r\n" : "{\(bytes.count)}\r\n"
        return Array(prefix.utf8) + bytes
    }

    /// `text` as UTF-8 with CR, LF and NUL replaced by spaces: for response text, which
    /// must stay one line.
    static func withoutLineBreaks(_ text: String) -> [UInt8] {
        text.utf8.map { $0 == 13 || $0 == 10 || $0 == 0 ? UInt8(ascii: " ") : $0 }
    }
}
