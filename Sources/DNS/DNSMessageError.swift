/// Why a DNS message could not be read or written.
///
/// Every malformed or hostile message ends in one of these, never in a trap. `hint`,
/// `file` and `line` are literals from this module, never message bytes, so the error
/// can be logged as is. Equality compares `kind` only.
///
/// - SeeAlso: RFC 1035 §4.1 (the format), §4.1.4 (compression)
public struct DNSMessageError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The closed set of reasons.
    public enum Kind: Sendable, Hashable, CustomStringConvertible {
        /// A field, a label, RDATA or a section runs past the end of the message, or
        /// the header counts promise more records than the message can hold.
        case truncated
        /// A compression pointer that does not point strictly before the label
        /// sequence it was found in (a loop or a forward pointer, RFC 1035 §4.1.4), or
        /// more than `DNSLimits.maximumPointerHops` of them in one name.
        case badPointer
        /// A length octet whose two high bits are `01` or `10` (64 to 191): a label
        /// longer than 63 octets, or one of the retired extended label types
        /// (RFC 6891 §5).
        case badLabel
        /// A name longer than 255 octets on the wire (RFC 1035 §2.3.4).
        case nameTooLong
        /// RDATA that does not match its type's format (an A record that is not four
        /// octets, a name that runs past RDLENGTH, SOA with missing fields, …).
        case badRecordData
        /// An OPT record that breaks RFC 6891 §6.1.1 (not in the additional section,
        /// a second one, an owner other than the root).
        case badOPTRecord
        /// A value that cannot be encoded: a name with an empty or overlong label, or
        /// one longer than 255 octets; RDATA longer than 65535 octets; a character-string
        /// longer than 255 octets; more than 65535 records in a section.
        case unencodable

        public var description: String {
            switch self {
            case .truncated: return "truncated"
            case .badPointer: return "badPointer"
            case .badLabel: return "badLabel"
            case .nameTooLong: return "nameTooLong"
            case .badRecordData: return "badRecordData"
            case .badOPTRecord: return "badOPTRecord"
            case .unencodable: return "unencodable"
            }
        }
    }

    public let kind: Kind
    /// What exactly was wrong, for the log. A literal: never message data.
    public let hint: StaticString
    public let file: StaticString
    public let line: UInt

    public init(_ kind: Kind, hint: StaticString = "", file: StaticString = #fileID, line: UInt = #line) {
        self.kind = kind
        self.hint = hint
        self.file = file
        self.line = line
    }

    /// Compares `kind` only: the context is for logs.
    public static func == (lhs: DNSMessageError, rhs: DNSMessageError) -> Bool {
        lhs.kind == rhs.kind
    }

    public var description: String {
        let hintText = "\(hint)"
        let detail = hintText.isEmpty ? "" : ": \(hintText)"
        return "DNS message \(kind)\(detail) (\(file):\(line))"
    }
}
