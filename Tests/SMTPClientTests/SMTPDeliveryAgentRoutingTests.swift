import Testing

@testable import SMTPClient

@Suite("SMTP delivery agent: routing details")
struct SMTPDeliveryAgentRoutingTests {
    /// RFC 5321 §4.1.3 address literals, and the bare forms a configuration may use.
    @Test(
        arguments: [
            ("192.0.2.1", "192.0.2.1"), ("[192.0.2.1]", "192.0.2.1"), ("2001:db8::1", "2001:db8::1"),
            ("[2001:db8::1]", "2001:db8::1"), ("[IPv6:2001:db8::1]", "2001:db8::1"), ("[ipv6:::1]", "::1"),
            ("mx.example.org", nil), ("[mx.example.org]", nil), ("cafe", nil), ("", nil), ("[]", nil),
            ("192.0.2", nil), ("192.0.2.1.5", nil), ("[192.0.2.1", nil),
        ] as [(String, String?)])
    func recognisesIPLiterals(_ host: String, _ expected: String?) {
        #expect(SMTPDeliveryAgent.ipLiteral(host) == expected)
    }
}
