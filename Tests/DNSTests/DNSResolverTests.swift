import NIOCore
import NIOPosix
import Testing

@testable import DNS

/// The resolver against `TestDNSServer` on 127.0.0.1. Timeouts are generous where a
/// server answers (they only bound a broken test) and short where one must not.
@Suite("DNS resolver over UDP and TCP")
struct DNSResolverTests {
    typealias Key = TestDNSServer.Key

    static func record(_ name: String, _ data: DNSRecordData, ttl: UInt32 = 300) -> DNSResourceRecord {
        DNSResourceRecord(name: name, ttl: ttl, data: data)
    }

    static func a(_ name: String, _ address: String) -> DNSResourceRecord {
        record(name, .a(IPv4Address(address) ?? IPv4Address(octets: [0, 0, 0, 0])!))
    }

    static func aaaa(_ name: String, _ address: String) -> DNSResourceRecord {
        record(name, .aaaa(IPv6Address(address) ?? IPv6Address(octets: [UInt8](repeating: 0, count: 16))!))
    }

    static func mx(_ name: String, _ preference: UInt16, _ exchange: String) -> DNSResourceRecord {
        record(name, .mx(preference: preference, exchange: exchange))
    }

    static func resolver(
        _ servers: [TestDNSServer], timeout: Duration = .seconds(5), attempts: Int = 1, cacheCapacity: Int = 0
    ) -> DNSResolver {
        DNSResolver(
            configuration: DNSConfiguration(
                servers: servers.map(\.address), timeout: timeout, attempts: attempts, cacheCapacity: cacheCapacity),
            group: MultiThreadedEventLoopGroup.singleton)
    }

    /// Runs `body` with a server answering `table`, and stops it afterwards.
    static func withServer<Result>(
        _ table: [Key: TestDNSServer.Behaviour], otherwise: TestDNSServer.Behaviour = .nameError,
        _ body: (TestDNSServer) async throws -> Result
    ) async throws -> Result {
        let server = try await TestDNSServer.start(table, otherwise: otherwise)
        do {
            let result = try await body(server)
            await server.stop()
            return result
        } catch {
            await server.stop()
            throw error
        }
    }

    /// The `DNSError` that `body` throws, or nil when it returns.
    static func lookupError(_ body: () async throws -> some Any) async -> DNSError? {
        do {
            _ = try await body()
            return nil
        } catch {
            return error as? DNSError
        }
    }

    // MARK: - MX (RFC 5321 §5.1, RFC 7505)

    @Test func exchangersAreSortedByPreference() async throws {
        let table: [Key: TestDNSServer.Behaviour] = [
            Key(name: "example.test", type: .mx): .answer([
                Self.mx("example.test", 20, "b.example.test"), Self.mx("example.test", 10, "a.example.test"),
                Self.mx("example.test", 30, "c.example.test"), Self.mx("example.test", 10, "d.example.test"),
            ])
        ]
        try await Self.withServer(table) { (server: TestDNSServer) async throws in
            let lookup = try await Self.resolver([server]).mailExchangers(for: "Example.TEST.")
            guard case .exchangers(let exchangers) = lookup else {
                Issue.record("expected exchangers, got \(lookup)")
                return
            }
            #expect(exchangers.map(\.preference) == [10, 10, 20, 30])
            #expect(Set(exchangers.prefix(2).map(\.host)) == ["a.example.test", "d.example.test"])
            #expect(exchangers.suffix(2).map(\.host) == ["b.example.test", "c.example.test"])
        }
    }

    @Test func equalPreferencesAreShuffled() {
        let exchangers = (0..<8).map { MailExchanger(preference: 10, host: "mx\($0).example.test") }
        var generator = SeededGenerator(seed: 7)
        var orders: Set<[String]> = []
        for _ in 0..<20 {
            let ordered = DNSResolver.ordered(
                exchangers + [MailExchanger(preference: 5, host: "first")], using: &generator)
            #expect(ordered.first?.host == "first")
            #expect(Set(ordered.dropFirst()) == Set(exchangers))
            orders.insert(ordered.map(\.host))
        }
        #expect(orders.count > 1)
    }

