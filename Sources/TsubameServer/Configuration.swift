import Foundation
public import ServerSupport

/// The whole server configuration: one TOML file, every setting with a default.
///
/// The reference for operators is docs/configuration.md; keep both in step (the
/// `configurationKeysAreDocumented` test checks that every key appears there).
public struct Configuration: Sendable, Equatable {
    /// `hostname`: the name in greetings, `Received:` headers and the self-signed
    /// certificate. Default: the machine's host name.
    public var hostname: String = Configuration.systemHostname()
    public var listen = Listen()
    public var tls = TLS()
    public var auth = Auth()
    public var limits = Limits()
    public var smtp = SMTP()
    public var pop3 = POP3()
    public var authSocket = AuthSocket()
    public var log = Log()
    public var dns = DNS()
    public var queue = Queue()
    public var outbound = Outbound()
    /// `[relay]`: the smarthost for all outbound mail; nil: straight to the MXes.
    public var relay: Relay?
    /// `[routes."domain"]`: a next hop per recipient domain, before `[relay]`.
    public var routes: [String: Relay] = [:]

    public init() {}

    /// `[listen]`: one `"address:port"` per service (`"[::1]:143"` for IPv6); `""`
    /// disables it. Defaults: DESIGN.md §5, the seed's protocol table.
    public struct Listen: Sendable, Equatable {
        public var smtp: ListenAddress? = ListenAddress(host: "0.0.0.0", port: 25)
        public var submission: ListenAddress? = ListenAddress(host: "0.0.0.0", port: 587)
        public var submissions: ListenAddress? = ListenAddress(host: "0.0.0.0", port: 465)
        public var imap: ListenAddress? = ListenAddress(host: "0.0.0.0", port: 143)
        public var imaps: ListenAddress? = ListenAddress(host: "0.0.0.0", port: 993)
        public var pop3: ListenAddress? = ListenAddress(host: "0.0.0.0", port: 110)
        public var pop3s: ListenAddress? = ListenAddress(host: "0.0.0.0", port: 995)

        public init() {}

        /// Every service with its address, in the order of the seed's table.
        public var services: [(service: ServiceKind, address: ListenAddress?)] {
            [
                (.smtp, smtp), (.submission, submission), (.submissions, submissions), (.imap, imap),
                (.imaps, imaps), (.pop3, pop3), (.pop3s, pop3s),
            ]
        }
    }

    /// `[tls]`: PEM files. When both are unset, a self-signed certificate for
    /// `hostname` is made on first start at `<data>/tls/cert.pem` and `key.pem`.
    public struct TLS: Sendable, Equatable {
        public var certificate: String?
        public var key: String?

        public init() {}
    }

    /// `[auth]`
    public struct Auth: Sendable, Equatable {
        /// `allow_plaintext`: accept passwords on connections without TLS. Default
        /// false: LOGIN/AUTH/USER are refused until STARTTLS (Dovecot's
        /// `disable_plaintext_auth = yes`, Postfix's `smtpd_tls_auth_only = yes`).
        public var allowPlaintext = false
        /// `failure_window`: how long a failed login counts against its IP and account.
        public var failureWindow: Duration = .seconds(900)
        /// `failure_delay`: delay before answering the first failure; doubles per failure.
        public var failureDelay: Duration = .milliseconds(500)
        /// `max_failure_delay`: the cap of that delay.
        public var maximumFailureDelay: Duration = .seconds(8)
        /// `max_failures_per_ip`: failures in the window after which an IP is refused.
        public var maximumFailuresPerAddress = 20
        /// `max_failures_per_account`: failures in the window after which an account
        /// refuses logins from addresses it has not seen succeed.
        public var maximumFailuresPerAccount = 10
        /// `sources`: user databases asked in order (Dovecot's passdb chain): `"sqlite"`
        /// (the embedded directory), `"passwd-file:/path"` (Dovecot format), `"sql"`
        /// (`[auth.sql]`, PostgreSQL) and `"ldap"` (`[auth.ldap]`).
        public var sources = ["sqlite"]
        /// `[auth.sql]`, when present.
        public var sql: SQL?
        /// `[auth.ldap]`, when present.
        public var ldap: LDAP?

        public init() {}

