public import NIOCore

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// Where `DNSResolver` sends its queries and how patiently.
///
/// Defaults follow resolv.conf(5): five seconds per try, two rounds over the servers,
/// the local name server when none is configured. A mail server should use a local
/// validating resolver (unbound, Knot Resolver, BIND): DANE (RFC 7672) trusts the AD
/// bit only from a resolver on a trusted path (RFC 6698 §4.1, RFC 7672 §2.1.1).
///
/// - SeeAlso: resolv.conf(5); RFC 1123 §6.1.3.3 (retransmission), RFC 1035 §4.2.1
public struct DNSConfiguration: Sendable, Equatable {
    /// The name servers, asked in this order; each answers on UDP and TCP.
    public var servers: [SocketAddress]
    /// How long one try (one query to one server, and its TCP retry after TC=1) may
    /// take before the next server is asked.
    public var timeout: Duration
    /// Rounds over all servers before a lookup fails as `.temporary`
    /// (clamped to 1…`DNSLimits.maximumAttempts`).
    public var attempts: Int
    /// Positive answers kept for their TTL (at most one hour); 0 turns
    /// the cache off. Negative answers (NXDOMAIN, NODATA) are never cached.
    public var cacheCapacity: Int

    /// The local name server, `127.0.0.1` port 53: resolv.conf(5)'s default when no
    /// `nameserver` line is present.
    public static let localServer: SocketAddress? = try? SocketAddress(ipAddress: "127.0.0.1", port: 53)

    public init(servers: [SocketAddress], timeout: Duration = .seconds(5), attempts: Int = 2, cacheCapacity: Int = 1024)
    {
        self.servers = servers
        self.timeout = timeout
        self.attempts = attempts
        self.cacheCapacity = cacheCapacity
    }

    /// The configuration the system's stub resolver uses: `nameserver` lines (the first
    /// `DNSLimits.maximumServers`, as glibc's `MAXNS`) and `options timeout:N
    /// attempts:N` from `resolvConfPath`. A missing or unreadable file, or one without a
    /// usable `nameserver`, gives `127.0.0.1:53`.
    ///
    /// Reads the file synchronously: call it while configuring, never on an event loop.
    public static func systemDefault(resolvConfPath: String = "/etc/resolv.conf") -> DNSConfiguration {
        let bytes = (try? Data(contentsOf: URL(fileURLWithPath: resolvConfPath))).map { [UInt8]($0) } ?? []
        return DNSConfiguration(resolvConf: String(decoding: bytes, as: UTF8.self))
    }

    /// Reads the text of a resolv.conf(5) file.
    ///
    ///     # comment                     ; comment
    ///     nameserver 192.0.2.53
    ///     nameserver 2001:db8::53
    ///     options timeout:2 attempts:3 rotate
    ///
    /// Other keywords (`search`, `domain`, `sortlist`) and other options are ignored:
    /// mail domains are always fully qualified. A `nameserver` with a zone ID
    /// (`fe80::1%eth0`) or a host name is skipped. `timeout` is clamped to 1…30 seconds
    /// (glibc's `RES_MAXRETRANS`), `attempts` to 1…5 (`RES_MAXRETRY`).
    public init(resolvConf text: String) {
        var servers: [SocketAddress] = []
        var timeout = Duration.seconds(5)
        var attempts = 2
        for line in text.split(whereSeparator: \.isNewline) {
            let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard let keyword = fields.first, !keyword.hasPrefix("#"), !keyword.hasPrefix(";") else { continue }
            switch keyword {
            case "nameserver":
                guard fields.count >= 2, servers.count < DNSLimits.maximumServers,
                    let address = Self.serverAddress(String(fields[1]))
                else { continue }
                servers.append(address)
            case "options":
                for option in fields.dropFirst() {
                    if let value = Self.optionValue(option, "timeout:") {
                        timeout = .seconds(min(max(value, 1), 30))
                    } else if let value = Self.optionValue(option, "attempts:") {
                        attempts = min(max(value, 1), DNSLimits.maximumAttempts)
                    }
                }
            default:
                continue
            }
        }
        if servers.isEmpty, let local = Self.localServer {
            servers = [local]
        }
        self.init(servers: servers, timeout: timeout, attempts: attempts)
    }

    /// `timeout:5` → 5 for the prefix `timeout:`; nil when the prefix differs or the rest
    /// is not a small decimal number.
    private static func optionValue(_ option: Substring, _ prefix: String) -> Int? {
        guard option.hasPrefix(prefix) else { return nil }
        let digits = option.dropFirst(prefix.count)
        guard (1...4).contains(digits.count), digits.allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
        return Int(digits)
    }

    /// A name server written as an IP address with an optional port (default 53):
    ///
    ///     192.0.2.53    192.0.2.53:5353    2001:db8::53    [2001:db8::53]    [2001:db8::53]:5353
    ///
    /// Host names are refused (resolving them would need a resolver). `nil` for anything
    /// that is not one of these forms, or a port outside 1…65535.
    public static func serverAddress(_ text: String) -> SocketAddress? {
        var host = Substring(text)
        var port = 53
        if host.hasPrefix("[") {
            guard let close = host.firstIndex(of: "]") else { return nil }
            let rest = host[host.index(after: close)...]
            host = host[host.index(after: host.startIndex)..<close]
            if !rest.isEmpty {
                guard rest.hasPrefix(":"), let parsed = parsePort(rest.dropFirst()) else { return nil }
                port = parsed
            }
            guard IPv6Address(host) != nil else { return nil }
        } else if let colon = host.firstIndex(of: ":"), host[host.index(after: colon)...].contains(":") == false {
            // Exactly one colon: IPv4 with a port.
            guard let parsed = parsePort(host[host.index(after: colon)...]) else { return nil }
            port = parsed
            host = host[..<colon]
            guard IPv4Address(host) != nil else { return nil }
        } else {
            guard IPv4Address(host) != nil || IPv6Address(host) != nil else { return nil }
        }
        return try? SocketAddress(ipAddress: String(host), port: port)
    }

    private static func parsePort(_ text: Substring) -> Int? {
        guard (1...5).contains(text.count), text.allSatisfy({ $0.isASCII && $0.isNumber }), let port = Int(text),
            (1...65535).contains(port)
        else { return nil }
        return port
    }
}
