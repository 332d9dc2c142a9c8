/// Why a command (or a line during IDLE or AUTHENTICATE) was refused, as the response
/// to send.
///
///     C: A1 FETCH 0 FLAGS             S: A1 BAD Invalid sequence number
///     C: * LOGIN a b                  S: * BAD Invalid tag
///     C: A2 LOGIN {99999}             S: A2 BAD [TOOBIG] Literal too large
///     C: A3 APPEND INBOX {99999999}   S: A3 NO [TOOBIG] Message too large
///     C: A4 LOGIN {9999999999+}       S: * BYE Literal too large
///
/// The tag is the client's when it could be read, and the response is then tagged;
/// otherwise it is untagged (RFC 9051 §7.1.3: "BAD … the tag is "*" when the tag cannot
/// be determined"). The text is generic: it names the rule that failed and never echoes
/// client data.
///
/// - SeeAlso: RFC 9051 §7.1.3 (BAD), §7.1.5 (BYE); STYLE.md §4 (error taxonomy)
public struct IMAPParseError: Error, Hashable, Sendable, CustomStringConvertible {
    public enum Kind: Hashable, Sendable {
        /// Malformed arguments: `BAD`.
        case syntax
        /// Not an IMAP command at all (an unknown command, a line without a tag, binary
        /// data): `BAD`. A first line like this ends the session (STYLE.md §4).
        case unrecognized
        /// Over a size or count limit: `BAD [TOOBIG]` (RFC 7888 §4).
        case tooBig
        /// An APPEND message over the size limit: `NO [TOOBIG]` (RFC 7889 §4, RFC 9051
        /// §6.3.12: the client should not retry).
        case messageTooBig
        /// A SEARCH CHARSET other than UTF-8 and US-ASCII: `NO [BADCHARSET (UTF-8
        /// US-ASCII)]` (RFC 9051 §6.4.4).
        case badCharset
        /// The framing cannot go on (a non-synchronising literal too large to skip, a
        /// line over the connection's limit): `* BYE`, then close the connection.
        case fatal
    }

    public let kind: Kind
    /// The command's tag, when it could be read.
    public let tag: String?
    /// Human-readable text for the response.
    public let text: String

    public init(_ kind: Kind, tag: String?, _ text: String) {
        self.kind = kind
        self.tag = tag
        self.text = text
    }

    /// After sending `response`, the connection must be closed.
    public var closesConnection: Bool { kind == .fatal }

    /// The response to send: a tagged (or, without a tag, untagged) BAD or NO, or
    /// `* BYE` for fatal errors.
    public var response: IMAPResponse {
        let status: IMAPResponse.Status
        let code: IMAPResponseCode?
        switch kind {
        case .syntax, .unrecognized:
            status = .bad
            code = nil
        case .tooBig:
            status = .bad
            code = .tooBig
        case .messageTooBig:
            status = .no
            code = .tooBig
        case .badCharset:
            status = .no
            code = .badCharset(["US-ASCII", "UTF-8"])
        case .fatal:
            return .untagged(.bye, code: nil, text: text)
        }
        guard let tag else { return .untagged(status, code: code, text: text) }
        return .tagged(tag: tag, status: status, code: code, text: text)
    }

    public var description: String { response.description }
}
