public import NIOCore

/// The limits every listener enforces, each configurable (`[limits]` and the
/// per-service tables of the configuration). The defaults are what a production
/// server would use.
public struct ListenerLimits: Sendable {
    /// Connections open at once on this listener (Postfix `default_process_limit`
    /// is 100 processes; an event-driven server affords far more).
    public var maximumConnections = 10_000
    /// Connections open at once from one client IP (Postfix
    /// `smtpd_client_connection_count_limit` 50; Dovecot `mail_max_userip_connections` 10
    /// per user).
    public var maximumConnectionsPerAddress = 50
    /// Silence after which the session is ended with the protocol's timeout reply.
    public var idleTimeout: TimeAmount = .minutes(5)
    /// Longest line accepted, CRLF excluded.
    public var maximumLineLength = 8192

    public init() {}
}
