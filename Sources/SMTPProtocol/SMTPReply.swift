public import NIOCore

/// An enhanced mail system status code `class.subject.detail`.
///
/// - SeeAlso: RFC 3463, RFC 2034 (sent on every reply once ENHANCEDSTATUSCODES is offered)
public struct EnhancedStatusCode: Hashable, Sendable, CustomStringConvertible {
    public let `class`: Int
    public let subject: Int
    public let detail: Int

    public init(_ klass: Int, _ subject: Int, _ detail: Int) {
        self.class = klass
        self.subject = subject
        self.detail = detail
    }

    public var description: String { "\(self.class).\(subject).\(detail)" }
}

/// A server reply: a three-digit code, an enhanced status code, and one or more lines.
///
///     Reply-line = *( Reply-code "-" [ textstring ] CRLF )
///                  Reply-code [ SP textstring ] CRLF
///
/// - SeeAlso: RFC 5321 §4.2, RFC 2034 §4
public struct SMTPReply: Hashable, Sendable, CustomStringConvertible {
    public let code: Int
    public let enhanced: EnhancedStatusCode?
    public let lines: [String]

    public init(_ code: Int, _ enhanced: EnhancedStatusCode?, _ lines: [String]) {
        self.code = code
        self.enhanced = enhanced
        self.lines = lines.isEmpty ? [""] : lines
    }

    public init(_ code: Int, _ enhanced: EnhancedStatusCode?, _ text: String) {
        self.init(code, enhanced, [text])
    }

    public var isPositive: Bool { code < 400 }
    public var isTransientFailure: Bool { (400..<500).contains(code) }

    public var description: String { "\(code) \(enhanced.map { "\($0) " } ?? "")\(lines.joined(separator: " / "))" }

    // MARK: - Encoding

    /// The wire form. The enhanced code goes on every line (RFC 2034 §4). Text is
    /// cleaned of CR and LF so that no value can inject a reply line.
    public func encode(into buffer: inout ByteBuffer) {
        for (index, line) in lines.enumerated() {
            buffer.writeString(String(code))
            buffer.writeString(index == lines.count - 1 ? " " : "-")
            if let enhanced {
                buffer.writeString(enhanced.description)
                if !line.isEmpty { buffer.writeString(" ") }
            }
            buffer.writeString(line.replacingCRLF())
            buffer.writeString("\r\n")
        }
    }

    public var encoded: ByteBuffer {
        var buffer = ByteBuffer()
        encode(into: &buffer)
        return buffer
    }
}

extension String {
    func replacingCRLF() -> String {
        guard contains(where: { $0 == "\r" || $0 == "\n" || $0 == "\r\n" }) else { return self }
        return String(map { $0 == "\r" || $0 == "\n" || $0 == "\r\n" ? " " : $0 })
    }
}

// MARK: - The replies the server sends, by name (RFC 5321 §4.2.2, §4.2.3; RFC 3463)

extension SMTPReply {
    public static func ok(_ text: String = "Ok") -> SMTPReply { SMTPReply(250, .init(2, 0, 0), text) }
    public static let senderOK = SMTPReply(250, .init(2, 1, 0), "Ok")
    public static let recipientOK = SMTPReply(250, .init(2, 1, 5), "Ok")
    public static let startData = SMTPReply(354, nil, "End data with <CR><LF>.<CR><LF>")
    public static let bye = SMTPReply(221, .init(2, 0, 0), "Bye")
    public static let readyToStartTLS = SMTPReply(220, .init(2, 0, 0), "Ready to start TLS")
    public static let authenticated = SMTPReply(235, .init(2, 7, 0), "Authentication successful")
    public static let cannotVerify = SMTPReply(252, .init(2, 0, 0), "Cannot VRFY user, but will accept message and attempt delivery")

    public static let syntaxError = SMTPReply(500, .init(5, 5, 2), "Error: bad syntax")
    public static let lineTooLong = SMTPReply(500, .init(5, 5, 2), "Error: line too long")
    public static let commandUnrecognized = SMTPReply(502, .init(5, 5, 2), "Error: command not recognized")
    public static let commandNotImplemented = SMTPReply(502, .init(5, 5, 1), "Error: command not implemented")
    public static func badSequence(_ text: String) -> SMTPReply { SMTPReply(503, .init(5, 5, 1), "Error: \(text)") }
    public static func parameterSyntax(_ text: String) -> SMTPReply { SMTPReply(501, .init(5, 5, 4), text) }
    public static let unknownParameter = SMTPReply(555, .init(5, 5, 4), "Unsupported option")
    public static let authenticationRequired = SMTPReply(530, .init(5, 7, 0), "Authentication required")
    public static let encryptionRequired = SMTPReply(530, .init(5, 7, 0), "Must issue a STARTTLS command first")
    public static let encryptionRequiredForAuth = SMTPReply(538, .init(5, 7, 11), "Encryption required for requested authentication mechanism")
    public static let relayDenied = SMTPReply(554, .init(5, 7, 1), "Relay access denied")
    public static let userUnknown = SMTPReply(550, .init(5, 1, 1), "Recipient address rejected: User unknown")
    public static let senderNotOwned = SMTPReply(553, .init(5, 7, 1), "Sender address rejected: not owned by user")
    public static let tooManyRecipients = SMTPReply(452, .init(4, 5, 3), "Error: too many recipients")
    public static let messageTooBig = SMTPReply(552, .init(5, 3, 4), "Message size exceeds fixed limit")
    public static let noValidRecipients = SMTPReply(554, .init(5, 5, 1), "Error: no valid recipients")
    public static let bareLineEnding = SMTPReply(550, .init(5, 5, 2), "Error: message contains bare CR or LF; use CRLF line endings")
    public static let utf8NotDeclared = SMTPReply(553, .init(5, 6, 7), "Must declare SMTPUTF8 to use non-ASCII addresses")
    public static let binaryNeedsChunking = SMTPReply(503, .init(5, 5, 1), "Error: BINARYMIME requires BDAT")
    public static let temporaryFailure = SMTPReply(451, .init(4, 3, 0), "Error: temporary failure; try again later")
    public static let authenticationFailed = SMTPReply(535, .init(5, 7, 8), "Error: authentication failed")
    public static let authenticationThrottled = SMTPReply(454, .init(4, 7, 0), "Temporary authentication failure; try again later")
    public static let authenticationCancelled = SMTPReply(501, .init(5, 0, 0), "Authentication cancelled")
    public static let authenticationMalformed = SMTPReply(501, .init(5, 5, 2), "Error: cannot decode response")
    public static let mechanismUnknown = SMTPReply(504, .init(5, 5, 4), "Unrecognized authentication type")
    public static func tooManyErrors(_ host: String) -> SMTPReply { SMTPReply(421, .init(4, 7, 0), "\(host) Error: too many errors") }
    public static func shuttingDown(_ host: String) -> SMTPReply { SMTPReply(421, .init(4, 3, 2), "\(host) Service shutting down") }
    public static func idleTimeout(_ host: String) -> SMTPReply { SMTPReply(421, .init(4, 4, 2), "\(host) Error: timeout exceeded") }
    public static func tooManyConnections(_ host: String) -> SMTPReply { SMTPReply(421, .init(4, 7, 0), "\(host) Error: too many connections") }
}
