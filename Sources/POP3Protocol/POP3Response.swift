public import NIOCore

/// A status line from the server: `+OK` or `-ERR`, an optional extended response code,
/// and text.
///
///     S: +OK 2 320
///     S: -ERR [IN-USE] Mailbox is locked by another POP3 session
///
/// A multi-line response is this line followed by dot-stuffed lines and a line holding
/// only "." (`encode(lines:into:)`).
///
/// - SeeAlso: RFC 1939 §3 (status indicators, multi-line responses), RFC 2449 §3
///   (grammar), §8 (response codes), RFC 3206
public struct POP3Response: Hashable, Sendable, CustomStringConvertible {
    public enum Status: Hashable, Sendable {
        /// `+OK`
        case ok
        /// `-ERR`
        case err
    }

    /// An extended response code, sent in brackets after `-ERR` once `RESP-CODES` is
    /// announced.
    ///
    ///     resp-code = "[" resp-level *("/" resp-level) "]"
    ///
    /// - SeeAlso: RFC 2449 §3, §8; RFC 3206 §4, §5
    public enum Code: String, Hashable, Sendable {
        /// RFC 2449 §8.1.1: the maildrop is locked by another session.
        case inUse = "IN-USE"
        /// RFC 2449 §8.1.2: the login is refused for now; try again later.
        case loginDelay = "LOGIN-DELAY"
        /// RFC 3206 §4: a temporary system failure; the client may retry.
        case systemTemporary = "SYS/TEMP"
        /// RFC 3206 §4: a permanent system failure.
        case systemPermanent = "SYS/PERM"
        /// RFC 3206 §5: the credentials were refused (not a system failure).
        case authentication = "AUTH"
    }

    public let status: Status
    public let code: Code?
    public let text: String

    public init(_ status: Status, _ code: Code?, _ text: String) {
        self.status = status
        self.code = code
        self.text = text
    }

    /// `+OK text`, or a bare `+OK` when `text` is empty.
    public static func ok(_ text: String = "") -> POP3Response { POP3Response(.ok, nil, text) }

    /// `-ERR text`.
    public static func err(_ text: String) -> POP3Response { POP3Response(.err, nil, text) }

    /// `-ERR [code] text`.
    public static func err(_ code: Code, _ text: String) -> POP3Response { POP3Response(.err, code, text) }

    public var isOK: Bool { status == .ok }

    public var description: String {
        var line = status == .ok ? "+OK" : "-ERR"
        if let code { line += " [\(code.rawValue)]" }
        if !text.isEmpty { line += " " + text }
        return line
    }

    // MARK: - Encoding

    /// The status line with CRLF. Text is cleaned of CR, LF and NUL so that no value (a
    /// session ID, a number echoed back) can inject a response line.
    ///
    ///     single-line = status [SP text] CRLF
    ///     status      = "+OK" / "-ERR"
    public func encode(into buffer: inout ByteBuffer) {
        buffer.writeString(description.withoutLineBreaks())
        buffer.writeString("\r\n")
    }

    public var encoded: ByteBuffer {
        var buffer = ByteBuffer()
        encode(into: &buffer)
        return buffer
    }

    /// The status line, then each of `lines` (CR/LF cleaned, a leading "." doubled), then
    /// the terminating ".".
    ///
    ///     S: +OK 2 messages (320 octets)
    ///     S: 1 120
    ///     S: 2 200
    ///     S: .
    ///
    /// - SeeAlso: RFC 1939 §3 (byte-stuffing of the termination octet)
    public func encode(lines: [String], into buffer: inout ByteBuffer) {
        encode(into: &buffer)
        for line in lines {
            let clean = line.withoutLineBreaks()
            if clean.utf8.first == UInt8(ascii: ".") { buffer.writeString(".") }
            buffer.writeString(clean)
            buffer.writeString("\r\n")
        }
        buffer.writeString(".\r\n")
    }

    public func encodedWithLines(_ lines: [String]) -> ByteBuffer {
        var buffer = ByteBuffer()
        encode(lines: lines, into: &buffer)
        return buffer
    }
}

extension String {
    /// This string with CR, LF and NUL replaced by spaces.
    func withoutLineBreaks() -> String {
        guard utf8.contains(where: { $0 == 13 || $0 == 10 || $0 == 0 }) else { return self }
        return String(
            decoding: utf8.map { $0 == 13 || $0 == 10 || $0 == 0 ? UInt8(ascii: " ") : $0 }, as: UTF8.self)
    }
}
