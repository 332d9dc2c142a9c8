import Testing

@testable import DNS

@Suite("IPv4 and IPv6 address text")
struct IPAddressTests {
    @Test(arguments: ["0.0.0.0", "192.0.2.1", "255.255.255.255", "10.0.0.10"])
    func ipv4RoundTrips(_ text: String) throws {
        #expect(try #require(IPv4Address(text)).description == text)
    }

    /// Leading zeros could be read as octal elsewhere (`010` = 8): refused.
    @Test(arguments: [
        "", "1.2.3", "1.2.3.4.5", "256.1.1.1", "01.2.3.4", "1.2.3.04", "1..2.3", "a.b.c.d", " 1.2.3.4",
        "1.2.3.4 ", "+1.2.3.4", "1.2.3.-4",
    ])
    func invalidIPv4(_ text: String) {
        #expect(IPv4Address(text) == nil)
    }

    /// RFC 5952 §4 canonical output.
    @Test(arguments: [
        ("2001:db8::1", "2001:db8::1"),
        ("2001:0DB8:0000:0000:0000:0000:0000:0001", "2001:db8::1"),
        ("::", "::"),
        ("::1", "::1"),
        ("1::", "1::"),
        ("2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"),  // §4.2.2: one zero group stays
        ("2001:0:0:1:0:0:0:1", "2001:0:0:1::1"),  // §4.2.3: the longest run
        ("2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"),  // §4.2.3: the first of equal runs
        ("::ffff:192.0.2.1", "::ffff:192.0.2.1"),  // §5
        ("::ffff:c000:0201", "::ffff:192.0.2.1"),
        ("64:ff9b::192.0.2.33", "64:ff9b::c000:221"),
        ("fe80::1:2:3:4", "fe80::1:2:3:4"),
    ])
    func ipv6Canonical(_ input: String, _ canonical: String) throws {
        #expect(try #require(IPv6Address(input)).description == canonical)
    }

    @Test(arguments: [
        "", ":", ":::", "1:2:3:4:5:6:7", "1:2:3:4:5:6:7:8:9", "1::2::3", ":1::", "1:2:3:4:5:6:7::8", "12345::",
        "g::1", "fe80::1%eth0", "::1.2.3", "1.2.3.4::", "::ffff:1.2.3.4:1", "1:2:3:4:5:6:7:8::",
    ])
    func invalidIPv6(_ text: String) {
        #expect(IPv6Address(text) == nil)
    }

    @Test func reverseLookupNames() throws {
        #expect(try #require(IPv4Address("192.0.2.1")).reverseLookupName == "1.2.0.192.in-addr.arpa")
        // RFC 3596 §2.5's example, 4321:0:1:2:3:4:567:89ab.
        #expect(
            try #require(IPv6Address("4321:0:1:2:3:4:567:89ab")).reverseLookupName
                == "b.a.9.8.7.6.5.0.4.0.0.0.3.0.0.0.2.0.0.0.1.0.0.0.0.0.0.0.1.2.3.4.ip6.arpa")
    }

    @Test func octetInitializersCheckTheCount() {
        #expect(IPv4Address(octets: [1, 2, 3]) == nil)
        #expect(IPv6Address(octets: [UInt8](repeating: 0, count: 15)) == nil)
        #expect(IPv4Address(octets: [192, 0, 2, 1])?.description == "192.0.2.1")
    }
}

@Suite("Domain name presentation form")
struct DomainNameTests {
    @Test(arguments: [
        ("Example.COM.", "example.com"),
        ("example.com", "example.com"),
        ("", ""),
        (".", ""),
        ("a\\.b.c", "a\\.b.c"),
        ("\\065bc.d", "abc.d"),  // \DDD: "A", lowercased
        ("a\\ b", "a\\032b"),
        ("_25._tcp.MX.example", "_25._tcp.mx.example"),
    ])
    func canonicalForm(_ input: String, _ expected: String) throws {
        #expect(try DomainName.canonical(input) == expected)
    }

    @Test func labelsOnTheWire() throws {
        #expect(
            try DomainName.labels(of: "mx1.example.org.") == [
                Array("mx1".utf8), Array("example".utf8), Array("org".utf8),
            ])
        #expect(try DomainName.labels(of: "a\\.b") == [Array("a.b".utf8)])
        #expect(try DomainName.labels(of: ".").isEmpty)
    }

    @Test func overlongInputFailsEarly() {
        // A megabyte without a dot fails at the 64th octet, not after buffering it all.
        #expect(throws: DNSMessageError(.unencodable)) {
            try DomainName.labels(of: String(repeating: "a", count: 1 << 20))
        }
    }
}
