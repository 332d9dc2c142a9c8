/// The RDATA of a resource record, decoded for the types mail needs.
///
/// Every other type is kept as `.unknown` with its bytes, as RFC 3597 §4 asks (names
/// inside such RDATA are not decompressed: RFC 3597 §4 forbids compressing them in new
/// types). Names are in presentation form (lowercased, no trailing dot, `""` for the
/// root).
///
/// - SeeAlso: RFC 1035 §3.3, §3.4.1; RFC 3596 §2.2; RFC 6698 §2.1; RFC 3597
public enum DNSRecordData: Hashable, Sendable, CustomStringConvertible {
    /// RFC 1035 §3.4.1: `ADDRESS`, 32 bits.
    case a(IPv4Address)
    /// RFC 3596 §2.2: a 128-bit address.
    case aaaa(IPv6Address)
    /// RFC 1035 §3.3.9: `PREFERENCE EXCHANGE`; lower preferences are tried first. An
    /// empty `exchange` (the root) is RFC 7505's null MX.
    case mx(preference: UInt16, exchange: String)
    /// RFC 1035 §3.3.14: one or more character-strings, each at most 255 octets. They
    /// are kept apart; SPF (RFC 7208 §3.3) and DKIM (RFC 6376 §3.6.2.2) join them.
    case txt([[UInt8]])
    /// RFC 6698 §2.1: a DANE certificate association.
    case tlsa(TLSARecord)
    /// RFC 1035 §3.3.12: `PTRDNAME`.
    case ptr(String)
    /// RFC 1035 §3.3.1: the canonical name of the owner, an alias.
    case cname(String)
    /// RFC 1035 §3.3.11: `NSDNAME`.
    case ns(String)
    /// RFC 1035 §3.3.13: the zone's start of authority (in the authority section of a
    /// negative answer, RFC 2308 §3).
    case soa(SOARecord)
    /// A type this module does not decode, with its RDATA as sent (RFC 3597).
    case unknown(type: DNSRecordType, bytes: [UInt8])

    /// The record TYPE this data belongs to.
    public var type: DNSRecordType {
        switch self {
        case .a: return .a
        case .aaaa: return .aaaa
        case .mx: return .mx
        case .txt: return .txt
        case .tlsa: return .tlsa
        case .ptr: return .ptr
        case .cname: return .cname
        case .ns: return .ns
        case .soa: return .soa
        case .unknown(let type, _): return type
        }
    }

    /// Zone-file-like text, for logs and test failures.
    public var description: String {
        switch self {
        case .a(let address): return address.description
        case .aaaa(let address): return address.description
        case .mx(let preference, let exchange): return "\(preference) \(exchange)."
        case .txt(let strings):
            return strings.map { "\"\(DomainName.escaped($0, escapingQuotes: true))\"" }.joined(separator: " ")
        case .tlsa(let record): return record.description
        case .ptr(let name), .cname(let name), .ns(let name): return name + "."
        case .soa(let record): return record.description
        case .unknown(_, let bytes): return "\\# \(bytes.count) " + hexadecimal(bytes)  // RFC 3597 §5
        }
    }
}

/// Lowercase hexadecimal without separators.
func hexadecimal(_ bytes: [UInt8]) -> String {
    bytes.map { byte in
        let text = String(byte, radix: 16)
        return byte < 16 ? "0" + text : text
    }.joined()
}
