import SMTPProtocol

/// What the client was doing, for diagnostics in Postfix's words ("lost connection
/// with X while sending message body").
enum SessionPhase: String, Sendable {
    case greeting = "receiving the initial server greeting"
    case hello = "performing the EHLO handshake"
    case startTLS = "performing the STARTTLS handshake"
    case authentication = "performing SASL authentication"
    case reset = "sending RSET"
    case mail = "sending MAIL FROM"
    case recipient = "sending RCPT TO"
    case data = "sending DATA command"
    case message = "sending message body"
    case endOfData = "sending end of data -- message may be sent more than once"

    init(_ expected: SMTPClientTransactionStateMachine.ExpectedReply?) {
        switch expected {
        case .mail: self = .mail
        case .recipient: self = .recipient
        case .data: self = .data
        case .chunk: self = .message
        case .endOfData: self = .endOfData
        case .reset: self = .reset
        case nil: self = .message
        }
    }
}
