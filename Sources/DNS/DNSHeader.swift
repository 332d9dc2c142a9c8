/// The fixed twelve-octet header of every message, without the four section counts
/// (those are the lengths of `DNSMessage`'s arrays).
///
///                                     1  1  1  1  1  1
///       0  1  2  3  4  5  6  7  8  9  0  1  2  3  4  5
///     +--+--+--+--+--+--+--+--+--+--+--+--+--+--+--+--+
///     |                      ID                       |
///     +--+--+--+--+--+--+--+--+--+--+--+--+--+--+--+--+
///     |QR|   Opcode  |AA|TC|RD|RA| Z|AD|CD|   RCODE   |
///     +--+--+--+--+--+--+--+--+--+--+--+--+--+--+--+--+
///
/// - SeeAlso: RFC 1035 §4.1.1; RFC 4035 §3.2.2, §3.2.3 and RFC 6840 §5.7 (AD, CD)
public struct DNSHeader: Hashable, Sendable {
    /// Copied from query to response; a response with another ID is not ours.
    public var id: UInt16
    /// QR: a response (1) or a query (0).
    public var isResponse: Bool
    /// Opcode, four bits: 0 is a standard query.
    public var opcode: UInt8
    /// AA: the responding server is an authority for the question's name.
    public var isAuthoritativeAnswer: Bool
    /// TC: the message was truncated to fit the transport; ask again over TCP
    /// (RFC 1035 §4.2.1, RFC 7766 §5).
    public var isTruncated: Bool
    /// RD: the query asks the server to resolve recursively.
    public var isRecursionDesired: Bool
    /// RA: the server offers recursion.
    public var isRecursionAvailable: Bool
    /// AD: the server validated every record in the answer and authority sections with
    /// DNSSEC (RFC 4035 §3.2.3). In a query (RFC 6840 §5.7) it asks for this bit in the
    /// response. Only meaningful from a validating resolver on a trusted path.
    public var isAuthenticData: Bool
    /// CD: the client asks the server not to validate (RFC 4035 §3.2.2).
    public var isCheckingDisabled: Bool
    /// RCODE, the low four bits of the response code (`DNSMessage.responseCode` adds the
    /// OPT record's upper eight).
    public var responseCode: DNSResponseCode

    public init(
        id: UInt16, isResponse: Bool = false, opcode: UInt8 = 0, isAuthoritativeAnswer: Bool = false,
        isTruncated: Bool = false, isRecursionDesired: Bool = false, isRecursionAvailable: Bool = false,
        isAuthenticData: Bool = false, isCheckingDisabled: Bool = false, responseCode: DNSResponseCode = .noError
    ) {
        self.id = id
        self.isResponse = isResponse
        self.opcode = opcode
        self.isAuthoritativeAnswer = isAuthoritativeAnswer
        self.isTruncated = isTruncated
        self.isRecursionDesired = isRecursionDesired
        self.isRecursionAvailable = isRecursionAvailable
        self.isAuthenticData = isAuthenticData
        self.isCheckingDisabled = isCheckingDisabled
        self.responseCode = responseCode
    }
}
