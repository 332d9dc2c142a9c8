/// The limits the outbound SMTP client holds a server (and itself) to. Every one is a
/// named default with its reason; the client takes a value, so tests and operators
/// can change them.
///
/// - SeeAlso: RFC 5321 §4.5.3.1 (size limits), §5.1 (trying several addresses)
public struct SMTPClientLimits: Sendable, Equatable {
    /// The longest reply line accepted, CRLF included. RFC 5321 §4.5.3.1.5 sets 512
    /// octets; real servers exceed it (long EHLO keywords, verbose rejections), so we
    /// allow eight times that. A longer line is a hostile or broken server.
    public var maximumReplyLineLength = 4096
    /// The most lines in one multi-line reply. The longest legitimate replies are EHLO
    /// responses of a few dozen lines.
    public var maximumReplyLines = 200
    /// Octets buffered from a server while the client waits for no reply (a cached,
    /// idle connection, or while a pipelined group is still being written): past this,
    /// reading pauses until a reply is wanted. It must hold the replies to a whole
    /// pipelined group — about 40 octets per RCPT — or client and server could each
    /// wait for the other to read (RFC 2920 §3.1's deadlock warning); 1 MiB is some
    /// 25 000 recipients.
    public var maximumBufferedReplyBytes = 1024 * 1024
    /// The size of one BDAT chunk (RFC 3030 §2): messages up to this size go in one
    /// `BDAT n LAST`; larger ones in several chunks of this size.
    public var maximumChunkSize = 1024 * 1024
    /// DATA and BDAT content is written in blocks of this size, each with the data-block
    /// timeout (RFC 5321 §4.5.3.2.5 "Data Block: 3 minutes").
    public var dataBlockSize = 64 * 1024
    /// Addresses tried for one delivery, over all MX hosts (Postfix
    /// `smtp_mx_address_limit`, 5).
    public var maximumAddressesTried = 5
    /// Sessions that reached the server but failed (bad greeting, EHLO or TLS refused)
    /// before the client gives up (Postfix `smtp_mx_session_limit`, 2).
    public var maximumFailedSessions = 2
    /// Idle connections kept for reuse, over all next hops; the oldest is closed first.
    public var maximumCachedConnections = 16
    /// Transactions sent over one connection before it is closed rather than cached
    /// (Postfix `smtp_connection_reuse_count_limit`, which defaults to no limit; a
    /// bound keeps one slow server from holding a connection for ever).
    public var maximumTransactionsPerConnection = 100
    /// The longest diagnostic copied from a server reply into a recipient's result (the
    /// DSN's Diagnostic-Code and the queue's "last error"); longer text is cut.
    public var maximumDiagnosticLength = 1000

    public init() {}
}
