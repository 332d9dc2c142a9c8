import MailCore

/// Character classes and small byte routines shared by the parsers of this module
/// (RFC 5234 core rules, RFC 5322 §3.2, RFC 2045 §5.1), on bytes.
enum MIMEGrammar {
    static let cr: UInt8 = 0x0D
    static let lf: UInt8 = 0x0A
    static let space: UInt8 = 0x20
    static let tab: UInt8 = 0x09

    ///     WSP = SP / HTAB
    static func isWSP(_ byte: UInt8) -> Bool { byte == space || byte == tab }

    /// WSP, CR or LF: what separates tokens once a field is unfolded.
    static func isWhitespace(_ byte: UInt8) -> Bool { byte == space || byte == tab || byte == cr || byte == lf }

    static func lowercased(_ byte: UInt8) -> UInt8 { (byte >= 0x41 && byte <= 0x5A) ? byte + 0x20 : byte }

    static func uppercased(_ byte: UInt8) -> UInt8 { (byte >= 0x61 && byte <= 0x7A) ? byte - 0x20 : byte }

    /// Whether two byte strings are equal ignoring ASCII case.
    static func equalsIgnoringCase(_ bytes: some Collection<UInt8>, _ other: some Collection<UInt8>) -> Bool {
        guard bytes.count == other.count else { return false }
        for (a, b) in zip(bytes, other) where lowercased(a) != lowercased(b) {
            return false
        }
        return true
    }

    /// `bytes` without leading and trailing SP, HTAB, CR and LF.
    static func trimmed(_ bytes: ArraySlice<UInt8>) -> ArraySlice<UInt8> {
        var lower = bytes.startIndex
        var upper = bytes.endIndex
        while lower < upper, isWhitespace(bytes[lower]) { lower += 1 }
        while upper > lower, isWhitespace(bytes[upper - 1]) { upper -= 1 }
        return bytes[lower..<upper]
    }

    /// ASCII-lower-cased, as a String (non-UTF-8 octets become U+FFFD).
    static func lowercasedString(_ bytes: some Sequence<UInt8>) -> String {
        String(decoding: bytes.map(lowercased), as: UTF8.self)
    }

    /// ASCII-upper-cased bytes.
    static func uppercasedBytes(_ bytes: some Sequence<UInt8>) -> [UInt8] { bytes.map(uppercased) }

    ///     HEXDIG = DIGIT / "A" / "B" / "C" / "D" / "E" / "F"
    ///
    /// Lower-case letters are accepted too (RFC 2045 §6.7 asks decoders to).
    static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case 0x30...0x39: return byte - 0x30
        case 0x41...0x46: return byte - 0x41 + 10
        case 0x61...0x66: return byte - 0x61 + 10
        default: return nil
        }
    }

    static func isDigit(_ byte: UInt8) -> Bool { ASCII.isDigit(byte) }

    /// Percent-decoding as RFC 2231 §4 uses it (`%` 2HEXDIG); a `%` not followed by two
    /// hex digits stays as it is.
    static func percentDecoded(_ bytes: ArraySlice<UInt8>) -> [UInt8] {
        var output: [UInt8] = []
        output.reserveCapacity(bytes.count)
        var index = bytes.startIndex
        while index < bytes.endIndex {
            let byte = bytes[index]
            if byte == UInt8(ascii: "%"), index + 2 < bytes.endIndex,
                let high = hexValue(bytes[index + 1]), let low = hexValue(bytes[index + 2])
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
