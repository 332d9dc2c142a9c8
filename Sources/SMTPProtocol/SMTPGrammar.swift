import MailCore

/// Character classes of RFC 5321 §4.1.2 and RFC 5322 §3.2.3, on bytes.
enum SMTPGrammar {
    /// RFC 5322 §3.2.3 atext; one definition, in MailCore.
    static func isAtext(_ byte: UInt8) -> Bool { MailAddress.isAtext(byte) }

    static func isLetterOrDigit(_ byte: UInt8) -> Bool { ASCII.isLetterOrDigit(byte) }

    static func isDigit(_ byte: UInt8) -> Bool { ASCII.isDigit(byte) }

    /// ASCII case-insensitive comparison of `bytes` with an upper-case ASCII keyword.
    static func matches(_ bytes: ArraySlice<UInt8>, _ keyword: String) -> Bool { ASCII.matches(bytes, keyword: keyword) }

    ///     xtext = *( xchar / hexchar )
    ///     xchar = any ASCII CHAR between "!" (33) and "~" (126) inclusive, except "+" and "="
    ///     hexchar = "+" 2(%x30-39 / %x41-46)
    ///
    /// - SeeAlso: RFC 3461 §4
    static func decodeXtext(_ bytes: ArraySlice<UInt8>) -> String? {
        var out: [UInt8] = []
        var index = bytes.startIndex
        while index < bytes.endIndex {
            let byte = bytes[index]
            if byte == UInt8(ascii: "+") {
                guard index + 2 < bytes.endIndex,
                    let high = hexValue(bytes[index + 1]), let low = hexValue(bytes[index + 2])
                else { return nil }
                let decoded = high << 4 | low
                // RFC 3461 §4: the values are printable US-ASCII; a decoded CR, LF or
                // NUL could end up in a header field of a bounce.
                guard decoded >= 0x20, decoded < 0x7F else { return nil }
                out.append(decoded)
                index += 3
            } else {
                guard byte >= 33, byte <= 126, byte != UInt8(ascii: "=") else { return nil }
                out.append(byte)
                index += 1
            }
        }
        return String(validating: out, as: UTF8.self)
    }

    static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return byte - UInt8(ascii: "0")
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return byte - UInt8(ascii: "A") + 10
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return byte - UInt8(ascii: "a") + 10
        default: return nil
        }
    }
}
