import Foundation
import MailQueue
import Testing
@testable import TsubameServer

@Suite("Configuration: outbound ([dns], [queue], [outbound], [relay], [routes])")
struct OutboundConfigurationTests {
    static let full = """
        hostname = "mail.example.com"
        [dns]
        servers = ["127.0.0.1:5353", "::1", "[::1]:53"]
        timeout = "2s"
        attempts = 3
        [queue]
        minimal_backoff = "1m"
        maximal_backoff = "1h"
        maximal_lifetime = "3d"
        delay_warning = 0
        max_deliveries = 50
        destination_concurrency = 2
        [outbound]
        helo_name = "out.example.com"
        mx_port = 2525
        tls = "starttls"
        [relay]
        host = "smtp.gmail.com:587"
        tls = "starttls"
        verify_certificate = true
        ca_file = "/etc/ssl/relay.pem"
        username = "me@gmail.com"
        password_file = "/etc/tsubame/relay.secret"
        [routes."partner.example"]
        host = "[10.0.0.5]:25"
        tls = "none"
        verify_certificate = false
        [routes."V6.example"]
        host = "[2001:db8::1]:465"
        tls = "implicit"
        [routes."bank.example"]
        tls = "starttls"
        """

    @Test func readsEveryKeyAndRendersBack() throws {
        let configuration = try ConfigurationLoader.parse(Self.full, file: "t.toml")
        #expect(configuration.dns.servers == ["127.0.0.1:5353", "::1", "[::1]:53"])
        #expect(configuration.dns.timeout == .seconds(2) && configuration.dns.attempts == 3)
        #expect(configuration.queue.minimalBackoff == .seconds(60) && configuration.queue.maximalBackoff == .seconds(3600))
        #expect(configuration.queue.maximalLifetime == .seconds(3 * 86400) && configuration.queue.delayWarning == .zero)
        #expect(configuration.queue.maximumDeliveries == 50 && configuration.queue.destinationConcurrency == 2)
        #expect(configuration.outbound.heloName == "out.example.com" && configuration.outbound.mxPort == 2525)
        #expect(configuration.outbound.tls == "starttls")
        let relay = try #require(configuration.relay)
        #expect(relay.host == "smtp.gmail.com" && relay.port == 587 && relay.tls == "starttls")
        #expect(relay.username == "me@gmail.com" && relay.passwordFile == "/etc/tsubame/relay.secret")
        #expect(relay.caFile == "/etc/ssl/relay.pem" && relay.verifyCertificate)
        #expect(configuration.routes["partner.example"]?.host == "10.0.0.5")
        #expect(configuration.routes["partner.example"]?.tls == "none")
        #expect(configuration.routes["v6.example"]?.host == "2001:db8::1")
        #expect(configuration.routes["v6.example"]?.port == 465)

        let rendered = ConfigurationRenderer.render(configuration)
        #expect(try ConfigurationLoader.parse(rendered, file: "rendered") == configuration, "\(rendered)")
    }

    @Test func defaultsArePostfixLike() {
        let configuration = Configuration()
        #expect(configuration.relay == nil && configuration.routes.isEmpty)
        #expect(configuration.queue.minimalBackoff == .seconds(300) && configuration.queue.maximalBackoff == .seconds(4000))
        #expect(configuration.queue.maximalLifetime == .seconds(432_000))
        #expect(configuration.outbound.mxPort == 25 && configuration.outbound.tls == "opportunistic")
        #expect(OutboundWiring.policy(configuration).delayWarning == .seconds(14400))
    }

