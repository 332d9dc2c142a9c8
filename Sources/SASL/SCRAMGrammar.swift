import Foundation

/// The rules of RFC 5802 §7 that several SCRAM messages share.
///
/// Every SCRAM message is a comma-separated list of attributes (`x=value`), and no
/// attribute value can contain a comma (`saslname` escapes it as `=2C`; `printable`,
/// `base64` and `value-char` exclude it). So a message is first cut at its commas and
/// then each field is parsed by its own rule; the messages' own rules live with their
/// types (`SCRAMClientFirstMessage`, `SCRAMClientFinalMessage`).
///
/// - SeeAlso: RFC 5802 §5.1 (attributes), §7 (formal syntax)
enum SCRAMGrammar {
    static let comma = UInt8(ascii: ",")
    static let equals = UInt8(ascii: "=")

    /// The message cut at every comma, empty fields kept (so `"a=1,,b=2"` has three).
    static func fields(_ bytes: ArraySlice<UInt8>) -> [ArraySlice<UInt8>] {
        bytes.split(separator: comma, omittingEmptySubsequences: false)
    }

    /// The value of `field` when it is the attribute `name` (`name "=" value`), else `nil`.
    /// Attribute names are case-sensitive (RFC 5802 §5.1).
    static func attributeValue(_ field: ArraySlice<UInt8>, name: Unicode.Scalar) -> ArraySlice<UInt8>? {
        guard field.starts(with: [UInt8(ascii: name), equals]) else { return nil }
        return field.dropFirst(2)
    }

    /// RFC 5802 §5.1: "The characters ',' or '=' in usernames are sent as '=2C' and
    /// '=3D' respectively. If the server receives a username that contains '=' not
    /// followed by either '2C' or '3D', then the server MUST fail the authentication."
    /// The decoded name is held to `SASLLimits.maximumFieldLength` octets and must be
    /// UTF-8.
    ///
    ///     saslname        = 1*(value-safe-char / "=2C" / "=3D")
    ///                       ;; Conforms to <value>.
    ///     value-safe-char = %x01-2B / %x2D-3C / %x3E-7F /
    ///                       UTF8-2 / UTF8-3 / UTF8-4
    ///                       ;; UTF8-char except NUL, "=", and ",".
    static func parseSaslname(_ value: ArraySlice<UInt8>) throws(SASLError) -> String {
        guard !value.isEmpty else { throw SASLError(.malformed, hint: "SCRAM saslname is empty") }
        var decoded: [UInt8] = []
        decoded.reserveCapacity(value.count)
        var index = value.startIndex
        while index < value.endIndex {
            let byte = value[index]
            switch byte {
            case 0x00, comma:
                throw SASLError(.malformed, hint: "SCRAM saslname contains NUL or ','")
            case equals:
                let escape = value[index...].dropFirst().prefix(2)
                if escape.elementsEqual("2C".utf8) {
                    decoded.append(comma)
                } else if escape.elementsEqual("3D".utf8) {
                    decoded.append(equals)
                } else {
                    throw SASLError(.malformed, hint: "SCRAM saslname has '=' not followed by 2C or 3D")
                }
                // Three octets were present: "=" and the two of `escape`.
                index += 3
            default:
                decoded.append(byte)
                index += 1
            }
        }
        guard decoded.count <= SASLLimits.maximumFieldLength else {
            throw SASLError(.tooLong, hint: "SCRAM user name or authzid longer than 255 octets")
        }
        guard let name = decodeUTF8(decoded) else {
            throw SASLError(.malformed, hint: "SCRAM saslname is not UTF-8")
        }
        return name
    }

    /// The client's nonce, or (in client-final) the combined nonce. RFC 5802 writes
    /// `c-nonce = printable`, one character; every implementation, and §5.1's "a
    /// sequence of random printable ASCII characters", read it as `1*printable`.
    ///
    ///     nonce           = "r=" c-nonce [s-nonce]
    ///                       ;; Second part provided by server.
    ///     c-nonce         = printable
    ///     s-nonce         = printable
    ///     printable       = %x21-2B / %x2D-7E
    ///                       ;; Printable ASCII except ",".
    static func parseNonce(_ field: ArraySlice<UInt8>) throws(SASLError) -> [UInt8] {
        guard let value = attributeValue(field, name: "r") else {
            throw SASLError(.malformed, hint: "SCRAM nonce (r=) missing")
        }
        guard !value.isEmpty, value.allSatisfy(isPrintable) else {
            throw SASLError(.malformed, hint: "SCRAM nonce is empty or not printable ASCII")
        }
        return Array(value)
    }

    /// Optional extensions: syntax-checked, then ignored — RFC 5802 §5.1 "unrecognized
    /// attributes not defined in this document MUST be ignored".
    ///
    ///     extensions      = attr-val *("," attr-val)
    static func parseExtensions(_ fields: ArraySlice<ArraySlice<UInt8>>) throws(SASLError) {
        for field in fields { try parseAttrVal(field) }
    }

    /// One attribute of the generic form.
    ///
    ///     attr-val        = ALPHA "=" value
    ///     value           = 1*value-char
    ///     value-char      = value-safe-char / "="
    static func parseAttrVal(_ field: ArraySlice<UInt8>) throws(SASLError) {
        guard let name = field.first, isALPHA(name), field.dropFirst().first == equals else {
            throw SASLError(.malformed, hint: "SCRAM extension is not ALPHA \"=\" value")
        }
        let value = field.dropFirst(2)
        guard !value.isEmpty, !value.contains(0), decodeUTF8(value) != nil else {
            throw SASLError(.malformed, hint: "SCRAM extension value is empty or not UTF-8 without NUL")
        }
    }

    /// Checks the strict base64 syntax and decodes it.
    ///
    ///     base64-char     = ALPHA / DIGIT / "/" / "+"
    ///     base64-4        = 4base64-char
    ///     base64-3        = 3base64-char "="
    ///     base64-2        = 2base64-char "=="
    ///     base64          = *base64-4 [base64-3 / base64-2]
    static func parseBase64(_ value: ArraySlice<UInt8>) throws(SASLError) -> [UInt8] {
        // `*base64-4` allows nothing at all; decode it here rather than rely on Foundation.
        guard !value.isEmpty else { return [] }
        let padding = value.reversed().prefix(while: { $0 == equals }).count
        guard value.count % 4 == 0, padding <= 2, value.dropLast(padding).allSatisfy(isBase64Char),
            let decoded = Data(base64Encoded: Data(value))
        else {
            throw SASLError(.malformed, hint: "SCRAM base64 value is malformed")
        }
        return Array(decoded)
    }

    // MARK: - Character classes (RFC 5234 Appendix B.1, RFC 5802 §7)

    /// `printable = %x21-2B / %x2D-7E`
    static func isPrintable(_ byte: UInt8) -> Bool {
        (0x21...0x2B).contains(byte) || (0x2D...0x7E).contains(byte)
    }

    /// `ALPHA = %x41-5A / %x61-7A`
    static func isALPHA(_ byte: UInt8) -> Bool {
        (0x41...0x5A).contains(byte) || (0x61...0x7A).contains(byte)
    }

    /// `DIGIT = %x30-39`
    static func isDIGIT(_ byte: UInt8) -> Bool {
        (0x30...0x39).contains(byte)
    }

    /// `base64-char = ALPHA / DIGIT / "/" / "+"`
    static func isBase64Char(_ byte: UInt8) -> Bool {
        isALPHA(byte) || isDIGIT(byte) || byte == UInt8(ascii: "/") || byte == UInt8(ascii: "+")
    }
}
