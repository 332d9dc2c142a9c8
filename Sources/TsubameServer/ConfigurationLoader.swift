import Foundation
import Directory
import LDAPDirectory
import MailCore
import POP3Server
import SQLDirectory
import TOMLKit

/// Reads the TOML configuration file into a `Configuration`, checking every key.
///
/// Errors name the file, the line and the key: `tsubame.toml:7: [listen] smtp: …`.
/// All problems in a file are reported together, not just the first.
public enum ConfigurationLoader {
    /// Loads `path`. A missing file is not an error when `mustExist` is false: every
    /// setting then has its default (the embedded configuration).
    public static func load(path: String, mustExist: Bool = false) throws(ConfigurationError) -> Configuration {
        guard FileManager.default.fileExists(atPath: path) else {
            if mustExist {
                throw ConfigurationError([.init(file: path, line: nil, key: nil, message: "file not found")])
            }
            return Configuration()
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ConfigurationError([.init(file: path, line: nil, key: nil, message: "cannot read the file")])
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw ConfigurationError([.init(file: path, line: nil, key: nil, message: "not valid UTF-8")])
        }
        return try parse(text, file: path)
    }

    /// Parses configuration text; `file` is only used in error messages.
    public static func parse(_ text: String, file: String) throws(ConfigurationError) -> Configuration {
        // toml++ (inside TOMLKit) asserts, and so kills the process, on a non-ASCII
        // character in a bare key such as `[ét]` (found by Fuzz/FuzzConfiguration).
        // TOML allows such characters only inside quoted strings and comments, so
        // refuse them anywhere else before the text reaches the parser.
        if let line = firstNonASCIIOutsideStrings(text) {
            throw ConfigurationError([
                .init(
                    file: file, line: line, key: nil,
                    message: "TOML syntax: non-ASCII character outside a quoted string (quote the key: [\"name\"])")
            ])
        }
        let root: TOMLTable
        do {
            root = try TOMLTable(string: text)
        } catch let error as TOMLParseError {
            throw ConfigurationError([
                .init(file: file, line: error.source.begin.line, key: nil, message: "TOML syntax: \(error.description)")
            ])
        } catch {
            throw ConfigurationError([.init(file: file, line: nil, key: nil, message: "TOML syntax: \(error)")])
        }
        let reader = ConfigurationReader(root: root, text: text, file: file)
        var configuration = Configuration()
        reader.read(&configuration)
        if !reader.problems.isEmpty { throw ConfigurationError(reader.problems) }
        return configuration
    }
}

extension ConfigurationLoader {
    /// The line of the first byte ≥ 0x80 that is not inside a string or a comment.
    static func firstNonASCIIOutsideStrings(_ text: String) -> Int? {
        enum Mode { case plain, comment, basic, literal, multilineBasic, multilineLiteral }
        let bytes = Array(text.utf8)
        var mode = Mode.plain
        var line = 1
        var index = 0
        func starts(_ literal: String) -> Bool {
            let needle = Array(literal.utf8)
            return index + needle.count <= bytes.count && Array(bytes[index..<(index + needle.count)]) == needle
        }
        while index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "\n") {
                line += 1
                if mode == .comment || mode == .basic || mode == .literal { mode = .plain }
                index += 1
                continue
            }
            switch mode {
            case .plain:
                if byte >= 0x80 { return line }
                if byte == UInt8(ascii: "#") {
                    mode = .comment
                } else if starts("\"\"\"") {
                    mode = .multilineBasic
                    index += 2
                } else if starts("'''") {
                    mode = .multilineLiteral
                    index += 2
                } else if byte == UInt8(ascii: "\"") {
                    mode = .basic
                } else if byte == UInt8(ascii: "'") {
                    mode = .literal
                }
            case .comment:
                break
            case .basic, .multilineBasic:
                if byte == UInt8(ascii: "\\") {
                    index += 1  // an escaped character never ends the string
                } else if mode == .basic && byte == UInt8(ascii: "\"") {
                    mode = .plain
                } else if mode == .multilineBasic && starts("\"\"\"") {
                    mode = .plain
                    index += 2
                }
            case .literal:
                if byte == UInt8(ascii: "'") { mode = .plain }
            case .multilineLiteral:
                if starts("'''") {
                    mode = .plain
                    index += 2
                }
            }
            index += 1
        }
        return nil
    }
}

