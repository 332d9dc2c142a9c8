import Testing

@testable import SMTPProtocol

typealias ClientMachine = SMTPClientTransactionStateMachine

@Suite("SMTP client transaction state machine")
struct SMTPClientTransactionStateMachineTests {
    static let ok = SMTPReply(250, .init(2, 0, 0), "Ok")
    static let goAhead = SMTPReply(354, nil, "End data with <CR><LF>.<CR><LF>")
    static let queued = SMTPReply(250, .init(2, 0, 0), "Ok: queued as X")
    static let unknown = SMTPReply(550, .init(5, 1, 1), "unknown")
    static let busy = SMTPReply(452, .init(4, 5, 3), "too many recipients")
    static let noRecipients = SMTPReply(554, .init(5, 5, 1), "Error: no valid recipients")

    static func recipients(_ names: String...) -> [ClientMachine.Recipient] {
        names.map { name in
            ClientMachine.Recipient(path: .mailbox(SMTPMailbox(localPart: name, domain: .name("remote.test"))))
        }
    }

    static let sender = ReversePath.mailbox(SMTPMailbox(localPart: "alice", domain: .name("example.test")))

    static func machine(
        _ recipients: [ClientMachine.Recipient], pipelining: Bool, body: ClientMachine.BodyTransfer = .data
    ) -> ClientMachine {
        ClientMachine(
            sender: sender, mailParameters: MailParameters(), recipients: recipients, isPipelining: pipelining,
            bodyTransfer: body)
    }

    static func rcpt(_ recipient: ClientMachine.Recipient) -> SMTPClientCommand {
        .rcpt(recipient.path, recipient.parameters)
    }