        /// `[auth.sql]`: a PostgreSQL user database, with Dovecot-style queries.
        public struct SQL: Sendable, Equatable {
            /// `host`: name or address, or the directory of the UNIX socket (`/run/postgresql`).
            public var host = "/run/postgresql"
            public var port = 5432
            public var database = "mail"
            public var user = "tsubame"
            /// `password`, or `password_file` (first line of the file; preferred: not in
            /// this file, not printed by `config check`).
            public var password: String?
            public var passwordFile: String?
            /// `tls`: `"disable"`, `"prefer"` (default) or `"require"` (for TCP hosts).
            public var tls = "prefer"
            /// `ca_file`: PEM CA for the server's certificate.
            public var caFile: String?
            /// `password_query`: returns `password` (and optionally `user`) for `%u`/`%n`/`%d`.
            public var passwordQuery = ""
            /// `user_query`: returns a row (optionally `user`) when an address is a mailbox.
            public var userQuery: String?
            /// `iterate_query`: returns every login (`user` column).
            public var iterateQuery: String?
            /// `domain_query`: returns a row when `%d` is a local domain.
            public var domainQuery: String?
            /// `domains`: local domains, in addition to `domain_query`.
            public var domains: [String] = []
            /// `max_connections`: pooled connections.
            public var maximumConnections = 4
            /// `timeout`: connect and query timeout.
            public var timeout: Duration = .seconds(5)

            public init() {}
        }

        /// `[auth.ldap]`: an LDAP user database, like Dovecot's `passdb ldap`.
        public struct LDAP: Sendable, Equatable {
            /// `uri`: `ldap://host:port` or `ldaps://host:port`.
            public var uri = "ldap://127.0.0.1"
            /// `starttls`: upgrade `ldap://` with StartTLS (required when set).
            public var startTLS = false
            /// `ca_file`: PEM CA for the server's certificate (always verified).
            public var caFile: String?
            /// `bind_dn` and `bind_password` / `bind_password_file`: the account searches
            /// bind as; anonymous when unset.
            public var bindDN: String?
            public var bindPassword: String?
            public var bindPasswordFile: String?
            /// `base`: search base.
            public var base = ""
            /// `scope`: `"base"`, `"onelevel"` or `"subtree"`.
            public var scope = "subtree"
            /// `user_filter`: finds a login's entry (`%u`, `%n`, `%d`, escaped per RFC 4515).
            public var userFilter = "(&(objectClass=inetOrgPerson)(mail=%u))"
            /// `recipient_filter`: finds the entry a recipient delivers to (default: user_filter).
            public var recipientFilter: String?
            /// `iterate_filter`: every user, for `tsubame auth users`.
            public var iterateFilter: String?
            /// `domain_filter`: finds a local domain's entry (`%d`).
            public var domainFilter: String?
            /// `domains`: local domains, in addition to `domain_filter`.
            public var domains: [String] = []
            /// `auth_bind`: check passwords by binding as the user (Dovecot `auth_bind = yes`);
            /// false reads `password_attribute` and verifies its `{SCHEME}hash` here.
            public var authBind = true
            public var passwordAttribute = "userPassword"
            /// `mail_attribute`: the account's address.
            public var mailAttribute = "mail"
            public var timeout: Duration = .seconds(5)
            public var maximumConnections = 4

            public init() {}
        }
    }

    /// `[limits]`
    public struct Limits: Sendable, Equatable {
        /// `max_connections`: per listener.
        public var maximumConnections = 10_000
        /// `max_connections_per_ip`: per listener and client IP.
        public var maximumConnectionsPerAddress = 50
        /// `max_line_length`: longest command line, in octets without CRLF.
        public var maximumLineLength = 8192
        /// `smtp_idle_timeout`: RFC 5321 §4.5.3.2.7 asks at least 5 minutes.
        public var smtpIdleTimeout: Duration = .seconds(300)
        /// `imap_idle_timeout`: RFC 9051 §5.4 asks at least 30 minutes.
        public var imapIdleTimeout: Duration = .seconds(1800)
        /// `pop3_idle_timeout`: RFC 1939 §3 asks at least 10 minutes.
        public var pop3IdleTimeout: Duration = .seconds(600)
        /// `shutdown_grace`: on SIGTERM, how long sessions may finish their work.
        public var shutdownGrace: Duration = .seconds(30)

