import Testing

@testable import DNS

@Suite("DNS message codec: recorded responses")
struct DNSMessageTests {
    @Test func mailExchangersWithCompressedNames() throws {
        let message = try DNSMessage(parsing: WireFixtures.gmailMX)
        #expect(message.header.id == 0x1A2B)
        #expect(message.header.isResponse)
        #expect(message.header.isRecursionDesired)
        #expect(message.header.isRecursionAvailable)
        #expect(!message.header.isTruncated)
        #expect(message.responseCode == .noError)
        #expect(message.questions == [DNSQuestion(name: "gmail.com", type: .mx)])
        #expect(
            message.answers.map(\.data) == [
                .mx(preference: 5, exchange: "gmail-smtp-in.l.google.com"),
                .mx(preference: 10, exchange: "alt1.gmail-smtp-in.l.google.com"),
                .mx(preference: 20, exchange: "alt2.gmail-smtp-in.l.google.com"),
                .mx(preference: 40, exchange: "alt4.gmail-smtp-in.l.google.com"),
                .mx(preference: 30, exchange: "alt3.gmail-smtp-in.l.google.com"),
            ])
        #expect(message.answers.allSatisfy { $0.name == "gmail.com" && $0.ttl == 3600 && $0.recordClass == .internet })
        #expect(message.authorities.isEmpty)
        #expect(message.additionals.isEmpty)
        #expect(message.opt == OPTRecord(udpPayloadSize: 1232))
    }

    @Test func ipv6Addresses() throws {
        let message = try DNSMessage(parsing: WireFixtures.ipv6AAAA)
        #expect(message.questions == [DNSQuestion(name: "ipv6.example.net", type: .aaaa)])
        #expect(message.answers.map(\.data.description) == ["2001:db8::1", "2001:db8:0:1::53"])
        #expect(message.answers.map(\.ttl) == [300, 300])
        #expect(message.opt == nil)
    }

    @Test func textWithSeveralStrings() throws {
        let message = try DNSMessage(parsing: WireFixtures.exampleTXT)
        #expect(message.header.isAuthoritativeAnswer)
        #expect(
            message.answers.map(\.data) == [
                .txt([Array("v=spf1 ".utf8), Array("include:_spf.example.net ".utf8), Array("-all".utf8)]),
                .txt([[], Array("a\"b\\c".utf8), [0x00, 0xFF]]),
            ])
        #expect(message.answers[1].data.description == #""" "a\"b\\c" "\000\255""#)
    }

    @Test func tlsaWithAuthenticData() throws {
        let message = try DNSMessage(parsing: WireFixtures.daneTLSA)
        #expect(message.header.isAuthenticData)
        #expect(message.questions == [DNSQuestion(name: "_25._tcp.mail.example.com", type: .tlsa)])
        let expected = TLSARecord(
            certificateUsage: 3, selector: 1, matchingType: 1,
            certificateAssociationData: WireFixtures.wire([
                "8cb0fc6c527506a053f4f14c8464bebbd6dede2738d11468dd953d7d6a3021f1"
            ]))
        #expect(message.answers.map(\.data) == [.tlsa(expected)])
        #expect(
            message.answers.first?.data.description
                == "3 1 1 8cb0fc6c527506a053f4f14c8464bebbd6dede2738d11468dd953d7d6a3021f1")
        #expect(message.opt?.isDNSSECOK == true)
    }

    /// RFC 2308 §2.2: NODATA is NOERROR, no answers, the zone's SOA in the authority section.
    @Test func noDataWithCompressedSOA() throws {
        let message = try DNSMessage(parsing: WireFixtures.noDataSOA)
        #expect(message.responseCode == .noError)
        #expect(message.answers.isEmpty)
        #expect(
            message.authorities == [
                DNSResourceRecord(
                    name: "example.com", ttl: 900,
                    data: .soa(
                        SOARecord(
                            primaryNameServer: "ns.icann.org", responsibleMailbox: "noc.dns.icann.org",
                            serial: 2_023_796_337, refresh: 7200, retry: 3600, expire: 1_209_600, minimum: 3600)))
            ])
    }

    @Test func nameError() throws {
        let message = try DNSMessage(parsing: WireFixtures.nxdomain)
        #expect(message.responseCode == .nameError)
        #expect(message.authorities.first?.name == "example.com")
        guard case .soa(let soa) = message.authorities.first?.data else {
            Issue.record("no SOA")
            return
        }
        #expect(soa.primaryNameServer == "ns.example.com")
        #expect(soa.responsibleMailbox == "hostmaster.example.com")
        #expect(soa.minimum == 300)
    }

    /// Names come out lowercased (RFC 4343), whatever case the server echoed.
    @Test func aliasChainAndLowercasing() throws {
        let message = try DNSMessage(parsing: WireFixtures.cnameChain)
        #expect(message.questions == [DNSQuestion(name: "www.example.com", type: .a)])
        #expect(
            message.answers == [
                DNSResourceRecord(name: "www.example.com", ttl: 60, data: .cname("web.example.net")),
                DNSResourceRecord(name: "web.example.net", ttl: 300, data: .a(try #require(IPv4Address("192.0.2.80")))),
            ])
    }

    /// RFC 3597: a type we do not decode keeps its RDATA as sent.
    @Test func pointerAndUnknownType() throws {
        let message = try DNSMessage(parsing: WireFixtures.ptrAndUnknown)
        #expect(message.answers.map(\.data) == [.ptr("mail.example.org")])
        #expect(
            message.additionals == [
                DNSResourceRecord(
                    name: "", ttl: 0,
                    data: .unknown(type: DNSRecordType(rawValue: 13), bytes: Array("\u{6}PDP-11\u{4}UNIX".utf8)))
            ])
        #expect(message.additionals.first?.type.description == "TYPE13")
    }

    /// Encoding writes names uncompressed; parsing that gives the same message back.
    @Test func everyFixtureRoundTripsThroughTheEncoder() throws {
        for (name, bytes) in WireFixtures.all {
            let message = try DNSMessage(parsing: bytes)
            let encoded = try message.encoded()
            #expect(try DNSMessage(parsing: encoded) == message, "\(name)")
            // Uncompressed output is never shorter.
            #expect(encoded.count >= bytes.count, "\(name)")
        }
    }

    // MARK: - Queries

    @Test func queryLayout() throws {
        let query = DNSMessage.query(name: "Example.COM.", type: .mx, id: 0xABCD)
        let bytes = try query.encoded()
        #expect(
            bytes
                == WireFixtures.wire([
                    "abcd 0120 0001 0000 0000 0001",  // ID; RD AD; 1 question, 1 additional
                    "07 4578616d706c65 03 434f4d 00",  // Example.COM (case kept on the wire)
                    "000f 0001",  // MX IN
                    "00 0029 04d0 00000000 0000",  // OPT, 1232 octets
                ]))
        let parsed = try DNSMessage(parsing: bytes)
        #expect(parsed.questions == [DNSQuestion(name: "example.com", type: .mx)])
        #expect(parsed.opt?.udpPayloadSize == 1232)
        #expect(parsed.header.isRecursionDesired)
        #expect(!parsed.header.isResponse)
    }

    @Test func queryIDsAreRandom() {
        let ids = Set((0..<64).map { _ in DNSMessage.query(name: "example.com", type: .a).header.id })
        #expect(ids.count > 1)
    }

    @Test func extendedResponseCodeCombinesWithTheHeader() throws {
        var message = DNSMessage(header: DNSHeader(id: 1, isResponse: true, responseCode: DNSResponseCode(rawValue: 0)))
        message.opt = OPTRecord(extendedResponseCode: 1)
        let parsed = try DNSMessage(parsing: try message.encoded())
        #expect(parsed.responseCode == .badVersion)
        #expect(parsed.responseCode.description == "BADVERS")
    }

    @Test(arguments: [
        "a..b", ".a", String(repeating: "x", count: 64) + ".com",
        Array(repeating: String(repeating: "x", count: 63), count: 4).joined(separator: "."), "bad\\", "bad\\25",
        "bad\\256",
    ])
    func unencodableNames(_ name: String) {
        #expect(throws: DNSMessageError(.unencodable)) { try DNSMessage.query(name: name, type: .a).encoded() }
    }

    @Test func encodingRefusesOverlongCharacterStrings() {
        var message = DNSMessage(header: DNSHeader(id: 1))
        message.answers = [DNSResourceRecord(name: "x", ttl: 1, data: .txt([[UInt8](repeating: 0x41, count: 256)]))]
        #expect(throws: DNSMessageError(.unencodable)) { try message.encoded() }
    }

    @Test func everyRecordTypeRoundTrips() throws {
        let records: [DNSRecordData] = [
            .a(try #require(IPv4Address("192.0.2.1"))),
            .aaaa(try #require(IPv6Address("2001:db8::25"))),
            .mx(preference: 0, exchange: ""),
            .txt([Array("hello".utf8), []]),
            .tlsa(
                TLSARecord(certificateUsage: 2, selector: 0, matchingType: 2, certificateAssociationData: [1, 2, 3])),
            .ptr("host.example"),
            .cname("alias\\.with\\.dots.example"),
            .ns("ns1.example"),
            .soa(
                SOARecord(
                    primaryNameServer: "ns", responsibleMailbox: "root.ns", serial: 1, refresh: 2, retry: 3, expire: 4,
                    minimum: 5)),
            .unknown(type: DNSRecordType(rawValue: 65280), bytes: [0, 1, 2]),
        ]
        var message = DNSMessage(header: DNSHeader(id: 7, isResponse: true, isAuthenticData: true))
        message.questions = [DNSQuestion(name: "q.example", type: .a)]
        message.answers = records.map { DNSResourceRecord(name: "x.example", ttl: 42, data: $0) }
        message.opt = OPTRecord(options: [OPTRecord.Option(code: 10, data: [1, 2, 3, 4, 5, 6, 7, 8])])
        #expect(try DNSMessage(parsing: try message.encoded()) == message)
    }
}
