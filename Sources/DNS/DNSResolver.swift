public import NIOCore

/// A stub resolver: asks recursive name servers over UDP (TCP when truncated) and
/// answers the questions mail delivery has.
///
///     let resolver = DNSResolver(configuration: .systemDefault(), group: MultiThreadedEventLoopGroup.singleton)
///     switch try await resolver.mailExchangers(for: "example.com") { … }
///
/// Servers are asked in order; a timeout, a network error, SERVFAIL, REFUSED or any
/// other failure moves on to the next, and `attempts` rounds over all of them are made
/// before a lookup fails with `.temporary`. NXDOMAIN is final (`.noSuchName`). Nothing
/// blocks an event loop. Positive answers are cached (`DNSConfiguration.cacheCapacity`).
///
/// - SeeAlso: RFC 1034 §5.3.1 (stub resolvers), RFC 1123 §6.1.3.3, RFC 5321 §5.1,
///   RFC 7505, RFC 6698, RFC 7672 §2.2
public struct DNSResolver: HostResolver {
    public let configuration: DNSConfiguration
    private let group: any EventLoopGroup
    private let cache: DNSCache?

    public init(configuration: DNSConfiguration, group: any EventLoopGroup) {
        self.configuration = configuration
        self.group = group
        self.cache = configuration.cacheCapacity > 0 ? DNSCache(capacity: configuration.cacheCapacity) : nil
    }

    // MARK: - Queries

    /// The records of `type` for `name`, after following its CNAME chain (at most
    /// `DNSLimits.maximumCNAMEChainLength` links; a longer chain or a loop is
    /// `.temporary`, as a recursive resolver would answer SERVFAIL). Empty `records`
    /// is NODATA.
    ///
    /// Throws `.noSuchName` for NXDOMAIN (RFC 6604: for the last name of the chain) and
    /// for a name that cannot be a domain name (an empty label, a label over 63 octets,
    /// over 255 octets in all); `.temporary` when no server gave a usable answer.
    ///
    /// Only records owned by a name of the chain count: anything else a server adds to
    /// the answer section is ignored (RFC 5452 §6, RFC 2181 §5.4.1).
    public func query(_ name: String, type: DNSRecordType) async throws(DNSError) -> DNSAnswer {
        let asked: String
        do {
            asked = try DomainName.canonical(name)
        } catch {
            throw DNSError(.noSuchName, "not a domain name: \(name.debugDescription)")
        }
        let key = DNSCache.Key(name: asked, type: type)
        if let cached = cache?.answer(for: key) { return cached }

        var chain = [asked]
        var isAuthenticated = true
        var ttl = UInt32.max
        var queryName = asked
        while true {
            let response = try await resolve(queryName, type: type)
            isAuthenticated = isAuthenticated && response.header.isAuthenticData
            // Follow the chain as far as this response carries it.
            var owner = queryName
            while true {
                let records = response.answers.filter {
                    $0.name == owner && $0.type == type && $0.recordClass == .internet
                }
                if !records.isEmpty {
                    let answer = DNSAnswer(
                        name: asked, type: type, canonicalName: owner, records: records,
                        responseCode: response.responseCode, isAuthenticated: isAuthenticated)
                    ttl = records.reduce(ttl) { min($0, $1.effectiveTTL) }
                    cache?.store(answer, ttl: ttl, for: key)
                    return answer
                }
                guard
                    let alias = response.answers.first(where: {
                        $0.name == owner && $0.type == .cname && $0.recordClass == .internet
                    }), case .cname(let target) = alias.data
                else { break }
                guard !chain.contains(target) else {
                    throw DNSError(.temporary, "CNAME loop at \(target) while looking up \(type) \(asked)")
                }
                guard chain.count <= DNSLimits.maximumCNAMEChainLength else {
                    throw DNSError(
                        .temporary, "CNAME chain of \(asked) longer than \(DNSLimits.maximumCNAMEChainLength)")
                }
                chain.append(target)
                ttl = min(ttl, alias.effectiveTTL)
                owner = target
            }
            if response.responseCode == .nameError {
                throw DNSError(.noSuchName, "\(owner) does not exist (NXDOMAIN)")
            }
            // A chain that stops at an alias whose target's data is missing, with no SOA
            // saying "no such data" (RFC 2308 §2.2): the server did not chase it (an
            // authoritative server for the alias only). Ask for the target.
            let isNoData = response.authorities.contains { $0.type == .soa }
            if owner != queryName && !isNoData {
                queryName = owner
                continue
            }
            return DNSAnswer(
                name: asked, type: type, canonicalName: owner, records: [], responseCode: response.responseCode,
                isAuthenticated: isAuthenticated)
        }
    }

