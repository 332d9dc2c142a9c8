/// A response code: the four bits of the header's RCODE, extended to twelve by the OPT
/// record's EXTENDED-RCODE.
///
/// - SeeAlso: RFC 1035 §4.1.1 (RCODE), RFC 6891 §6.1.3 (EXTENDED-RCODE),
///   RFC 6895 §2.3 (the registry)
public struct DNSResponseCode: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt16

    public init(rawValue: UInt16) {
        self.rawValue = rawValue
    }

    /// RFC 1035 §4.1.1: no error condition.
    public static let noError = DNSResponseCode(rawValue: 0)
    /// RFC 1035 §4.1.1: the server was unable to interpret the query.
    public static let formatError = DNSResponseCode(rawValue: 1)
    /// RFC 1035 §4.1.1: the server was unable to process the query (SERVFAIL).
    public static let serverFailure = DNSResponseCode(rawValue: 2)
    /// RFC 1035 §4.1.1: the name does not exist (NXDOMAIN, RFC 8020).
    public static let nameError = DNSResponseCode(rawValue: 3)
    /// RFC 1035 §4.1.1: the server does not support the kind of query.
    public static let notImplemented = DNSResponseCode(rawValue: 4)
    /// RFC 1035 §4.1.1: the server refuses for policy reasons.
    public static let refused = DNSResponseCode(rawValue: 5)
    /// RFC 6891 §9: the server does not implement our EDNS version.
    public static let badVersion = DNSResponseCode(rawValue: 16)

    public var description: String {
        switch self {
        case .noError: return "NOERROR"
        case .formatError: return "FORMERR"
        case .serverFailure: return "SERVFAIL"
        case .nameError: return "NXDOMAIN"
        case .notImplemented: return "NOTIMP"
        case .refused: return "REFUSED"
        case .badVersion: return "BADVERS"
        default: return "RCODE\(rawValue)"
        }
    }
}
