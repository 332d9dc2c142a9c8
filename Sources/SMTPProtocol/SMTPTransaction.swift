/// What the directory said about a recipient, in SMTP's terms.
public enum RecipientLookup: Sendable, Hashable {
    case notLocalDomain
    case unknownUser
    /// Deliver to these local accounts and forward to these remote addresses.
    case deliver(local: [String], forward: [String])
    case temporaryFailure
}

/// An accepted RCPT: the path as given and where the message goes for it.
public struct AcceptedRecipient: Sendable, Hashable {
    public let path: ForwardPath
    public let parameters: RecipientParameters
    /// Local accounts (canonical addresses) that get a copy in their mailbox.
    public let local: [String]
    /// Addresses the message is queued for (relay, or alias targets elsewhere).
    public let remote: [String]
}

/// One mail transaction: MAIL, its RCPTs, and (at the end) the message.
public struct SMTPTransaction: Sendable, Hashable {
    public let sender: ReversePath
    public let parameters: MailParameters
    public internal(set) var recipients: [AcceptedRecipient] = []

    public init(sender: ReversePath, parameters: MailParameters) {
        self.sender = sender
        self.parameters = parameters
    }

    /// Every local account that gets a copy, each once.
    public var localTargets: [String] {
        var seen: Set<String> = []
        return recipients.flatMap(\.local).filter { seen.insert($0).inserted }
    }

    /// Every remote address to queue for, each once.
    public var remoteTargets: [String] {
        var seen: Set<String> = []
        return recipients.flatMap(\.remote).filter { seen.insert($0.lowercased()).inserted }
    }
}

/// What the `Received:` header of a message says about its SMTP hop.
///
/// - SeeAlso: RFC 5321 §4.4, RFC 3848 (protocol types)
public struct ReceivedTrace: Sendable, Hashable {
    public let heloName: String
    public let remoteAddress: String
    public let hostname: String
    /// RFC 3848: SMTP, ESMTP, ESMTPS, ESMTPA, ESMTPSA, UTF8SMTP, UTF8SMTPS, …
    public let protocolType: String
    public let sessionID: String
    /// Shown only when configured (Postfix `smtpd_tls_received_header`).
    public let tlsVersion: String?
    /// Shown only when configured (Postfix `smtpd_sasl_authenticated_header`).
    public let authenticatedUser: String?
    /// The recipient, when there is exactly one (as Postfix writes `for <…>`).
    public let singleRecipient: String?

    /// The header field, folded, with CRLF at the end. `date` is an RFC 5322 date-time.
    public func header(date: String) -> String {
        // RFC 5321 §4.1.3: IPv6 address literals carry the "IPv6:" tag.
        let literal = remoteAddress.contains(":") ? "IPv6:\(remoteAddress)" : remoteAddress
        var text = "Received: from \(Self.clean(heloName)) ([\(literal)])\r\n\tby \(hostname) (Tsubame) with \(protocolType) id \(sessionID)"
        if let tlsVersion { text += "\r\n\t(using \(tlsVersion))" }
        if let authenticatedUser { text += "\r\n\t(Authenticated sender: \(Self.clean(authenticatedUser)))" }
        if let singleRecipient { text += "\r\n\tfor <\(Self.clean(singleRecipient))>" }
        return text + ";\r\n\t" + date + "\r\n"
    }

    /// Header-safe text: no CR/LF, no parentheses games, bounded.
    private static func clean(_ text: String) -> String {
        String(text.prefix(255).map { $0.isASCII && ($0.isLetter || $0.isNumber || "-._@+[]:".contains($0)) ? $0 : "_" })
    }
}