/// One or more problems in a configuration file.
public struct ConfigurationError: Error, Sendable, CustomStringConvertible {
    public struct Problem: Sendable, Equatable, CustomStringConvertible {
        public let file: String
        public let line: Int?
        /// `[table] key`, or `key` at the top level.
        public let key: String?
        public let message: String

        public var description: String {
            var text = file
            if let line { text += ":\(line)" }
            text += ": "
            if let key { text += "\(key): " }
            return text + message
        }
    }

    public let problems: [Problem]

    public init(_ problems: [Problem]) { self.problems = problems }

    public var description: String { problems.map(\.description).joined(separator: "\n") }
}

/// Walks the parsed TOML tables, filling a `Configuration` and recording problems.
///
/// TOMLKit gives source positions for syntax errors only, so `KeyLocator` finds the
/// line of a key in the text itself.
final class ConfigurationReader {
    private let root: TOMLTable
    private let locator: KeyLocator
    private let file: String
    private(set) var problems: [ConfigurationError.Problem] = []

    init(root: TOMLTable, text: String, file: String) {
        self.root = root
        self.locator = KeyLocator(text: text)
        self.file = file
    }

    func read(_ configuration: inout Configuration) {
        var section = Section(reader: self, table: root, name: nil)
        section.string("hostname") { value in
            guard let domain = MailAddressDomain.validate(value) else { return "not a valid host name" }
            configuration.hostname = domain
            return nil
        }
        if let listen = section.table("listen") {
            var listen = listen
            func address(_ key: String, _ assign: (ListenAddress?) -> Void) {
                listen.string(key) { value in
                    if value.isEmpty {
                        assign(nil)
                        return nil
                    }
                    guard let parsed = ListenAddress(parsing: value) else {
                        return "expected \"address:port\" (e.g. \"0.0.0.0:25\", \"[::1]:25\") or \"\" to disable"
                    }
                    assign(parsed)
                    return nil
                }
            }
            address("smtp") { configuration.listen.smtp = $0 }
            address("submission") { configuration.listen.submission = $0 }
            address("submissions") { configuration.listen.submissions = $0 }
            address("imap") { configuration.listen.imap = $0 }
            address("imaps") { configuration.listen.imaps = $0 }
            address("pop3") { configuration.listen.pop3 = $0 }
            address("pop3s") { configuration.listen.pop3s = $0 }
            listen.finish()
        }
        if var tls = section.table("tls") {
            tls.string("certificate") { configuration.tls.certificate = $0; return nil }
            tls.string("key") { configuration.tls.key = $0; return nil }
            tls.finish()
            if (configuration.tls.certificate == nil) != (configuration.tls.key == nil) {
                let missing = configuration.tls.certificate == nil ? "certificate" : "key"
                problem(table: "tls", key: missing, "set both certificate and key, or neither (self-signed)")
            }
        }
        if var auth = section.table("auth") {
            auth.bool("allow_plaintext") { configuration.auth.allowPlaintext = $0 }
            auth.duration("failure_window") { configuration.auth.failureWindow = $0 }
            auth.duration("failure_delay") { configuration.auth.failureDelay = $0 }
            auth.duration("max_failure_delay") { configuration.auth.maximumFailureDelay = $0 }
            auth.integer("max_failures_per_ip", 1...1_000_000) { configuration.auth.maximumFailuresPerAddress = $0 }
            auth.integer("max_failures_per_account", 1...1_000_000) { configuration.auth.maximumFailuresPerAccount = $0 }
            auth.stringArray("sources") { values in
                guard !values.isEmpty else { return "name at least one user database" }
                for value in values where !["sqlite", "sql", "ldap"].contains(value) {
                    guard value.hasPrefix("passwd-file:/") else {
                        return "unknown source '\(value)'; expected \"sqlite\", \"passwd-file:/path\", \"sql\" or \"ldap\""
                    }
                }
                guard Set(values).count == values.count else { return "a source is named twice" }
                configuration.auth.sources = values
                return nil
            }
            if var sql = auth.table("sql") {
                configuration.auth.sql = readSQL(&sql)
                sql.finish()
            }
            if var ldap = auth.table("ldap") {
                configuration.auth.ldap = readLDAP(&ldap)
                ldap.finish()
            }
            auth.finish()
            for (source, present) in [("sql", configuration.auth.sql != nil), ("ldap", configuration.auth.ldap != nil)]
            where configuration.auth.sources.contains(source) && !present {
                problem(table: "auth", key: "sources", "\"\(source)\" needs an [auth.\(source)] table")
            }
        }
        if var limits = section.table("limits") {
            limits.integer("max_connections", 1...1_000_000) { configuration.limits.maximumConnections = $0 }
            limits.integer("max_connections_per_ip", 1...1_000_000) {
                configuration.limits.maximumConnectionsPerAddress = $0
            }
            // 512 is SMTP's minimum command line (RFC 5321 §4.5.3.1.4); IMAP needs more.
            limits.integer("max_line_length", 512...1_048_576) { configuration.limits.maximumLineLength = $0 }
            limits.duration("smtp_idle_timeout", minimum: .seconds(1)) { configuration.limits.smtpIdleTimeout = $0 }
            limits.duration("imap_idle_timeout", minimum: .seconds(1)) { configuration.limits.imapIdleTimeout = $0 }
            limits.duration("pop3_idle_timeout", minimum: .seconds(1)) { configuration.limits.pop3IdleTimeout = $0 }
            limits.duration("shutdown_grace") { configuration.limits.shutdownGrace = $0 }
            limits.finish()
        }
        if var smtp = section.table("smtp") {
            // At most 1 GiB: messages are held in memory while they arrive (and NIO buffers
            // address 32 bits).
            smtp.integer("max_message_size", 1024...(1024 * 1024 * 1024)) { configuration.smtp.maximumMessageSize = $0 }
            // RFC 5321 §4.5.3.1.8: at least 100 recipients must be accepted.
            smtp.integer("max_recipients", 100...100_000) { configuration.smtp.maximumRecipients = $0 }
            smtp.integer("max_errors", 1...1000) { configuration.smtp.maximumErrors = $0 }
            smtp.string("bare_line_endings") { value in
                guard value == "reject" || value == "normalize" else { return "expected \"reject\" or \"normalize\"" }
                configuration.smtp.bareLineEndings = value
                return nil
            }
            smtp.stringArray("auth_mechanisms") { values in
                let known = ["PLAIN", "LOGIN", "SCRAM-SHA-256"]
                let upper = values.map { $0.uppercased() }
                if let unknown = upper.first(where: { !known.contains($0) }) {
                    return "unknown mechanism \(unknown); expected some of \(known.joined(separator: ", "))"
                }
                configuration.smtp.authMechanisms = upper
                return nil
            }
            smtp.bool("received_header_tls") { configuration.smtp.receivedHeaderTLS = $0 }
            smtp.bool("received_header_login") { configuration.smtp.receivedHeaderLogin = $0 }
            if var allowances = smtp.table("sender_allowances") {
                for login in allowances.keys {
                    allowances.stringArray(login) { patterns in
                        guard let account = MailAddress(login) else { return "the key must be a login address" }
                        for pattern in patterns {
                            let isDomain = pattern.hasPrefix("@") && MailAddress.normalizedDomain(String(pattern.dropFirst())) != nil
                            guard isDomain || MailAddress(pattern) != nil else {
                                return "'\(pattern)' is neither an address nor @domain"
                            }
                        }
                        configuration.smtp.senderAllowances[account.canonical] = patterns.map { $0.lowercased() }
                        return nil
                    }
                }
                allowances.finish()
            }
            smtp.finish()
        }
        if var pop3 = section.table("pop3") {
            pop3.string("uidl_format") { value in
                do throws(UIDLFormatError) {
                    _ = try UIDLFormat(parsing: value)
                } catch {
                    return error.description
                }
                configuration.pop3.uidlFormat = value
                return nil
            }
            pop3.bool("retr_marks_seen") { configuration.pop3.retrieveMarksSeen = $0 }
            pop3.duration("login_delay", minimum: .seconds(1)) { value in
                // Whole seconds: CAPA announces seconds.
                configuration.pop3.loginDelay = .seconds(value.components.seconds)
            }
            pop3.string("expire") { value in
                let isDays = !value.isEmpty && value.count <= 5 && value.allSatisfy { $0.isASCII && $0.isNumber }
                guard value == "NEVER" || isDays else { return "expected \"NEVER\" or a number of days" }
                configuration.pop3.expire = value
                return nil
            }
            pop3.finish()
        }
        if var socket = section.table("auth_socket") {
            socket.string("path") { value in
                guard value.isEmpty || value.hasPrefix("/") else { return "must be an absolute path, or \"\" to disable" }
                guard value.utf8.count < 100 else { return "too long for a UNIX socket path (at most 99 octets)" }
                configuration.authSocket.path = value
                return nil
            }
            socket.string("mode") { value in
                guard value.count <= 4, let mode = Int(value, radix: 8), mode <= 0o777 else {
                    return "expected an octal file mode such as \"0660\""
                }
                configuration.authSocket.mode = mode
                return nil
            }
            socket.string("user") { configuration.authSocket.user = $0.isEmpty ? nil : $0; return nil }
            socket.string("group") { configuration.authSocket.group = $0.isEmpty ? nil : $0; return nil }
            socket.finish()
        }
        if var dns = section.table("dns") {
            dns.stringArray("servers") { values in
                for value in values where OutboundWiring.nameServer(value) == nil {
                    return "'\(value)' is not an IP address or \"address:port\""
                }
                configuration.dns.servers = values
                return nil
            }
            dns.duration("timeout", minimum: .milliseconds(100)) { configuration.dns.timeout = $0 }
            dns.integer("attempts", 1...10) { configuration.dns.attempts = $0 }
            dns.finish()
        }
        if var queue = section.table("queue") {
            queue.duration("minimal_backoff", minimum: .seconds(1)) { configuration.queue.minimalBackoff = $0 }
            queue.duration("maximal_backoff", minimum: .seconds(1)) { configuration.queue.maximalBackoff = $0 }
            queue.duration("maximal_lifetime", minimum: .seconds(1)) { configuration.queue.maximalLifetime = $0 }
            queue.duration("delay_warning") { configuration.queue.delayWarning = $0 }
            queue.integer("max_deliveries", 1...1000) { configuration.queue.maximumDeliveries = $0 }
            queue.integer("destination_concurrency", 1...100) { configuration.queue.destinationConcurrency = $0 }
            queue.finish()
            if configuration.queue.maximalBackoff < configuration.queue.minimalBackoff {
                problem(table: "queue", key: "maximal_backoff", "must be at least minimal_backoff")
            }
        }
        if var outbound = section.table("outbound") {
            outbound.string("helo_name") { value in
                guard let name = MailAddressDomain.validate(value) else { return "not a valid host name" }
                configuration.outbound.heloName = name
                return nil
            }
            outbound.integer("mx_port", 1...65535) { configuration.outbound.mxPort = $0 }
            outbound.string("tls") { value in
                guard ["none", "opportunistic", "starttls"].contains(value) else {
                    return "expected \"opportunistic\", \"starttls\" or \"none\""
                }
                configuration.outbound.tls = value
                return nil
            }
            outbound.finish()
        }
        if var relay = section.table("relay") {
            configuration.relay = readRelay(&relay, isHostRequired: true)
            relay.finish()
        }
        if var routes = section.table("routes") {
            for key in routes.keys {
                guard var route = routes.table(key) else { continue }
                guard let domain = MailAddressDomain.validate(key) else {
                    problem(table: "routes", key: key, "not a valid domain name")
                    continue
                }
                if let parsed = readRelay(&route, isHostRequired: false) { configuration.routes[domain.lowercased()] = parsed }
                route.finish()
            }
            routes.finish()
        }
        if var log = section.table("log") {
            log.string("level") { value in
                let levels = ["trace", "debug", "info", "notice", "warning", "error", "critical"]
                guard levels.contains(value.lowercased()) else { return "expected one of \(levels.joined(separator: ", "))" }
                configuration.log.level = value.lowercased()
                return nil
            }
            log.finish()
        }
        section.finish()
    }

