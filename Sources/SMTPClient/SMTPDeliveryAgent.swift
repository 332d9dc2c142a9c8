public import DNS
public import Logging
public import MailQueue
public import NIOCore
import NIOSSL
public import SMTPProtocol
import Synchronization

/// The outbound SMTP client: delivers one queued message to one next hop and reports
/// what became of each recipient. It is the queue runner's `OutboundTransport`.
///
///     let agent = SMTPDeliveryAgent(heloName: "mail.example.com", resolver: resolver,
///                                   group: MultiThreadedEventLoopGroup.singleton, logger: logger)
///     let results = await agent.deliver(request)    // one RecipientResult per recipient
///     await agent.shutdown()                        // closes cached connections
///
/// For `.mailExchangers` it looks up the MX hosts (RFC 5321 §5.1; a null MX bounces
/// with 5.1.10, RFC 7505; a missing domain with 5.1.2) and tries their addresses in
/// order; for `.host` it connects to that host (or IP literal) only. Connection
/// failures, timeouts, a greeting or EHLO that is not 2xx, and TLS or AUTH that the
/// policy needs but cannot have, move on to the next address; when none is left, every
/// recipient is deferred with the last error. Once a session is up, the transaction's
/// replies decide per recipient (2xx delivered, 4xx deferred, 5xx bounced); a
/// connection lost mid-way defers whoever has no final answer. A server that calls
/// itself by our `heloName` is us: the mail bounces (5.4.6) instead of looping.
///
/// After a clean transaction the session is cached for a few seconds and reused by the
/// next delivery to the same next hop (after RSET). `deliver` never throws and never
/// logs a password or message text.
///
/// Cancelling the task that calls `deliver` (the queue runner's shutdown) ends it
/// promptly: the connection is closed (not cached), no further address is tried, and
/// every recipient without a final answer is deferred (4.4.2, "delivery interrupted").
///
/// - SeeAlso: RFC 5321 §3, §4.5.3.2 (timeouts), §5.1 (locating the target host),
///   RFC 7505 (null MX), RFC 3207 (STARTTLS), RFC 8314 (implicit TLS), RFC 4954 (AUTH),
///   RFC 3463 (status codes), RFC 3464 §2.3.5–6 (Remote-MTA, Diagnostic-Code)
public final class SMTPDeliveryAgent: OutboundTransport {
    public let heloName: String
    public let timeouts: SMTPClientTimeouts
    public let limits: SMTPClientLimits
    private let resolver: any HostResolver
    private let group: any EventLoopGroup
    private let logger: Logger
    private let cache: SMTPConnectionCache
    private let tlsContexts = Mutex<[TLSContextKey: NIOSSLContext]>([:])

    private struct TLSContextKey: Hashable, Sendable {
        var verify: Bool
        var caFile: String?
    }

    /// - Parameters:
    ///   - heloName: the name said in EHLO/HELO (RFC 5321 §4.1.1.1: the client's fully
    ///     qualified domain name), and the name that detects a mail loop.
    ///   - resolver: MX and address lookups (`DNSResolver`, or a table in tests).
    ///   - group: where connections run.
    public init(
        heloName: String, resolver: any HostResolver, group: any EventLoopGroup,
        timeouts: SMTPClientTimeouts = .init(), logger: Logger, limits: SMTPClientLimits = .init()
    ) {
        self.heloName = heloName
        self.resolver = resolver
        self.group = group
        self.timeouts = timeouts
        self.logger = logger
        self.limits = limits
        self.cache = SMTPConnectionCache(
            settings: SMTPClientSession.Settings(heloName: heloName, timeouts: timeouts, limits: limits))
    }

    private var settings: SMTPClientSession.Settings {
        SMTPClientSession.Settings(heloName: heloName, timeouts: timeouts, limits: limits)
    }

    /// Closes every cached connection (QUIT first). Deliveries after this still work,
    /// but keep no connection.
    public func shutdown() async {
        await cache.shutdown()
    }

    /// Connections cached for reuse right now.
    public var cachedConnectionCount: Int { cache.count }

    // MARK: - OutboundTransport

