/// One mail transaction from the client's side, as a value: it says which commands to
/// send and, from the replies fed back in order, what became of each recipient.
///
/// With PIPELINING (RFC 2920 §3.1) MAIL, every RCPT and DATA go out in one write and
/// the replies are matched to them in order; without it, each command waits for the
/// previous reply (RFC 5321 §4.3.2's lockstep):
///
///     start()                      → .send([MAIL, RCPT a, RCPT b, DATA])   (PIPELINING)
///     S: 250 2.1.0 Ok              receive(_:) → .awaitReply
///     S: 550 5.1.1 <a>: unknown    receive(_:) → .awaitReply             (a refused)
///     S: 250 2.1.5 Ok              receive(_:) → .awaitReply
///     S: 354 End data with …       receive(_:) → .sendMessage
///     S: 250 2.0.0 queued as X     receive(_:) → .finished(b delivered, a refused)
///
/// With CHUNKING (RFC 3030) the message goes in BDAT chunks once a recipient is
/// accepted (`.sendChunk`); BDAT is never pipelined behind the RCPTs, so no message
/// octets are sent for a transaction without recipients. When no recipient was
/// accepted the transaction ends with RSET (`.send([RSET])`); when a pipelined DATA
/// was accepted anyway, an empty message (`.sendEmptyMessage`) closes it first
/// (RFC 2920 §3.1). The machine never performs I/O; a lost connection or a timeout is
/// `connectionFailed()`, which ends every recipient that has no final answer.
///
/// - SeeAlso: RFC 5321 §3.3, §4.1.1.2–4, §4.3.2; RFC 2920 §3; RFC 3030 §2–§4
public struct SMTPClientTransactionStateMachine: Sendable {
    /// How the message goes to the server.
    public enum BodyTransfer: Sendable, Equatable {
        /// DATA, then the dot-stuffed message with its terminator.
        case data
        /// BDAT in `chunks` chunks (at least one), the last with LAST.
        case chunking(chunks: Int)
    }

    /// One recipient with its parameters.
    public struct Recipient: Sendable, Hashable {
        public var path: ForwardPath
        public var parameters: RecipientParameters

        public init(path: ForwardPath, parameters: RecipientParameters = RecipientParameters()) {
            self.path = path
            self.parameters = parameters
        }
    }

    /// What became of one recipient.
    public enum RecipientOutcome: Sendable, Equatable {
        /// The server took responsibility: the final reply (2xx) to the message.
        case delivered(SMTPReply)
        /// The server refused it: the reply to RCPT, or (for an accepted recipient) to
        /// MAIL, DATA, a BDAT chunk or the end of the message. Its class says whether
        /// it is permanent.
        case refused(SMTPReply)
        /// The connection failed before a final answer (a lost connection, a timeout,
        /// a reply that could not be read). Whether the server kept the message is
        /// unknown; the client must try again.
        case interrupted
    }

    /// Which reply the machine waits for: the caller picks its timeout
    /// (RFC 5321 §4.5.3.2).
    public enum ExpectedReply: Sendable, Equatable {
        case mail
        case recipient
        case data
        /// The reply to a BDAT chunk that is not the last.
        case chunk
        /// The reply to the end of the message (DATA's terminator, BDAT LAST).
        case endOfData
        case reset
    }

    public enum Action: Sendable, Equatable {
        /// Write these commands (in one write), then wait for their replies.
        case send([SMTPClientCommand])
        /// Wait for the next reply.
        case awaitReply
        /// Write the whole message, dot-stuffed, with its terminator (`DataEncoder`).
        case sendMessage
        /// Write a lone `.` line: DATA was accepted although no recipient was, and
        /// RFC 2920 §3.1 has the client end it with an empty message.
        case sendEmptyMessage
        /// Write `BDAT size [LAST]` and chunk number `index` (from 0).
        case sendChunk(index: Int, isLast: Bool)
        /// The transaction is over.
        case finished(Result)
    }