    /// `[relay]` and `[routes."domain"]`: nil (with a problem recorded) without a usable `host`.
    private func readRelay(_ section: inout Section, isHostRequired: Bool) -> Configuration.Relay? {
        var host: (String, Int)?
        section.string("host") { value in
            if value.isEmpty && !isHostRequired {
                host = ("", 25)
                return nil
            }
            guard let parsed = OutboundWiring.hostAndPort(value) else {
                return "expected \"name:port\" (e.g. \"smtp.example.net:587\") or \"[v6]:port\""
            }
            host = parsed
            return nil
        }
        if host == nil && section.table["host"] == nil && !isHostRequired { host = ("", 25) }
        guard let (name, port) = host else {
            if section.table["host"] == nil { problem(table: section.name, key: "host", "required") }
            return nil
        }
        var relay = Configuration.Relay(host: name, port: port)
        section.string("tls") { value in
            guard ["none", "opportunistic", "starttls", "implicit"].contains(value) else {
                return "expected \"starttls\", \"implicit\", \"opportunistic\" or \"none\""
            }
            relay.tls = value
            return nil
        }
        section.bool("verify_certificate") { relay.verifyCertificate = $0 }
        section.string("ca_file") { Self.absolutePath($0) { relay.caFile = $0 } }
        section.string("username") { relay.username = $0.isEmpty ? nil : $0; return nil }
        section.string("password") { relay.password = $0; return nil }
        section.string("password_file") { Self.absolutePath($0) { relay.passwordFile = $0 } }
        if relay.password != nil && relay.passwordFile != nil {
            problem(table: section.name, key: "password_file", "set password or password_file, not both")
        }
        if relay.username != nil && relay.password == nil && relay.passwordFile == nil {
            problem(table: section.name, key: "username", "needs password or password_file")
        }
        if relay.username != nil && !["starttls", "implicit"].contains(relay.tls) {
            // "opportunistic" falls back to plaintext, or takes any certificate: either
            // way the password could go to whoever is in the middle.
            problem(
                table: section.name, key: "tls",
                "\"\(relay.tls)\" with a username could give the password away; use \"starttls\" or \"implicit\"")
        }
        return relay
    }

