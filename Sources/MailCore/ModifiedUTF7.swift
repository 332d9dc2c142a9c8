/// Modified UTF-7 (RFC 3501 §5.1.3): how IMAP4rev1 clients write mailbox names, and how
/// Dovecot names Maildir++ folder directories. One codec for both (IMAPProtocol's
/// `MailboxName` and MaildirStore's folder names).
public enum ModifiedUTF7 {
    /// The Unicode name for a name in modified UTF-7, or `nil` when `text` is not
    /// well-formed modified UTF-7.
    ///
    /// Printable US-ASCII other than "&" stands for itself; "&-" is "&"; anything else is
    /// "&", modified BASE64 (RFC 2045 BASE64 with "," for "/", no "=" padding) of the
    /// UTF-16BE code units, and "-".
    ///
    ///     &Jjo-          ☺
    ///     &ZeVnLIqe-     日本語
    ///     &-             &
    ///
    /// Refused as malformed: any octet outside 0x20...0x7E, "&" without its closing "-",
    /// characters outside the modified BASE64 alphabet (including "=" and "/"), bits left
    /// over that do not make a whole UTF-16 code unit or are not zero, unpaired
    /// surrogates, and encoded characters that must not be encoded: printable US-ASCII
    /// (RFC 3501 §5.1.3: "MUST NOT be used to represent any printing US-ASCII character
    /// which can represent itself") and control characters.
    ///
    /// - SeeAlso: RFC 3501 §5.1.3, RFC 2152 (UTF-7)
    public static func decode(_ text: String) -> String? {
        let bytes = Array(text.utf8)
        var scalars = String.UnicodeScalarView()
        var index = 0
        while index < bytes.count {
            let byte = bytes[index]
            guard byte >= 0x20, byte <= 0x7E else { return nil }
            guard byte == UInt8(ascii: "&") else {
                scalars.append(Unicode.Scalar(byte))
                index += 1
                continue
            }
            let start = index + 1
            var end = start
            while end < bytes.count, bytes[end] != UInt8(ascii: "-") { end += 1 }
            guard end < bytes.count else { return nil }
            if end == start {
                scalars.append("&")
            } else {
                guard let units = decodeModifiedBase64(bytes[start..<end]) else { return nil }
                var unitIndex = 0
                while unitIndex < units.count {
                    let unit = units[unitIndex]
                    var value = UInt32(unit)
                    if (0xD800...0xDBFF).contains(unit) {
                        guard unitIndex + 1 < units.count, (0xDC00...0xDFFF).contains(units[unitIndex + 1]) else {
                            return nil
                        }
                        value = 0x10000 + ((UInt32(unit) - 0xD800) << 10) + (UInt32(units[unitIndex + 1]) - 0xDC00)
                        unitIndex += 1
                    } else if (0xDC00...0xDFFF).contains(unit) {
                        return nil
                    }
                    // Printable ASCII must stand for itself; controls have no place in a name.
                    guard value > 0x7F, value < 0x80 || value > 0x9F, let scalar = Unicode.Scalar(value) else {
                        return nil
                    }
                    scalars.append(scalar)
                    unitIndex += 1
                }
            }
            index = end + 1
        }
        return String(scalars)
    }

    /// `text` in modified UTF-7: printable US-ASCII as itself ("&" as "&-"), every run of
    /// other characters as "&" + modified BASE64 of its UTF-16BE + "-".
    ///
    /// - SeeAlso: RFC 3501 §5.1.3
    public static func encode(_ text: String) -> String {
        var output: [UInt8] = []
        var pending: [UInt8] = []  // UTF-16BE octets of the current run
        for scalar in text.unicodeScalars {
            let value = scalar.value
            if value >= 0x20, value <= 0x7E {
                if !pending.isEmpty {
                    output.append(UInt8(ascii: "&"))
                    output.append(contentsOf: encodeModifiedBase64(pending))
                    output.append(UInt8(ascii: "-"))
                    pending.removeAll()
                }
                output.append(UInt8(truncatingIfNeeded: value))
                if value == 0x26 { output.append(UInt8(ascii: "-")) }  // "&" is "&-"
            } else if value > 0xFFFF {
                let offset = value - 0x10000
                let high = 0xD800 + (offset >> 10)
                let low = 0xDC00 + (offset & 0x3FF)
                pending += [UInt8(truncatingIfNeeded: high >> 8), UInt8(truncatingIfNeeded: high)]
                pending += [UInt8(truncatingIfNeeded: low >> 8), UInt8(truncatingIfNeeded: low)]
            } else {
                pending += [UInt8(truncatingIfNeeded: value >> 8), UInt8(truncatingIfNeeded: value)]
            }
        }
        if !pending.isEmpty {
            output.append(UInt8(ascii: "&"))
            output.append(contentsOf: encodeModifiedBase64(pending))
            output.append(UInt8(ascii: "-"))
        }
        return String(decoding: output, as: UTF8.self)
    }

    private static let modifiedBase64Alphabet = Array(
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,".utf8)

    private static func encodeModifiedBase64(_ bytes: [UInt8]) -> [UInt8] {
        var output: [UInt8] = []
        var bits: UInt32 = 0
        var bitCount = 0
        for byte in bytes {
            bits = (bits << 8) | UInt32(byte)
            bitCount += 8
            while bitCount >= 6 {
                bitCount -= 6
                output.append(modifiedBase64Alphabet[Int((bits >> UInt32(bitCount)) & 0x3F)])
            }
            bits &= (1 << UInt32(bitCount)) - 1
        }
        if bitCount > 0 {
            output.append(modifiedBase64Alphabet[Int((bits << UInt32(6 - bitCount)) & 0x3F)])
        }
        return output
    }

    /// The UTF-16 code units in a modified BASE64 run, or `nil` when it is malformed.
    private static func decodeModifiedBase64(_ characters: ArraySlice<UInt8>) -> [UInt16]? {
        var octets: [UInt8] = []
        var bits: UInt32 = 0
        var bitCount = 0
        for character in characters {
            let value: UInt32
            switch character {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"): value = UInt32(character - UInt8(ascii: "A"))
            case UInt8(ascii: "a")...UInt8(ascii: "z"): value = UInt32(character - UInt8(ascii: "a")) + 26
            case UInt8(ascii: "0")...UInt8(ascii: "9"): value = UInt32(character - UInt8(ascii: "0")) + 52
            case UInt8(ascii: "+"): value = 62
            case UInt8(ascii: ","): value = 63
            default: return nil
            }
            bits = (bits << 6) | value
            bitCount += 6
            if bitCount >= 8 {
                bitCount -= 8
                octets.append(UInt8(truncatingIfNeeded: bits >> UInt32(bitCount)))
                bits &= (1 << UInt32(bitCount)) - 1
            }
        }
        // Whole code units only; the padding bits (fewer than 6) must be zero.
        guard octets.count % 2 == 0, bitCount < 6, bits == 0 else { return nil }
        var units: [UInt16] = []
        units.reserveCapacity(octets.count / 2)
        var index = 0
        while index + 1 < octets.count {
            units.append(UInt16(octets[index]) << 8 | UInt16(octets[index + 1]))
            index += 2
        }
        return units
    }
}
