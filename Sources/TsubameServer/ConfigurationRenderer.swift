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
            "", "[auth_socket]",
            "path = \(quoted(c.authSocket.path))",
            "mode = \(quoted("0" + String(c.authSocket.mode, radix: 8)))",
        ]
        if let user = c.authSocket.user { lines.append("user = \(quoted(user))") }
        if let group = c.authSocket.group { lines.append("group = \(quoted(group))") }
        lines += [
            "", "[log]",
            "level = \(quoted(c.log.level))",
        ]
        return lines.joined(separator: "\n") + "\n"
    }
}
