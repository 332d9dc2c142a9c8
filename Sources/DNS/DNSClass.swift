/// A resource record CLASS (or QCLASS). Mail only ever asks for `IN`.
///
/// - SeeAlso: RFC 1035 §3.2.4, §3.2.5
public struct DNSClass: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt16

    public init(rawValue: UInt16) {
        self.rawValue = rawValue
    }

    /// RFC 1035 §3.2.4: the Internet.
    public static let internet = DNSClass(rawValue: 1)

    public var description: String {
        self == .internet ? "IN" : "CLASS\(rawValue)"  // RFC 3597 §5
    }
}