    private func readSQL(_ sql: inout Section) -> Configuration.Auth.SQL {
        var c = Configuration.Auth.SQL()
        sql.string("host") { value in
            guard !value.isEmpty else { return "expected a host name, an address or a socket directory" }
            c.host = value
            return nil
        }
        sql.integer("port", 1...65535) { c.port = $0 }
        sql.string("database") { c.database = $0; return nil }
        sql.string("user") { c.user = $0; return nil }
        sql.string("password") { c.password = $0; return nil }
        sql.string("password_file") { Self.absolutePath($0) { c.passwordFile = $0 } }
        sql.string("tls") { value in
            guard ["disable", "prefer", "require"].contains(value) else {
                return "expected \"disable\", \"prefer\" or \"require\""
            }
            c.tls = value
            return nil
        }
        sql.string("ca_file") { Self.absolutePath($0) { c.caFile = $0 } }
        var hasPasswordQuery = false
        sql.string("password_query") { value in
            hasPasswordQuery = true
            return Self.sqlQuery(value) { c.passwordQuery = $0 }
        }
        sql.string("user_query") { Self.sqlQuery($0) { c.userQuery = $0 } }
        sql.string("iterate_query") { Self.sqlQuery($0) { c.iterateQuery = $0 } }
        sql.string("domain_query") { Self.sqlQuery($0) { c.domainQuery = $0 } }
        sql.stringArray("domains") { Self.domains($0) { c.domains = $0 } }
        sql.integer("max_connections", 1...100) { c.maximumConnections = $0 }
        sql.duration("timeout", minimum: .milliseconds(100)) { c.timeout = $0 }
        if !hasPasswordQuery { problem(table: "auth.sql", key: "password_query", "required") }
        if c.password != nil && c.passwordFile != nil {
            problem(table: "auth.sql", key: "password_file", "set password or password_file, not both")
        }
        return c
    }