        public init() {}
    }

    /// `[smtp]`: the SMTP services (25, 587, 465).
    public struct SMTP: Sendable, Equatable {
        /// `max_message_size`: octets; announced in EHLO SIZE (Postfix `message_size_limit`).
        public var maximumMessageSize = 50 * 1024 * 1024
        /// `max_recipients`: per message (Postfix `smtpd_recipient_limit`).
        public var maximumRecipients = 1000
        /// `max_errors`: error replies after which a session is closed (Postfix `smtpd_hard_error_limit`).
        public var maximumErrors = 20
        /// `bare_line_endings`: `"reject"` or `"normalize"` a bare CR or LF in DATA
        /// (Postfix `smtpd_forbid_bare_newline`). Only CRLF.CRLF ends DATA either way.
        public var bareLineEndings = "reject"
        /// `auth_mechanisms`: SASL mechanisms offered (PLAIN, LOGIN, SCRAM-SHA-256).
        /// SCRAM-SHA-256 only works for accounts whose hash is `{SCRAM-SHA-256}`.
        public var authMechanisms = ["PLAIN", "LOGIN"]
        /// `received_header_tls`: name the TLS version in `Received:` (Postfix `smtpd_tls_received_header`).
        public var receivedHeaderTLS = false
        /// `received_header_login`: name the login in `Received:` (Postfix `smtpd_sasl_authenticated_header`).
        public var receivedHeaderLogin = false
        /// `[smtp.sender_allowances]`: login → extra envelope senders it may use on
        /// submission, each an address or `@domain` (Postfix `smtpd_sender_login_maps`).
        /// Its own address and aliases that deliver to it are always allowed.
        public var senderAllowances: [String: [String]] = [:]

        public init() {}
    }

    /// `[pop3]`: the POP3 services (110, 995).
    public struct POP3: Sendable, Equatable {
        /// `uidl_format`: Dovecot's `pop3_uidl_format` (`%u` UID, `%v` UIDVALIDITY,
        /// `%08Xu` zero-padded hex); Dovecot's default, so UIDLs survive a move.
        public var uidlFormat = "%08Xu%08Xv"
        /// `retr_marks_seen`: RETR sets `\Seen` for IMAP (Dovecot `pop3_no_flag_updates = no`).
        public var retrieveMarksSeen = true
        /// `login_delay`: least time between two logins of a user (RFC 2449 LOGIN-DELAY,
        /// announced in CAPA and enforced); nil: none.
        public var loginDelay: Duration?
        /// `expire`: the retention policy announced in CAPA (RFC 2449 EXPIRE):
        /// `"NEVER"` or a number of days; nil: not announced.
        public var expire: String?

        public init() {}
    }

    /// `[auth_socket]`: Dovecot's authentication protocol on a UNIX socket, for
    /// Postfix's `smtpd_sasl_type = dovecot` (the seed's `private/auth`).
    public struct AuthSocket: Sendable, Equatable {
        /// `path`: the socket; `""` (the default) disables it. For Postfix, e.g.
        /// `/var/spool/postfix/private/auth` with `smtpd_sasl_path = private/auth`.
        public var path = ""
        /// `mode`: file mode of the socket, octal (Dovecot's `unix_listener` default 0666 is too wide).
        public var mode = 0o660
        /// `user`, `group`: owner of the socket (needs root), e.g. `postfix`.
        public var user: String?
        public var group: String?

        public init() {}
    }

    /// `[log]`
    public struct Log: Sendable, Equatable {
        /// `level`: trace, debug, info, notice, warning, error, critical.
        public var level = "info"

        public init() {}
    }

    /// `[dns]`: the resolver for outbound mail.
    public struct DNS: Sendable, Equatable {
        /// `servers`: `"address"` or `"address:port"`; empty: the `nameserver` lines of
        /// `/etc/resolv.conf`.
        public var servers: [String] = []
        /// `timeout`: per query and server.
        public var timeout: Duration = .seconds(5)
        /// `attempts`: rounds over all servers.
        public var attempts = 2

        public init() {}
    }

