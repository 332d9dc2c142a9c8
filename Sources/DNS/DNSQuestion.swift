/// One entry of the question section: what is asked.
///
///     QNAME QTYPE QCLASS
///
/// `name` is in presentation form (lowercased, no trailing dot). A response must carry
/// the question of its query; `DNSResolver` drops any that does not (RFC 5452 §4.2).
///
/// - SeeAlso: RFC 1035 §4.1.2
public struct DNSQuestion: Hashable, Sendable, CustomStringConvertible {
    public var name: String
    public var type: DNSRecordType
    public var questionClass: DNSClass

    public init(name: String, type: DNSRecordType, questionClass: DNSClass = .internet) {
        self.name = name
        self.type = type
        self.questionClass = questionClass
    }

    public var description: String { "\(name). \(questionClass) \(type)" }
}
