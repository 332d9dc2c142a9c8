/// The media type of a part: Content-Type.
///
///     content := "Content-Type" ":" type "/" subtype *(";" parameter)
///
///     Content-Type: text/plain; charset=us-ascii (Plain text)
///       → type "text", subtype "plain", parameters [charset=us-ascii]
///
/// Type and subtype are lower-cased (they are case-insensitive). A part without a
/// Content-Type, or with one that has no type/subtype, is `text/plain;
/// charset=us-ascii` (RFC 2045 §5.2), except directly inside multipart/digest, where
/// the default is `message/rfc822` (RFC 2046 §5.1.5).
///
/// - SeeAlso: RFC 2045 §5.1, §5.2; RFC 2046; RFC 2231
public struct ContentType: Hashable, Sendable {
    public var type: String
    public var subtype: String
    public var parameters: [MIMEParameter]

    /// Whether this is a default rather than what a Content-Type field said.
    public var isDefault: Bool

    public init(type: String, subtype: String, parameters: [MIMEParameter] = [], isDefault: Bool = false) {
        self.type = type
        self.subtype = subtype
        self.parameters = parameters
        self.isDefault = isDefault
    }

    /// `text/plain; charset=us-ascii`, RFC 2045 §5.2. The value is written as IMAP's
    /// examples show it (`("CHARSET" "US-ASCII")`, RFC 9051 §7.5.2).
    public static let defaultText = ContentType(
        type: "text", subtype: "plain", parameters: [MIMEParameter(name: "charset", value: "US-ASCII")],
        isDefault: true)

    /// `message/rfc822`, the default inside multipart/digest (RFC 2046 §5.1.5).
    public static let defaultDigestPart = ContentType(type: "message", subtype: "rfc822", isDefault: true)

    /// Parses a Content-Type value; nil when it has no `type/subtype`.
    public init?(fieldValue: [UInt8], limits: MIMELimits = MIMELimits()) {
        var scanner = StructuredFieldScanner(fieldValue)
        scanner.skipCFWS()
        guard let type = scanner.readToken() else { return nil }
        scanner.skipCFWS()
        guard scanner.current == UInt8(ascii: "/") else { return nil }
        scanner.index += 1
        scanner.skipCFWS()
        guard let subtype = scanner.readToken() else { return nil }
        let parameters = MIMEParameter.assemble(scanner.readParameters(limit: limits.maximumParameters))
        self.init(
            type: MIMEGrammar.lowercasedString(type), subtype: MIMEGrammar.lowercasedString(subtype),
            parameters: parameters)
    }

    /// The first parameter called `name` (case-insensitive).
    public func parameter(named name: String) -> MIMEParameter? {
        parameters.first(named: name)
    }

    /// The `charset` parameter.
    public var charset: String? { parameter(named: "charset")?.value }

    /// The `boundary` parameter's octets (multipart, RFC 2046 §5.1.1).
    public var boundary: [UInt8]? { parameter(named: "boundary")?.octets }

    public var isMultipart: Bool { type == "multipart" }

    /// message/rfc822 or message/global (RFC 6532 §3.7): a part whose body is a message,
    /// which IMAP describes with its own envelope and structure.
    public var isEncapsulatedMessage: Bool {
        type == "message" && (subtype == "rfc822" || subtype == "global")
    }

    public var isText: Bool { type == "text" }
}
