import MailQueue
import SMTPProtocol

/// An `OutboundRequest` checked and turned into SMTP values once, before any
/// connection: paths parsed (so nothing malformed reaches the wire), DSN parameters
/// typed, the message scanned for 8-bit octets.
struct PreparedEnvelope: Sendable {
    struct Recipient: Sendable {
        /// The position in the request.
        var index: Int
        var address: String
        var transactionRecipient: SMTPClientTransactionStateMachine.Recipient
    }

    var sender: ReversePath
    var recipients: [Recipient]
    var body: MailParameters.Body?
    /// RFC 6531 §3.4: the transaction needs SMTPUTF8 (the request says so, or an
    /// address is not ASCII).
    var needsSMTPUTF8: Bool
    /// RFC 6152: octets above 127 in the message.
    var has8BitContent: Bool
    var ret: MailParameters.Return?
    var envelopeID: String?
    var message: [UInt8]

    /// The envelope, and the results of recipients that cannot be sent at all (a
    /// malformed address bounces with 5.1.3, RFC 3463 §3.2; a malformed sender bounces
    /// every recipient with 5.1.7). The envelope is nil when no recipient is left.
    static func prepare(_ request: OutboundRequest) -> (PreparedEnvelope?, [Int: RecipientResult]) {
        var results: [Int: RecipientResult] = [:]
        let sender: ReversePath
        do {
            sender = try ReversePath(parsing: request.sender)
        } catch {
            for (index, recipient) in request.recipients.enumerated() {
                results[index] = RecipientResult(
                    address: recipient.address, outcome: .bounced, status: "5.1.7",
                    diagnostic: "bad sender address syntax: \(String(reflecting: request.sender))")
            }
            return (nil, results)
        }
        var recipients: [Recipient] = []
        var needsSMTPUTF8 = request.smtpUTF8
        if case .mailbox(let mailbox) = sender, !mailbox.isASCII { needsSMTPUTF8 = true }
        for (index, recipient) in request.recipients.enumerated() {
            let path: ForwardPath
            do {
                path = try ForwardPath(parsing: recipient.address)
            } catch {
                results[index] = RecipientResult(
                    address: recipient.address, outcome: .bounced, status: "5.1.3",
                    diagnostic: "bad recipient address syntax: \(String(reflecting: recipient.address))")
                continue
            }
            if case .mailbox(let mailbox) = path, !mailbox.isASCII { needsSMTPUTF8 = true }
            var parameters = RecipientParameters()
            // RFC 3461 §4.1: NEVER, or some of SUCCESS, FAILURE, DELAY; anything else
            // stored is dropped rather than sent.
            if let notify = recipient.notify {
                let values = notify.compactMap { RecipientParameters.Notify(rawValue: $0.uppercased()) }
                if !values.isEmpty && (!values.contains(.never) || values.count == 1) { parameters.notify = values }
            }
            parameters.originalRecipient = recipient.originalRecipient
            recipients.append(
                Recipient(
                    index: index, address: recipient.address,
                    transactionRecipient: .init(path: path, parameters: parameters)))
        }
        guard !recipients.isEmpty else { return (nil, results) }
        let body = request.bodyType.flatMap { MailParameters.Body(rawValue: $0.uppercased()) }
        let envelope = PreparedEnvelope(
            sender: sender, recipients: recipients, body: body, needsSMTPUTF8: needsSMTPUTF8,
            has8BitContent: request.message.contains { $0 >= 0x80 },
            ret: request.ret.flatMap { MailParameters.Return(rawValue: $0.uppercased()) },
            envelopeID: request.envelopeID, message: request.message)
        return (envelope, results)
    }
}
