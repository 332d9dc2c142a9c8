/// How long the client waits at each step. The defaults are RFC 5321 §4.5.3.2's
/// minimums where it names one, and Postfix's where it does not.
///
/// - SeeAlso: RFC 5321 §4.5.3.2 ("Timeouts"), §4.5.3.2.1–7
public struct SMTPClientTimeouts: Sendable, Equatable {
    /// Establishing the TCP connection (Postfix `smtp_connect_timeout`, 30 s).
    public var connect: Duration = .seconds(30)
    /// §4.5.3.2.1 "Initial 220 Message: 5 Minutes".
    public var greeting: Duration = .seconds(300)
    /// The reply to EHLO or HELO (Postfix `smtp_helo_timeout`, 300 s).
    public var hello: Duration = .seconds(300)
    /// The reply to STARTTLS and then the TLS handshake, each (Postfix
    /// `smtp_starttls_timeout`, 300 s; RFC 3207 names none).
    public var tlsHandshake: Duration = .seconds(300)
    /// Each reply of the AUTH exchange (RFC 4954 names none; as EHLO).
    public var authentication: Duration = .seconds(300)
    /// §4.5.3.2.2 "MAIL Command: 5 Minutes".
    public var mail: Duration = .seconds(300)
    /// §4.5.3.2.3 "RCPT Command: 5 Minutes".
    public var rcpt: Duration = .seconds(300)
    /// §4.5.3.2.4 "DATA Initiation: 2 Minutes" (the 354).
    public var data: Duration = .seconds(120)
    /// §4.5.3.2.5 "Data Block: 3 Minutes": each block of the message written, and the
    /// reply to a BDAT chunk that is not the last.
    public var dataBlock: Duration = .seconds(180)
    /// §4.5.3.2.6 "DATA Termination: 10 Minutes": the reply to the end of the message.
    public var endOfData: Duration = .seconds(600)
    /// The reply to RSET, sent before a cached connection is used again (Postfix
    /// `smtp_rset_timeout`, 20 s).
    public var reset: Duration = .seconds(20)
    /// The reply to QUIT before the connection is closed anyway (Postfix
    /// `smtp_quit_timeout` is 300 s; nothing depends on this reply, so it is short).
    public var quit: Duration = .seconds(10)
    /// How long an idle connection is kept for the next message to the same next hop
    /// (Postfix `smtp_connection_cache_time_limit`, 2 s).
    public var connectionCacheTime: Duration = .seconds(5)

    public init() {}
}
