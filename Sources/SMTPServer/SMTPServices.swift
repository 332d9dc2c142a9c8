public import Directory
public import Logging
public import MailQueue
public import MailStore

/// What SMTP sessions use from the rest of the server. Protocols, not backends
/// (STYLE.md §1): `TsubameServer` decides which implementations these are.
public struct SMTPServices: Sendable {
    public let directory: any AccountDirectory
    public let authenticator: Authenticator
    public let delivery: any MessageDelivery
    public let spool: Spool
    public let logger: Logger
    /// Seconds since 1970, for `Received:` dates (injected so tests can fix it).
    public let now: @Sendable () -> Int64
    /// Canonical login → extra senders (addresses or `@domain`) it may use on submission.
    public let senderAllowances: [String: [String]]

    public init(
        directory: any AccountDirectory, authenticator: Authenticator, delivery: any MessageDelivery, spool: Spool,
        logger: Logger, senderAllowances: [String: [String]] = [:], now: @escaping @Sendable () -> Int64
    ) {
        self.senderAllowances = senderAllowances
        self.directory = directory
        self.authenticator = authenticator
        self.delivery = delivery
        self.spool = spool
        self.logger = logger
        self.now = now
    }
}
