import DNS
import Directory
import Foundation
import Logging
import MailCore
import MailQueue
import MailStore
import NIOCore
import SMTPClient
import ServiceLifecycle

/// Builds the outbound path from the configuration: resolver, SMTP client, routing
/// (`[routes]` → `[relay]` → MX) and the queue runner, run as one service.
enum OutboundWiring {
    /// The next hop for each recipient domain: a `[routes]` entry, else the `[relay]`
    /// smarthost, else the domain's MX hosts (Postfix: transport_maps, relayhost,
    /// then DNS).
    static func router(_ configuration: Configuration) throws -> @Sendable (String) -> NextHop {
        let port = configuration.outbound.mxPort
        var table: [String: NextHop] = [:]
        for (domain, route) in configuration.routes {
            var hop = try nextHop(route)
            if route.host.isEmpty { hop.target = .mailExchangers(domain: domain, port: port) }
            table[domain] = hop
        }
        let routes = table
        let relay = try configuration.relay.map(nextHop)
        let tls = NextHop.TLSPolicy(rawValue: configuration.outbound.tls) ?? .opportunistic
        return { domain in
            routes[domain] ?? relay ?? NextHop(target: .mailExchangers(domain: domain, port: port), tls: tls)
        }
    }

    static func nextHop(_ relay: Configuration.Relay) throws -> NextHop {
        var credentials: NextHop.Credentials?
        if let username = relay.username {
            var password = relay.password ?? ""
            if let file = relay.passwordFile {
                guard let text = try? String(contentsOfFile: file, encoding: .utf8) else {
                    throw OutboundConfigurationError("cannot read the relay password file \(file)")
                }
                password = String(text.split(separator: "\n", omittingEmptySubsequences: false).first ?? "")
            }
            credentials = NextHop.Credentials(username: username, password: password)
        }
        return NextHop(
            target: .host(relay.host, port: relay.port), tls: NextHop.TLSPolicy(rawValue: relay.tls) ?? .starttls,
            verifyCertificate: relay.verifyCertificate, caFile: relay.caFile, credentials: credentials)
    }

    static func policy(_ configuration: Configuration) -> QueuePolicy {
        var policy = QueuePolicy()
        policy.minimalBackoff = configuration.queue.minimalBackoff
        policy.maximalBackoff = configuration.queue.maximalBackoff
        policy.maximalLifetime = configuration.queue.maximalLifetime
        policy.delayWarning = configuration.queue.delayWarning == .zero ? nil : configuration.queue.delayWarning
        policy.maximumConcurrentDeliveries = configuration.queue.maximumDeliveries
        policy.destinationConcurrency = configuration.queue.destinationConcurrency
        return policy
    }

    // MARK: - Parsing

    /// `"name:port"`, `"[name]:port"` (Postfix's form) or `"[v6]:port"`.
    static func hostAndPort(_ text: String) -> (String, Int)? {
        var host: Substring
        let portText: Substring
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]"), text[text.index(after: close)...].hasPrefix(":") else { return nil }
            host = text[text.index(after: text.startIndex)..<close]
            portText = text[text.index(close, offsetBy: 2)...]
        } else {
            guard let colon = text.lastIndex(of: ":") else { return nil }
            host = text[..<colon]
            portText = text[text.index(after: colon)...]
            if host.contains(":") { return nil }
        }
        host = host.trimmingCharacters(in: .whitespaces)[...]
        let allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-:_")
        guard !host.isEmpty, host.utf8.count <= 255, host.allSatisfy(allowed.contains),
            !portText.isEmpty, portText.count <= 5, portText.allSatisfy({ $0.isASCII && $0.isNumber }),
            let port = Int(portText), (1...65535).contains(port)
        else { return nil }
        return (String(host), port)
    }

    /// A `[dns] servers` entry: an IP address, with an optional port (`"127.0.0.1:5353"`,
    /// `"[::1]:53"`).
    static func nameServer(_ text: String) -> (String, Int)? {
        if let (host, port) = hostAndPort(text), isIPAddress(host) { return (host, port) }
        return isIPAddress(text) ? (text, 53) : nil
    }

    static func isIPAddress(_ text: String) -> Bool {
        (try? SocketAddress(ipAddress: text, port: 0)) != nil
    }
}