    /// One question to the configured servers, in order, `attempts` rounds. Returns the
    /// first NOERROR or NXDOMAIN response.
    private func resolve(_ name: String, type: DNSRecordType) async throws(DNSError) -> DNSMessage {
        let transport = DNSTransport(group: group, timeout: configuration.timeout)
        let rounds = min(max(configuration.attempts, 1), DNSLimits.maximumAttempts)
        var lastError = DNSError(.temporary, "no name servers configured")
        for _ in 0..<rounds {
            for server in configuration.servers {
                guard !Task.isCancelled else { throw DNSError(.temporary, "lookup cancelled") }
                var query = DNSMessage.query(name: name, type: type)
                do {
                    var response = try await transport.exchange(query, server: server)
                    if response.responseCode == .formatError || response.responseCode == .badVersion {
                        // RFC 6891 §7: a server that answers FORMERR to EDNS may not
                        // know it; ask it once more without the OPT record.
                        query = DNSMessage.query(name: name, type: type)
                        query.opt = nil
                        response = try await transport.exchange(query, server: server)
                    }
                    switch response.responseCode {
                    case .noError, .nameError:
                        return response
                    default:
                        lastError = DNSError(
                            .temporary, "\(server) answered \(response.responseCode) for \(type) \(name)")
                    }
                } catch {
                    if error.kind == .noSuchName { throw error }
                    lastError = error
                }
            }
        }
        throw lastError
    }

    // MARK: - Mail

    /// RFC 5321 §5.1: the MX records sorted by preference, equal preferences shuffled
    /// (to spread the load, as §5.1 asks); a single `MX 0 .` is `.nullMX` (RFC 7505 §3);
    /// without MX records (NODATA) the domain is its own implicit MX, preference 0, if
    /// it has an A or AAAA record, else `.noSuchDomain`; NXDOMAIN is `.noSuchDomain`.
    /// Server trouble throws `.temporary`.
    ///
    /// When null MX appears beside real MX records (RFC 7505 §3 forbids it), the null
    /// entries are dropped. An address literal (`[192.0.2.1]`) is not a domain: it comes
    /// back as the only exchanger, for `addresses(of:)` to return unchanged.
    public func mailExchangers(for domain: String) async throws(DNSError) -> MailExchangerLookup {
        if domain.hasPrefix("[") {
            return .exchangers([MailExchanger(preference: 0, host: domain)])
        }
        let answer: DNSAnswer
        do {
            answer = try await query(domain, type: .mx)
        } catch {
            guard error.kind == .noSuchName else { throw error }
            return .noSuchDomain
        }
        var exchangers: [MailExchanger] = []
        for record in answer.records {
            if case .mx(let preference, let exchange) = record.data {
                exchangers.append(MailExchanger(preference: preference, host: exchange))
            }
        }
        if exchangers.isEmpty {
            // RFC 5321 §5.1: the implicit MX, if the domain has an address.
            do {
                _ = try await addresses(of: answer.name)
            } catch {
                guard error.kind == .noSuchName else { throw error }
                return .noSuchDomain
            }
            return .exchangers([MailExchanger(preference: 0, host: answer.name)])
        }
        let real = exchangers.filter { !$0.host.isEmpty }
        guard !real.isEmpty else { return .nullMX }
        return .exchangers(Self.ordered(real))
    }

    /// Sorted by preference, each run of equal preference in random order.
    static func ordered(_ exchangers: [MailExchanger]) -> [MailExchanger] {
        var generator = SystemRandomNumberGenerator()
        return ordered(exchangers, using: &generator)
    }

    static func ordered(_ exchangers: [MailExchanger], using generator: inout some RandomNumberGenerator)
        -> [MailExchanger]
    {
        var byPreference: [UInt16: [MailExchanger]] = [:]
        for exchanger in exchangers {
            byPreference[exchanger.preference, default: []].append(exchanger)
        }
        return byPreference.keys.sorted().flatMap { byPreference[$0, default: []].shuffled(using: &generator) }
    }

