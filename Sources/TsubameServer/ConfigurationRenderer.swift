/// Writes a `Configuration` back as TOML — what `tsubame config check` prints as the
/// effective configuration. Durations are written in seconds (or milliseconds).
public enum ConfigurationRenderer {
    public static func render(_ configuration: Configuration) -> String {
        func quoted(_ text: String) -> String {
            var escaped = ""
            for character in text.unicodeScalars {
                switch character {
                case "\"": escaped += "\\\""
                case "\\": escaped += "\\\\"
                case "\n": escaped += "\\n"
                case _ where character.value < 0x20 || character.value == 0x7F:
                    let hex = String(character.value, radix: 16, uppercase: true)
                    escaped += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                default: escaped.unicodeScalars.append(character)
                }
            }
            return "\"\(escaped)\""
        }
        func duration(_ value: Duration) -> String {
            let (seconds, attoseconds) = value.components
            if attoseconds == 0 { return String(seconds) }
            return quoted("\(seconds * 1000 + attoseconds / 1_000_000_000_000_000)ms")
        }
        let c = configuration
        var lines = ["hostname = \(quoted(c.hostname))", "", "[listen]"]
        for (service, address) in c.listen.services {
            lines.append("\(service.rawValue) = \(quoted(address?.description ?? ""))")
        }
        lines += ["", "[tls]"]
        if let certificate = c.tls.certificate, let key = c.tls.key {
            lines += ["certificate = \(quoted(certificate))", "key = \(quoted(key))"]
        } else {
            lines.append("# certificate and key unset: self-signed, in <data>/tls/")
        }
        lines += [
            "", "[auth]",
            "allow_plaintext = \(c.auth.allowPlaintext)",
            "failure_window = \(duration(c.auth.failureWindow))",
            "failure_delay = \(duration(c.auth.failureDelay))",
            "max_failure_delay = \(duration(c.auth.maximumFailureDelay))",
            "max_failures_per_ip = \(c.auth.maximumFailuresPerAddress)",
            "max_failures_per_account = \(c.auth.maximumFailuresPerAccount)",
            "sources = [\(c.auth.sources.map(quoted).joined(separator: ", "))]",
        ]
        func optional(_ key: String, _ value: String?) {
            if let value { lines.append("\(key) = \(quoted(value))") }
        }
        func list(_ values: [String]) -> String { "[\(values.map(quoted).joined(separator: ", "))]" }
        if let sql = c.auth.sql {
            lines += [
                "", "[auth.sql]",
                "host = \(quoted(sql.host))",
                "port = \(sql.port)",
                "database = \(quoted(sql.database))",
                "user = \(quoted(sql.user))",
            ]
            // A password in the file is never printed back.
            if sql.password != nil { lines.append("# password is set (not shown)") }
            optional("password_file", sql.passwordFile)
            lines.append("tls = \(quoted(sql.tls))")
            optional("ca_file", sql.caFile)
            lines.append("password_query = \(quoted(sql.passwordQuery))")
            optional("user_query", sql.userQuery)
            optional("iterate_query", sql.iterateQuery)
            optional("domain_query", sql.domainQuery)
            lines += [
                "domains = \(list(sql.domains))",
                "max_connections = \(sql.maximumConnections)",
                "timeout = \(duration(sql.timeout))",
            ]
        }
        if let ldap = c.auth.ldap {
            lines += ["", "[auth.ldap]", "uri = \(quoted(ldap.uri))", "starttls = \(ldap.startTLS)"]
            optional("ca_file", ldap.caFile)
            optional("bind_dn", ldap.bindDN)
            if ldap.bindPassword != nil { lines.append("# bind_password is set (not shown)") }
            optional("bind_password_file", ldap.bindPasswordFile)
            lines += [
                "base = \(quoted(ldap.base))",
                "scope = \(quoted(ldap.scope))",
                "user_filter = \(quoted(ldap.userFilter))",
            ]
            optional("recipient_filter", ldap.recipientFilter)
            optional("iterate_filter", ldap.iterateFilter)
            optional("domain_filter", ldap.domainFilter)
            lines += [
                "domains = \(list(ldap.domains))",
                "auth_bind = \(ldap.authBind)",
                "password_attribute = \(quoted(ldap.passwordAttribute))",
                "mail_attribute = \(quoted(ldap.mailAttribute))",
                "timeout = \(duration(ldap.timeout))",
                "max_connections = \(ldap.maximumConnections)",
            ]
        }
        lines += [
            "", "[limits]",
            "max_connections = \(c.limits.maximumConnections)",
            "max_connections_per_ip = \(c.limits.maximumConnectionsPerAddress)",
            "max_line_length = \(c.limits.maximumLineLength)",
            "smtp_idle_timeout = \(duration(c.limits.smtpIdleTimeout))",
            "imap_idle_timeout = \(duration(c.limits.imapIdleTimeout))",
            "pop3_idle_timeout = \(duration(c.limits.pop3IdleTimeout))",
            "shutdown_grace = \(duration(c.limits.shutdownGrace))",
            "", "[smtp]",
            "max_message_size = \(c.smtp.maximumMessageSize)",
            "max_recipients = \(c.smtp.maximumRecipients)",
            "max_errors = \(c.smtp.maximumErrors)",
            "bare_line_endings = \(quoted(c.smtp.bareLineEndings))",
            "auth_mechanisms = [\(c.smtp.authMechanisms.map(quoted).joined(separator: ", "))]",
            "received_header_tls = \(c.smtp.receivedHeaderTLS)",
            "received_header_login = \(c.smtp.receivedHeaderLogin)",
            "", "[smtp.sender_allowances]",
        ]
        for login in c.smtp.senderAllowances.keys.sorted() {
            let patterns = c.smtp.senderAllowances[login] ?? []
            lines.append("\(quoted(login)) = [\(patterns.map(quoted).joined(separator: ", "))]")
        }
        lines += [
            "", "[pop3]",
            "uidl_format = \(quoted(c.pop3.uidlFormat))",
            "retr_marks_seen = \(c.pop3.retrieveMarksSeen)",
        ]
        if let delay = c.pop3.loginDelay { lines.append("login_delay = \(duration(delay))") }
        optional("expire", c.pop3.expire)
        lines += [
            "", "[auth_socket]",
            "path = \(quoted(c.authSocket.path))",
            "mode = \(quoted("0" + String(c.authSocket.mode, radix: 8)))",
        ]
        if let user = c.authSocket.user { lines.append("user = \(quoted(user))") }
        if let group = c.authSocket.group { lines.append("group = \(quoted(group))") }
        lines += [
            "", "[log]",
            "level = \(quoted(c.log.level))",
            "", "[dns]",
            "servers = \(list(c.dns.servers))",
            "timeout = \(duration(c.dns.timeout))",
            "attempts = \(c.dns.attempts)",
            "", "[queue]",
            "minimal_backoff = \(duration(c.queue.minimalBackoff))",
            "maximal_backoff = \(duration(c.queue.maximalBackoff))",
            "maximal_lifetime = \(duration(c.queue.maximalLifetime))",
            "delay_warning = \(duration(c.queue.delayWarning))",
            "max_deliveries = \(c.queue.maximumDeliveries)",
            "destination_concurrency = \(c.queue.destinationConcurrency)",
            "", "[outbound]",
        ]
        if let heloName = c.outbound.heloName {
            lines.append("helo_name = \(quoted(heloName))")
        } else {
            lines.append("# helo_name unset: hostname")
        }
        lines += [
            "mx_port = \(c.outbound.mxPort)",
            "tls = \(quoted(c.outbound.tls))",
        ]
        func relay(_ header: String, _ relay: Configuration.Relay) {
            lines += [
                "", header,
                relay.host.isEmpty
                    ? "host = \"\"  # the domain's MX hosts"
                    : "host = \(quoted(relay.host.contains(":") ? "[\(relay.host)]:\(relay.port)" : "\(relay.host):\(relay.port)"))",
                "tls = \(quoted(relay.tls))",
                "verify_certificate = \(relay.verifyCertificate)",
            ]
            optional("ca_file", relay.caFile)
            optional("username", relay.username)
            if relay.password != nil { lines.append("# password is set (not shown)") }
            optional("password_file", relay.passwordFile)
        }
        if let smarthost = c.relay {
            relay("[relay]", smarthost)
        } else {
            lines += ["", "# [relay] unset: mail goes to each domain's MX hosts"]
        }
        for domain in c.routes.keys.sorted() {
            if let route = c.routes[domain] { relay("[routes.\(quoted(domain))]", route) }
        }
        return lines.joined(separator: "\n") + "\n"
    }
}