    @Test func nullMX() async throws {
        let table: [Key: TestDNSServer.Behaviour] = [
            Key(name: "nomail.test", type: .mx): .answer([Self.mx("nomail.test", 0, "")]),
            Key(name: "mixed.test", type: .mx): .answer([
                Self.mx("mixed.test", 0, ""), Self.mx("mixed.test", 10, "mx.mixed.test"),
            ]),
        ]
        try await Self.withServer(table) { (server: TestDNSServer) async throws in
            let resolver = Self.resolver([server])
            #expect(try await resolver.mailExchangers(for: "nomail.test") == .nullMX)
            // RFC 7505 §3 forbids mixing; the real exchanger is kept.
            #expect(
                try await resolver.mailExchangers(for: "mixed.test")
                    == .exchangers([MailExchanger(preference: 10, host: "mx.mixed.test")]))
        }
    }

    @Test func implicitMXWhenTheDomainHasAnAddress() async throws {
        let table: [Key: TestDNSServer.Behaviour] = [
            Key(name: "host.test", type: .mx): .answer([], authority: [TestDNSState.soa("host.test")]),
            Key(name: "host.test", type: .a): .answer([], authority: [TestDNSState.soa("host.test")]),
            Key(name: "host.test", type: .aaaa): .answer([Self.aaaa("host.test", "2001:db8::25")]),
            Key(name: "empty.test", type: .mx): .answer([], authority: [TestDNSState.soa("empty.test")]),
            Key(name: "empty.test", type: .a): .answer([], authority: [TestDNSState.soa("empty.test")]),
            Key(name: "empty.test", type: .aaaa): .answer([], authority: [TestDNSState.soa("empty.test")]),
        ]
        try await Self.withServer(table) { (server: TestDNSServer) async throws in
            let resolver = Self.resolver([server])
            #expect(
                try await resolver.mailExchangers(for: "HOST.test")
                    == .exchangers([MailExchanger(preference: 0, host: "host.test")]))
            #expect(try await resolver.mailExchangers(for: "empty.test") == .noSuchDomain)
        }
    }

    @Test func nameErrorIsNoSuchDomain() async throws {
        try await Self.withServer([:], otherwise: .nameError) { (server: TestDNSServer) async throws in
            let resolver = Self.resolver([server])
            #expect(try await resolver.mailExchangers(for: "missing.test") == .noSuchDomain)
            #expect(await Self.lookupError { try await resolver.query("missing.test", type: .a) }?.kind == .noSuchName)
            #expect(await Self.lookupError { try await resolver.addresses(of: "missing.test") }?.kind == .noSuchName)
        }
    }

    @Test func serverFailureIsTemporary() async throws {
        try await Self.withServer([:], otherwise: .failure(.serverFailure)) { (server: TestDNSServer) async throws in
            let resolver = Self.resolver([server], attempts: 2)
            let error = await Self.lookupError { try await resolver.mailExchangers(for: "broken.test") }
            #expect(error?.kind == .temporary)
            #expect(error?.detail.contains("SERVFAIL") == true)
            // Two rounds over the one server.
            #expect(server.log == ["udp mx broken.test", "udp mx broken.test"])
        }
    }

    /// An address literal is the SMTP client's business; the resolver passes it through.
    @Test func addressLiteralDomainsPassThrough() async throws {
        try await Self.withServer([:], otherwise: .silent) { (server: TestDNSServer) async throws in
            let resolver = Self.resolver([server], timeout: .milliseconds(200))
            #expect(
                try await resolver.mailExchangers(for: "[192.0.2.1]")
                    == .exchangers([MailExchanger(preference: 0, host: "[192.0.2.1]")]))
            #expect(try await resolver.addresses(of: "[192.0.2.1]") == ["192.0.2.1"])
            #expect(try await resolver.addresses(of: "[IPv6:2001:db8::1]") == ["2001:db8::1"])
            #expect(try await resolver.addresses(of: "2001:DB8::1") == ["2001:DB8::1"])
            #expect(
                try await resolver.mailExchangers(for: "[garbage")
                    == .exchangers([MailExchanger(preference: 0, host: "[garbage")]))
            // Nothing was asked.
            #expect(server.log.isEmpty)
        }
    }

    @Test func invalidNamesAreNoSuchDomain() async throws {
        try await Self.withServer([:]) { (server: TestDNSServer) async throws in
            let resolver = Self.resolver([server])
            #expect(try await resolver.mailExchangers(for: "a..b") == .noSuchDomain)
            #expect(try await resolver.mailExchangers(for: String(repeating: "x", count: 300)) == .noSuchDomain)
            #expect(server.log.isEmpty)
        }
    }

    // MARK: - Servers and transports

    @Test func silentFirstServerThenAWorkingOne() async throws {
        let silent = try await TestDNSServer.start([:], otherwise: .silent)
        let table: [Key: TestDNSServer.Behaviour] = [
            Key(name: "example.test", type: .mx): .answer([Self.mx("example.test", 10, "mx.example.test")])
        ]
        try await Self.withServer(table) { (working: TestDNSServer) async throws in
            // The timeout is per try and per server: the working one must answer within
            // it too, also on a loaded two-core machine running the whole suite.
            let resolver = Self.resolver([silent, working], timeout: .seconds(2))
            #expect(
                try await resolver.mailExchangers(for: "example.test")
                    == .exchangers([MailExchanger(preference: 10, host: "mx.example.test")]))
            #expect(silent.log == ["udp mx example.test"])
            #expect(working.log == ["udp mx example.test"])
        }
        await silent.stop()
    }

    @Test func refusedThenAWorkingServer() async throws {
        let refusing = try await TestDNSServer.start([:], otherwise: .failure(.refused))
        try await Self.withServer([Key(name: "x.test", type: .a): .answer([Self.a("x.test", "192.0.2.7")])]) {
            (working: TestDNSServer) async throws in
            let resolver = Self.resolver([refusing, working])
            #expect(try await resolver.addresses(of: "x.test") == ["192.0.2.7"])
        }
        await refusing.stop()
    }

    /// A closed UDP port answers with ICMP port unreachable; the connected socket turns
    /// that into an error, and the next server is asked.
    @Test func unreachableFirstServer() async throws {
        let closed = try await DatagramBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .bind(host: "127.0.0.1", port: 0).get()
        let closedAddress = try #require(closed.localAddress)
        try await closed.close()
        try await Self.withServer([Key(name: "x.test", type: .a): .answer([Self.a("x.test", "192.0.2.8")])]) {
            (working: TestDNSServer) async throws in
            let resolver = DNSResolver(
                configuration: DNSConfiguration(
                    servers: [closedAddress, working.address], timeout: .seconds(2), attempts: 1,
                    cacheCapacity: 0),
                group: MultiThreadedEventLoopGroup.singleton)
            #expect(try await resolver.addresses(of: "x.test") == ["192.0.2.8"])
        }
    }

    @Test func everyServerSilentIsTemporary() async throws {
        try await Self.withServer([:], otherwise: .silent) { (server: TestDNSServer) async throws in
            let resolver = Self.resolver([server], timeout: .milliseconds(200), attempts: 2)
            let error = await Self.lookupError { try await resolver.mailExchangers(for: "example.test") }
            #expect(error?.kind == .temporary)
            #expect(server.log.count == 2)
        }
    }

    @Test func noServersIsTemporary() async {
        let resolver = DNSResolver(
            configuration: DNSConfiguration(servers: []), group: MultiThreadedEventLoopGroup.singleton)
        let error = await Self.lookupError { try await resolver.query("example.test", type: .a) }
        #expect(error?.kind == .temporary)
    }

    /// RFC 5452 §4: answers from elsewhere, with another ID or question, or that are not
    /// responses, are ignored, and the real answer behind them is taken.
    @Test(arguments: TestDNSServer.Forgery.allCases)
    func forgeriesAreIgnored(_ forgery: TestDNSServer.Forgery) async throws {
        let table: [Key: TestDNSServer.Behaviour] = [
            Key(name: "bank.test", type: .a): .forgedFirst(
                forgery, forged: [Self.a("bank.test", "203.0.113.66")], real: [Self.a("bank.test", "192.0.2.10")])
        ]
        try await Self.withServer(table) { (server: TestDNSServer) async throws in
            #expect(try await Self.resolver([server]).addresses(of: "bank.test") == ["192.0.2.10"])
        }
    }

    @Test func truncatedAnswersAreFetchedOverTCP() async throws {
        let many = (1...100).map { Self.a("big.test", "192.0.2.\($0)") }
        let table: [Key: TestDNSServer.Behaviour] = [Key(name: "big.test", type: .a): .truncated(many)]
        try await Self.withServer(table, otherwise: .answer([])) { (server: TestDNSServer) async throws in
            let addresses = try await Self.resolver([server]).addresses(of: "big.test")
            #expect(addresses == (1...100).map { "192.0.2.\($0)" })
            #expect(server.log.filter { $0.hasSuffix(" a big.test") } == ["udp a big.test", "tcp a big.test"])
        }
    }

    /// RFC 6891 §7: a server that does not know EDNS is asked again without it.
    @Test func formatErrorRetriesWithoutEDNS() async throws {
        let table: [Key: TestDNSServer.Behaviour] = [
            Key(name: "old.test", type: .mx): .formatErrorWithEDNS([Self.mx("old.test", 5, "mx.old.test")])
        ]
        try await Self.withServer(table) { (server: TestDNSServer) async throws in
            #expect(
                try await Self.resolver([server]).mailExchangers(for: "old.test")
                    == .exchangers([MailExchanger(preference: 5, host: "mx.old.test")]))
            #expect(server.log.count == 2)
        }
    }

    // MARK: - CNAME

    @Test func aliasChainIsFollowed() async throws {
        let table: [Key: TestDNSServer.Behaviour] = [
            // The whole chain in one response, as a recursive resolver sends it.
            Key(name: "www.test", type: .a): .answer([
                Self.record("www.test", .cname("web.test")), Self.record("web.test", .cname("cdn.test")),
                Self.a("cdn.test", "192.0.2.80"),
            ]),
            // One link per response: the resolver asks for the target.
            Key(name: "alias.test", type: .aaaa): .answer([Self.record("alias.test", .cname("target.test"))]),
            Key(name: "target.test", type: .aaaa): .answer([Self.aaaa("target.test", "2001:db8::80")]),
        ]
        try await Self.withServer(table, otherwise: .answer([])) { (server: TestDNSServer) async throws in
            let resolver = Self.resolver([server])
            let answer = try await resolver.query("WWW.test", type: .a)
            #expect(answer.name == "www.test")
            #expect(answer.canonicalName == "cdn.test")
            #expect(answer.records.map(\.data.description) == ["192.0.2.80"])
            let second = try await resolver.query("alias.test", type: .aaaa)
            #expect(second.canonicalName == "target.test")
            #expect(second.records.map(\.data.description) == ["2001:db8::80"])
            #expect(server.log.contains("udp aaaa target.test"))
        }
    }

    @Test func aliasLoopsAndLongChainsStop() async throws {
        var table: [Key: TestDNSServer.Behaviour] = [
            Key(name: "loop-a.test", type: .a): .answer([Self.record("loop-a.test", .cname("loop-b.test"))]),
            Key(name: "loop-b.test", type: .a): .answer([Self.record("loop-b.test", .cname("loop-a.test"))]),
            Key(name: "self.test", type: .mx): .answer([Self.record("self.test", .cname("self.test"))]),
        ]
        for link in 0..<12 {
            table[Key(name: "c\(link).test", type: .a)] = .answer([
                Self.record("c\(link).test", .cname("c\(link + 1).test"))
            ])
        }
        table[Key(name: "c12.test", type: .a)] = .answer([Self.a("c12.test", "192.0.2.12")])
        try await Self.withServer(table, otherwise: .answer([])) { (server: TestDNSServer) async throws in
            let resolver = Self.resolver([server])
            let loop = await Self.lookupError { try await resolver.query("loop-a.test", type: .a) }
            #expect(loop?.kind == .temporary)
            #expect(loop?.detail.contains("loop") == true)
            #expect(await Self.lookupError { try await resolver.mailExchangers(for: "self.test") }?.kind == .temporary)
            // 12 links is more than 8.
            let long = await Self.lookupError { try await resolver.query("c0.test", type: .a) }
            #expect(long?.kind == .temporary)
            #expect(server.log.filter { $0.hasPrefix("udp a c") }.count == 9)
            // 4 links are fine.
            #expect(try await resolver.query("c8.test", type: .a).records.count == 1)
        }
    }

    // MARK: - Addresses and other types

    @Test func addressesIPv4First() async throws {
        let table: [Key: TestDNSServer.Behaviour] = [
            Key(name: "dual.test", type: .a): .answer([
                Self.a("dual.test", "192.0.2.1"), Self.a("dual.test", "192.0.2.2"),
            ]),
            Key(name: "dual.test", type: .aaaa): .answer([Self.aaaa("dual.test", "2001:db8::1")]),
            Key(name: "v6only.test", type: .aaaa): .answer([Self.aaaa("v6only.test", "2001:db8::6")]),
        ]
        try await Self.withServer(table, otherwise: .answer([])) { (server: TestDNSServer) async throws in
            let resolver = Self.resolver([server])
            #expect(try await resolver.addresses(of: "dual.test") == ["192.0.2.1", "192.0.2.2", "2001:db8::1"])
            #expect(try await resolver.addresses(of: "v6only.test") == ["2001:db8::6"])
            #expect(await Self.lookupError { try await resolver.addresses(of: "none.test") }?.kind == .noSuchName)
        }
    }

    /// One family failing does not hide the other's addresses.
    @Test func addressesWithOneFamilyFailing() async throws {
        let table: [Key: TestDNSServer.Behaviour] = [
            Key(name: "half.test", type: .a): .answer([Self.a("half.test", "192.0.2.9")]),
            Key(name: "half.test", type: .aaaa): .failure(.serverFailure),
            Key(name: "broken.test", type: .a): .answer([]),
            Key(name: "broken.test", type: .aaaa): .failure(.serverFailure),
        ]
        try await Self.withServer(table) { (server: TestDNSServer) async throws in
            let resolver = Self.resolver([server])
            #expect(try await resolver.addresses(of: "half.test") == ["192.0.2.9"])
            #expect(await Self.lookupError { try await resolver.addresses(of: "broken.test") }?.kind == .temporary)
        }
    }

    @Test func textTLSAAndPointerLookups() async throws {
        let table: [Key: TestDNSServer.Behaviour] = [
            Key(name: "example.test", type: .txt): .answer([
                Self.record("example.test", .txt([Array("v=spf1 ".utf8), Array("-all".utf8)])),
                Self.record("example.test", .txt([Array("other".utf8)])),
            ]),
            Key(name: "_25._tcp.mx.example.test", type: .tlsa): .answer([
                Self.record(
                    "_25._tcp.mx.example.test",
                    .tlsa(
                        TLSARecord(
                            certificateUsage: 3, selector: 1, matchingType: 1, certificateAssociationData: [0xAB])))
            ]),
            Key(name: "1.2.0.192.in-addr.arpa", type: .ptr): .answer([
                Self.record("1.2.0.192.in-addr.arpa", .ptr("mail.example.test"))
            ]),
            Key(
                name: "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa", type: .ptr
            ): .answer([
                Self.record(
                    "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa", .ptr("v6.example.test"))
            ]),
        ]
        try await Self.withServer(table, otherwise: .answer([])) { (server: TestDNSServer) async throws in
            let resolver = Self.resolver([server])
            #expect(try await resolver.txt("example.test") == [Array("v=spf1 -all".utf8), Array("other".utf8)])
            let tlsa = try await resolver.tlsa("mx.example.test")
            #expect(
                tlsa.records == [
                    TLSARecord(certificateUsage: 3, selector: 1, matchingType: 1, certificateAssociationData: [0xAB])
                ])
            #expect(tlsa.isAuthenticated)
            #expect(try await resolver.ptr("192.0.2.1") == ["mail.example.test"])
            #expect(try await resolver.ptr("2001:db8::1") == ["v6.example.test"])
            #expect(await Self.lookupError { try await resolver.ptr("not an address") }?.kind == .noSuchName)
            #expect(await Self.lookupError { try await resolver.tlsa("nodane.example.test") }?.kind == .noSuchName)
            #expect(await Self.lookupError { try await resolver.txt("none.example.test") }?.kind == .noSuchName)
        }
    }

    // MARK: - Cache

    @Test func positiveAnswersAreCachedNegativeOnesAreNot() async throws {
        let table: [Key: TestDNSServer.Behaviour] = [
            Key(name: "cached.test", type: .a): .answer([Self.a("cached.test", "192.0.2.5")]),
            Key(name: "zero.test", type: .a): .answer([
                Self.record("zero.test", .a(IPv4Address(octets: [192, 0, 2, 6])!), ttl: 0)
            ]),
        ]
        try await Self.withServer(table, otherwise: .answer([])) { (server: TestDNSServer) async throws in
            let resolver = Self.resolver([server], cacheCapacity: 16)
            for _ in 0..<3 {
                #expect(try await resolver.query("cached.test", type: .a).records.count == 1)
                #expect(try await resolver.query("zero.test", type: .a).records.count == 1)
                #expect(try await resolver.query("nodata.test", type: .a).records.isEmpty)
            }
            #expect(server.log.filter { $0 == "udp a cached.test" }.count == 1)
            #expect(server.log.filter { $0 == "udp a zero.test" }.count == 3)
            #expect(server.log.filter { $0 == "udp a nodata.test" }.count == 3)
        }
    }

    @Test func cacheIsBoundedAndExpires() throws {
        let cache = DNSCache(capacity: 2)
        let now = ContinuousClock.now
        func answer(_ name: String) -> DNSAnswer {
            DNSAnswer(name: name, type: .a, canonicalName: name, records: [])
        }
        cache.store(answer("a"), ttl: 10, for: .init(name: "a", type: .a), now: now)
        cache.store(answer("b"), ttl: 20, for: .init(name: "b", type: .a), now: now)
        cache.store(answer("c"), ttl: 30, for: .init(name: "c", type: .a), now: now)
        #expect(cache.count == 2)
        // The one closest to expiry made room.
        #expect(cache.answer(for: .init(name: "a", type: .a), now: now) == nil)
        #expect(cache.answer(for: .init(name: "b", type: .a), now: now) != nil)
        #expect(cache.answer(for: .init(name: "b", type: .a), now: now + .seconds(21)) == nil)
        // A TTL of a week is kept for an hour at most.
        cache.store(answer("d"), ttl: 604_800, for: .init(name: "d", type: .a), now: now)
        #expect(cache.answer(for: .init(name: "d", type: .a), now: now + .seconds(3599)) != nil)
        #expect(cache.answer(for: .init(name: "d", type: .a), now: now + .seconds(3601)) == nil)
    }
}
