/// Base64 as SASL exchanges carry it in every protocol (SMTP AUTH, POP3 AUTH, IMAP
/// AUTHENTICATE, Dovecot's auth protocol): RFC 4648 §4, strictly — the standard
/// alphabet, a length that is a multiple of four, `=` only as one or two final padding
/// characters, no whitespace. One decoder for all of them, without Foundation's
/// leniencies.
public enum Base64 {
    /// The octets `text` encodes, or nil when it is not strict base64. Empty text is no
    /// octets.
    public static func decode(_ text: some Collection<UInt8>) -> [UInt8]? {
        let characters = Array(text)
        guard characters.count % 4 == 0 else { return nil }
        var padding = 0
        if characters.last == UInt8(ascii: "=") { padding += 1 }
        if characters.count >= 2, characters[characters.count - 2] == UInt8(ascii: "=") { padding += 1 }
        var output: [UInt8] = []
        output.reserveCapacity(characters.count / 4 * 3)
        var bits: UInt32 = 0
        var bitCount = 0
        for (index, character) in characters.enumerated() {
            if index >= characters.count - padding {
                guard character == UInt8(ascii: "=") else { return nil }
                continue
            }
            guard let value = value(character) else { return nil }
            bits = (bits << 6) | UInt32(value)
            bitCount += 6
            if bitCount >= 8 {
                bitCount -= 8
                output.append(UInt8(truncatingIfNeeded: bits >> UInt32(bitCount)))
                bits &= (1 << UInt32(bitCount)) - 1
            }
        }
        return output
    }

    /// A client's response in SMTP (RFC 4954 §4) or POP3 (RFC 5034 §4): base64, where a
    /// lone "=" is an empty initial response, distinct from none.
    public static func decodeResponse(_ text: String) -> [UInt8]? {
        if text == "=" { return [] }
        return decode(text.utf8)
    }

    /// `bytes` in base64 with padding.
    public static func encode(_ bytes: some Collection<UInt8>) -> String {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)
        let input = Array(bytes)
        var output: [UInt8] = []
        output.reserveCapacity((input.count + 2) / 3 * 4)
        var index = 0
        while index < input.count {
            let count = min(3, input.count - index)
            var group: UInt32 = 0
            for offset in 0..<3 { group = group << 8 | UInt32(offset < count ? input[index + offset] : 0) }
            for position in 0..<4 {
                output.append(position <= count ? alphabet[Int((group >> UInt32(18 - 6 * position)) & 0x3F)] : UInt8(ascii: "="))
            }
            index += 3
        }
        return String(decoding: output, as: UTF8.self)
    }

    /// The value of one base64 character, or nil.
    public static func value(_ character: UInt8) -> UInt8? {
        switch character {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"): return character - UInt8(ascii: "A")
        case UInt8(ascii: "a")...UInt8(ascii: "z"): return character - UInt8(ascii: "a") + 26
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return character - UInt8(ascii: "0") + 52
        case UInt8(ascii: "+"): return 62
        case UInt8(ascii: "/"): return 63
        default: return nil
        }
    }
}