    /// The outcome of the transaction.
    public struct Result: Sendable, Equatable {
        /// One outcome per recipient, in the order given.
        public var recipients: [RecipientOutcome]
        /// Whether the session is ready for another transaction (it ended cleanly:
        /// final reply read, or RSET answered 250).
        public var isSessionReusable: Bool
    }

    private enum State: Sendable {
        case initial
        case awaitingMail
        /// Waiting for the reply to RCPT number `index`.
        case awaitingRecipient(index: Int)
        case awaitingData
        /// DATA was accepted although no recipient was: the empty message's reply.
        case awaitingEmptyMessageEnd
        case awaitingEndOfData
        case awaitingChunk(index: Int)
        case awaitingReset
        case finished
    }

    public let sender: ReversePath
    public let mailParameters: MailParameters
    public let recipients: [Recipient]
    public let isPipelining: Bool
    public let bodyTransfer: BodyTransfer
    private var state = State.initial
    /// Filled as replies arrive; nil = accepted so far (RCPT 250) or not yet asked.
    private var outcomes: [RecipientOutcome?]
    private var isAccepted: [Bool]
    private var mailRefusal: SMTPReply?

    /// - Precondition: `recipients` is not empty, and `.chunking` has at least one chunk
    ///   (values the client builds itself).
    public init(
        sender: ReversePath, mailParameters: MailParameters, recipients: [Recipient], isPipelining: Bool,
        bodyTransfer: BodyTransfer
    ) {
        precondition(!recipients.isEmpty, "a transaction needs a recipient")
        if case .chunking(let chunks) = bodyTransfer { precondition(chunks >= 1, "BDAT needs a chunk") }
        self.sender = sender
        self.mailParameters = mailParameters
        self.recipients = recipients
        self.isPipelining = isPipelining
        self.bodyTransfer = bodyTransfer
        self.outcomes = Array(repeating: nil, count: recipients.count)
        self.isAccepted = Array(repeating: false, count: recipients.count)
    }

    /// The reply the machine waits for, nil when it waits for none.
    public var expectedReply: ExpectedReply? {
        switch state {
        case .awaitingMail: return .mail
        case .awaitingRecipient: return .recipient
        case .awaitingData: return .data
        case .awaitingEmptyMessageEnd, .awaitingEndOfData: return .endOfData
        case .awaitingChunk(let index):
            if case .chunking(let chunks) = bodyTransfer, index < chunks - 1 { return .chunk }
            return .endOfData
        case .awaitingReset: return .reset
        case .initial, .finished: return nil
        }
    }

    /// The first commands.
    public mutating func start() -> Action {
        guard case .initial = state else { return .finished(result(reusable: false)) }
        state = .awaitingMail
        let mail = SMTPClientCommand.mail(sender, mailParameters)
        guard isPipelining else { return .send([mail]) }
        // RFC 2920 §3.1: DATA is the last command of a group; BDAT is not sent before
        // a recipient is known to be accepted.
        var commands = [mail] + recipients.map { SMTPClientCommand.rcpt($0.path, $0.parameters) }
        if bodyTransfer == .data { commands.append(.data) }
        return .send(commands)
    }

