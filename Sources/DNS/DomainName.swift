/// Converts domain names between their wire labels and the presentation form every
/// name in this module's API uses.
///
/// The presentation form is lowercased (ASCII only; names compare case-insensitively,
/// RFC 4343 §3), has no trailing dot, and writes the root as the empty string. A label
/// is 8-bit clean on the wire (RFC 2181 §11), so octets that would be ambiguous or
/// unprintable in text are escaped as in a zone file (RFC 1035 §5.1, RFC 4343 §2.1):
/// `.` and `\` as `\.` and `\\`, and every octet outside `!`…`~` as `\DDD` (three
/// decimal digits). A hostile server therefore cannot hide a dot, a space, a control
/// character or a NUL inside one label of a name we log or compare.
///
/// - SeeAlso: RFC 1035 §2.3.1, §3.1, §5.1; RFC 4343
public enum DomainName {
    /// The presentation form of `labels` (see the type's documentation).
    public static func presentation(of labels: some Sequence<some Collection<UInt8>>) -> String {
        labels.map { escaped($0, lowercasing: true) }.joined(separator: ".")
    }

    /// `text` in canonical presentation form (lowercased, escapes normalised, no
    /// trailing dot), or an `.unencodable` error when it is not a valid name.
    public static func canonical(_ text: String) throws(DNSMessageError) -> String {
        presentation(of: try labels(of: text))
    }

    /// The wire labels of `text`: a name in presentation form, optionally with a
    /// trailing dot, `\X` and `\DDD` escapes allowed. `""` and `"."` are the root (no
    /// labels). Non-ASCII characters go on the wire as their UTF-8 octets (IDNA
    /// conversion to A-labels is the caller's, RFC 5890).
    ///
    /// Throws `.unencodable` for an empty label (`a..b`, `.a`), a label longer than 63
    /// octets, a bad escape, or a name longer than 255 octets on the wire.
    ///
    /// - SeeAlso: RFC 1035 §2.3.4, §5.1
    public static func labels(of text: String) throws(DNSMessageError) -> [[UInt8]] {
        let bytes = Array(text.utf8)
        guard bytes != [dot] else { return [] }
        var labels: [[UInt8]] = []
        var label: [UInt8] = []
        var wireLength = 1  // the root's zero octet
        var index = 0
        func finishLabel() throws(DNSMessageError) {
            guard !label.isEmpty else { throw DNSMessageError(.unencodable, hint: "empty label") }
            guard label.count <= DNSLimits.maximumLabelLength else {
                throw DNSMessageError(.unencodable, hint: "label longer than 63 octets")
            }
            wireLength += 1 + label.count
            guard wireLength <= DNSLimits.maximumNameLength else {
                throw DNSMessageError(.unencodable, hint: "name longer than 255 octets")
            }
            labels.append(label)
            label = []
        }
        while index < bytes.count {
            let byte = bytes[index]
            switch byte {
            case dot:
                try finishLabel()
                index += 1
            case backslash:
                let (value, length) = try parseEscape(bytes, at: index + 1)
                label.append(value)
                index += 1 + length
            default:
                label.append(byte)
                index += 1
            }
            // Stop collecting early: a hostile string cannot make us buffer more than
            // one over-long label before failing.
            guard label.count <= DNSLimits.maximumLabelLength else {
                throw DNSMessageError(.unencodable, hint: "label longer than 63 octets")
            }
        }
        // After a trailing dot (an absolute name) the last label is empty: nothing to add.
        if !label.isEmpty { try finishLabel() }
        return labels
    }

    /// RFC 1035 §5.1: `\X` is X, `\DDD` the octet with decimal value DDD. Returns the
    /// octet and the number of characters after the backslash it used.
    private static func parseEscape(_ bytes: [UInt8], at index: Int) throws(DNSMessageError) -> (UInt8, Int) {
        guard index < bytes.count else { throw DNSMessageError(.unencodable, hint: "backslash at the end") }
        let digits = bytes[index...].prefix(3)
        guard let first = digits.first, isDigit(first) else { return (bytes[index], 1) }
        guard digits.count == 3, digits.allSatisfy(isDigit) else {
            throw DNSMessageError(.unencodable, hint: "\\DDD needs three digits")
        }
        let value = digits.reduce(0) { $0 * 10 + Int($1 - UInt8(ascii: "0")) }
        guard let octet = UInt8(exactly: value) else { throw DNSMessageError(.unencodable, hint: "\\DDD above 255") }
        return (octet, 3)
    }

    /// One label (or character-string) as text with the escapes of the type's
    /// documentation; `lowercasing` folds ASCII letters.
    static func escaped(_ bytes: some Collection<UInt8>, lowercasing: Bool = false, escapingQuotes: Bool = false)
        -> String
    {
        var text = ""
        for byte in bytes {
            switch byte {
            case dot, backslash:
                text.append("\\")
                text.append(Character(Unicode.Scalar(byte)))
            case UInt8(ascii: "\"") where escapingQuotes:
                text.append("\\\"")
            case UInt8(ascii: "A")...UInt8(ascii: "Z") where lowercasing:
                text.append(Character(Unicode.Scalar(byte + 0x20)))
            case 0x21...0x7E:
                text.append(Character(Unicode.Scalar(byte)))
            default:
                let decimal = String(byte)
                text.append("\\" + String(repeating: "0", count: 3 - decimal.count) + decimal)
            }
        }
        return text
    }

    private static let dot = UInt8(ascii: ".")
    private static let backslash = UInt8(ascii: "\\")

    private static func isDigit(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
    }
}