struct OutboundConfigurationError: Error, CustomStringConvertible {
    let description: String

    init(_ description: String) {
        self.description = description
    }
}

/// The queue runner as a service of the server's group: at a graceful shutdown it stops
/// starting deliveries and gives those in progress `shutdown_grace` to finish.
struct QueueRunnerService: Service {
    let runner: QueueRunner
    /// Closes the SMTP client's cached connections (with QUIT).
    let closeConnections: @Sendable () async -> Void

    /// `[limits] shutdown_grace`: how long deliveries in progress may finish.
    let shutdownGrace: Duration

    func run() async throws {
        let runner = runner
        await withGracefulShutdownHandler {
            await runner.run(shutdownGrace: shutdownGrace)
        } onGracefulShutdown: {
            runner.stop()
        }
        await closeConnections()
    }
}

extension OutboundWiring {
    /// A report for `address`: into the local mailboxes it resolves to (aliases
    /// followed); the addresses outside our domains are returned for the queue. A
    /// report for a local address that no longer exists goes to that domain's
    /// postmaster (RFC 5321 §4.5.1), else nowhere — never back into the queue.
    static func deliverReport(
        _ message: [UInt8], to address: String, directory: any AccountDirectory, delivery: any MessageDelivery,
        logger: Logger
    ) async throws -> [String] {
        guard let recipient = MailAddress(address) else { return [address] }
        var resolution = try await directory.resolve(recipient: recipient)
        if resolution == .unknownUser, let postmaster = MailAddress(localPart: "postmaster", domain: recipient.domain) {
            logger.notice("report for an unknown local sender goes to postmaster", metadata: ["to": "\(address)"])
            resolution = try await directory.resolve(recipient: postmaster)
        }
        switch resolution {
        case .notLocalDomain:
            return [address]
        case .unknownUser:
            logger.error("report dropped: neither the sender nor postmaster exists", metadata: ["to": "\(address)"])
            return []
        case .deliver(let local, let forward):
            if !local.isEmpty { try await delivery.deliver(message, to: local) }
            return forward.map(\.description)
        }
    }

    /// The queue runner with its SMTP client and resolver.
    static func makeRunner(
        _ configuration: Configuration, spool: Spool, delivery: any MessageDelivery, directory: any AccountDirectory,
        group: any EventLoopGroup
    ) throws -> QueueRunnerService {
        var dnsConfiguration: DNSConfiguration
        if configuration.dns.servers.isEmpty {
            dnsConfiguration = DNSConfiguration.systemDefault()
        } else {
            dnsConfiguration = DNSConfiguration(servers: [])
            for server in configuration.dns.servers {
                guard let (host, port) = nameServer(server), let address = try? SocketAddress(ipAddress: host, port: port)
                else { throw OutboundConfigurationError("[dns] servers: '\(server)' is not an IP address") }
                dnsConfiguration.servers.append(address)
            }
        }
        dnsConfiguration.timeout = configuration.dns.timeout
        dnsConfiguration.attempts = configuration.dns.attempts
        let resolver = DNSResolver(configuration: dnsConfiguration, group: group)
        let heloName = configuration.outbound.heloName ?? configuration.hostname
        let transport = SMTPDeliveryAgent(
            heloName: heloName, resolver: resolver, group: group, logger: Logger(label: "tsubame.smtp-client"))
        let logger = Logger(label: "tsubame.queue")
        let local = QueueRunner.LocalDelivery(deliver: { message, address in
            try await deliverReport(message, to: address, directory: directory, delivery: delivery, logger: logger)
        })
        let runner = QueueRunner(
            spool: spool, transport: transport, route: try router(configuration), policy: policy(configuration),
            reportingMTA: configuration.hostname, local: local, logger: logger)
        return QueueRunnerService(
            runner: runner, closeConnections: { await transport.shutdown() },
            shutdownGrace: configuration.limits.shutdownGrace)
    }
}