    /// RFC 2920 §3.1: one group, replies matched in order.
    @Test func pipelinedDeliveryWithOneRefusal() {
        let recipients = Self.recipients("bob", "carol")
        var machine = Self.machine(recipients, pipelining: true)
        #expect(
            machine.start()
                == .send([
                    .mail(Self.sender, MailParameters()), Self.rcpt(recipients[0]), Self.rcpt(recipients[1]), .data,
                ]))
        #expect(machine.expectedReply == .mail)
        #expect(machine.receive(Self.ok) == .awaitReply)
        #expect(machine.expectedReply == .recipient)
        #expect(machine.receive(Self.unknown) == .awaitReply)
        #expect(machine.receive(Self.ok) == .awaitReply)
        #expect(machine.expectedReply == .data)
        #expect(machine.receive(Self.goAhead) == .sendMessage)
        #expect(machine.expectedReply == .endOfData)
        #expect(
            machine.receive(Self.queued)
                == .finished(
                    .init(recipients: [.refused(Self.unknown), .delivered(Self.queued)], isSessionReusable: true)))
        #expect(machine.expectedReply == nil)
    }

    /// RFC 5321 §4.3.2: without PIPELINING each command waits for its reply.
    @Test func lockstepDelivery() {
        let recipients = Self.recipients("bob", "carol")
        var machine = Self.machine(recipients, pipelining: false)
        #expect(machine.start() == .send([.mail(Self.sender, MailParameters())]))
        #expect(machine.receive(Self.ok) == .send([Self.rcpt(recipients[0])]))
        #expect(machine.receive(Self.busy) == .send([Self.rcpt(recipients[1])]))
        #expect(machine.receive(Self.ok) == .send([.data]))
        #expect(machine.receive(Self.goAhead) == .sendMessage)
        #expect(
            machine.receive(Self.queued)
                == .finished(
                    .init(recipients: [.refused(Self.busy), .delivered(Self.queued)], isSessionReusable: true)))
    }

    /// No recipient accepted: no message, RSET (lockstep never sends DATA).
    @Test func noRecipientAcceptedResets() {
        let recipients = Self.recipients("bob")
        var lockstep = Self.machine(recipients, pipelining: false)
        _ = lockstep.start()
        _ = lockstep.receive(Self.ok)
        #expect(lockstep.receive(Self.unknown) == .send([.rset]))
        #expect(lockstep.expectedReply == .reset)
        #expect(
            lockstep.receive(Self.ok) == .finished(.init(recipients: [.refused(Self.unknown)], isSessionReusable: true))
        )

        var pipelined = Self.machine(recipients, pipelining: true)
        _ = pipelined.start()
        _ = pipelined.receive(Self.ok)
        #expect(pipelined.receive(Self.unknown) == .awaitReply)
        #expect(pipelined.receive(Self.noRecipients) == .send([.rset]))
        #expect(
            pipelined.receive(Self.ok)
                == .finished(.init(recipients: [.refused(Self.unknown)], isSessionReusable: true)))
    }

    /// RFC 2920 §3.1: DATA accepted with no recipient: an empty message ends it.
    @Test func acceptedDataWithoutRecipientsSendsAnEmptyMessage() {
        var machine = Self.machine(Self.recipients("bob"), pipelining: true)
        _ = machine.start()
        _ = machine.receive(Self.ok)
        _ = machine.receive(Self.unknown)
        #expect(machine.receive(Self.goAhead) == .sendEmptyMessage)
        #expect(machine.receive(Self.noRecipients) == .send([.rset]))
        #expect(
            machine.receive(Self.ok) == .finished(.init(recipients: [.refused(Self.unknown)], isSessionReusable: true)))
    }

    /// MAIL refused: every recipient gets its reply; pipelined replies are still read.
    @Test func mailRefused() {
        let refusal = SMTPReply(550, .init(5, 7, 1), "sender rejected")
        var lockstep = Self.machine(Self.recipients("bob", "carol"), pipelining: false)
        _ = lockstep.start()
        #expect(
            lockstep.receive(refusal)
                == .finished(.init(recipients: [.refused(refusal), .refused(refusal)], isSessionReusable: true)))

        var pipelined = Self.machine(Self.recipients("bob", "carol"), pipelining: true)
        _ = pipelined.start()
        #expect(pipelined.receive(refusal) == .awaitReply)
        let badSequence = SMTPReply(503, .init(5, 5, 1), "Error: need MAIL command")
        #expect(pipelined.receive(badSequence) == .awaitReply)
        #expect(pipelined.receive(badSequence) == .awaitReply)
        #expect(
            pipelined.receive(badSequence)
                == .finished(.init(recipients: [.refused(refusal), .refused(refusal)], isSessionReusable: true)))
    }

    /// DATA refused: the accepted recipients get its reply.
    @Test func dataRefused() {
        let refusal = SMTPReply(451, .init(4, 3, 0), "try later")
        var machine = Self.machine(Self.recipients("bob"), pipelining: false)
        _ = machine.start()
        _ = machine.receive(Self.ok)
        _ = machine.receive(Self.ok)
        #expect(machine.receive(refusal) == .send([.rset]))
        #expect(machine.receive(Self.ok) == .finished(.init(recipients: [.refused(refusal)], isSessionReusable: true)))
    }

    /// RFC 3030: BDAT after the RCPT replies, chunk by chunk, LAST on the last.
    @Test func chunking() {
        let recipients = Self.recipients("bob")
        var machine = Self.machine(recipients, pipelining: true, body: .chunking(chunks: 3))
        #expect(machine.start() == .send([.mail(Self.sender, MailParameters()), Self.rcpt(recipients[0])]))
        _ = machine.receive(Self.ok)
        #expect(machine.receive(Self.ok) == .sendChunk(index: 0, isLast: false))
        #expect(machine.expectedReply == .chunk)
        #expect(machine.receive(Self.ok) == .sendChunk(index: 1, isLast: false))
        #expect(machine.receive(Self.ok) == .sendChunk(index: 2, isLast: true))
        #expect(machine.expectedReply == .endOfData)
        #expect(
            machine.receive(Self.queued)
                == .finished(.init(recipients: [.delivered(Self.queued)], isSessionReusable: true)))
    }

    @Test func refusedChunkResets() {
        let refusal = SMTPReply(552, .init(5, 3, 4), "too big")
        var machine = Self.machine(Self.recipients("bob"), pipelining: false, body: .chunking(chunks: 2))
        _ = machine.start()
        _ = machine.receive(Self.ok)
        #expect(machine.receive(Self.ok) == .sendChunk(index: 0, isLast: false))
        #expect(machine.receive(refusal) == .send([.rset]))
        #expect(machine.receive(Self.ok) == .finished(.init(recipients: [.refused(refusal)], isSessionReusable: true)))
    }

    /// A lost connection ends every recipient without a final answer.
    @Test func connectionFailureInterruptsOpenRecipients() {
        var machine = Self.machine(Self.recipients("bob", "carol"), pipelining: true)
        _ = machine.start()
        _ = machine.receive(Self.ok)
        _ = machine.receive(Self.unknown)
        #expect(
            machine.connectionFailed()
                == .init(recipients: [.refused(Self.unknown), .interrupted], isSessionReusable: false))
    }

    /// A reply in the wrong place (354 to RCPT) is not an acceptance; a reply nobody
    /// asked for ends the transaction and the session.
    @Test func outOfPlaceReplies() {
        var machine = Self.machine(Self.recipients("bob"), pipelining: false)
        _ = machine.start()
        _ = machine.receive(Self.ok)
        #expect(machine.receive(Self.goAhead) == .send([.rset]))
        guard case .finished(let result) = machine.receive(Self.ok) else {
            Issue.record("not finished")
            return
        }
        #expect(result.recipients == [.refused(Self.goAhead)])
        #expect(
            machine.receive(Self.ok) == .finished(.init(recipients: [.refused(Self.goAhead)], isSessionReusable: false))
        )
    }
}
