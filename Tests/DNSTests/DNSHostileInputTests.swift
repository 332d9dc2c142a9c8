import Testing

@testable import DNS

/// A message is whatever arrived on a UDP port: none of these may trap, loop or
/// allocate in proportion to a count the message cannot back (RFC 9267).
@Suite("DNS message codec: hostile input")
struct DNSHostileInputTests {
    /// A header for a response with the given counts.
    private static func header(
        questions: UInt16 = 0, answers: UInt16 = 0, authorities: UInt16 = 0, additionals: UInt16 = 0
    )
        -> [UInt8]
    {
        [0x12, 0x34, 0x81, 0x80]
            + [questions, answers, authorities, additionals].flatMap { [UInt8($0 >> 8), UInt8($0 & 0xFF)] }
    }

    private static func kind(_ bytes: [UInt8]) -> DNSMessageError.Kind? {
        do {
            _ = try DNSMessage(parsing: bytes)
            return nil
        } catch {
            return error.kind
        }
    }

    @Test func everyTruncationOfEveryFixtureThrows() {
        for (name, bytes) in WireFixtures.all {
            for length in 0..<bytes.count {
                #expect(Self.kind(Array(bytes.prefix(length))) != nil, "\(name) cut at \(length)")
            }
        }
    }

    @Test func aPointerToItselfIsRefused() {
        // Question name at @12 is a pointer to @12.
        let bytes = Self.header(questions: 1) + [0xC0, 12, 0, 1, 0, 1]
        #expect(Self.kind(bytes) == .badPointer)
    }

    @Test func twoPointersPointingAtEachOtherAreRefused() {
        // @12: pointer to @14; @14: pointer to @12. The first is forward, and even read
        // from @14 the second hop would not be strictly backwards.
        let bytes = Self.header(questions: 1) + [0xC0, 14, 0xC0, 12, 0, 1, 0, 1]
        #expect(Self.kind(bytes) == .badPointer)
        // Start at the second: @14 → @12 is backwards, then @12 → @14 is not.
        var reader = DNSMessageReader(Self.header() + [0xC0, 14, 0xC0, 12])
        _ = try? reader.readBytes(14)
        #expect(throws: DNSMessageError(.badPointer)) { try reader.parseDomainName() }
    }

    @Test func aPointerBackIntoTheSameLabelSequenceIsRefused() {
        // @12: "a" then a pointer to @12 — the start of the sequence it is in.
        let bytes = Self.header(questions: 1) + [1, 0x61, 0xC0, 12, 0, 1, 0, 1]
        #expect(Self.kind(bytes) == .badPointer)
    }

    @Test func forwardPointersAreRefused() {
        // @12: pointer to @18, where a valid name "b" sits after the question fields.
        let bytes = Self.header(questions: 1) + [0xC0, 18, 0, 1, 0, 1, 1, 0x62, 0]
        #expect(Self.kind(bytes) == .badPointer)
    }

    @Test func aChainOfBackwardPointersIsBoundedByTheHopLimit() throws {
        // 200 pointers, each to the one before it, the first to a root at @12: each is
        // strictly backwards, but following them all would take 200 hops.
        var bytes = Self.header(questions: 0, answers: 1) + [0]
        var previous = 12
        for _ in 0..<200 {
            let here = bytes.count
            bytes += [0xC0 | UInt8(previous >> 8), UInt8(previous & 0xFF)]
            previous = here
        }
        let ownerStart = bytes.count
        bytes += [0xC0 | UInt8(previous >> 8), UInt8(previous & 0xFF), 0, 1, 0, 1, 0, 0, 0, 0, 0, 0]
        var reader = DNSMessageReader(bytes)
        _ = try? reader.readBytes(ownerStart)
        #expect(throws: DNSMessageError(.badPointer)) { try reader.parseDomainName() }
        // 100 hops are fine.
        var shortChain = DNSMessageReader(bytes)
        _ = try? shortChain.readBytes(13 + 2 * 99)
        #expect(try shortChain.parseDomainName() == "")
    }

