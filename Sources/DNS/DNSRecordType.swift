/// A resource record TYPE (or QTYPE), as a 16-bit code so that types this module does
/// not know still round-trip.
///
///     TYPE fields are used in resource records.  Note that these types are a
///     subset of QTYPEs.
///
/// - SeeAlso: RFC 1035 §3.2.2, §3.2.3; RFC 3596 §2.1 (AAAA); RFC 6698 §7.1 (TLSA);
///   RFC 6891 §6.1.1 (OPT); RFC 3597 §5 (the `TYPE123` form for unknown types)
public struct DNSRecordType: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt16

    public init(rawValue: UInt16) {
        self.rawValue = rawValue
    }

    /// RFC 1035 §3.4.1: a host address (IPv4).
    public static let a = DNSRecordType(rawValue: 1)
    /// RFC 1035 §3.3.11: an authoritative name server.
    public static let ns = DNSRecordType(rawValue: 2)
    /// RFC 1035 §3.3.1: the canonical name for an alias.
    public static let cname = DNSRecordType(rawValue: 5)
    /// RFC 1035 §3.3.13: the start of a zone of authority.
    public static let soa = DNSRecordType(rawValue: 6)
    /// RFC 1035 §3.3.12: a domain name pointer (reverse lookups).
    public static let ptr = DNSRecordType(rawValue: 12)
    /// RFC 1035 §3.3.9: a mail exchange.
    public static let mx = DNSRecordType(rawValue: 15)
    /// RFC 1035 §3.3.14: text strings.
    public static let txt = DNSRecordType(rawValue: 16)
    /// RFC 3596 §2.1: a host address (IPv6).
    public static let aaaa = DNSRecordType(rawValue: 28)
    /// RFC 6891 §6.1.1: the EDNS(0) pseudo-record.
    public static let opt = DNSRecordType(rawValue: 41)
    /// RFC 6698 §2: a TLS certificate association (DANE).
    public static let tlsa = DNSRecordType(rawValue: 52)

    public var description: String {
        switch self {
        case .a: return "A"
        case .ns: return "NS"
        case .cname: return "CNAME"
        case .soa: return "SOA"
        case .ptr: return "PTR"
        case .mx: return "MX"
        case .txt: return "TXT"
        case .aaaa: return "AAAA"
        case .opt: return "OPT"
        case .tlsa: return "TLSA"
        default: return "TYPE\(rawValue)"  // RFC 3597 §5
        }
    }
}