    /// The A and AAAA records of `host` (asked concurrently), IPv4 first, as text. An
    /// address literal (`192.0.2.1`, `2001:db8::1`, or bracketed as in RFC 5321 §4.1.3:
    /// `[192.0.2.1]`, `[IPv6:2001:db8::1]`) comes back as the bare address, without a
    /// lookup. If one family fails and the other has addresses, those are returned.
    /// Throws `.noSuchName` when the name does not exist or has neither, `.temporary`
    /// when no usable answer arrived for either.
    public func addresses(of host: String) async throws(DNSError) -> [String] {
        if let literal = Self.addressLiteral(host) {
            return [literal]
        }
        async let ipv4 = result(of: host, type: .a)
        async let ipv6 = result(of: host, type: .aaaa)
        let results = await [ipv4, ipv6]
        var addresses: [String] = []
        var failure: DNSError? = nil
        for result in results {
            switch result {
            case .success(let answer):
                for record in answer.records {
                    switch record.data {
                    case .a(let address): addresses.append(address.description)
                    case .aaaa(let address): addresses.append(address.description)
                    default: break
                    }
                }
            case .failure(let error):
                if error.kind == .temporary || failure == nil { failure = error }
            }
        }
        if !addresses.isEmpty {
            var seen: Set<String> = []
            return addresses.filter { seen.insert($0).inserted }
        }
        if let failure, failure.kind == .temporary { throw failure }
        throw DNSError(.noSuchName, "\(host) has no A or AAAA records")
    }

    private func result(of name: String, type: DNSRecordType) async -> Result<DNSAnswer, DNSError> {
        do {
            return .success(try await query(name, type: type))
        } catch {
            return .failure(error)
        }
    }

    /// `host` as a bare IP address if it is an address literal, bracketed or not
    /// (RFC 5321 §4.1.3: `[192.0.2.1]`, `[IPv6:2001:db8::1]`); `nil` for a host name.
    static func addressLiteral(_ host: String) -> String? {
        var text = Substring(host)
        if text.hasPrefix("[") && text.hasSuffix("]") {
            text = text.dropFirst().dropLast()
            if text.lowercased().hasPrefix("ipv6:") {
                text = text.dropFirst(5)
                return IPv6Address(text) != nil ? String(text) : nil
            }
            return IPv4Address(text) != nil ? String(text) : nil
        }
        return IPv4Address(text) != nil || IPv6Address(text) != nil ? String(text) : nil
    }

    // MARK: - Other record types

    /// The TXT records of `name`, each with its character-strings joined without
    /// separators, as SPF (RFC 7208 §3.3), DKIM (RFC 6376 §3.6.2.2) and DMARC read them.
    /// Throws `.noSuchName` when there are none. `query(_:type:)` keeps the strings apart.
    public func txt(_ name: String) async throws(DNSError) -> [[UInt8]] {
        let answer = try await query(name, type: .txt)
        let texts = answer.records.compactMap { record -> [UInt8]? in
            guard case .txt(let strings) = record.data else { return nil }
            return strings.flatMap { $0 }
        }
        guard !texts.isEmpty else { throw DNSError(.noSuchName, "\(name) has no TXT records") }
        return texts
    }

    /// The TLSA records of the TLS service on `port` of `host`: the records of
    /// `_<port>._tcp.<host>` (RFC 6698 §3), `_25._tcp.<mx host>` for SMTP (RFC 7672
    /// §2.2). Throws `.noSuchName` when there are none (no DANE), `.temporary` when the
    /// lookup failed (RFC 7672 §2.2: then the delivery must wait).
    public func tlsa(_ host: String, port: UInt16 = 25) async throws(DNSError) -> TLSALookup {
        let answer = try await query("_\(port)._tcp.\(host)", type: .tlsa)
        let records = answer.records.compactMap { record -> TLSARecord? in
            guard case .tlsa(let tlsa) = record.data else { return nil }
            return tlsa
        }
        guard !records.isEmpty else { throw DNSError(.noSuchName, "\(host) port \(port) has no TLSA records") }
        return TLSALookup(records: records, isAuthenticated: answer.isAuthenticated)
    }

    /// The names in the PTR records of an IP address (`in-addr.arpa`, RFC 1035 §3.5, or
    /// `ip6.arpa`, RFC 3596 §2.5). Throws `.noSuchName` for text that is not an address
    /// and when there are no PTR records.
    public func ptr(_ ip: String) async throws(DNSError) -> [String] {
        let bare = Self.addressLiteral(ip) ?? ip
        let name: String
        if let ipv4 = IPv4Address(bare) {
            name = ipv4.reverseLookupName
        } else if let ipv6 = IPv6Address(bare) {
            name = ipv6.reverseLookupName
        } else {
            throw DNSError(.noSuchName, "not an IP address: \(ip.debugDescription)")
        }
        let answer = try await query(name, type: .ptr)
        let names = answer.records.compactMap { record -> String? in
            guard case .ptr(let target) = record.data else { return nil }
            return target
        }
        guard !names.isEmpty else { throw DNSError(.noSuchName, "\(ip) has no PTR records") }
        return names
    }
}