    private func readLDAP(_ ldap: inout Section) -> Configuration.Auth.LDAP {
        var c = Configuration.Auth.LDAP()
        ldap.string("uri") { value in
            let uris = value.split(separator: " ")
            guard !uris.isEmpty, uris.allSatisfy({ $0.hasPrefix("ldap://") || $0.hasPrefix("ldaps://") }) else {
                return "expected ldap://host:port or ldaps://host:port (several separated by spaces)"
            }
            c.uri = value
            return nil
        }
        ldap.bool("starttls") { c.startTLS = $0 }
        ldap.string("ca_file") { Self.absolutePath($0) { c.caFile = $0 } }
        ldap.string("bind_dn") { c.bindDN = $0.isEmpty ? nil : $0; return nil }
        ldap.string("bind_password") { c.bindPassword = $0; return nil }
        ldap.string("bind_password_file") { Self.absolutePath($0) { c.bindPasswordFile = $0 } }
        var hasBase = false
        ldap.string("base") { value in
            hasBase = true
            guard !value.isEmpty else { return "must not be empty" }
            c.base = value
            return nil
        }
        ldap.string("scope") { value in
            guard ["base", "onelevel", "subtree"].contains(value) else {
                return "expected \"base\", \"onelevel\" or \"subtree\""
            }
            c.scope = value
            return nil
        }
        ldap.string("user_filter") { Self.ldapFilter($0) { c.userFilter = $0 } }
        ldap.string("recipient_filter") { Self.ldapFilter($0) { c.recipientFilter = $0 } }
        ldap.string("iterate_filter") { Self.ldapFilter($0, variables: false) { c.iterateFilter = $0 } }
        ldap.string("domain_filter") { Self.ldapFilter($0) { c.domainFilter = $0 } }
        ldap.stringArray("domains") { Self.domains($0) { c.domains = $0 } }
        ldap.bool("auth_bind") { c.authBind = $0 }
        ldap.string("password_attribute") { c.passwordAttribute = $0; return nil }
        ldap.string("mail_attribute") { c.mailAttribute = $0; return nil }
        ldap.duration("timeout", minimum: .milliseconds(100)) { c.timeout = $0 }
        ldap.integer("max_connections", 1...100) { c.maximumConnections = $0 }
        if !hasBase { problem(table: "auth.ldap", key: "base", "required (the search base, e.g. ou=people,dc=example,dc=com)") }
        if c.bindPassword != nil && c.bindPasswordFile != nil {
            problem(table: "auth.ldap", key: "bind_password_file", "set bind_password or bind_password_file, not both")
        }
        // A DN without a password is an "unauthenticated bind" (RFC 4513 §5.1.2): the
        // searches would run as anonymous while the file says otherwise.
        if c.bindDN != nil && c.bindPassword == nil && c.bindPasswordFile == nil {
            problem(table: "auth.ldap", key: "bind_dn", "needs bind_password or bind_password_file (or remove it for anonymous searches)")
        }
        return c
    }

