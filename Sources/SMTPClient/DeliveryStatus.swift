import MailQueue
import SMTPProtocol

/// The mapping from replies and errors to RFC 3463 statuses and diagnostics, in one
/// place.
///
/// - SeeAlso: RFC 3463 §3 (status codes), RFC 3464 §2.3.6 (Diagnostic-Code: `smtp;`)
enum DeliveryStatus {
    /// The reply's enhanced code when its class matches the reply code (the decoder
    /// only keeps such codes), else `class.0.0` from the reply code (RFC 3463 §3.1).
    static func status(of reply: SMTPReply) -> String {
        if let enhanced = reply.enhanced { return enhanced.description }
        let klass = reply.code / 100
        return [2, 4, 5].contains(klass) ? "\(klass).0.0" : "4.5.0"
    }

    /// `status(of:)` as a temporary failure: `4.s.d` — for failures that defer even
    /// though the server said 5xx (a refused login to a smarthost, like Postfix's
    /// `smtp_sasl_auth_soft_bounce`).
    static func deferredStatus(of reply: SMTPReply, default fallback: String) -> String {
        guard let enhanced = reply.enhanced else { return fallback }
        return "4.\(enhanced.subject).\(enhanced.detail)"
    }

    /// The reply in one line: `550 5.1.1 <bob@remote.test>: Recipient address rejected`.
    static func text(of reply: SMTPReply, limit: Int) -> String {
        var parts = [String(reply.code)]
        if let enhanced = reply.enhanced { parts.append(enhanced.description) }
        let lines = reply.lines.filter { !$0.isEmpty }
        if !lines.isEmpty { parts.append(lines.joined(separator: " ")) }
        return truncated(parts.joined(separator: " "), limit: limit)
    }

    /// A Diagnostic-Code of type `smtp` (RFC 3464 §2.3.6).
    static func diagnostic(of reply: SMTPReply, limit: Int) -> String { "smtp; " + text(of: reply, limit: limit) }

    /// What a recipient's outcome in a transaction means for the queue.
    ///
    /// - Parameter isNotificationPassedOn: the RCPT carried DSN parameters to a server
    ///   that offered DSN; for a delivered recipient, that server now reports success
    ///   itself (RFC 3461 §5.2.2), so no "relayed" report is due from us.
    static func result(
        for outcome: SMTPClientTransactionStateMachine.RecipientOutcome, address: String,
        interruption: @autoclosure () -> String, remoteMTA: String, isNotificationPassedOn: Bool, limit: Int
    ) -> RecipientResult {
        switch outcome {
        case .delivered(let reply):
            return RecipientResult(
                address: address, outcome: .delivered, status: status(of: reply),
                diagnostic: diagnostic(of: reply, limit: limit), remoteMTA: remoteMTA,
                isNotificationPassedOn: isNotificationPassedOn)
        case .refused(let reply):
            // RFC 5321 §4.2.1: 5yz is permanent; 4yz, and anything out of place, is not.
            let isPermanent = reply.code / 100 == 5
            return RecipientResult(
                address: address, outcome: isPermanent ? .bounced : .deferred,
                status: isPermanent || reply.code / 100 == 4 ? status(of: reply) : "4.5.0",
                diagnostic: diagnostic(of: reply, limit: limit), remoteMTA: remoteMTA)
        case .interrupted:
            // RFC 3463 §3.5: X.4.2 "Bad connection".
            return RecipientResult(
                address: address, outcome: .deferred, status: "4.4.2", diagnostic: interruption(),
                remoteMTA: remoteMTA)
        }
    }

    /// The transport error in plain words, with the host and what was going on.
    static func words(for error: SMTPClientError, host: String, phase: SessionPhase) -> String {
        switch error.kind {
        case .timeout: return "conversation with \(host) timed out while \(phase.rawValue)"
        case .connectionClosed: return "lost connection with \(host) while \(phase.rawValue)"
        case .badReply: return "host \(host) sent \(error.detail) while \(phase.rawValue)"
        case .tls: return "TLS handshake with \(host) failed: \(error.detail)"
        case .injectedAfterStartTLS:
            return "host \(host) sent data after its reply to STARTTLS (possible response injection)"
        case .connect: return "connect to \(host): \(error.detail)"
        case .io: return "I/O error with \(host) while \(phase.rawValue): \(error.detail)"
        case .cancelled: return interrupted
        }
    }

    /// The diagnostic of a recipient whose delivery stopped because its task was
    /// cancelled. Only the queue runner's shutdown cancels deliveries, so that is what
    /// it says; the recipient is deferred (4.4.2) and tried again after the restart.
    static let interrupted = "delivery interrupted: the server is shutting down"

    /// Every recipient without a final answer when the delivery was cancelled.
    static func interruption(remoteMTA: String? = nil, relay: String? = nil) -> DeliveryFailure {
        DeliveryFailure(
            disposition: .final(.deferred), status: "4.4.2", diagnostic: interrupted, remoteMTA: remoteMTA,
            relay: relay)
    }

    static func truncated(_ text: String, limit: Int) -> String {
        guard text.count > limit else { return text }
        return String(text.prefix(max(limit - 3, 0))) + "..."
    }
}
