/// The EDNS(0) OPT pseudo-record of a message's additional section, decoded from the
/// fields it overloads.
///
///     NAME   (root)   CLASS  requestor's UDP payload size
///     TYPE   OPT(41)  TTL    EXTENDED-RCODE | VERSION | DO | Z
///     RDATA  {OPTION-CODE OPTION-LENGTH OPTION-DATA}*
///
/// A message has at most one (RFC 6891 §6.1.1); the parser refuses a second, one
/// outside the additional section, and one whose owner is not the root.
///
/// - SeeAlso: RFC 6891 §6.1.2, §6.1.3, §6.2.3; RFC 3225 §3 (DO)
public struct OPTRecord: Hashable, Sendable {
    /// One `{attribute, value}` pair of the RDATA (RFC 6891 §6.1.2).
    public struct Option: Hashable, Sendable {
        public var code: UInt16
        public var data: [UInt8]

        public init(code: UInt16, data: [UInt8]) {
            self.code = code
            self.data = data
        }
    }

    /// The largest UDP payload the sender can reassemble (RFC 6891 §6.2.3; values below
    /// 512 are treated as 512, §6.2.5).
    public var udpPayloadSize: UInt16
    /// The upper eight bits of the twelve-bit response code.
    public var extendedResponseCode: UInt8
    /// The EDNS version; we speak 0.
    public var version: UInt8
    /// DO: the sender accepts DNSSEC records (RFC 3225 §3).
    public var isDNSSECOK: Bool
    public var options: [Option]

    public init(
        udpPayloadSize: UInt16 = DNSLimits.advertisedUDPPayloadSize, extendedResponseCode: UInt8 = 0,
        version: UInt8 = 0, isDNSSECOK: Bool = false, options: [Option] = []
    ) {
        self.udpPayloadSize = udpPayloadSize
        self.extendedResponseCode = extendedResponseCode
        self.version = version
        self.isDNSSECOK = isDNSSECOK
        self.options = options
    }
}
