/// RFC 2047 encoded words, decoded for display and SEARCH.
///
///     encoded-word = "=?" charset "?" encoding "?" encoded-text "?="
///     charset      = token    ; may carry a language: "US-ASCII*EN" (RFC 2231 §5)
///     encoding     = "B" / "Q"
///
///     "=?ISO-8859-1?Q?Keld_J=F8rn_Simonsen?="                 "Keld Jørn Simonsen"
///     "=?ISO-8859-1?Q?a?= =?ISO-8859-1?Q?b?="                 "ab"
///     "=?ISO-8859-1?Q?a?= b"                                  "a b"
///
/// Whitespace between two encoded words is dropped (§6.2). Adjacent encoded words in
/// the same charset are decoded together, so a character split across two words (which
/// §5 forbids, and mailers do) survives. Text outside encoded words is read as UTF-8,
/// or windows-1252 when it is not valid UTF-8 (raw 8-bit headers).
///
/// Charsets: those `Charset` converts. An encoded word in another charset is decoded
/// anyway when its octets are all ASCII and the charset is ASCII-compatible (so
/// `=?ISO-8859-2?Q?_b?=` is " b"); otherwise it stays as written. Malformed words stay
/// as written. Lenient where mailers are: lower-case `b`/`q`, words longer than 75
/// characters (up to `maximumLength`), words inside quoted strings and not separated
/// from the text around them.
///
/// - SeeAlso: RFC 2047 §2 (syntax), §4 (B and Q), §6.2 (display), §8 (examples);
///   RFC 2231 §5 (language)
public enum EncodedWord {
    /// The longest encoded word recognised. RFC 2047 §2 allows 75 characters; longer ones
    /// are common. Bounds the look-ahead at each "=?", keeping decoding linear.
    public static let maximumLength = 1000

    /// The text of a header field value with its encoded words decoded.
    public static func decode(_ value: [UInt8]) -> String {
        var output = ""
        var plain: [UInt8] = []
        var pendingWhitespace: [UInt8] = []
        var encoded: [UInt8] = []
        var encodedCharset: String? = nil
        var lastWasEncoded = false

        func flushPlain() {
            guard !plain.isEmpty else { return }
            output += Charset.decodeUnlabelled(plain)
            plain.removeAll(keepingCapacity: true)
        }
        func flushEncoded() {
            guard let charset = encodedCharset else { return }
            output += Charset.decode(encoded, charset: charset) ?? Charset.decodeUnlabelled(encoded)
            encoded.removeAll(keepingCapacity: true)
            encodedCharset = nil
        }

        var index = 0
        while index < value.count {
            let byte = value[index]
            if byte == UInt8(ascii: "="), index + 1 < value.count, value[index + 1] == UInt8(ascii: "?"),
                let word = parse(value, at: index)
            {
                if lastWasEncoded {
                    pendingWhitespace.removeAll()
                } else {
                    plain.append(contentsOf: pendingWhitespace)
                    pendingWhitespace.removeAll()
                    flushPlain()
                }
                if let charset = encodedCharset, !MIMEGrammar.equalsIgnoringCase(charset.utf8, word.charset.utf8) {
                    flushEncoded()
                }
                encodedCharset = word.charset
                encoded.append(contentsOf: word.octets)
                lastWasEncoded = true
                index = word.end
                continue
            }
            if MIMEGrammar.isWhitespace(byte) {
                if lastWasEncoded {
                    pendingWhitespace.append(byte)
                } else {
                    plain.append(byte)
                }
                index += 1
                continue
            }
            if lastWasEncoded {
                flushEncoded()
                plain.append(contentsOf: pendingWhitespace)
                pendingWhitespace.removeAll()
                lastWasEncoded = false
            }
            plain.append(byte)
            index += 1
        }
        flushEncoded()
        plain.append(contentsOf: pendingWhitespace)
        flushPlain()
        return output
    }

    /// A decoded encoded word: its charset (language removed), its octets, and where it
    /// ends in the value.
    struct Word {
        var charset: String
        var octets: [UInt8]
        var end: Int
    }

    /// The encoded word starting at `start` ("=?"), decoded; nil when there is none, or
    /// when its charset can be neither converted nor read as ASCII.
    static func parse(_ value: [UInt8], at start: Int) -> Word? {
        let limit = min(value.count, start + maximumLength)
        // charset: up to the next "?"
        var index = start + 2
        let charsetStart = index
        while index < limit, value[index] != UInt8(ascii: "?") {
            let byte = value[index]
            if MIMEGrammar.isWhitespace(byte) || byte < 0x21 || byte >= 0x7F { return nil }
            index += 1
        }
        guard index < limit, index > charsetStart else { return nil }
        var charsetBytes = value[charsetStart..<index]
        if let star = charsetBytes.firstIndex(of: UInt8(ascii: "*")) {
            charsetBytes = charsetBytes[charsetBytes.startIndex..<star]
        }
        guard !charsetBytes.isEmpty else { return nil }
        let charset = String(decoding: charsetBytes, as: UTF8.self)

        // encoding: one letter and "?"
        index += 1
        guard index + 1 < limit, value[index + 1] == UInt8(ascii: "?") else { return nil }
        let encoding = MIMEGrammar.uppercased(value[index])
        guard encoding == UInt8(ascii: "B") || encoding == UInt8(ascii: "Q") else { return nil }
        index += 2

        // encoded-text: up to "?=", no whitespace
        let textStart = index
        while index + 1 < limit {
            let byte = value[index]
            if byte == UInt8(ascii: "?"), value[index + 1] == UInt8(ascii: "=") { break }
            if MIMEGrammar.isWhitespace(byte) { return nil }
            index += 1
        }
        guard index + 1 < limit, value[index] == UInt8(ascii: "?"), value[index + 1] == UInt8(ascii: "=") else {
            return nil
        }
        let text = value[textStart..<index]
        let octets =
            encoding == UInt8(ascii: "B") ? ContentTransferEncoding.decodeBase64(text) : decodeQ(text)
        let word = Word(charset: charset, octets: octets, end: index + 2)

        if Charset.isSupported(charset) { return word }
        if Charset.isASCIICompatible(charset), octets.allSatisfy({ $0 < 0x80 && $0 != 0x1B }) {
            return Word(charset: "us-ascii", octets: octets, end: index + 2)
        }
        return nil
    }

    /// The "Q" encoding: quoted-printable where "_" is a space (RFC 2047 §4.2).
    static func decodeQ(_ text: ArraySlice<UInt8>) -> [UInt8] {
        var output: [UInt8] = []
        output.reserveCapacity(text.count)
        var index = text.startIndex
        while index < text.endIndex {
            let byte = text[index]
            if byte == UInt8(ascii: "_") {
                output.append(MIMEGrammar.space)
                index += 1
            } else if byte == UInt8(ascii: "="), index + 2 < text.endIndex,
                let high = MIMEGrammar.hexValue(text[index + 1]), let low = MIMEGrammar.hexValue(text[index + 2])
            {
                output.append(high << 4 | low)
                index += 3
            } else {
                output.append(byte)
                index += 1
            }
        }
        return output
    }
}
