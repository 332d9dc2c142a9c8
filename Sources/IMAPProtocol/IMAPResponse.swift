public import NIOCore

/// A server response line: a tagged status (the end of a command), an untagged status
/// or data line, or a command continuation request. Only what framing errors, literals
/// and simple commands need; the full response model (FETCH data, LIST, ESEARCH, …)
/// builds on `untaggedData` and `IMAPEncoding` until it exists.
///
///     S: A142 OK [READ-WRITE] SELECT completed     .tagged(tag: "A142", status: .ok,
///                                                          code: .readWrite, text: "SELECT completed")
///     S: * BAD Empty command line                 .untagged(.bad, code: nil, text: "Empty command line")
///     S: * CAPABILITY IMAP4rev2 IDLE              .untaggedData("CAPABILITY IMAP4rev2 IDLE")
///     S: + Ready for literal data                 .continuation("Ready for literal data")
///
/// Text is cleaned of CR, LF and NUL when encoded, so that no value (a tag, a mailbox name
/// in a message) can end the line early and inject a response.
///
/// - SeeAlso: RFC 9051 §7 (responses), §7.1 (status responses and codes), §7.5
///   (continuation requests), §9 (response, resp-cond-state, resp-text)
public enum IMAPResponse: Hashable, Sendable, CustomStringConvertible {
    /// `tag SP ("OK" / "NO" / "BAD") SP resp-text`: the command with this tag is done.
    case tagged(tag: String, status: Status, code: IMAPResponseCode?, text: String)
    /// `"*" SP status SP resp-text`: a status not tied to a command (BYE, an alert, or a
    /// BAD for a line whose tag could not be read).
    case untagged(Status, code: IMAPResponseCode?, text: String)
    /// `"*" SP` followed by already-encoded response data.
    case untaggedData(String)
    /// `"+" SP text`: the server waits for a literal or an AUTHENTICATE response.
    case continuation(String)

    /// The status conditions.
    ///
    ///     resp-cond-state = ("OK" / "NO" / "BAD") SP resp-text
    ///     resp-cond-bye   = "BYE" SP resp-text
    ///     resp-cond-auth  = ("OK" / "PREAUTH") SP resp-text
    public enum Status: String, Hashable, Sendable {
        case ok = "OK"
        case no = "NO"
        case bad = "BAD"
        /// Untagged only: the server closes the connection (RFC 9051 §7.1.5).
        case bye = "BYE"
        /// Untagged greeting only (RFC 9051 §7.1.4).
        case preauth = "PREAUTH"
    }

    /// `+ Ready for literal data`: the answer to a synchronising literal announcement
    /// (RFC 9051 §7.5, the wording of its examples).
    public static let readyForLiteral = IMAPResponse.continuation("Ready for literal data")

    /// The line without its CRLF, as `encode` writes it.
    public var description: String {
        switch self {
        case .tagged(let tag, let status, let code, let text):
            return IMAPResponse.statusLine(prefix: tag, status: status, code: code, text: text)
        case .untagged(let status, let code, let text):
            return IMAPResponse.statusLine(prefix: "*", status: status, code: code, text: text)
        case .untaggedData(let data):
            return "* " + data
        case .continuation(let text):
            // continue-req = "+" SP (resp-text / base64) CRLF
            return "+ " + text
        }
    }

    private static func statusLine(prefix: String, status: Status, code: IMAPResponseCode?, text: String) -> String {
        var line = prefix + " " + status.rawValue
        if let code { line += " [\(code)]" }
        if !text.isEmpty { line += " " + text }
        return line
    }

    // MARK: - Encoding

    /// The line with CRLF; CR, LF and NUL inside it become spaces.
    public func encode(into buffer: inout ByteBuffer) {
        buffer.writeBytes(IMAPEncoding.withoutLineBreaks(description))
        buffer.writeStaticString("\r\n")
    }

    public var encoded: ByteBuffer {
        var buffer = ByteBuffer()
        encode(into: &buffer)
        return buffer
    }
}

/// A response code: the bracketed part of a status response that tells the client
/// *why*, in a form a program can act on.
///
///     resp-text-code = "ALERT" / "BADCHARSET" [SP "(" charset *(SP charset) ")"] / …
///                      / atom [SP 1*<any TEXT-CHAR except "]">]
///
/// - SeeAlso: RFC 9051 §7.1 (codes), RFC 5530 (the registry's codes), RFC 7889 §4
///   (TOOBIG for APPEND), RFC 7888 §4 (TOOBIG for a refused non-synchronising literal),
///   RFC 6154 §3 (USEATTR), RFC 7162 §3.1 (HIGHESTMODSEQ, NOMODSEQ, MODIFIED)
public struct IMAPResponseCode: Hashable, Sendable, CustomStringConvertible {
    /// The code's atom, upper-case: `TOOBIG`.
    public let name: String
    /// What follows the atom inside the brackets, already in wire form: `(UTF-8)`.
    public let argument: String?

