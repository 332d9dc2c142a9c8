/// What the outbound path needs from DNS: the mail exchangers of a domain and the
/// addresses of a host. `DNSResolver` answers from the network; tests use a table.
///
/// - SeeAlso: RFC 5321 §5.1 (locating the target host), RFC 7505 (null MX)
public protocol HostResolver: Sendable {
    /// The mail exchangers of `domain` per RFC 5321 §5.1: MX records sorted by
    /// preference (equal preferences shuffled), or the implicit MX (the domain itself,
    /// preference 0) when the domain has no MX but has an A or AAAA record.
    /// `.nullMX` for RFC 7505's single `MX 0 .`; `.noSuchDomain` for NXDOMAIN or a
    /// name with neither MX nor address records. Throws `DNSError` (temporary) when
    /// no server gave a usable answer.
    func mailExchangers(for domain: String) async throws(DNSError) -> MailExchangerLookup

    /// The IPv4 and IPv6 addresses of `host` as textual literals (`192.0.2.1`,
    /// `2001:db8::1`), IPv4 first. Throws `DNSError` with kind `.noSuchName` when the
    /// name does not exist or has no address records.
    func addresses(of host: String) async throws(DNSError) -> [String]
}

/// One MX record's target.
public struct MailExchanger: Sendable, Hashable, CustomStringConvertible {
    public var preference: UInt16
    /// The exchange host name, lowercased, without the trailing dot.
    public var host: String

    public init(preference: UInt16, host: String) {
        self.preference = preference
        self.host = host
    }

    public var description: String { "\(preference) \(host)" }
}

/// The answer to "where does mail for this domain go".
public enum MailExchangerLookup: Sendable, Equatable {
    /// In the order to try them (RFC 5321 §5.1).
    case exchangers([MailExchanger])
    /// RFC 7505: the domain accepts no mail; bounce at once (5.1.10).
    case nullMX
    /// NXDOMAIN, or neither MX nor address records: bounce (5.1.2).
    case noSuchDomain
}

/// Why a lookup failed. `detail` is for logs and for the queue's "last error".
public struct DNSError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        /// NXDOMAIN or no records of the asked type: permanent.
        case noSuchName
        /// Timeouts, SERVFAIL, REFUSED, unusable or hostile answers, no servers: try later.
        case temporary
    }

    public let kind: Kind
    public let detail: String

    public init(_ kind: Kind, _ detail: String) {
        self.kind = kind
        self.detail = detail
    }

    public var description: String { detail }
}
