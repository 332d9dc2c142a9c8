/// The Content-Transfer-Encoding of a part, and the decoders BINARY and SEARCH use.
///
///     encoding  := "Content-Transfer-Encoding" ":" mechanism
///     mechanism := "7bit" / "8bit" / "binary" / "quoted-printable" / "base64" /
///                  ietf-token / x-token
///
/// Absent means 7bit (RFC 2045 §6.1). Values are case-insensitive.
///
/// - SeeAlso: RFC 2045 §6 (§6.7 quoted-printable, §6.8 base64); RFC 3516 §4.3 (BINARY
///   answers `NO [UNKNOWN-CTE]` for an encoding the server cannot decode)
public enum ContentTransferEncoding: Hashable, Sendable {
    case sevenBit
    case eightBit
    case binary
    case base64
    case quotedPrintable
    /// Any other mechanism (`x-uuencode`, typos), lower-cased.
    case other(String)

    /// The mechanism a Content-Transfer-Encoding value names: its first token, so that
    /// comments and junk after it are ignored.
    public init(fieldValue: [UInt8]?) {
        guard let fieldValue else {
            self = .sevenBit
            return
        }
        var scanner = StructuredFieldScanner(fieldValue)
        scanner.skipCFWS()
        guard let token = scanner.readToken() else {
            self = .sevenBit
            return
        }
        switch MIMEGrammar.lowercasedString(token) {
        case "7bit": self = .sevenBit
        case "8bit": self = .eightBit
        case "binary": self = .binary
        case "base64": self = .base64
        case "quoted-printable": self = .quotedPrintable
        case let other: self = .other(other)
        }
    }

    /// The name as BODYSTRUCTURE writes it (`body-fld-enc`, RFC 9051 §9): upper case.
    public var imapName: String {
        switch self {
        case .sevenBit: return "7BIT"
        case .eightBit: return "8BIT"
        case .binary: return "BINARY"
        case .base64: return "BASE64"
        case .quotedPrintable: return "QUOTED-PRINTABLE"
        case .other(let name): return name.uppercased()
        }
    }

    /// Whether the octets are the content itself (7bit, 8bit, binary): the only
    /// encodings multipart and message/rfc822 parts may have (RFC 2045 §6.4).
    public var isIdentity: Bool {
        switch self {
        case .sevenBit, .eightBit, .binary: return true
        case .base64, .quotedPrintable, .other: return false
        }
    }

    /// The content with the encoding undone; nil for an encoding not known here
    /// (`.other`).
    public func decode(_ bytes: ArraySlice<UInt8>) -> [UInt8]? {
        switch self {
        case .sevenBit, .eightBit, .binary: return Array(bytes)
        case .base64: return Self.decodeBase64(bytes)
        case .quotedPrintable: return Self.decodeQuotedPrintable(bytes)
        case .other: return nil
        }
    }

    /// The size of the decoded content, without keeping it when the encoding is an
    /// identity; nil for an unknown encoding.
    public func decodedSize(_ bytes: ArraySlice<UInt8>) -> Int? {
        if isIdentity { return bytes.count }
        return decode(bytes)?.count
    }

    // MARK: - base64