    public func deliver(_ request: OutboundRequest) async -> [RecipientResult] {
        let (envelope, early) = PreparedEnvelope.prepare(request)
        var results = early
        var relay: String?
        if let envelope {
            let attempt = await attempt(envelope, nextHop: request.nextHop)
            relay = attempt.relay
            for (index, result) in attempt.results { results[index] = result }
        }
        let ordered = request.recipients.indices.map { index in
            results[index]
                ?? RecipientResult(
                    address: request.recipients[index].address, outcome: .deferred, status: "4.3.0",
                    diagnostic: "internal error: no result for this recipient")
        }
        log(request, relay: relay, results: ordered)
        return ordered
    }

    // MARK: - Routing (RFC 5321 §5.1)

    private struct Attempt {
        var results: [Int: RecipientResult]
        var relay: String?
    }

    /// One host to try, with the name for SNI and diagnostics.
    private struct Candidate {
        /// The MX host or smarthost name, or the IP literal.
        var host: String
        /// Set when `host` is an IP literal: the address to connect to.
        var literal: String?
    }

    private func attempt(_ envelope: PreparedEnvelope, nextHop: NextHop) async -> Attempt {
        if Task.isCancelled { return final(envelope, failure: DeliveryStatus.interruption()) }
        // A cached session to the same next hop goes first (no DNS, no handshake).
        while let session = cache.checkOut(nextHop) {
            if await session.reset(settings: settings) {
                return await transact(envelope, on: session, nextHop: nextHop)
            }
            await session.connection.close()
        }

        let destination: String
        let port: Int
        var candidates: [Candidate] = []
        switch nextHop.target {
        case .mailExchangers(let domain, let targetPort):
            destination = domain
            port = targetPort
            let lookup: MailExchangerLookup
            do {
                lookup = try await resolver.mailExchangers(for: domain)
            } catch {
                return final(envelope, failure: Self.dnsFailure(error, name: domain, type: "MX", isDomain: true))
            }
            switch lookup {
            case .nullMX:
                // RFC 7505 §3: bounce at once, with 5.1.10 ("Recipient address has null MX").
                return final(
                    envelope,
                    failure: DeliveryFailure(
                        disposition: .final(.bounced), status: "5.1.10",
                        diagnostic: "Domain \(domain) does not accept mail (null MX)"))
            case .noSuchDomain:
                return final(
                    envelope,
                    failure: DeliveryFailure(
                        disposition: .final(.bounced), status: "5.1.2",
                        diagnostic:
                            "Host or domain name not found. Name service error for name=\(domain) type=MX: Host not found"
                    ))
            case .exchangers(let exchangers):
                candidates = exchangers.map { Candidate(host: $0.host, literal: Self.ipLiteral($0.host)) }
            }
        case .host(let name, let targetPort):
            port = targetPort
            if let literal = Self.ipLiteral(name) {
                destination = literal
                candidates = [Candidate(host: literal, literal: literal)]
            } else {
                // Postfix writes `[host]` for "no MX lookup"; the brackets are not the name.
                let bare = name.hasPrefix("[") && name.hasSuffix("]") ? String(name.dropFirst().dropLast()) : name
                destination = bare
                candidates = [Candidate(host: bare, literal: nil)]
            }
        }

        var lastFailure: DeliveryFailure?
        var addressesTried = 0
        var failedSessions = 0
        hosts: for candidate in candidates {
            if Task.isCancelled { return final(envelope, failure: DeliveryStatus.interruption()) }
            let addresses: [String]
            if let literal = candidate.literal {
                addresses = [literal]
            } else {
                do {
                    addresses = try await resolver.addresses(of: candidate.host)
                } catch {
                    lastFailure = Self.dnsFailure(error, name: candidate.host, type: "A", isDomain: false)
                    continue
                }
            }
            for address in addresses {
                if Task.isCancelled { return final(envelope, failure: DeliveryStatus.interruption()) }
                guard addressesTried < limits.maximumAddressesTried else { break hosts }
                addressesTried += 1
                switch await open(candidate, address: address, port: port, nextHop: nextHop, destination: destination) {
                case .success(let session):
                    return await transact(envelope, on: session, nextHop: nextHop)
                case .failure(let failure):
                    lastFailure = failure
                    logger.debug(
                        "delivery attempt failed",
                        metadata: ["relay": "\(failure.relay ?? candidate.host)", "reason": "\(failure.diagnostic)"])
                    if case .final = failure.disposition { return final(envelope, failure: failure) }
                    // A server answered (a session failed, not just a connection):
                    // Postfix's `smtp_mx_session_limit`.
                    if failure.remoteMTA != nil {
                        failedSessions += 1
                        if failedSessions >= limits.maximumFailedSessions { break hosts }
                    }
                }
            }
        }
        let failure =
            lastFailure
            ?? DeliveryFailure(
                disposition: .tryNextAddress, status: "4.4.4",
                diagnostic: "no address to deliver mail for \(destination) to")
        return final(envelope, failure: failure)
    }