    private static func absolutePath(_ value: String, _ assign: (String) -> Void) -> String? {
        guard value.hasPrefix("/") else { return "must be an absolute path" }
        assign(value)
        return nil
    }

    private static func sqlQuery(_ value: String, _ assign: (String) -> Void) -> String? {
        do {
            _ = try SQLQueryTemplate(parsing: value)
        } catch {
            return error.description
        }
        assign(value)
        return nil
    }

    private static func ldapFilter(_ value: String, variables: Bool = true, _ assign: (String) -> Void) -> String? {
        guard LDAPFilter.isWellFormed(value) else { return "expected one parenthesised LDAP filter, e.g. (mail=%u)" }
        do {
            let template = try LookupTemplate(parsing: value)
            if !variables && !template.variables.isEmpty { return "this filter takes no %u/%n/%d" }
        } catch {
            return error.description
        }
        assign(value)
        return nil
    }

    private static func domains(_ values: [String], _ assign: ([String]) -> Void) -> String? {
        var domains: [String] = []
        for value in values {
            guard let domain = MailAddress.normalizedDomain(value) else { return "'\(value)' is not a domain name" }
            domains.append(domain)
        }
        assign(domains)
        return nil
    }

    fileprivate func problem(table: String?, key: String?, _ message: String) {
        let line = key.map { locator.line(table: table, key: $0) } ?? table.flatMap { locator.headerLine($0) }
        let name: String?
        switch (table, key) {
        case (let table?, let key?): name = "[\(table)] \(key)"
        case (nil, let key?): name = key
        case (let table?, nil): name = "[\(table)]"
        case (nil, nil): name = nil
        }
        problems.append(.init(file: file, line: line, key: name, message: message))
    }

