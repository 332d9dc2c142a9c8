import MailCore

/// Character classes and small helpers of the IMAP grammar (RFC 9051 §9), on bytes. The
/// classes shared with SMTP and POP3 come from `MailCore.ASCII`.
enum IMAPGrammar {
    static func isDigit(_ byte: UInt8) -> Bool { ASCII.isDigit(byte) }

    static func isLetter(_ byte: UInt8) -> Bool { ASCII.isLetter(byte) }

    ///     CTL = %x00-1F / %x7F
    static func isControl(_ byte: UInt8) -> Bool { byte < 0x20 || byte == 0x7F }

    ///     ATOM-CHAR     = <any CHAR except atom-specials>
    ///     atom-specials = "(" / ")" / "{" / SP / CTL / list-wildcards /
    ///                     quoted-specials / resp-specials
    ///     list-wildcards = "%" / "*"
    ///     quoted-specials = DQUOTE / "\"
    ///     resp-specials = "]"
    static func isAtomChar(_ byte: UInt8) -> Bool {
        guard byte > 0x20, byte < 0x7F else { return false }
        switch byte {
        case UInt8(ascii: "("), UInt8(ascii: ")"), UInt8(ascii: "{"), UInt8(ascii: "%"), UInt8(ascii: "*"),
            UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "]"):
            return false
        default:
            return true
        }
    }

    ///     ASTRING-CHAR = ATOM-CHAR / resp-specials
    static func isAstringChar(_ byte: UInt8) -> Bool { isAtomChar(byte) || byte == UInt8(ascii: "]") }

    ///     tag = 1*<any ASTRING-CHAR except "+">
    static func isTagChar(_ byte: UInt8) -> Bool { isAstringChar(byte) && byte != UInt8(ascii: "+") }

    ///     list-char = ATOM-CHAR / list-wildcards / resp-specials
    static func isListChar(_ byte: UInt8) -> Bool {
        isAstringChar(byte) || byte == UInt8(ascii: "%") || byte == UInt8(ascii: "*")
    }

    /// ASCII case-insensitive comparison of `bytes` with an upper-case ASCII keyword.
    static func matches(_ bytes: ArraySlice<UInt8>, _ keyword: String) -> Bool {
        ASCII.matches(bytes, keyword: keyword)
    }

    static func matches(_ bytes: [UInt8], _ keyword: String) -> Bool {
        ASCII.matches(bytes[...], keyword: keyword)
    }

    static func upper(_ byte: UInt8) -> UInt8 { byte >= 0x61 && byte <= 0x7A ? byte - 0x20 : byte }

    /// ASCII bytes upper-cased as a String (for keywords, already checked to be atoms).
    static func upperString(_ bytes: some Collection<UInt8>) -> String {
        String(decoding: bytes.map(upper), as: UTF8.self)
    }

    /// A run of at most four digits (checked by the caller) as an Int.
    static func smallDecimal(_ digits: some Collection<UInt8>) -> Int {
        var value = 0
        for digit in digits.prefix(4) { value = value * 10 + Int(digit &- 0x30) }
        return value
    }

    /// `1*DIGIT` as a value of at most `maximum`; `nil` when empty, not digits, or larger.
    /// Every step checks before it multiplies, so no length of digits can overflow.
    static func decimal(_ digits: some Collection<UInt8>, maximum: UInt64) -> UInt64? {
        guard !digits.isEmpty else { return nil }
        var value: UInt64 = 0
        for byte in digits {
            guard isDigit(byte) else { return nil }
            let digit = UInt64(byte - 0x30)
            guard digit <= maximum, value <= (maximum - digit) / 10 else { return nil }
            value = value * 10 + digit
        }
        return value
    }

    // MARK: - BASE64
}

/// A command as the framer hands it to the grammar parser: the text of all its lines
/// (without CRLF and without the literal announcements) and the literals, each placed at
/// the text offset where it stands.
///
///     C: A001 LOGIN {4}          text "A001 LOGIN  ", literals: "fred" at 11,
///     C: fred {6}                                          "secret" at 12
///     C: secret
struct IMAPCommandFrame: Sendable {
    struct Literal: Sendable {
        /// Where in `text` the literal stands.
        var offset: Int
        var bytes: [UInt8]
        /// `~{n}` (RFC 3516 literal8).
        var isBinary: Bool
    }

    var text: [UInt8] = []
    var literals: [Literal] = []

    /// Octets held: text and literal data.
    var byteCount: Int { literals.reduce(text.count) { $0 + $1.bytes.count } }
}

/// Why the grammar parser stopped: the text for the client and how to answer.
struct IMAPSyntaxError: Error, Sendable {
    var kind: IMAPParseError.Kind
    var text: String

    init(_ kind: IMAPParseError.Kind, _ text: String) {
        self.kind = kind
        self.text = text
    }

    static func syntax(_ text: String) -> IMAPSyntaxError { IMAPSyntaxError(.syntax, text) }
}

/// A cursor over a frame: text bytes, and literals where they stand.
///
/// `peek` is `nil` both at the end and where a literal stands, so every rule that reads
/// text stops at a literal on its own; only the string rules take one.
struct IMAPScanner {
    let frame: IMAPCommandFrame
    private(set) var index = 0
    private(set) var literalIndex = 0

    init(_ frame: IMAPCommandFrame) {
        self.frame = frame
    }

    var isAtLiteral: Bool {
        literalIndex < frame.literals.count && frame.literals[literalIndex].offset == index
    }

    var isAtEnd: Bool { index >= frame.text.count && literalIndex >= frame.literals.count }

    /// The next text byte; `nil` at the end of the text or where a literal stands.
    var peek: UInt8? {
        guard !isAtLiteral, index < frame.text.count else { return nil }
        return frame.text[index]
    }

    /// The byte after `peek`, when both are text.
    var peekSecond: UInt8? {
        guard peek != nil, index + 1 < frame.text.count else { return nil }
        if literalIndex < frame.literals.count, frame.literals[literalIndex].offset == index + 1 { return nil }
        return frame.text[index + 1]
    }

    /// Moves past the byte `peek` returned.
    mutating func advance() {
        if peek != nil { index += 1 }
    }

    mutating func consume(_ byte: UInt8) -> Bool {
        guard peek == byte else { return false }
        index += 1
        return true
    }

    mutating func takeLiteral() -> IMAPCommandFrame.Literal? {
        guard isAtLiteral else { return nil }
        defer { literalIndex += 1 }
        return frame.literals[literalIndex]
    }

    /// The longest run of text bytes satisfying `predicate` (possibly empty).
    mutating func take(while predicate: (UInt8) -> Bool) -> ArraySlice<UInt8> {
        let start = index
        while let byte = peek, predicate(byte) { index += 1 }
        return frame.text[start..<index]
    }
}