    /// The next reply, in the order the commands were sent.
    public mutating func receive(_ reply: SMTPReply) -> Action {
        switch state {
        case .awaitingMail:
            if !Self.isCompletion(reply) {
                // RFC 5321 §4.1.1.2: the transaction did not start; every recipient
                // gets MAIL's reply. Pipelined RCPTs and DATA still have replies to read.
                mailRefusal = reply
                for index in outcomes.indices { outcomes[index] = .refused(reply) }
            }
            if isPipelining {
                state = .awaitingRecipient(index: 0)
                return .awaitReply
            }
            guard mailRefusal == nil else { return finish(reusable: true) }
            return askRecipient(0)

        case .awaitingRecipient(let index):
            if mailRefusal == nil {
                if Self.isCompletion(reply) {
                    isAccepted[index] = true
                } else {
                    outcomes[index] = .refused(reply)
                }
            }
            let next = index + 1
            if next < recipients.count {
                if isPipelining {
                    state = .awaitingRecipient(index: next)
                    return .awaitReply
                }
                return askRecipient(next)
            }
            return recipientsDone()

        case .awaitingData:
            let anyAccepted = isAccepted.contains(true) && mailRefusal == nil
            if reply.code == 354 {
                if anyAccepted {
                    state = .awaitingEndOfData
                    return .sendMessage
                }
                state = .awaitingEmptyMessageEnd
                return .sendEmptyMessage
            }
            // RFC 5321 §4.1.1.4: DATA refused; the accepted recipients get its reply.
            // After a refused MAIL no transaction is open and nothing needs resetting.
            refuseAccepted(reply)
            return mailRefusal == nil ? reset() : finish(reusable: true)

        case .awaitingEmptyMessageEnd:
            return reset()

        case .awaitingEndOfData:
            // RFC 5321 §4.1.1.4: one reply for the whole message and every accepted
            // recipient; the transaction is over whatever it says.
            finalReply(reply)
            return finish(reusable: true)

        case .awaitingChunk(let index):
            guard case .chunking(let chunks) = bodyTransfer else { return finish(reusable: false) }
            let isLast = index == chunks - 1
            if isLast {
                finalReply(reply)
                return finish(reusable: true)
            }
            guard Self.isCompletion(reply) else {
                // RFC 3030 §2: a refused chunk ends the transaction for the server too;
                // RSET makes sure of it.
                refuseAccepted(reply)
                return reset()
            }
            state = .awaitingChunk(index: index + 1)
            return .sendChunk(index: index + 1, isLast: index + 1 == chunks - 1)

        case .awaitingReset:
            return finish(reusable: Self.isCompletion(reply))

        case .initial, .finished:
            // A reply nobody asked for: the server is out of step with us.
            return finish(reusable: false)
        }
    }

    /// The connection failed (closed, timed out, unreadable reply): every recipient
    /// without a final answer is `.interrupted`.
    public mutating func connectionFailed() -> Result {
        for index in outcomes.indices where outcomes[index] == nil { outcomes[index] = .interrupted }
        state = .finished
        return result(reusable: false)
    }

    // MARK: - Steps

    private mutating func askRecipient(_ index: Int) -> Action {
        state = .awaitingRecipient(index: index)
        return .send([.rcpt(recipients[index].path, recipients[index].parameters)])
    }

    /// Every RCPT reply is in.
    private mutating func recipientsDone() -> Action {
        let anyAccepted = isAccepted.contains(true) && mailRefusal == nil
        switch bodyTransfer {
        case .data:
            if isPipelining {
                state = .awaitingData
                return .awaitReply
            }
            guard anyAccepted else { return mailRefusal == nil ? reset() : finish(reusable: true) }
            state = .awaitingData
            return .send([.data])
        case .chunking(let chunks):
            guard anyAccepted else { return mailRefusal == nil ? reset() : finish(reusable: true) }
            state = .awaitingChunk(index: 0)
            return .sendChunk(index: 0, isLast: chunks == 1)
        }
    }

    private mutating func reset() -> Action {
        state = .awaitingReset
        return .send([.rset])
    }

    private mutating func finalReply(_ reply: SMTPReply) {
        for index in outcomes.indices where outcomes[index] == nil && isAccepted[index] {
            outcomes[index] = Self.isCompletion(reply) ? .delivered(reply) : .refused(reply)
        }
    }

    private mutating func refuseAccepted(_ reply: SMTPReply) {
        for index in outcomes.indices where outcomes[index] == nil && isAccepted[index] {
            outcomes[index] = .refused(reply)
        }
    }

    private mutating func finish(reusable: Bool) -> Action {
        state = .finished
        return .finished(result(reusable: reusable))
    }

    /// RFC 5321 §4.2.1: 2yz is "Positive Completion". A 3yz where a completion is due
    /// (354 to RCPT) is not one.
    static func isCompletion(_ reply: SMTPReply) -> Bool { (200..<300).contains(reply.code) }

    private func result(reusable: Bool) -> Result {
        // Anything still open at a clean finish was never accepted; a bug here must not
        // claim delivery, so it counts as interrupted.
        Result(recipients: outcomes.map { $0 ?? .interrupted }, isSessionReusable: reusable)
    }
}