    @Test(arguments: [64, 0x7F, 0x80, 0xBF])
    func labelLengthsAbove63AreRefused(_ lengthOctet: UInt8) {
        let bytes = Self.header(questions: 1) + [lengthOctet] + [UInt8](repeating: 0x61, count: 200) + [0, 0, 1, 0, 1]
        #expect(Self.kind(bytes) == .badLabel)
    }

    @Test func namesOver255OctetsAreRefused() {
        // Four labels of 63: 4 × 64 + 1 = 257 octets.
        let label = [UInt8(63)] + [UInt8](repeating: 0x61, count: 63)
        let bytes = Self.header(questions: 1) + label + label + label + label + [0, 0, 1, 0, 1]
        #expect(Self.kind(bytes) == .nameTooLong)
        // Three labels of 63 and one of 61: 3 × 64 + 62 + 1 = 255, accepted.
        let fits =
            Self.header(questions: 1) + label + label + label + [61] + [UInt8](repeating: 0x61, count: 61)
            + [0, 0, 1, 0, 1]
        #expect(Self.kind(fits) == nil)
    }

    @Test func namesOver255OctetsThroughPointersAreRefused() {
        // @12: a 193-octet name; the answer's owner puts a 63-octet label in front of it.
        let long = [UInt8(63)] + [UInt8](repeating: 0x62, count: 63)
        let base = long + long + long + [0]
        let bytes =
            Self.header(questions: 1, answers: 1) + base + [0, 1, 0, 1] + long + [0xC0, 12]
            + [0, 1, 0, 1, 0, 0, 0, 0, 0, 0]
        #expect(Self.kind(bytes) == .nameTooLong)
    }

    @Test func recordDataPastTheEndIsRefused() {
        let bytes = Self.header(answers: 1) + [0, 0, 1, 0, 1, 0, 0, 0, 1, 0, 200, 192, 0, 2, 1]
        #expect(Self.kind(bytes) == .truncated)
    }

    @Test func recordDataThatDoesNotMatchItsLengthIsRefused() {
        // A record with 5 octets of RDATA.
        let aRecord = Self.header(answers: 1) + [0, 0, 1, 0, 1, 0, 0, 0, 1, 0, 5, 192, 0, 2, 1, 9]
        #expect(Self.kind(aRecord) == .badRecordData)
        // An MX whose name runs past RDLENGTH (3: preference and one octet of name).
        let mx = Self.header(answers: 1) + [0, 0, 15, 0, 1, 0, 0, 0, 1, 0, 3, 0, 10, 1, 0x61, 0]
        #expect(Self.kind(mx) == .badRecordData)
        // A CNAME that stops short of RDLENGTH.
        let cname = Self.header(answers: 1) + [0, 0, 5, 0, 1, 0, 0, 0, 1, 0, 3, 0, 0, 0]
        #expect(Self.kind(cname) == .badRecordData)
        // A TXT character-string longer than the RDATA.
        let txt = Self.header(answers: 1) + [0, 0, 16, 0, 1, 0, 0, 0, 1, 0, 2, 5, 0x61, 0]
        #expect(Self.kind(txt) == .badRecordData)
        // TLSA needs three octets before the data.
        let tlsa = Self.header(answers: 1) + [0, 0, 52, 0, 1, 0, 0, 0, 1, 0, 2, 3, 1]
        #expect(Self.kind(tlsa) == .badRecordData)
        // SOA with four numbers instead of five.
        let soa = Self.header(answers: 1) + [0, 0, 6, 0, 1, 0, 0, 0, 1, 0, 18, 0, 0] + [UInt8](repeating: 0, count: 16)
        #expect(Self.kind(soa) == .badRecordData)
    }

