/// The limits an SMTP session enforces; every one has a configurable default.
public struct SMTPLimits: Sendable, Equatable {
    /// RFC 5321 §4.5.3.1.4: at least 512 octets for a command line including CRLF;
    /// ESMTP parameters may make lines longer (RFC 1869 §4.1.2 allows +2000 per extension),
    /// so we accept up to 2048.
    public var maximumCommandLineLength = 2048
    /// RFC 5321 §4.5.3.1.8: at least 100 recipients must be accepted; Postfix's
    /// `smtpd_recipient_limit` is 1000.
    public var maximumRecipients = 1000
    /// Largest message accepted, announced in `SIZE` (Postfix `message_size_limit`, 10 MB;
    /// modern attachments want more).
    public var maximumMessageSize = 50 * 1024 * 1024
    /// Errors (4xx/5xx answers to commands) after which the session is closed with 421
    /// (Postfix `smtpd_hard_error_limit` 20).
    public var maximumErrors = 20
    /// NOOP, RSET, VRFY, HELP and repeated EHLO/HELO allowed in one session
    /// (Postfix `smtpd_junk_command_limit` 100).
    public var maximumJunkCommands = 100

    public init() {}
}
