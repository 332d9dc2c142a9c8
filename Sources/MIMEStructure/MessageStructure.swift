/// A message and its MIME structure: the tree of `BodyPart`s with the byte ranges of
/// every header and body, from which IMAP answers ENVELOPE, BODY, BODYSTRUCTURE,
/// BODY[section], BINARY[section] and the text SEARCH keys.
///
///     let structure = MessageStructure(parsing: messageBytes)
///     structure.root.contentType               multipart/mixed
///     structure.part(at: [2])?.contentType     the second part's type
///     structure.bodyStructure(extensible: true) BODYSTRUCTURE, RFC 9051 §7.5.2
///     structure.contents(of: SectionSpecifier(part: [1], kind: .mime))
///
/// The root is the message as an entity: its header is the message header, and its
/// MIME fields describe the body (RFC 2045 §3). Parsing never fails: any octets give a
/// tree (a message without a header is all body; without MIME fields it is text/plain).
/// Past a `MIMELimits` limit the rest of a part is an opaque leaf and `isTruncated` is
/// set.
///
/// - SeeAlso: RFC 5322 §2.1, RFC 2045, RFC 2046 §5, RFC 9051 §6.4.5, §7.5.2
public struct MessageStructure: Sendable {
    /// The message's octets, which every range refers to.
    public let bytes: [UInt8]
    /// The message as an entity.
    public let root: BodyPart
    public let limits: MIMELimits
    /// Whether a limit of `limits` was reached somewhere in the message.
    public let isTruncated: Bool

    public init(parsing bytes: [UInt8], limits: MIMELimits = MIMELimits()) {
        var parser = StructureParser(bytes: bytes, limits: limits)
        self.root = parser.parse()
        self.isTruncated = parser.hitLimit
        self.bytes = bytes
        self.limits = limits
    }

    /// The message's size in octets (RFC822.SIZE when the octets are stored with CRLF).
    public var size: Int { bytes.count }

    /// The message's header section.
    public var header: HeaderSection { root.header }

    /// The message's ENVELOPE (RFC 9051 §7.5.2).
    public var envelope: Envelope { Envelope(header: root.header, limits: limits) }

    /// The octets of `range`, clamped to the message.
    public func octets(in range: Range<Int>) -> ArraySlice<UInt8> {
        let lower = max(0, min(range.lowerBound, bytes.count))
        let upper = max(lower, min(range.upperBound, bytes.count))
        return bytes[lower..<upper]
    }

    /// Every part of the message, depth first in document order: the root, the parts of
    /// multiparts and the messages of message/rfc822 parts. Built without recursion.
    public var allParts: [BodyPart] {
        var result: [BodyPart] = []
        var pending: [BodyPart] = [root]
        while let part = pending.popLast() {
            result.append(part)
            switch part.content {
            case .single: break
            case .multipart(let children): pending.append(contentsOf: children.reversed())
            case .message(let message): pending.append(message)
            }
        }
        return result
    }
}
