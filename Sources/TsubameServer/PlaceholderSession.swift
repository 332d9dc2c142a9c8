import NIOCore
import ServerSupport

/// What a listener runs until its protocol module exists (SMTP: issue #3, IMAP: #4,
/// POP3: #5): the protocol's greeting, STARTTLS/STLS, capability, no-op and quit
/// commands, and a *temporary* refusal of everything else — `451`/`454` for SMTP so
/// that a sending MTA keeps the message and retries rather than bouncing it.
struct PlaceholderSession: LineSession {
    typealias Event = Never

    enum Dialect {
        case smtp, imap, pop3

        init(_ service: ServiceKind) {
            switch service {
            case .smtp, .submission, .submissions: self = .smtp
            case .imap, .imaps: self = .imap
            case .pop3, .pop3s: self = .pop3
            }
        }
    }

    private let dialect: Dialect
    private let context: ConnectionContext
    private let hostname: String
    private var isTLS: Bool

    init(dialect: Dialect, context: ConnectionContext, hostname: String) {
        self.dialect = dialect
        self.context = context
        self.hostname = hostname
        self.isTLS = context.isImplicitTLS
    }

    mutating func start() -> [SessionAction<Never>] {
        switch dialect {
        case .smtp: return [.send(line("220 \(hostname) ESMTP Tsubame (\(context.sessionID))"))]
        case .imap: return [.send(line("* OK [CAPABILITY \(imapCapabilities)] Tsubame ready (\(context.sessionID))"))]
        case .pop3: return [.send(line("+OK Tsubame ready (\(context.sessionID))"))]
        }
    }

    mutating func receive(line input: ByteBuffer) -> [SessionAction<Never>] {
        let text = String(decoding: input.readableBytesView, as: UTF8.self)
        switch dialect {
        case .smtp: return smtp(text)
        case .imap: return imap(text)
        case .pop3: return pop3(text)
        }
    }

    mutating func lineTooLong() -> [SessionAction<Never>] {
        switch dialect {
        case .smtp: return [.send(line("500 5.5.2 Line too long"))]
        case .imap: return [.send(line("* BYE Line too long")), .close]
        case .pop3: return [.send(line("-ERR Line too long"))]
        }
    }

    mutating func complete(_ event: Never) -> [SessionAction<Never>] {}

    mutating func tlsEstablished(_ info: TLSInfo) -> [SessionAction<Never>] {
        isTLS = true
        return []
    }

    mutating func idleTimeout() -> [SessionAction<Never>] {
        switch dialect {
        case .smtp: return [.send(line("421 4.4.2 \(hostname) Error: timeout exceeded")), .close]
        case .imap: return [.send(line("* BYE Autologout; idle for too long")), .close]
        case .pop3: return [.send(line("-ERR Autologout; idle for too long")), .close]
        }
    }

    mutating func shutdown() -> [SessionAction<Never>] {
        [.send(line(Self.shutdownMessage(dialect, hostname: hostname))), .close]
    }

    static func shutdownMessage(_ dialect: Dialect, hostname: String) -> String {
        switch dialect {
        case .smtp: return "421 4.3.2 \(hostname) Service shutting down"
        case .imap: return "* BYE Server shutting down"
        case .pop3: return "-ERR [SYS/TEMP] Server shutting down"
        }
    }

    static func refusalMessage(_ dialect: Dialect, hostname: String) -> String {
        switch dialect {
        case .smtp: return "421 4.7.0 \(hostname) Error: too many connections\r\n"
        case .imap: return "* BYE [UNAVAILABLE] Too many connections\r\n"
        case .pop3: return "-ERR [SYS/TEMP] Too many connections\r\n"
        }
    }

    // MARK: - Dialects

    private var imapCapabilities: String {
        var capabilities = ["IMAP4rev1"]
        if context.canStartTLS && !isTLS { capabilities += ["STARTTLS", "LOGINDISABLED"] }
        return capabilities.joined(separator: " ")
    }

    private mutating func smtp(_ text: String) -> [SessionAction<Never>] {
        let verb = text.prefix { $0 != " " }.uppercased()
        switch verb {
        case "EHLO":
            var lines = ["250-\(hostname)"]
            if context.canStartTLS && !isTLS { lines.append("250-STARTTLS") }
            lines.append("250 ENHANCEDSTATUSCODES")
            return [.send(line(lines.joined(separator: "\r\n")))]
        case "HELO": return [.send(line("250 \(hostname)"))]
        case "STARTTLS":
            guard context.canStartTLS && !isTLS else { return [.send(line("503 5.5.1 TLS already active"))] }
            return [.send(line("220 2.0.0 Ready to start TLS")), .startTLS]
        case "NOOP", "RSET": return [.send(line("250 2.0.0 OK"))]
        case "QUIT": return [.send(line("221 2.0.0 Bye")), .close]
        case "MAIL", "RCPT", "DATA", "BDAT", "AUTH":
            return [.send(line("451 4.3.2 Mail service not available yet; try again later"))]
        default: return [.send(line("502 5.5.1 Command not implemented"))]
        }
    }

    private mutating func imap(_ text: String) -> [SessionAction<Never>] {
        let words = text.split(separator: " ", maxSplits: 2)
        guard words.count >= 2 else { return [.send(line("* BAD Missing command"))] }
        let tag = String(words[0])
        switch words[1].uppercased() {
        case "CAPABILITY":
            return [.send(line("* CAPABILITY \(imapCapabilities)\r\n\(tag) OK CAPABILITY completed"))]
        case "NOOP": return [.send(line("\(tag) OK NOOP completed"))]
        case "LOGOUT": return [.send(line("* BYE Logging out\r\n\(tag) OK LOGOUT completed")), .close]
        case "STARTTLS":
            guard context.canStartTLS && !isTLS else { return [.send(line("\(tag) BAD TLS already active"))] }
            return [.send(line("\(tag) OK Begin TLS negotiation now")), .startTLS]
        default: return [.send(line("\(tag) NO [UNAVAILABLE] Mailbox service not available yet"))]
        }
    }

    private mutating func pop3(_ text: String) -> [SessionAction<Never>] {
        switch text.prefix(while: { $0 != " " }).uppercased() {
        case "CAPA":
            var lines = ["+OK Capability list follows"]
            if context.canStartTLS && !isTLS { lines.append("STLS") }
            lines += ["RESP-CODES", "IMPLEMENTATION Tsubame", "."]
            return [.send(line(lines.joined(separator: "\r\n")))]
        case "STLS":
            guard context.canStartTLS && !isTLS else { return [.send(line("-ERR TLS already active"))] }
            return [.send(line("+OK Begin TLS negotiation")), .startTLS]
        case "NOOP": return [.send(line("+OK"))]
        case "QUIT": return [.send(line("+OK Bye")), .close]
        default: return [.send(line("-ERR [SYS/TEMP] Mailbox service not available yet"))]
        }
    }

    private func line(_ text: String) -> ByteBuffer {
        ByteBuffer(string: text + "\r\n")
    }
}
