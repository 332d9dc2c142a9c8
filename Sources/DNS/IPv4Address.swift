/// An IPv4 address: the RDATA of an A record, or an address literal.
///
///     dec-octet "." dec-octet "." dec-octet "." dec-octet
///
/// Text is the dotted-decimal form of RFC 3986 §3.2.2: exactly four decimal numbers
/// from 0 to 255 without leading zeros. Leading zeros are refused rather than read as
/// decimal, because some parsers read them as octal (`010` = 8) and the two readings
/// must never disagree about which host a name points at.
///
/// - SeeAlso: RFC 1035 §3.4.1 (A RDATA), RFC 791 §3.2, RFC 3986 §3.2.2
public struct IPv4Address: Hashable, Sendable, CustomStringConvertible {
    /// The four octets, in network order.
    public let octets: [UInt8]

    /// The address with these four octets; `nil` unless there are exactly four.
    public init?(octets: some Collection<UInt8>) {
        guard octets.count == 4 else { return nil }
        self.octets = Array(octets)
    }

    /// Parses dotted-decimal text (`192.0.2.1`); `nil` for anything else.
    public init?(_ text: some StringProtocol) {
        guard let octets = Self.parse(Array(text.utf8)[...]) else { return nil }
        self.octets = octets
    }

    /// `192.0.2.1`.
    public var description: String {
        octets.map { String($0) }.joined(separator: ".")
    }

    /// The name of the PTR record for this address: the octets reversed, under
    /// `in-addr.arpa` (RFC 1035 §3.5): `192.0.2.1` → `1.2.0.192.in-addr.arpa`.
    public var reverseLookupName: String {
        octets.reversed().map { String($0) }.joined(separator: ".") + ".in-addr.arpa"
    }

    // MARK: - Parsing

    /// `dec-octet "." dec-octet "." dec-octet "." dec-octet` (RFC 3986 §3.2.2).
    static func parse(_ bytes: ArraySlice<UInt8>) -> [UInt8]? {
        let parts = bytes.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        var octets: [UInt8] = []
        for part in parts {
            guard let octet = parseDecOctet(part) else { return nil }
            octets.append(octet)
        }
        return octets
    }

    ///     dec-octet = DIGIT / %x31-39 DIGIT / "1" 2DIGIT / "2" %x30-34 DIGIT / "25" %x30-35
    ///
    /// - SeeAlso: RFC 3986 §3.2.2
    static func parseDecOctet(_ bytes: ArraySlice<UInt8>) -> UInt8? {
        guard (1...3).contains(bytes.count) else { return nil }
        // Leading zeros: see the type's documentation.
        guard bytes.count == 1 || bytes.first != UInt8(ascii: "0") else { return nil }
        var value = 0
        for byte in bytes {
            guard (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) else { return nil }
            value = value * 10 + Int(byte - UInt8(ascii: "0"))
        }
        return UInt8(exactly: value)
    }
}