    /// Connects to one address and establishes a session.
    private func open(
        _ candidate: Candidate, address: String, port: Int, nextHop: NextHop, destination: String
    ) async -> Result<SMTPClientSession, DeliveryFailure> {
        // SNI and certificate names are host names, never literals (RFC 6066 §3).
        let serverHostname = candidate.literal == nil ? candidate.host : nil
        var implicitTLS: NIOSSLContext?
        if nextHop.tls == .implicit {
            do {
                implicitTLS = try tlsContext(verify: nextHop.verifyCertificate, caFile: nextHop.caFile)
            } catch {
                return .failure(error)
            }
        }
        let connection: SMTPClientConnection
        do {
            connection = try await SMTPClientConnection.connect(
                host: candidate.host, address: address, port: port, implicitTLS: implicitTLS,
                serverHostname: serverHostname, limits: limits, group: group, timeout: timeouts.connect)
        } catch {
            let remote = "\(candidate.host)[\(address)]:\(port)"
            if error.kind == .cancelled { return .failure(DeliveryStatus.interruption(relay: remote)) }
            return .failure(
                DeliveryFailure(
                    disposition: .tryNextAddress, status: "4.4.1",
                    diagnostic: DeliveryStatus.words(for: error, host: remote, phase: .greeting), remoteMTA: nil,
                    relay: remote))
        }
        do {
            let session = try await SMTPClientSession.establish(
                on: connection, nextHop: nextHop, destination: destination, serverHostname: serverHostname,
                isImplicitTLS: implicitTLS != nil, settings: settings
            ) { (verify: Bool) throws(DeliveryFailure) -> NIOSSLContext in
                try self.tlsContext(verify: verify, caFile: nextHop.caFile)
            }
            return .success(session)
        } catch {
            await connection.quit(timeout: timeouts.quit)
            return .failure(error)
        }
    }

    /// Runs the transaction on an established session, then caches or closes it.
    private func transact(
        _ envelope: PreparedEnvelope, on established: SMTPClientSession, nextHop: NextHop
    ) async -> Attempt {
        var session = established
        let connection = session.connection
        if let refusal = session.refusal(of: envelope, limits: limits) {
            await cache.checkIn(session, for: nextHop)
            return final(envelope, failure: refusal)
        }
        let outcome = await session.send(envelope, settings: settings)
        var results: [Int: RecipientResult] = [:]
        for (recipient, recipientOutcome) in zip(envelope.recipients, outcome.recipients) {
            results[recipient.index] = DeliveryStatus.result(
                for: recipientOutcome, address: recipient.address, interruption: outcome.interruption,
                remoteMTA: connection.remoteMTA, isNotificationPassedOn: session.passesOnNotification(for: recipient),
                limit: limits.maximumDiagnosticLength)
        }
        if outcome.isSessionReusable {
            await cache.checkIn(session, for: nextHop)
        } else {
            await session.quit(settings: settings)
        }
        return Attempt(results: results, relay: connection.relay)
    }

    /// Every remaining recipient gets `failure`'s outcome.
    private func final(_ envelope: PreparedEnvelope, failure: DeliveryFailure) -> Attempt {
        var results: [Int: RecipientResult] = [:]
        for recipient in envelope.recipients {
            results[recipient.index] = RecipientResult(
                address: recipient.address, outcome: failure.outcome, status: failure.status,
                diagnostic: failure.diagnostic, remoteMTA: failure.remoteMTA)
        }
        return Attempt(results: results, relay: failure.relay)
    }