    /// `[queue]`: retries and limits of the outbound queue (Postfix's qmgr parameters).
    public struct Queue: Sendable, Equatable {
        /// `minimal_backoff`: the wait after the first failure; doubles per failure.
        public var minimalBackoff: Duration = .seconds(300)
        /// `maximal_backoff`: the longest wait between attempts.
        public var maximalBackoff: Duration = .seconds(4000)
        /// `maximal_lifetime`: then a failing recipient is bounced.
        public var maximalLifetime: Duration = .seconds(5 * 86400)
        /// `delay_warning`: when to send one "still trying" report; 0: never.
        public var delayWarning: Duration = .seconds(4 * 3600)
        /// `max_deliveries`: SMTP transactions (connections) at once.
        public var maximumDeliveries = 20
        /// `destination_concurrency`: connections at once to one next hop.
        public var destinationConcurrency = 5

        public init() {}
    }

    /// `[outbound]`: how mail goes straight to the recipient domain's MXes.
    public struct Outbound: Sendable, Equatable {
        /// `helo_name`: the EHLO name; default: `hostname`.
        public var heloName: String?
        /// `mx_port`: the port of MX hosts (25; tests use another).
        public var mxPort = 25
        /// `tls`: `"opportunistic"` (STARTTLS when offered, unverified: Postfix `may`),
        /// `"starttls"` (required) or `"none"`.
        public var tls = "opportunistic"

        public init() {}
    }

    /// A next hop: `[relay]` or one `[routes."domain"]` entry.
    public struct Relay: Sendable, Equatable {
        /// `host`: `"name:port"` or `"[v6]:port"`; `""` in a `[routes]` entry: the
        /// domain's MX hosts, with this entry's TLS settings.
        public var host: String
        public var port: Int
        /// `tls`: `"starttls"`, `"implicit"` (465), `"opportunistic"` or `"none"`.
        public var tls = "starttls"
        /// `verify_certificate`: check the certificate and the host name.
        public var verifyCertificate = true
        /// `ca_file`: trusted roots instead of the system's.
        public var caFile: String?
        /// `username` and `password` / `password_file`: AUTH after TLS.
        public var username: String?
        public var password: String?
        public var passwordFile: String?

        public init(host: String, port: Int) {
            self.host = host
            self.port = port
        }
    }

    static func systemHostname() -> String {
        // A machine name that is not a valid DNS name would make every default config
        // fail its own validation; fall back to localhost then.
        return MailAddressDomain.validate(ProcessInfo.processInfo.hostName) ?? "localhost"
    }
}

/// The seven services of DESIGN.md §5.
public enum ServiceKind: String, Sendable, CaseIterable {
    case smtp, submission, submissions, imap, imaps, pop3, pop3s

    public var tlsMode: TLSMode {
        switch self {
        case .submissions, .imaps, .pop3s: return .implicit
        case .smtp, .submission, .imap, .pop3: return .startTLS
        }
    }
}

/// `"address:port"` from `[listen]`.
public struct ListenAddress: Sendable, Equatable, CustomStringConvertible {
    public var host: String
    public var port: Int

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    /// Reads `1.2.3.4:25`, `[::1]:25`, `localhost:25` or `:25` (all IPv4 addresses).
    public init?(parsing text: String) {
        var host: Substring
        let portText: Substring
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]"), text[text.index(after: close)...].hasPrefix(":") else {
                return nil
            }
            host = text[text.index(after: text.startIndex)..<close]
            portText = text[text.index(close, offsetBy: 2)...]
            guard host.contains(":") else { return nil }
        } else {
            guard let colon = text.lastIndex(of: ":") else { return nil }
            host = text[..<colon]
            portText = text[text.index(after: colon)...]
            if host.contains(":") { return nil }  // IPv6 needs brackets
        }
        if host.isEmpty { host = "0.0.0.0" }
        let hostCharacters = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-:%_")
        guard !portText.isEmpty, portText.count <= 5, portText.allSatisfy({ $0.isASCII && $0.isNumber }),
            let port = Int(portText), (0...65535).contains(port), host.allSatisfy(hostCharacters.contains)
        else { return nil }
        self.init(host: String(host), port: port)
    }

    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}
