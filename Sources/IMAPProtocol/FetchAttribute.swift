/// A data item FETCH asks for. The macros ALL, FAST and FULL are expanded by the parser
/// into the attributes they stand for (RFC 9051 §6.4.5), so the session sees only these.
///
///     fetch-att = "ENVELOPE" / "FLAGS" / "INTERNALDATE" /
///                 "RFC822" [".HEADER" / ".SIZE" / ".TEXT"] /
///                 "BODY" ["STRUCTURE"] / "UID" /
///                 "BODY" section [partial] /
///                 "BODY.PEEK" section [partial] /
///                 "BINARY" [".PEEK"] section-binary [partial] /
///                 "BINARY.SIZE" section-binary
///     fetch-att =/ "MODSEQ"                                          ; RFC 7162
///
///     C: A654 FETCH 2:4 (FLAGS BODY[HEADER.FIELDS (DATE FROM)])
///        [.flags, .bodySection(SectionSpecifier(kind: .headerFields(["DATE", "FROM"])),
///                              partial: nil, peek: false)]
///
/// RFC822, RFC822.HEADER and RFC822.TEXT are RFC 3501 items, kept for IMAP4rev1 clients.
///
/// - SeeAlso: RFC 9051 §6.4.5, §9; RFC 3516 §4.2 (BINARY); RFC 7162 §3.1.4 (MODSEQ)
public enum FetchAttribute: Hashable, Sendable {
    case envelope
    case flags
    case internalDate
    /// RFC822: the whole message; sets \Seen.
    case rfc822
    /// RFC822.HEADER: like BODY.PEEK[HEADER].
    case rfc822Header
    case rfc822Size
    /// RFC822.TEXT: like BODY[TEXT]; sets \Seen.
    case rfc822Text
    /// BODY without a section: the non-extensible BODYSTRUCTURE.
    case body
    case bodyStructure
    case uid
    /// RFC 7162 §3.1.4
    case modSeq
    /// `BODY[section]<partial>` (sets \Seen) or `BODY.PEEK[section]<partial>`.
    case bodySection(SectionSpecifier, partial: Partial?, peek: Bool)
    /// `BINARY[part]<partial>` or `BINARY.PEEK[part]<partial>` (RFC 3516): the part's
    /// content with its Content-Transfer-Encoding undone. An empty part is the whole
    /// message.
    case binary(part: [UInt32], partial: Partial?, peek: Bool)
    /// `BINARY.SIZE[part]` (RFC 3516).
    case binarySize(part: [UInt32])

    /// ALL: `(FLAGS INTERNALDATE RFC822.SIZE ENVELOPE)`
    public static let allMacro: [FetchAttribute] = [.flags, .internalDate, .rfc822Size, .envelope]
    /// FAST: `(FLAGS INTERNALDATE RFC822.SIZE)`
    public static let fastMacro: [FetchAttribute] = [.flags, .internalDate, .rfc822Size]
    /// FULL: `(FLAGS INTERNALDATE RFC822.SIZE ENVELOPE BODY)`
    public static let fullMacro: [FetchAttribute] = [.flags, .internalDate, .rfc822Size, .envelope, .body]

    /// `<offset.length>`: `length` octets from `offset`.
    ///
    ///     partial = "<" number64 "." nz-number64 ">"
    public struct Partial: Hashable, Sendable {
        public var offset: UInt64
        /// At least 1.
        public var length: UInt64

        public init(offset: UInt64, length: UInt64) {
            self.offset = offset
            self.length = length
        }
    }
}

/// Which part of a message BODY[...] means.
///
///     section         = "[" [section-spec] "]"
///     section-spec    = section-msgtext / (section-part ["." section-text])
///     section-msgtext = "HEADER" / "HEADER.FIELDS" [".NOT"] SP header-list / "TEXT"
///     section-part    = nz-number *("." nz-number)
///     section-text    = section-msgtext / "MIME"
///     header-list     = "(" header-fld-name *(SP header-fld-name) ")"
///
///     BODY[]                       SectionSpecifier()
///     BODY[HEADER]                 SectionSpecifier(kind: .header)
///     BODY[1.2.MIME]               SectionSpecifier(part: [1, 2], kind: .mime)
///     BODY[HEADER.FIELDS (DATE)]   SectionSpecifier(kind: .headerFields(["DATE"]))
///
/// Header field names are kept as sent (they match case-insensitively).
///
/// - SeeAlso: RFC 9051 §6.4.5, §9
public struct SectionSpecifier: Hashable, Sendable {
    public enum Kind: Hashable, Sendable {
        /// The whole message, or the whole part.
        case complete
        case header
        case headerFields([String])
        case headerFieldsNot([String])
        case text
        /// The MIME header of a part (only with a part number).
        case mime
    }

    /// The part numbers, outermost first; empty for the message itself.
    public var part: [UInt32]
    public var kind: Kind

    public init(part: [UInt32] = [], kind: Kind = .complete) {
        self.part = part
        self.kind = kind
    }
}
