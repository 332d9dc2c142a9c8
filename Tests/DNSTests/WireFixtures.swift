/// DNS responses written out field by field, as a recursive resolver (BIND, unbound)
/// sends them: every name after the first compressed with pointers back into the
/// message. Each was checked by serving it to `dig`. `@n` marks an offset that a
/// pointer refers to.
enum WireFixtures {
    static let gmailMX = wire([
        "1a2b 8180 0001 0005 0000 0001",  // ID 0x1a2b; QR RD RA NOERROR; 1 question, 5 answers, 1 additional
        "05676d61696c03636f6d00",  // @12 QNAME gmail.com ("com" at @18)
        "000f 0001",  // QTYPE MX, QCLASS IN
        "c00c 000f 0001 00000e10 001b",  // @27 gmail.com (pointer to @12) MX IN TTL 3600, RDLENGTH 27
        "0005",  // preference 5
        "0d676d61696c2d736d74702d696e016c06676f6f676c65c012",  // @41 gmail-smtp-in.l.google + pointer to @18
        "c00c 000f 0001 00000e10 0009",  // @66 MX, RDLENGTH 9
        "000a",  // preference 10
        "04616c7431c029",  // alt1 + pointer to @41
        "c00c 000f 0001 00000e10 0009",  // @87 MX, RDLENGTH 9
        "0014",  // preference 20
        "04616c7432c029",  // alt2 + pointer to @41
        "c00c 000f 0001 00000e10 0009",  // @108 MX, RDLENGTH 9
        "0028",  // preference 40
        "04616c7434c029",  // alt4 + pointer to @41
        "c00c 000f 0001 00000e10 0009",  // @129 MX, RDLENGTH 9
        "001e",  // preference 30
        "04616c7433c029",  // alt3 + pointer to @41
        "00 0029 04d0 00000000 0000",  // OPT: root, payload 1232, EXTENDED-RCODE 0, version 0, DO 0, RDLENGTH 0
    ])

    static let ipv6AAAA = wire([
        "beef 8180 0001 0002 0000 0000",  // ID 0xbeef; QR RD RA NOERROR; 1 question, 2 answers
        "0469707636076578616d706c65036e657400",  // @12 QNAME ipv6.example.net
        "001c 0001",  // QTYPE AAAA, QCLASS IN
        "c00c 001c 0001 0000012c 0010",  // AAAA IN TTL 300, RDLENGTH 16
        "20010db8 00000000 00000000 00000001",  // 2001:db8::1
        "c00c 001c 0001 0000012c 0010",  // AAAA IN TTL 300, RDLENGTH 16
        "20010db8 00000001 00000000 00000053",  // 2001:db8:0:1::53
    ])

    static let exampleTXT = wire([
        "0102 8580 0001 0002 0000 0000",  // ID 0x0102; QR AA RD RA NOERROR; 1 question, 2 answers
        "076578616d706c6503636f6d00",  // @12 QNAME example.com
        "0010 0001",  // QTYPE TXT, QCLASS IN
        "c00c 0010 0001 00000e10 0027",  // TXT IN TTL 3600, three strings, RDLENGTH 39
        "07763d7370663120",  // "v=spf1 "
        "19696e636c7564653a5f7370662e6578616d706c652e6e657420",  // "include:_spf.example.net "
        "042d616c6c",  // "-all"
        "c00c 0010 0001 00000e10 000a",  // TXT IN TTL 3600, three strings, RDLENGTH 10
        "00",  // "" (empty)
        "056122625c63",  // a"b\c
        "02 00ff",  // two octets 0x00 0xff
    ])

    static let daneTLSA = wire([
        "5a5a 81a0 0001 0001 0000 0001",  // ID 0x5a5a; QR RD RA AD NOERROR; 1 question, 1 answer, 1 additional
        "035f3235045f746370046d61696c076578616d706c6503636f6d00",  // @12 QNAME _25._tcp.mail.example.com
        "0034 0001",  // QTYPE TLSA, QCLASS IN
        "c00c 0034 0001 00000e10 0023",  // TLSA IN TTL 3600, RDLENGTH 35
        "03 01 01",  // DANE-EE, SPKI, SHA-256
        "8cb0fc6c527506a053f4f14c8464bebbd6dede2738d11468dd953d7d6a3021f1",  // association data
        "00 0029 04d0 00008000 0000",  // OPT: payload 1232, DO set, RDLENGTH 0
    ])