    /// One TOML table being read; remembers which keys were used so that the rest can
    /// be reported as unknown.
    fileprivate struct Section {
        let reader: ConfigurationReader
        let table: TOMLTable
        let name: String?
        var used: Set<String> = []

        mutating func value(_ key: String) -> (any TOMLValueConvertible)? {
            used.insert(key)
            return table[key]
        }

        /// `assign` returns an error message for an invalid value, or nil.
        mutating func string(_ key: String, _ assign: (String) -> String?) {
            guard let value = value(key) else { return }
            guard let text = value.string else { return reader.problem(table: name, key: key, "expected a string") }
            if let message = assign(text) { reader.problem(table: name, key: key, message) }
        }

        mutating func stringArray(_ key: String, _ assign: ([String]) -> String?) {
            guard let value = value(key) else { return }
            guard let array = value.array else { return reader.problem(table: name, key: key, "expected an array of strings") }
            var strings: [String] = []
            for element in array {
                guard let text = element.string else {
                    return reader.problem(table: name, key: key, "expected an array of strings")
                }
                strings.append(text)
            }
            if let message = assign(strings) { reader.problem(table: name, key: key, message) }
        }

        mutating func bool(_ key: String, _ assign: (Bool) -> Void) {
            guard let value = value(key) else { return }
            guard let flag = value.bool else { return reader.problem(table: name, key: key, "expected true or false") }
            assign(flag)
        }

        mutating func integer(_ key: String, _ range: ClosedRange<Int>, _ assign: (Int) -> Void) {
            guard let value = value(key) else { return }
            guard let number = value.int else { return reader.problem(table: name, key: key, "expected an integer") }
            guard range.contains(number) else {
                return reader.problem(table: name, key: key, "must be between \(range.lowerBound) and \(range.upperBound)")
            }
            assign(number)
        }

        /// Seconds as an integer, or a string with a unit: `"500ms"`, `"30s"`, `"5m"`, `"2h"`, `"1d"`.
        /// At most a year; `minimum` (default zero) bounds it from below.
        mutating func duration(_ key: String, minimum: Duration = .zero, _ assign: (Duration) -> Void) {
            guard let value = value(key) else { return }
            var parsed: Duration?
            if let seconds = value.int, seconds >= 0, seconds <= 366 * 86400 {
                parsed = .seconds(seconds)
            } else if let text = value.string {
                parsed = Self.parseDuration(text)
            }
            guard let duration = parsed, duration <= .seconds(366 * 86400) else {
                return reader.problem(
                    table: name, key: key,
                    "expected a duration of at most a year: seconds, or a string like \"500ms\", \"30s\", \"5m\", \"2h\"")
            }
            guard duration >= minimum else {
                return reader.problem(table: name, key: key, "must be at least \(minimum)")
            }
            assign(duration)
        }

        static func parseDuration(_ text: String) -> Duration? {
            let units: [(String, Duration)] = [
                ("ms", .milliseconds(1)), ("s", .seconds(1)), ("m", .seconds(60)), ("h", .seconds(3600)),
                ("d", .seconds(86400)),
            ]
            let trimmed = text.trimmingCharacters(in: .whitespaces)
            for (suffix, unit) in units where trimmed.hasSuffix(suffix) {
                let number = trimmed.dropLast(suffix.count).trimmingCharacters(in: .whitespaces)
                guard !number.isEmpty, number.allSatisfy(\.isASCII), number.allSatisfy(\.isNumber) else { continue }
                if let count = Int(number), count <= 100_000_000 { return unit * count }
            }
            return nil
        }

        mutating func table(_ key: String) -> Section? {
            guard let value = value(key) else { return nil }
            let path = name.map { "\($0).\(key)" } ?? key
            guard let table = value.table else {
                reader.problem(table: name, key: key, "expected a table ([\(path)])")
                return nil
            }
            return Section(reader: reader, table: table, name: path)
        }

        var keys: [String] { table.keys.sorted() }

        func finish() {
            for key in table.keys.sorted() where !used.contains(key) {
                reader.problem(table: name, key: key, "unknown key")
            }
        }
    }
}