    @Test func hugeCountsInATinyMessageAreRefusedAtOnce() {
        #expect(Self.kind(Self.header(questions: 0xFFFF)) == .truncated)
        #expect(Self.kind(Self.header(answers: 0xFFFF, authorities: 0xFFFF, additionals: 0xFFFF)) == .truncated)
        // An answer count one more than the records present.
        var bytes = WireFixtures.ipv6AAAA
        bytes[7] = 3
        #expect(Self.kind(bytes) == .truncated)
    }

    @Test func optRecordRules() {
        let opt: [UInt8] = [0, 0, 41, 4, 0xD0, 0, 0, 0, 0, 0, 0]
        #expect(Self.kind(Self.header(additionals: 2) + opt + opt) == .badOPTRecord)
        #expect(Self.kind(Self.header(answers: 1) + opt) == .badOPTRecord)
        #expect(Self.kind(Self.header(additionals: 1) + [1, 0x61] + opt) == .badOPTRecord)
        // An option longer than the RDATA.
        let badOption: [UInt8] = [0, 0, 41, 4, 0xD0, 0, 0, 0, 0, 0, 4, 0, 10, 0, 8]
        #expect(Self.kind(Self.header(additionals: 1) + badOption) == .badOPTRecord)
    }

    @Test func reservedLabelTypeInRecordData() {
        let bytes = Self.header(answers: 1) + [0, 0, 12, 0, 1, 0, 0, 0, 1, 0, 2, 0x40, 0]
        #expect(Self.kind(bytes) == .badLabel)
    }

    /// Unprintable octets and dots inside a label are escaped, never passed on raw.
    @Test func hostileLabelContentIsEscaped() throws {
        // An MX exchange whose first label is "evil.com\0 x".
        let label: [UInt8] = Array("evil.com".utf8) + [0, 0x20, 0x78]
        let exchange = [UInt8(label.count)] + label + [3] + Array("org".utf8) + [0]
        let bytes =
            Self.header(answers: 1) + [0, 0, 15, 0, 1, 0, 0, 0, 1, 0, UInt8(2 + exchange.count), 0, 10] + exchange
        let message = try DNSMessage(parsing: bytes)
        #expect(message.answers.first?.data == .mx(preference: 10, exchange: "evil\\.com\\000\\032x.org"))
        // And the escaped form encodes back to the same octets.
        #expect(try DomainName.labels(of: "evil\\.com\\000\\032x.org") == [label, Array("org".utf8)])
    }

    @Test func randomBytesNeverTrap() {
        var generator = SeededGenerator(seed: 0x5EED_D15A)
        for _ in 0..<20_000 {
            let length = Int.random(in: 0...300, using: &generator)
            let bytes = (0..<length).map { _ in UInt8.random(in: 0...255, using: &generator) }
            _ = try? DNSMessage(parsing: bytes)
        }
    }

    /// Valid messages with random octets changed: closer to real damage than pure noise.
    @Test func mutatedFixturesNeverTrap() {
        var generator = SeededGenerator(seed: 42)
        for (_, original) in WireFixtures.all {
            for _ in 0..<3_000 {
                var bytes = original
                for _ in 0..<Int.random(in: 1...4, using: &generator) {
                    let index = Int.random(in: 0..<bytes.count, using: &generator)
                    bytes[index] = UInt8.random(in: 0...255, using: &generator)
                }
                if let message = try? DNSMessage(parsing: bytes) {
                    // Whatever parses must encode and parse back to itself.
                    if let encoded = try? message.encoded() {
                        #expect((try? DNSMessage(parsing: encoded)) == message)
                    }
                }
            }
        }
    }
}

/// xorshift64 (Marsaglia 2003): a small deterministic generator, so failures reproduce.
struct SeededGenerator: RandomNumberGenerator {
    private var state: UInt64

    init(seed: UInt64) {
        state = seed == 0 ? 0x9E37_79B9_7F4A_7C15 : seed
    }

    mutating func next() -> UInt64 {
        state ^= state << 13
        state ^= state >> 7
        state ^= state << 17
        return state
    }
}
