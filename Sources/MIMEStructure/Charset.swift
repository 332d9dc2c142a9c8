/// Conversion of the few charsets IMAP SEARCH needs to UTF-8: UTF-8, US-ASCII,
/// ISO-8859-1, ISO-8859-15 and windows-1252. Other charsets are not converted; callers
/// keep the raw text.
///
/// ISO-8859-1 is read as windows-1252, as the WHATWG Encoding Standard does for every
/// `iso-8859-1` label: mailers label windows-1252 text (curly quotes, the euro sign) as
/// ISO-8859-1, and the C1 controls the difference would produce are never meant.
/// US-ASCII text with 8-bit octets is read as UTF-8 when it is valid UTF-8 (a common
/// mislabelling), else as windows-1252.
///
///     Charset.decode([0x4A, 0xF8, 0x72, 0x6E], charset: "ISO-8859-1")   "Jørn"
///     Charset.decode([0xA4], charset: "iso-8859-15")                     "€"
///     Charset.decode([0x80], charset: "koi8-r")                          nil
///
/// - SeeAlso: RFC 2046 §4.1.2 (charset parameter), RFC 2978 (charset names), the IANA
///   character sets registry (aliases); WHATWG Encoding Standard §4.2 (labels)
public enum Charset {
    enum Known {
        case utf8
        case usASCII
        case windows1252
        case latin9
    }

    /// Whether `name` is one of the charsets converted here.
    public static func isSupported(_ name: String) -> Bool { known(name) != nil }

    /// `bytes` in the charset called `name`, as a String; nil when the charset is not one
    /// of those converted here. Ill-formed UTF-8 becomes U+FFFD.
    public static func decode(_ bytes: some Collection<UInt8>, charset name: String) -> String? {
        guard let charset = known(name) else { return nil }
        switch charset {
        case .utf8: return String(decoding: bytes, as: UTF8.self)
        case .usASCII: return decodeUnlabelled(bytes)
        case .windows1252: return decodeSingleByte(bytes, high: windows1252Scalar)
        case .latin9: return decodeSingleByte(bytes, high: latin9Scalar)
        }
    }

    /// Text whose charset is not known or not given: UTF-8 when the octets are valid
    /// UTF-8 (pure ASCII is), else windows-1252, the most common 8-bit charset in mail.
    public static func decodeUnlabelled(_ bytes: some Collection<UInt8>) -> String {
        if let text = String(validating: bytes, as: UTF8.self) { return text }
        return decodeSingleByte(bytes, high: windows1252Scalar)
    }

    static func known(_ name: String) -> Known? {
        let trimmed = MIMEGrammar.trimmed(Array(name.utf8)[...])
        let label = String(decoding: trimmed.map(MIMEGrammar.lowercased), as: UTF8.self)
        switch label {
        case "utf-8", "utf8", "unicode-1-1-utf-8", "x-unicode20utf8":
            return .utf8
        case "us-ascii", "ascii", "us", "ansi_x3.4-1968", "ansi_x3.4-1986", "iso646-us", "iso-ir-6", "cp367", "ibm367",
            "csascii", "iso_646.irv:1991":
            return .usASCII
        case "iso-8859-1", "iso8859-1", "iso_8859-1", "iso_8859-1:1987", "iso88591", "latin1", "l1", "iso-ir-100",
            "cp819", "ibm819", "csisolatin1", "windows-1252", "cp1252", "x-cp1252", "cp-1252", "win-1252":
            return .windows1252
        case "iso-8859-15", "iso8859-15", "iso_8859-15", "iso885915", "latin-9", "latin9", "l9", "csisolatin9",
            "iso_8859-15:1998":
            return .latin9
        default:
            return nil
        }
    }

    /// Whether a charset keeps US-ASCII octets meaning US-ASCII, so that text in it made
    /// only of such octets can be read as ASCII even when the charset is not converted
    /// here. Not so for UTF-7, UTF-16/32 and the ISO-2022 and HZ escape encodings.
    static func isASCIICompatible(_ name: String) -> Bool {
        let label = String(decoding: Array(name.utf8).map(MIMEGrammar.lowercased), as: UTF8.self)
        for prefix in ["utf-7", "utf7", "utf-16", "utf16", "utf-32", "utf32", "ucs", "iso-2022", "hz", "unicode"]
        where label.hasPrefix(prefix) {
            return false
        }
        return !label.isEmpty
    }

    // MARK: - 8-bit tables

    /// windows-1252 octets 0x80–0x9F (the rest is ISO-8859-1, i.e. U+0080–U+00FF). The
    /// five undefined positions map to the C1 control of the same number, as WHATWG does.
    ///
    /// - SeeAlso: unicode.org/Public/MAPPINGS/VENDORS/MICSFT/WINDOWS/CP1252.TXT
    private static let windows1252High: [UInt32] = [
        0x20AC, 0x0081, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021,  // 0x80
        0x02C6, 0x2030, 0x0160, 0x2039, 0x0152, 0x008D, 0x017D, 0x008F,  // 0x88
        0x0090, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014,  // 0x90
        0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0x009D, 0x017E, 0x0178,  // 0x98
    ]

    private static func windows1252Scalar(_ byte: UInt8) -> UInt32 {
        if byte >= 0x80, byte <= 0x9F { return windows1252High[Int(byte - 0x80)] }
        return UInt32(byte)
    }

    /// ISO-8859-15 differs from ISO-8859-1 in eight positions (the euro sign, Š š Ž ž
    /// Œ œ Ÿ).
    ///
    /// - SeeAlso: unicode.org/Public/MAPPINGS/ISO8859/8859-15.TXT
    private static func latin9Scalar(_ byte: UInt8) -> UInt32 {
        switch byte {
        case 0xA4: return 0x20AC
        case 0xA6: return 0x0160
        case 0xA8: return 0x0161
        case 0xB4: return 0x017D
        case 0xB8: return 0x017E
        case 0xBC: return 0x0152
        case 0xBD: return 0x0153
        case 0xBE: return 0x0178
        default: return UInt32(byte)
        }
    }

    private static func decodeSingleByte(_ bytes: some Collection<UInt8>, high: (UInt8) -> UInt32) -> String {
        var scalars = String.UnicodeScalarView()
        for byte in bytes {
            let value = byte < 0x80 ? UInt32(byte) : high(byte)
            scalars.append(Unicode.Scalar(value) ?? "\u{FFFD}")
        }
        return String(scalars)
    }
}
