/// One resource record from the answer, authority or additional section.
///
///     NAME TYPE CLASS TTL RDLENGTH RDATA
///
/// `name` is in presentation form: lowercased, no trailing dot, the root as the empty
/// string (see `DomainName`). The TYPE is the data's (`type`), so the two cannot
/// disagree.
///
/// - SeeAlso: RFC 1035 §3.2.1, §4.1.3
public struct DNSResourceRecord: Hashable, Sendable, CustomStringConvertible {
    public var name: String
    public var recordClass: DNSClass
    /// Seconds the record may be cached, as sent. RFC 2181 §8: a value with the top bit
    /// set is to be treated as zero; `effectiveTTL` does that.
    public var ttl: UInt32
    public var data: DNSRecordData

    public init(name: String, recordClass: DNSClass = .internet, ttl: UInt32, data: DNSRecordData) {
        self.name = name
        self.recordClass = recordClass
        self.ttl = ttl
        self.data = data
    }

    public var type: DNSRecordType { data.type }

    /// The TTL with RFC 2181 §8 applied: values above 2³¹−1 count as zero.
    public var effectiveTTL: UInt32 { ttl > UInt32(Int32.max) ? 0 : ttl }

    public var description: String { "\(name). \(ttl) \(recordClass) \(type) \(data)" }
}