    @Test func refusesBadValues() {
        let text = """
            [dns]
            servers = ["dns.example.com"]
            [queue]
            minimal_backoff = "1h"
            maximal_backoff = "1m"
            [outbound]
            tls = "sometimes"
            [relay]
            host = "smtp.example.net"
            [routes."a.example"]
            host = "mx.a.example"
            [routes."b.example"]
            host = "mx.b.example:25"
            tls = "none"
            username = "u"
            password = "p"
            [routes."c.example"]
            host = "mx.c.example:25"
            username = "u"
            colour = "blue"
            [routes."d.example"]
            host = "mx.d.example:587"
            tls = "opportunistic"
            username = "u"
            password = "p"
            """
        let found = problems(in: text).map(\.key)
        #expect(found.contains("[dns] servers"))
        #expect(found.contains("[queue] maximal_backoff"))
        #expect(found.contains("[outbound] tls"))
        #expect(found.contains("[relay] host"))
        #expect(found.contains("[routes.a.example] host"))
        #expect(found.contains("[routes.b.example] tls"))
        #expect(found.contains("[routes.c.example] username"))
        #expect(found.contains("[routes.c.example] colour"))
        // Opportunistic TLS may fall back to plaintext or take any certificate.
        #expect(found.contains("[routes.d.example] tls"))
    }

    @Test func routesWinOverTheRelayWhichWinsOverMX() throws {
        var configuration = try ConfigurationLoader.parse(Self.full, file: "t.toml")
        configuration.relay?.passwordFile = nil
        configuration.relay?.password = "secret"
        let route = try OutboundWiring.router(configuration)
        #expect(route("partner.example").target == .host("10.0.0.5", port: 25))
        #expect(route("partner.example").tls == NextHop.TLSPolicy.none)
        #expect(route("gmail.com").target == .host("smtp.gmail.com", port: 587))
        // A route without a host: the domain's MX hosts, with the route's TLS policy.
        #expect(route("bank.example").target == .mailExchangers(domain: "bank.example", port: 2525))
        #expect(route("bank.example").tls == .starttls && route("bank.example").verifyCertificate)
        #expect(route("gmail.com").credentials == NextHop.Credentials(username: "me@gmail.com", password: "secret"))

        configuration.relay = nil
        let direct = try OutboundWiring.router(configuration)
        #expect(direct("gmail.com").target == .mailExchangers(domain: "gmail.com", port: 2525))
        #expect(direct("gmail.com").tls == .starttls)
    }

    @Test func relayPasswordComesFromTheFirstLineOfItsFile() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("relay-\(UUID().uuidString)").path
        try "s3cret\nignored\n".write(toFile: path, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }
        var relay = Configuration.Relay(host: "smtp.example.net", port: 587)
        relay.username = "me"
        relay.passwordFile = path
        #expect(try OutboundWiring.nextHop(relay).credentials?.password == "s3cret")
        relay.passwordFile = path + ".missing"
        #expect(throws: (any Error).self) { try OutboundWiring.nextHop(relay) }
    }

    @Test func hostAndPortForms() {
        #expect(OutboundWiring.hostAndPort("smtp.example.net:587")! == ("smtp.example.net", 587))
        #expect(OutboundWiring.hostAndPort("[smtp.example.net]:587")! == ("smtp.example.net", 587))
        #expect(OutboundWiring.hostAndPort("[2001:db8::1]:25")! == ("2001:db8::1", 25))
        for bad in ["smtp.example.net", ":25", "host:0", "host:70000", "host:2x", "2001:db8::1:25", "[h]25", "a b:25", ""] {
            #expect(OutboundWiring.hostAndPort(bad) == nil, "\(bad)")
        }
        #expect(OutboundWiring.nameServer("127.0.0.1")! == ("127.0.0.1", 53))
        #expect(OutboundWiring.nameServer("::1")! == ("::1", 53))
        #expect(OutboundWiring.nameServer("dns.example:53") == nil)
    }

    @Test func sectionsAreDocumented() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        let document = try String(contentsOf: root.appendingPathComponent("docs/configuration.md"), encoding: .utf8)
        for key in [
            "`[dns]`", "`[queue]`", "`[outbound]`", "`[relay]`", "`[routes]`", "`servers`", "`attempts`",
            "`minimal_backoff`", "`maximal_backoff`", "`maximal_lifetime`", "`delay_warning`", "`max_deliveries`",
            "`destination_concurrency`", "`helo_name`", "`mx_port`", "`verify_certificate`", "`username`",
            "`password_file`",
        ] {
            #expect(document.contains(key), "docs/configuration.md lacks \(key)")
        }
    }
}
