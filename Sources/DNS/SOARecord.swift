/// The RDATA of an SOA record.
///
///     MNAME RNAME SERIAL REFRESH RETRY EXPIRE MINIMUM
///
/// In a negative answer, the lesser of its TTL and `minimum` is how long the answer
/// may be cached (RFC 2308 §5).
///
/// - SeeAlso: RFC 1035 §3.3.13, RFC 2308 §4
public struct SOARecord: Hashable, Sendable, CustomStringConvertible {
    /// MNAME: the zone's primary name server.
    public var primaryNameServer: String
    /// RNAME: the mailbox of the person responsible, as a name (`hostmaster.example.com`).
    public var responsibleMailbox: String
    public var serial: UInt32
    public var refresh: UInt32
    public var retry: UInt32
    public var expire: UInt32
    /// MINIMUM: since RFC 2308 §4, the TTL of negative answers.
    public var minimum: UInt32

    public init(
        primaryNameServer: String, responsibleMailbox: String, serial: UInt32, refresh: UInt32, retry: UInt32,
        expire: UInt32, minimum: UInt32
    ) {
        self.primaryNameServer = primaryNameServer
        self.responsibleMailbox = responsibleMailbox
        self.serial = serial
        self.refresh = refresh
        self.retry = retry
        self.expire = expire
        self.minimum = minimum
    }

    public var description: String {
        "\(primaryNameServer). \(responsibleMailbox). \(serial) \(refresh) \(retry) \(expire) \(minimum)"
    }
}
