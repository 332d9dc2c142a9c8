import NIOCore
import ServerSupport

/// What the IMAP and POP3 listeners run until their protocol modules exist (IMAP:
/// issue #4, POP3: #5): the protocol's greeting, STARTTLS/STLS, capability, no-op and
/// quit commands, and a *temporary* refusal of everything else.
struct PlaceholderSession: LineSession {
    typealias Event = Never

    enum Dialect {
        case imap, pop3

        init(_ service: ServiceKind) {
            switch service {
            case .imap, .imaps, .smtp, .submission, .submissions: self = .imap
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
        case .imap: return [.send(line("* OK [CAPABILITY \(imapCapabilities)] Tsubame ready (\(context.sessionID))"))]
        case .pop3: return [.send(line("+OK Tsubame ready (\(context.sessionID))"))]
        }
    }

    mutating func receive(line input: ByteBuffer) -> [SessionAction<Never>] {
        let text = String(decoding: input.readableBytesView, as: UTF8.self)
        switch dialect {
        case .imap: return imap(text)
        case .pop3: return pop3(text)
        }
    }

    mutating func lineTooLong() -> [SessionAction<Never>] {
        switch dialect {
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
        case .imap: return [.send(line("* BYE Autologout; idle for too long")), .close]
        case .pop3: return [.send(line("-ERR Autologout; idle for too long")), .close]
        }
    }

    mutating func shutdown() -> [SessionAction<Never>] {
        [.send(line(Self.shutdownMessage(dialect, hostname: hostname))), .close]
    }

    static func shutdownMessage(_ dialect: Dialect, hostname: String) -> String {
        switch dialect {
        case .imap: return "* BYE Server shutting down"
        case .pop3: return "-ERR [SYS/TEMP] Server shutting down"
        }
    }

    static func refusalMessage(_ dialect: Dialect, hostname: String) -> String {
        switch dialect {
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