/// Finds the line of `key` inside `[table]` in TOML text. Handles bare and quoted
/// keys and `[table]` headers; for keys it cannot find (inline tables, dotted keys)
/// it falls back to the table's header line.
struct KeyLocator {
    private struct Entry {
        let table: String?
        let key: String
        let line: Int
    }

    private var entries: [Entry] = []
    private var headers: [String: Int] = [:]

    init(text: String) {
        var table: String? = nil
        // \.isNewline: "\r\n" is one Character in Swift, so splitting on "\n" alone
        // would miss the line ends of a file written with CRLF.
        for (index, rawLine) in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).enumerated() {
            let line = rawLine.trimmingCharacters(in: .whitespaces)
            let number = index + 1
            if line.hasPrefix("["), !line.hasPrefix("[["), let close = line.firstIndex(of: "]") {
                let name = line[line.index(after: line.startIndex)..<close].trimmingCharacters(in: .whitespaces)
                table = Self.unquote(name)
                headers[table ?? ""] = number
                continue
            }
            guard let equals = line.firstIndex(of: "="), !line.hasPrefix("#") else { continue }
            let key = Self.unquote(line[..<equals].trimmingCharacters(in: .whitespaces))
            entries.append(Entry(table: table, key: key, line: number))
            if table == nil, let dot = key.firstIndex(of: ".") {
                // `listen.smtp = …` at the top level
                entries.append(Entry(table: String(key[..<dot]), key: String(key[key.index(after: dot)...]), line: number))
            }
        }
    }

    func line(table: String?, key: String) -> Int? {
        if let entry = entries.first(where: { $0.table == table && $0.key == key }) { return entry.line }
        if table == nil, let header = headers[key] { return header }  // an unknown [table]
        return table.flatMap { headers[$0] }
    }

    func headerLine(_ table: String) -> Int? { headers[table] }

    private static func unquote(_ text: String) -> String {
        if text.count >= 2, let first = text.first, first == "\"" || first == "'", text.last == first {
            return String(text.dropFirst().dropLast())
        }
        return text
    }
}