    /// Decodes base64 (RFC 2045 §6.8) leniently, as the RFC asks: characters outside the
    /// alphabet (line breaks, garbage) are ignored; "=" ends a quantum, and decoding goes
    /// on after it (some mailers concatenate encoded blocks); a final incomplete quantum
    /// gives the octets it holds.
    ///
    ///     "SGVs\r\nbG8=" → "Hello"
    public static func decodeBase64(_ bytes: some Sequence<UInt8>) -> [UInt8] {
        var output: [UInt8] = []
        output.reserveCapacity(bytes.underestimatedCount / 4 * 3 + 3)
        var accumulator: UInt32 = 0
        var count = 0

        func flushPartial() {
            // 2 characters carry 12 bits (1 octet), 3 carry 18 bits (2 octets).
            if count == 2 {
                output.append(UInt8(truncatingIfNeeded: accumulator >> 4))
            } else if count == 3 {
                output.append(UInt8(truncatingIfNeeded: accumulator >> 10))
                output.append(UInt8(truncatingIfNeeded: accumulator >> 2))
            }
            accumulator = 0
            count = 0
        }

        for byte in bytes {
            let value: UInt32
            switch byte {
            case 0x41...0x5A: value = UInt32(byte - 0x41)
            case 0x61...0x7A: value = UInt32(byte - 0x61) + 26
            case 0x30...0x39: value = UInt32(byte - 0x30) + 52
            case UInt8(ascii: "+"): value = 62
            case UInt8(ascii: "/"): value = 63
            case UInt8(ascii: "="):
                flushPartial()
                continue
            default:
                continue
            }
            accumulator = (accumulator << 6) | value
            count += 1
            if count == 4 {
                output.append(UInt8(truncatingIfNeeded: accumulator >> 16))
                output.append(UInt8(truncatingIfNeeded: accumulator >> 8))
                output.append(UInt8(truncatingIfNeeded: accumulator))
                accumulator = 0
                count = 0
            }
        }
        flushPartial()
        return output
    }

    // MARK: - quoted-printable

    /// Decodes quoted-printable (RFC 2045 §6.7): `=XX` (upper or lower case hex) is an
    /// octet; `=` at a line end is a soft line break (WSP between them tolerated, rule
    /// 5); WSP at the end of a line is transport padding and removed (rule 3); line ends
    /// stay as they are (CRLF or LF). An `=` not followed by two hex digits is kept as it
    /// is, as §6.7 suggests for robustness.
    ///
    ///     "Keld J=F8rn=\r\n Simonsen" → "Keld J\u{F8}rn Simonsen"
    public static func decodeQuotedPrintable(_ bytes: ArraySlice<UInt8>) -> [UInt8] {
        var output: [UInt8] = []
        output.reserveCapacity(bytes.count)
        // Trailing WSP before a hard line break is removed, but never below this index:
        // the start of the line, or the octet after the last decoded `=XX` (an encoded
        // space is content).
        var protectedCount = 0
        var index = bytes.startIndex
        let end = bytes.endIndex

        func removeTrailingWhitespace() {
            while output.count > protectedCount, let last = output.last, MIMEGrammar.isWSP(last) {
                output.removeLast()
            }
        }

        while index < end {
            let byte = bytes[index]
            if byte == UInt8(ascii: "=") {
                var look = index + 1
                while look < end, MIMEGrammar.isWSP(bytes[look]) { look += 1 }
                if look == end {
                    // "=" (and padding) at the very end: a soft line break with nothing after.
                    index = end
                    continue
                }
                if bytes[look] == MIMEGrammar.lf {
                    index = look + 1
                    continue
                }
                if bytes[look] == MIMEGrammar.cr, look + 1 < end, bytes[look + 1] == MIMEGrammar.lf {
                    index = look + 2
                    continue
                }
                if index + 2 < end, let high = MIMEGrammar.hexValue(bytes[index + 1]),
                    let low = MIMEGrammar.hexValue(bytes[index + 2])
                {
                    output.append(high << 4 | low)
                    protectedCount = output.count
                    index += 3
                    continue
                }
                output.append(byte)
                index += 1
                continue
            }
            let isCRLF = byte == MIMEGrammar.cr && index + 1 < end && bytes[index + 1] == MIMEGrammar.lf
            let isLineBreak = byte == MIMEGrammar.lf || isCRLF
            if isLineBreak {
                removeTrailingWhitespace()
                if byte == MIMEGrammar.cr {
                    output.append(MIMEGrammar.cr)
                    index += 1
                }
                output.append(MIMEGrammar.lf)
                index += 1
                protectedCount = output.count
                continue
            }
            output.append(byte)
            index += 1
        }
        removeTrailingWhitespace()
        return output
    }
}
