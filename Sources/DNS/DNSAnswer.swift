/// The result of `DNSResolver.query`: the records of the asked type, found at the end
/// of the CNAME chain that starts at the asked name.
///
///     query("www.example.com", type: .a)
///     www.example.com.  CNAME  web.example.net.
///     web.example.net.  A      192.0.2.80
///     → name "www.example.com", canonicalName "web.example.net", records [A 192.0.2.80]
///
/// Empty `records` is NODATA: the name exists but has no records of this type
/// (RFC 2308 §2.2). NXDOMAIN is not an answer; `query` throws `.noSuchName`.
///
/// - SeeAlso: RFC 1034 §3.6.2 (aliases), RFC 2308 §2
public struct DNSAnswer: Sendable, Hashable {
    /// The name asked about, in presentation form.
    public var name: String
    public var type: DNSRecordType
    /// The owner of `records`: `name`, or where its CNAME chain ends.
    public var canonicalName: String
    /// The records of `type` owned by `canonicalName`, in the order received.
    public var records: [DNSResourceRecord]
    /// The response code of the last response (NOERROR: `query` throws for the others).
    public var responseCode: DNSResponseCode
    /// Every response on the way had the AD bit: a validating resolver vouches for the
    /// records (RFC 4035 §3.2.3). Trust it only from a resolver on a trusted path
    /// (RFC 6698 §4.1).
    public var isAuthenticated: Bool

    public init(
        name: String, type: DNSRecordType, canonicalName: String, records: [DNSResourceRecord],
        responseCode: DNSResponseCode = .noError, isAuthenticated: Bool = false
    ) {
        self.name = name
        self.type = type
        self.canonicalName = canonicalName
        self.records = records
        self.responseCode = responseCode
        self.isAuthenticated = isAuthenticated
    }
}

/// The TLSA records of one service (`_25._tcp.mx.example.com`), for DANE.
///
/// - SeeAlso: RFC 6698 §3, RFC 7672 §2.2 (TLSA lookups for SMTP)
public struct TLSALookup: Sendable, Hashable {
    public var records: [TLSARecord]
    /// The answer was DNSSEC-validated (the AD bit, see `DNSAnswer.isAuthenticated`).
    /// RFC 7672 §2.2: only secure TLSA records may be used.
    public var isAuthenticated: Bool

    public init(records: [TLSARecord], isAuthenticated: Bool) {
        self.records = records
        self.isAuthenticated = isAuthenticated
    }
}
