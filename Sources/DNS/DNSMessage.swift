/// A DNS message: a query or a response.
///
///     +---------------------+
///     |        Header       |
///     +---------------------+
///     |       Question      | the question for the name server
///     +---------------------+
///     |        Answer       | RRs answering the question
///     +---------------------+
///     |      Authority      | RRs pointing toward an authority
///     +---------------------+
///     |      Additional     | RRs holding additional information
///     +---------------------+
///
/// `init(parsing:)` reads one whole message (a UDP payload, or a TCP message without
/// its length prefix) and refuses anything malformed with a `DNSMessageError`;
/// `encoded()` writes one, uncompressed. The OPT pseudo-record is taken out of the
/// additional section into `opt`.
///
/// - SeeAlso: RFC 1035 §4.1, RFC 6891 §6.1
public struct DNSMessage: Hashable, Sendable {
    public var header: DNSHeader
    public var questions: [DNSQuestion]
    public var answers: [DNSResourceRecord]
    public var authorities: [DNSResourceRecord]
    /// The additional section without the OPT record.
    public var additionals: [DNSResourceRecord]
    /// The EDNS(0) OPT record, if the message has one (RFC 6891 §6.1.1).
    public var opt: OPTRecord?

    public init(
        header: DNSHeader, questions: [DNSQuestion] = [], answers: [DNSResourceRecord] = [],
        authorities: [DNSResourceRecord] = [], additionals: [DNSResourceRecord] = [], opt: OPTRecord? = nil
    ) {
        self.header = header
        self.questions = questions
        self.answers = answers
        self.authorities = authorities
        self.additionals = additionals
        self.opt = opt
    }

    /// The full response code: the header's RCODE with the OPT record's EXTENDED-RCODE
    /// as its upper eight bits (RFC 6891 §6.1.3).
    public var responseCode: DNSResponseCode {
        let upper = UInt16(opt?.extendedResponseCode ?? 0) << 4
        return DNSResponseCode(rawValue: upper | (header.responseCode.rawValue & 0x0F))
    }

    /// A standard recursive query for one name and type, as a stub resolver sends it:
    /// RD set (RFC 1035 §4.1.1), AD set to ask a validating resolver for the AD bit
    /// (RFC 6840 §5.7), one question of class IN, and an OPT record advertising
    /// `DNSLimits.advertisedUDPPayloadSize` (RFC 6891 §6.2.5). The ID should be
    /// unpredictable (RFC 5452 §9.2); the default is random.
    ///
    /// `name` is in presentation form; it is checked when the message is encoded.
    public static func query(
        name: String, type: DNSRecordType, id: UInt16 = UInt16.random(in: UInt16.min...UInt16.max)
    ) -> DNSMessage {
        DNSMessage(
            header: DNSHeader(id: id, isRecursionDesired: true, isAuthenticData: true),
            questions: [DNSQuestion(name: name, type: type)],
            opt: OPTRecord()
        )
    }
}
