/// One header field as it appears in a message or a body part.
///
///     field      = field-name ":" unstructured CRLF
///     field-name = 1*ftext
///     ftext      = %d33-57 / %d59-126   ; printable US-ASCII except ":"
///
///     "Subject: Saying\r\n Hello\r\n"   name "Subject", rawValue " Saying\r\n Hello",
///                                      unfoldedValue "Saying Hello"
///
/// Values are octets: RFC 6532 allows UTF-8 in them and real mail carries other 8-bit
/// text too, so nothing is decoded here.
///
/// - SeeAlso: RFC 5322 §2.2 (header fields), §2.2.3 (folding), §4.5 (obsolete: WSP before
///   the colon); RFC 6532 §3.2
public struct HeaderField: Hashable, Sendable {
    /// The field name as written, without WSP before the colon.
    public let name: String

    /// Every octet after the colon up to the line end of the field's last line, folding
    /// (line ends followed by WSP) included.
    public let rawValue: [UInt8]

    /// Where the whole field lies in the message: name, value and the line ends of all of
    /// its lines.
    public let range: Range<Int>

    public init(name: String, rawValue: [UInt8], range: Range<Int>) {
        self.name = name
        self.rawValue = rawValue
        self.range = range
    }

    /// The value unfolded (RFC 5322 §2.2.3: the line breaks removed, the WSP after them
    /// kept) and without leading and trailing whitespace. This is what IMAP returns for
    /// the ENVELOPE strings and the BODYSTRUCTURE fields.
    public var unfoldedValue: [UInt8] {
        var output: [UInt8] = []
        output.reserveCapacity(rawValue.count)
        for byte in rawValue where byte != MIMEGrammar.cr && byte != MIMEGrammar.lf {
            output.append(byte)
        }
        return Array(MIMEGrammar.trimmed(output[...]))
    }

    /// Whether the field is called `name`, ignoring ASCII case (RFC 5322 §1.2.2).
    public func hasName(_ name: String) -> Bool {
        MIMEGrammar.equalsIgnoringCase(self.name.utf8, name.utf8)
    }
}