    public init(_ name: String, _ argument: String? = nil) {
        self.name = name
        self.argument = argument
    }

    /// `[name]` or `[name argument]` without the brackets.
    public var description: String {
        guard let argument else { return name }
        return name + " " + argument.replacingBracket()
    }

    // RFC 9051 §7.1
    public static let alert = IMAPResponseCode("ALERT")
    public static let alreadyExists = IMAPResponseCode("ALREADYEXISTS")
    public static let authenticationFailed = IMAPResponseCode("AUTHENTICATIONFAILED")
    public static let authorizationFailed = IMAPResponseCode("AUTHORIZATIONFAILED")
    public static let cannot = IMAPResponseCode("CANNOT")
    public static let clientBug = IMAPResponseCode("CLIENTBUG")
    public static let closed = IMAPResponseCode("CLOSED")
    public static let contactAdmin = IMAPResponseCode("CONTACTADMIN")
    public static let corruption = IMAPResponseCode("CORRUPTION")
    public static let expired = IMAPResponseCode("EXPIRED")
    public static let expungeIssued = IMAPResponseCode("EXPUNGEISSUED")
    public static let hasChildren = IMAPResponseCode("HASCHILDREN")
    public static let inUse = IMAPResponseCode("INUSE")
    public static let limit = IMAPResponseCode("LIMIT")
    public static let nonexistent = IMAPResponseCode("NONEXISTENT")
    public static let noPermission = IMAPResponseCode("NOPERM")
    public static let overQuota = IMAPResponseCode("OVERQUOTA")
    public static let parse = IMAPResponseCode("PARSE")
    public static let privacyRequired = IMAPResponseCode("PRIVACYREQUIRED")
    public static let readOnly = IMAPResponseCode("READ-ONLY")
    public static let readWrite = IMAPResponseCode("READ-WRITE")
    public static let serverBug = IMAPResponseCode("SERVERBUG")
    public static let tryCreate = IMAPResponseCode("TRYCREATE")
    public static let unavailable = IMAPResponseCode("UNAVAILABLE")
    public static let unknownCTE = IMAPResponseCode("UNKNOWN-CTE")
    public static let uidNotSticky = IMAPResponseCode("UIDNOTSTICKY")
    /// RFC 4469 §5, RFC 7888 §4, RFC 7889 §4: the command (a literal, a message) is too
    /// large.
    public static let tooBig = IMAPResponseCode("TOOBIG")
    /// RFC 6154 §3: CREATE with a special use the server does not support.
    public static let useAttribute = IMAPResponseCode("USEATTR")
    /// RFC 7162 §3.1.2: the mailbox has no mod-sequences.
    public static let noModSeq = IMAPResponseCode("NOMODSEQ")

    /// `BADCHARSET (UTF-8 …)` (RFC 9051 §7.1): the SEARCH charset is not supported; the
    /// ones that are follow.
    public static func badCharset(_ supported: [String]) -> IMAPResponseCode {
        supported.isEmpty
            ? IMAPResponseCode("BADCHARSET")
            : IMAPResponseCode("BADCHARSET", "(" + supported.joined(separator: " ") + ")")
    }

    /// `CAPABILITY …` (RFC 9051 §7.1).
    public static func capability(_ capabilities: [String]) -> IMAPResponseCode {
        IMAPResponseCode("CAPABILITY", capabilities.joined(separator: " "))
    }

    /// `UIDVALIDITY n`, `UIDNEXT n` (RFC 9051 §7.1).
    public static func uidValidity(_ value: UInt32) -> IMAPResponseCode {
        IMAPResponseCode("UIDVALIDITY", String(value))
    }
    public static func uidNext(_ value: UInt32) -> IMAPResponseCode { IMAPResponseCode("UIDNEXT", String(value)) }
    /// `HIGHESTMODSEQ n` (RFC 7162 §3.1.2.1).
    public static func highestModSeq(_ value: UInt64) -> IMAPResponseCode {
        IMAPResponseCode("HIGHESTMODSEQ", String(value))
    }
    /// `APPENDUID uidvalidity uid` (RFC 4315 §3).
    public static func appendUID(uidValidity: UInt32, uids: SequenceSet) -> IMAPResponseCode {
        IMAPResponseCode("APPENDUID", "\(uidValidity) \(uids)")
    }
    /// `COPYUID uidvalidity source-uids destination-uids` (RFC 4315 §3).
    public static func copyUID(uidValidity: UInt32, source: SequenceSet, destination: SequenceSet) -> IMAPResponseCode {
        IMAPResponseCode("COPYUID", "\(uidValidity) \(source) \(destination)")
    }
}

extension String {
    /// "]" would end the response code early: replaced by a space.
    fileprivate func replacingBracket() -> String {
        guard utf8.contains(UInt8(ascii: "]")) else { return self }
        return String(decoding: utf8.map { $0 == UInt8(ascii: "]") ? UInt8(ascii: " ") : $0 }, as: UTF8.self)
    }
}
