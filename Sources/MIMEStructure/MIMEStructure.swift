// MIMEStructure — the message analysis IMAP needs, on the stored octets of a message:
// header fields (`HeaderSection`), the MIME tree with the byte ranges of every part
// (`MessageStructure`, `BodyPart`), the ENVELOPE (`Envelope`, `EnvelopeAddress`), the
// BODY and BODYSTRUCTURE encodings, BODY[section]<partial> resolution, BINARY decoding
// (base64, quoted-printable), RFC 2047 encoded words and the text SEARCH looks at. Pure:
// no I/O, no clock, no storage; the IMAP server hands in the message bytes (with CRLF
// line ends as stored; bare LF is tolerated everywhere) and writes out what comes back.
//
// Standards: RFC 5322 (header fields, folding §2.2.3, address lists and groups §3.4,
// the obsolete syntax of §4), RFC 6532 (UTF-8 in header fields; message/global §3.7),
// RFC 2045 (Content-Type, Content-Transfer-Encoding, quoted-printable §6.7, base64
// §6.8), RFC 2046 (multipart boundaries §5.1, multipart/digest §5.1.5, message/rfc822
// §5.2.1), RFC 2047 (encoded words), RFC 2183 (Content-Disposition), RFC 2231
// (parameter continuations, charset and language), RFC 3282 (Content-Language),
// RFC 2557 (Content-Location), RFC 1864 (Content-MD5), RFC 9051 §6.4.5 (section
// numbering, BODY[section], partial) and §7.5.2 (ENVELOPE, BODY, BODYSTRUCTURE),
// RFC 3501 (the same for IMAP4rev1), RFC 3516 (BINARY, BINARY.SIZE, UNKNOWN-CTE).
// Charsets converted to UTF-8: UTF-8, US-ASCII, ISO-8859-1 (read as windows-1252, as
// the WHATWG Encoding Standard does), ISO-8859-15, windows-1252; others stay raw.
// Security: every octet comes from a sender on the Internet, and from a message file
// that may have been written by another program. Nothing here traps on any input: no
// `!`, no unchecked subscripts, no trapping arithmetic on message numbers. The tree
// parser is one iterative pass over the lines (no recursion while parsing); each line
// is compared with at most `maximumDepth` active boundaries. Header sections, header
// fields, nesting depth, the number of parts, parameters, boundary length and
// addresses per field are bounded by `MIMELimits`; past a limit the rest of a part is
// kept as one opaque leaf (reported as APPLICATION/OCTET-STREAM), never an error. The
// encoders recurse once per level of the (depth-bounded) tree. NUL never reaches an
// ENVELOPE or BODYSTRUCTURE string (it becomes a space), so they never need literal8.
// Limits: `MIMELimits`; scanning is linear in the message size (a long line costs no
// more than many short ones), except the RFC 2047 decoder, which looks at most
// `EncodedWord.maximumLength` octets ahead at each "=?".

/// The limits the MIME parser enforces, each with its reason. A message that crosses one
/// still parses: the part where it happens is kept as an opaque leaf, and
/// `MessageStructure.isTruncated` says so.
///
/// - SeeAlso: RFC 2046 §5.1.1 (boundary length), RFC 5322 §2.1.1 (line length)
public struct MIMELimits: Hashable, Sendable {
    /// The largest header section (of the message or of one part). RFC 5322 sets no limit;
    /// real headers stay well under 64 KiB. Default 1 MiB; the rest is read as body.
    public var maximumHeaderSize: Int

    /// The most header fields kept per header section. Default 10,000; later fields are
    /// ignored (they stay in the header's bytes).
    public var maximumHeaderFields: Int

    /// The deepest nesting of multipart and message/rfc822 parts; the message itself is
    /// depth 0. Real messages nest a handful of levels. Default 50.
    public var maximumDepth: Int

    /// The most parts (the message, every body part and every encapsulated message).
    /// Default 10,000.
    public var maximumParts: Int

    /// The most parameters read from one Content-Type or Content-Disposition field.
    /// Default 100.
    public var maximumParameters: Int

    /// The longest multipart boundary accepted. RFC 2046 §5.1.1 allows 70 characters;
    /// some mailers write longer ones. Default 200; a multipart with a longer boundary is
    /// an opaque leaf.
    public var maximumBoundaryLength: Int

    /// The most addresses (group markers included) read from one address field.
    /// Default 10,000.
    public var maximumAddresses: Int

    public init(
        maximumHeaderSize: Int = 1024 * 1024,
        maximumHeaderFields: Int = 10_000,
        maximumDepth: Int = 50,
        maximumParts: Int = 10_000,
        maximumParameters: Int = 100,
        maximumBoundaryLength: Int = 200,
        maximumAddresses: Int = 10_000
    ) {
        self.maximumHeaderSize = maximumHeaderSize
        self.maximumHeaderFields = maximumHeaderFields
        self.maximumDepth = maximumDepth
        self.maximumParts = maximumParts
        self.maximumParameters = maximumParameters
        self.maximumBoundaryLength = maximumBoundaryLength
        self.maximumAddresses = maximumAddresses
    }
}
