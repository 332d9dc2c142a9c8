/// One MIME entity of a message: the message itself, a body part of a multipart, or the
/// message a message/rfc822 part encapsulates; with its MIME header fields and where its
/// header and body lie in the message's octets.
///
///     entity-headers := [ content CRLF ] [ encoding CRLF ] [ id CRLF ]
///                       [ description CRLF ] *( MIME-extension-field CRLF )
///
/// `bodyRange` follows RFC 2046 §5.1.1: the line break before a boundary delimiter line
/// belongs to the delimiter, not to the part. IMAP's size (`body-fld-octets`) is the
/// body's length; `lineCount` (`body-fld-lines`) is its number of lines: the line feeds
/// in it, plus one when it does not end with a line feed.
///
/// - SeeAlso: RFC 2045 §3–§8; RFC 2046 §5; RFC 2183; RFC 3282; RFC 2557 §4;
///   RFC 1864; RFC 9051 §7.5.2
public struct BodyPart: Hashable, Sendable {
    /// What the body holds.
    public indirect enum Content: Hashable, Sendable {
        /// A leaf: text, image, application… (or an opaque part, see `isOpaque`).
        case single
        /// The body parts of a multipart, in order (possibly none).
        case multipart([BodyPart])
        /// The message a message/rfc822 or message/global part holds, as an entity.
        case message(BodyPart)
    }

    public internal(set) var header: HeaderSection
    /// The header, with the blank line after it when there is one.
    public internal(set) var headerRange: Range<Int>
    public internal(set) var bodyRange: Range<Int>

    public internal(set) var contentType: ContentType
    public internal(set) var contentTransferEncoding: ContentTransferEncoding
    /// Content-ID (RFC 2045 §7), unfolded.
    public internal(set) var contentID: [UInt8]?
    /// Content-Description (RFC 2045 §8), unfolded, encoded words left as they are.
    public internal(set) var contentDescription: [UInt8]?
    /// Content-Disposition (RFC 2183).
    public internal(set) var contentDisposition: ContentDisposition?
    /// Content-Language tags (RFC 3282), as written.
    public internal(set) var contentLanguage: [[UInt8]]
    /// Content-Location (RFC 2557 §4), unfolded.
    public internal(set) var contentLocation: [UInt8]?
    /// Content-MD5 (RFC 1864), as written.
    public internal(set) var contentMD5: [UInt8]?

    /// The number of lines of the body (IMAP's `body-fld-lines`).
    public internal(set) var lineCount: Int
    public internal(set) var content: Content

    /// Whether this is a multipart or message part whose body was not parsed: past
    /// `MIMELimits.maximumDepth` or `maximumParts`, without a usable boundary, or a
    /// message/rfc822 with a transfer encoding other than 7bit/8bit/binary. BODYSTRUCTURE
    /// reports such a part as APPLICATION/OCTET-STREAM, so that clients fetch it whole.
    public internal(set) var isOpaque: Bool

    /// The body's size in octets (IMAP's `body-fld-octets`).
    public var size: Int { bodyRange.count }

    /// The body parts of a multipart; empty for anything else.
    public var children: [BodyPart] {
        if case .multipart(let parts) = content { return parts }
        return []
    }

    /// The message a message/rfc822 (or message/global) part holds.
    public var encapsulatedMessage: BodyPart? {
        if case .message(let message) = content { return message }
        return nil
    }

    /// Reads the MIME fields of `header`. Ranges, lines and content are filled in by the
    /// structure parser once the part's end is known.
    init(header: HeaderSection, inDigest: Bool, limits: MIMELimits) {
        self.header = header
        self.headerRange = header.range
        self.bodyRange = header.range.upperBound..<header.range.upperBound
        if let field = header.first(named: "Content-Type") {
            self.contentType = ContentType(fieldValue: field.unfoldedValue, limits: limits) ?? .defaultText
        } else {
            self.contentType = inDigest ? .defaultDigestPart : .defaultText
        }
        self.contentTransferEncoding = ContentTransferEncoding(
            fieldValue: header.value(named: "Content-Transfer-Encoding"))
        self.contentID = header.value(named: "Content-ID")
        self.contentDescription = header.value(named: "Content-Description")
        self.contentDisposition = header.value(named: "Content-Disposition").flatMap {
            ContentDisposition(fieldValue: $0, limits: limits)
        }
        self.contentLanguage = header.value(named: "Content-Language").map {
            Self.languageTags($0, limit: limits.maximumParameters)
        } ?? []
        self.contentLocation = header.value(named: "Content-Location")
        self.contentMD5 = header.value(named: "Content-MD5")
        self.lineCount = 0
        self.content = .single
        self.isOpaque = false
    }

    ///     Content-Language := Language-List
    ///     Language-List    := [CFWS] Language-Tag [CFWS] *("," [CFWS] Language-Tag [CFWS])
    ///
    /// - SeeAlso: RFC 3282 §2
    static func languageTags(_ value: [UInt8], limit: Int) -> [[UInt8]] {
        var scanner = StructuredFieldScanner(value)
        var tags: [[UInt8]] = []
        while !scanner.isAtEnd, tags.count < limit {
            scanner.skipCFWS()
            let start = scanner.index
            while let byte = scanner.current, byte != UInt8(ascii: ","), byte != UInt8(ascii: "("),
                !MIMEGrammar.isWhitespace(byte)
            {
                scanner.index += 1
            }
            if scanner.index > start { tags.append(Array(value[start..<scanner.index])) }
            scanner.skipCFWS()
            if scanner.current == UInt8(ascii: ",") { scanner.index += 1 }
        }
        return tags
    }

    /// How the structure parser treats the part.
    enum MediaKind {
        case single
        case multipart
        case message
    }

    var mediaKind: MediaKind {
        if contentType.isMultipart { return .multipart }
        if contentType.isEncapsulatedMessage { return .message }
        return .single
    }
}