    // MARK: - DNS

    /// A lookup failure as a delivery failure: NXDOMAIN of the destination domain
    /// bounces (5.1.2); trouble with an MX host or smarthost, and every temporary
    /// error, defers (4.4.4 "unable to route", 4.4.3 "directory server failure").
    private static func dnsFailure(_ error: DNSError, name: String, type: String, isDomain: Bool) -> DeliveryFailure {
        let text = "Host or domain name not found. Name service error for name=\(name) type=\(type): \(error.detail)"
        switch error.kind {
        case .noSuchName:
            return DeliveryFailure(
                disposition: isDomain ? .final(.bounced) : .tryNextAddress, status: isDomain ? "5.1.2" : "4.4.4",
                diagnostic: text)
        case .temporary:
            return DeliveryFailure(
                disposition: isDomain ? .final(.deferred) : .tryNextAddress, status: "4.4.3", diagnostic: text)
        }
    }

    /// The address in `host` when it is an IP literal: `192.0.2.1`, `[192.0.2.1]`,
    /// `2001:db8::1`, `[2001:db8::1]` or `[IPv6:2001:db8::1]` (RFC 5321 §4.1.3).
    static func ipLiteral(_ host: String) -> String? {
        var text = Substring(host)
        if text.hasPrefix("[") && text.hasSuffix("]") { text = text.dropFirst().dropLast() }
        if text.lowercased().hasPrefix("ipv6:") { text = text.dropFirst(5) }
        guard !text.isEmpty, text.allSatisfy({ $0.isHexDigit || $0 == "." || $0 == ":" }),
            (try? SocketAddress(ipAddress: String(text), port: 0)) != nil
        else { return nil }
        return String(text)
    }

    // MARK: - TLS

    /// The client context for a verification mode, made once and shared (making one
    /// reads the trust store). TLS 1.2 at the least (RFC 8996, RFC 9325 §3.1.1).
    private func tlsContext(verify: Bool, caFile: String?) throws(DeliveryFailure) -> NIOSSLContext {
        let key = TLSContextKey(verify: verify, caFile: verify ? caFile : nil)
        if let context = tlsContexts.withLock({ $0[key] }) { return context }
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.minimumTLSVersion = .tlsv12
        if verify {
            configuration.certificateVerification = .fullVerification
            if let caFile { configuration.trustRoots = .file(caFile) }
        } else {
            // Opportunistic TLS (RFC 7435): encryption without authentication.
            configuration.certificateVerification = .none
        }
        do {
            let context = try NIOSSLContext(configuration: configuration)
            tlsContexts.withLock { $0[key] = context }
            return context
        } catch {
            throw DeliveryFailure(
                disposition: .final(.deferred), status: "4.7.5",
                diagnostic: "cannot set up TLS\(caFile.map { " with CA file \($0)" } ?? ""): \(error)")
        }
    }

    // MARK: - Logging

    /// One line per delivery attempt (STYLE.md §7): queue ID, relay, outcome, status.
    private func log(_ request: OutboundRequest, relay: String?, results: [RecipientResult]) {
        let outcomes = Dictionary(grouping: results, by: \.outcome)
        let outcome: String
        if outcomes.count == 1, let only = outcomes.keys.first {
            outcome = only.rawValue
        } else {
            outcome = [RecipientResult.Outcome.delivered, .deferred, .bounced]
                .compactMap { kind in outcomes[kind].map { "\(kind.rawValue)=\($0.count)" } }
                .joined(separator: " ")
        }
        var statuses: [String] = []
        for result in results where !statuses.contains(result.status) { statuses.append(result.status) }
        let diagnostic = (results.first { $0.outcome != .delivered } ?? results.first)?.diagnostic ?? ""
        logger.info(
            "delivery",
            metadata: [
                "queueID": "\(request.queueID)", "relay": "\(relay ?? "none")", "recipients": "\(results.count)",
                "outcome": "\(outcome)", "status": "\(statuses.joined(separator: ","))",
                "diagnostic": "\(diagnostic)",
            ])
    }
}
