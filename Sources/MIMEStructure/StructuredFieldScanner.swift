/// A cursor over the unfolded value of a structured MIME field (Content-Type,
/// Content-Disposition, Content-Transfer-Encoding, Content-Language), with the lexical
/// rules of RFC 2045 §5.1 and the comments of RFC 5322 §3.2.2.
///
///     token      := 1*<any (US-ASCII) CHAR except SPACE, CTLs, or tspecials>
///     tspecials  := "(" / ")" / "<" / ">" / "@" / "," / ";" / ":" / "\" / <"> /
///                   "/" / "[" / "]" / "?" / "="
///     comment    = "(" *([FWS] ccontent) [FWS] ")"
///
/// Lenient where mailers are: 8-bit octets count as token characters, an unterminated
/// quoted string or comment runs to the end, and unquoted parameter values may hold
/// tspecials (`boundary=----=_Part_1`). Every method moves forward or returns, so no
/// input makes a loop over it spin.
struct StructuredFieldScanner {
    let bytes: [UInt8]
    var index: Int

    init(_ bytes: [UInt8]) {
        self.bytes = bytes
        self.index = 0
    }

    var isAtEnd: Bool { index >= bytes.count }

    var current: UInt8? { index < bytes.count ? bytes[index] : nil }

    /// Skips whitespace and comments (CFWS).
    mutating func skipCFWS() {
        while index < bytes.count {
            let byte = bytes[index]
            if MIMEGrammar.isWhitespace(byte) {
                index += 1
            } else if byte == UInt8(ascii: "(") {
                _ = readComment()
            } else {
                return
            }
        }
    }

    /// Reads the comment that starts at "(" and returns its text without the outer
    /// parentheses, quoted pairs undone. Nested comments are counted, not recursed into.
    mutating func readComment() -> [UInt8] {
        var depth = 0
        var text: [UInt8] = []
        while index < bytes.count {
            let byte = bytes[index]
            index += 1
            switch byte {
            case UInt8(ascii: "\\"):
                if index < bytes.count {
                    text.append(bytes[index])
                    index += 1
                }
            case UInt8(ascii: "("):
                if depth > 0 { text.append(byte) }
                depth += 1
            case UInt8(ascii: ")"):
                depth -= 1
                if depth <= 0 { return text }
                text.append(byte)
            default:
                text.append(byte)
            }
        }
        return text
    }

    static func isTokenCharacter(_ byte: UInt8) -> Bool {
        if byte <= 0x20 || byte == 0x7F { return false }
        switch byte {
        case UInt8(ascii: "("), UInt8(ascii: ")"), UInt8(ascii: "<"), UInt8(ascii: ">"), UInt8(ascii: "@"),
            UInt8(ascii: ","), UInt8(ascii: ";"), UInt8(ascii: ":"), UInt8(ascii: "\\"), UInt8(ascii: "\""),
            UInt8(ascii: "/"), UInt8(ascii: "["), UInt8(ascii: "]"), UInt8(ascii: "?"), UInt8(ascii: "="):
            return false
        default:
            return true
        }
    }

    /// Reads a token; nil (without moving) when none starts here.
    mutating func readToken() -> [UInt8]? {
        let start = index
        while index < bytes.count, Self.isTokenCharacter(bytes[index]) { index += 1 }
        return index > start ? Array(bytes[start..<index]) : nil
    }

    /// Reads the quoted string that starts at `"` and returns its content, quoted pairs
    /// undone and line breaks (folding) dropped.
    ///
    ///     quoted-string = [CFWS] DQUOTE *([FWS] qcontent) [FWS] DQUOTE [CFWS]
    mutating func readQuotedString() -> [UInt8] {
        index += 1
        var text: [UInt8] = []
        while index < bytes.count {
            let byte = bytes[index]
            index += 1
            if byte == UInt8(ascii: "\"") { return text }
            if byte == UInt8(ascii: "\\"), index < bytes.count {
                text.append(bytes[index])
                index += 1
                continue
            }
            if byte == MIMEGrammar.cr || byte == MIMEGrammar.lf { continue }
            text.append(byte)
        }
        return text
    }

    ///     value := token / quoted-string
    ///
    /// Unquoted values run to the next ";" or whitespace, tspecials included.
    mutating func readParameterValue() -> [UInt8] {
        if current == UInt8(ascii: "\"") { return readQuotedString() }
        let start = index
        while index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: ";") || MIMEGrammar.isWhitespace(byte) { break }
            index += 1
        }
        return Array(bytes[start..<index])
    }

    /// Skips to the next ";" (not consuming it), stepping over quoted strings.
    mutating func skipToSemicolon() {
        while index < bytes.count, bytes[index] != UInt8(ascii: ";") {
            if bytes[index] == UInt8(ascii: "\"") {
                _ = readQuotedString()
            } else {
                index += 1
            }
        }
    }

    /// Reads `*(";" parameter)` up to the end, at most `limit` parameters; a malformed
    /// parameter is skipped up to the next ";".
    ///
    ///     parameter := attribute "=" value
    ///     attribute := token
    mutating func readParameters(limit: Int) -> [(name: [UInt8], value: [UInt8])] {
        var parameters: [(name: [UInt8], value: [UInt8])] = []
        while index < bytes.count, parameters.count < limit {
            skipCFWS()
            guard let byte = current else { break }
            if byte == UInt8(ascii: ";") {
                index += 1
                continue
            }
            guard let name = readToken() else {
                skipToSemicolon()
                continue
            }
            skipCFWS()
            guard current == UInt8(ascii: "=") else {
                skipToSemicolon()
                continue
            }
            index += 1
            skipCFWS()
            let value = readParameterValue()
            parameters.append((name: name, value: value))
        }
        return parameters
    }
}