    static let noDataSOA = wire([
        "7777 8180 0001 0000 0001 0001",  // ID 0x7777; QR RD RA NOERROR; 1 question, 1 authority, 1 additional
        "076578616d706c6503636f6d00",  // @12 QNAME example.com ("com" at @20)
        "001c 0001",  // QTYPE AAAA, QCLASS IN
        "c00c 0006 0001 00000384 002c",  // @29 example.com SOA IN TTL 900, RDLENGTH 44
        "026e73056963616e6e036f726700",  // @41 MNAME ns.icann.org ("icann.org" at @44)
        "036e6f6303646e73c02c",  // RNAME noc.dns + pointer to @44
        "78a0ae71 00001c20 00000e10 00127500 00000e10",  // SERIAL 2023796337, REFRESH, RETRY, EXPIRE, MINIMUM
        "00 0029 04d0 00000000 0000",  // OPT: root, payload 1232, EXTENDED-RCODE 0, version 0, DO 0, RDLENGTH 0
    ])

    static let nxdomain = wire([
        "4242 8183 0001 0000 0001 0000",  // ID 0x4242; QR RD RA NXDOMAIN; 1 question, 1 authority
        "046e6f7065076578616d706c6503636f6d00",  // @12 QNAME nope.example.com ("example.com" at @17)
        "000f 0001",  // QTYPE MX, QCLASS IN
        "c011 0006 0001 00000384 0026",  // example.com (pointer to @17) SOA IN TTL 900, RDLENGTH 38
        "026e73c011",  // MNAME ns + pointer to @17
        "0a686f73746d6173746572c011",  // RNAME hostmaster + pointer to @17
        "00000001 00001c20 00000e10 00127500 0000012c",  // SERIAL 1 REFRESH 7200 RETRY 3600 EXPIRE 1209600 MINIMUM 300
    ])

    static let cnameChain = wire([
        "0bad 8180 0001 0002 0000 0000",  // ID 0x0bad; QR RD RA NOERROR; 1 question, 2 answers
        "03575757074578616d706c6503434f4d00",  // @12 QNAME WWW.Example.COM (mixed case, as with 0x20)
        "0001 0001",  // QTYPE A, QCLASS IN
        "c00c 0005 0001 0000003c 0011",  // @33 CNAME IN TTL 60, RDLENGTH 17
        "03776562076578616d706c65036e657400",  // @45 web.example.net
        "c02d 0001 0001 0000012c 0004",  // web.example.net (pointer to @45) A IN TTL 300, RDLENGTH 4
        "c0000250",  // 192.0.2.80
    ])

    static let ptrAndUnknown = wire([
        "0001 8180 0001 0001 0000 0001",  // ID 0x0001; QR RD RA NOERROR; 1 question, 1 answer, 1 additional
        "0131013201300331393207696e2d61646472046172706100",  // @12 QNAME 1.2.0.192.in-addr.arpa
        "000c 0001",  // QTYPE PTR, QCLASS IN
        "c00c 000c 0001 00015180 0012",  // PTR IN TTL 86400, RDLENGTH 18
        "046d61696c076578616d706c65036f726700",  // mail.example.org
        "00 000d 0001 00000000 000c",  // root HINFO (type 13, kept as raw bytes) TTL 0, RDLENGTH 12
        "065044502d3131",  // CPU
        "04554e4958",  // OS
    ])

    /// Hex pieces (spaces ignored) to bytes.
    static func wire(_ pieces: [String]) -> [UInt8] {
        let digits = Array(pieces.joined().utf8.filter { $0 != UInt8(ascii: " ") })
        return stride(from: 0, to: digits.count - 1, by: 2).map { index in
            UInt8(hexDigit(digits[index]) << 4 | hexDigit(digits[index + 1]))
        }
    }

    private static func hexDigit(_ character: UInt8) -> UInt8 {
        switch character {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return character - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return character - UInt8(ascii: "a") + 10
        default: return character - UInt8(ascii: "A") + 10
        }
    }

    static let all: [(name: String, bytes: [UInt8])] = [
        ("gmailMX", gmailMX), ("ipv6AAAA", ipv6AAAA), ("exampleTXT", exampleTXT), ("daneTLSA", daneTLSA),
        ("noDataSOA", noDataSOA), ("nxdomain", nxdomain), ("cnameChain", cnameChain),
        ("ptrAndUnknown", ptrAndUnknown),
    ]
}
