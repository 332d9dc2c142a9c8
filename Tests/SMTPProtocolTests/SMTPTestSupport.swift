import MailTestSupport
import Foundation
import NIOCore
import SASL
import Testing

@testable import SMTPProtocol

// Helpers shared by the SMTPProtocol test suites.

/// The UTF-8 bytes of `text`.
func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

/// Base64 of the UTF-8 bytes of `text`, as an SMTP client sends AUTH data.
func base64(_ text: String) -> String { Data(text.utf8).base64EncodedString() }

/// `bytes` shown with escapes, for test names.
func escaped(_ bytes: [UInt8]) -> String {
    String(reflecting: String(decoding: bytes, as: UTF8.self))
}

/// True when every CR is followed by LF and every LF follows a CR.
func hasOnlyCRLFLineEnds(_ bytes: [UInt8]) -> Bool {
    for (index, byte) in bytes.enumerated() {
        if byte == 13 && (index + 1 >= bytes.count || bytes[index + 1] != 10) { return false }
        if byte == 10 && (index == 0 || bytes[index - 1] != 13) { return false }
    }
    return true
}


// MARK: - State machine

typealias SMTPAction = SMTPServerStateMachine.Action

let testHostname = "mx.example.test"

/// `base64("\0alice@example.test\0secret")`, an AUTH PLAIN initial response.
let plainAliceSecret = "AGFsaWNlQGV4YW1wbGUudGVzdABzZWNyZXQ="

/// A session on `testHostname` from 192.0.2.7, session ID "S1", that can start TLS.
func makeMachine(
    role: SMTPServerStateMachine.Role = .mx,
    isTLS: Bool = false,
    configure: (inout SMTPServerStateMachine.Configuration) -> Void = { _ in }
) -> SMTPServerStateMachine {
    var configuration = SMTPServerStateMachine.Configuration(role: role, hostname: testHostname)
    configure(&configuration)
    let connection = SMTPServerStateMachine.Connection(
        sessionID: "S1", remoteAddress: "192.0.2.7", isTLS: isTLS, canStartTLS: true)
    return SMTPServerStateMachine(configuration: configuration, connection: connection)
}

/// One command line (without CRLF).
@discardableResult
func send(_ machine: inout SMTPServerStateMachine, _ line: String) -> [SMTPAction] {
    machine.receive(line: Array(line.utf8))
}

/// Message bytes while the machine `wantsRawInput`.
@discardableResult
func raw(_ machine: inout SMTPServerStateMachine, _ text: String) -> [SMTPAction] {
    var buffer = ByteBuffer(string: text)
    return machine.receive(raw: &buffer)
}

/// Message bytes; also returns what the machine left in the buffer.
func rawKeepingLeftover(_ machine: inout SMTPServerStateMachine, _ text: String) -> (actions: [SMTPAction], leftover: String) {
    var buffer = ByteBuffer(string: text)
    let actions = machine.receive(raw: &buffer)
    return (actions, String(buffer: buffer))
}

/// The actions as short strings, so tests read as transcripts: `"250 2.1.5"`, `"354"`,
/// `"close"`, `"resolve bob@example.test"`, `"store"`.
func summary(_ actions: [SMTPAction]) -> [String] {
    actions.map { action -> String in
        switch action {
        case .send(let reply):
            if let enhanced = reply.enhanced { return "\(reply.code) \(enhanced)" }
            return "\(reply.code)"
        case .startTLS:
            return "startTLS"
        case .close:
            return "close"
        case .resolveRecipient(let mailbox):
            return "resolve \(mailbox)"
        case .resolvePostmaster:
            return "resolvePostmaster"
        case .checkSender(let login, let sender):
            return "checkSender \(login) \(sender)"
        case .verifyPassword(let login, _):
            return "verifyPassword \(login)"
        case .fetchSCRAMCredentials(let login):
            return "fetchSCRAM \(login)"
        case .recordSCRAMOutcome(let login, let success):
            return "recordSCRAM \(login) \(success)"
        case .store:
            return "store"
        }
    }
}

struct PasswordCheck: Equatable {
    let login: String
    let password: String
}

struct SenderCheck: Equatable {
    let login: String
    let sender: SMTPMailbox
}

/// The arguments of a `.store` action.
struct StoreRequest {
    let transaction: SMTPTransaction
    let message: ByteBuffer
    let trace: ReceivedTrace

    var text: String { String(buffer: message) }
    var messageBytes: [UInt8] { Array(message.readableBytesView) }
}

extension SMTPServerStateMachine.Action {
    var reply: SMTPReply? {
        if case .send(let reply) = self { return reply }
        return nil
    }

    var isClose: Bool {
        if case .close = self { return true }
        return false
    }

    var recipientToResolve: SMTPMailbox? {
        if case .resolveRecipient(let mailbox) = self { return mailbox }
        return nil
    }

    var senderCheck: SenderCheck? {
        if case .checkSender(let login, let sender) = self { return SenderCheck(login: login, sender: sender) }
        return nil
    }

    var passwordCheck: PasswordCheck? {
        if case .verifyPassword(let login, let password) = self { return PasswordCheck(login: login, password: password) }
        return nil
    }

    var storeRequest: StoreRequest? {
        if case .store(let transaction, let message, let trace, _) = self {
            return StoreRequest(transaction: transaction, message: message, trace: trace)
        }
        return nil
    }
}

/// Drives a state machine the way SMTPServer does: input is cut into lines while the
/// machine wants lines and handed over as raw bytes while it `wantsRawInput`; every
/// request is answered at once (recipients by `lookup`, senders allowed, passwords
/// accepted, SCRAM users unknown, messages stored as Q1, Q2, …); STARTTLS discards the
/// bytes that arrived before the handshake (RFC 3207 §4.2). Nothing is read after `.close`.
struct SMTPTestSession {
    var machine: SMTPServerStateMachine
    private(set) var actions: [SMTPAction] = []
    private(set) var stored: [StoreRequest] = []
    private(set) var isClosed = false
    private var input = ByteBuffer()
    private let lookup: (SMTPMailbox) -> RecipientLookup

    init(
        _ machine: SMTPServerStateMachine,
        lookup: @escaping (SMTPMailbox) -> RecipientLookup = SMTPTestSession.defaultLookup
    ) {
        self.machine = machine
        self.lookup = lookup
    }

    /// example.test is local (every user exists); everything else is remote.
    static func defaultLookup(_ mailbox: SMTPMailbox) -> RecipientLookup {
        if mailbox.domainName == "example.test" { return .deliver(local: [mailbox.description], forward: []) }
        return .notLocalDomain
    }

    var transcript: [String] { summary(actions) }

    mutating func start() {
        handle(machine.greeting())
    }

    mutating func receive(_ text: String) {
        receive(bytes: Array(text.utf8))
    }

    mutating func receive(bytes: [UInt8]) {
        guard !isClosed else { return }
        input.writeBytes(bytes)
        pump()
    }

    private mutating func pump() {
        while !isClosed && input.readableBytes > 0 {
            if machine.wantsRawInput {
                var buffer = input
                input = ByteBuffer()
                let before = buffer.readableBytes
                let produced = machine.receive(raw: &buffer)
                input = buffer
                handle(produced)
                if produced.isEmpty && input.readableBytes == before { return }
            } else {
                guard let line = nextLine() else { return }
                handle(machine.receive(line: line))
            }
        }
    }

    /// The next line without its line end (CRLF, or a bare LF as lenient servers accept).
    private mutating func nextLine() -> [UInt8]? {
        let view = input.readableBytesView
        guard let newline = view.firstIndex(of: UInt8(ascii: "\n")) else { return nil }
        var line = Array(view[view.startIndex..<newline])
        if line.last == UInt8(ascii: "\r") { line.removeLast() }
        input.moveReaderIndex(forwardBy: newline - view.startIndex + 1)
        return line
    }

    private mutating func handle(_ produced: [SMTPAction]) {
        var queue = produced[...]
        while let action = queue.popFirst() {
            actions.append(action)
            switch action {
            case .send, .recordSCRAMOutcome:
                break
            case .close:
                isClosed = true
            case .startTLS:
                input.clear()
                queue.append(contentsOf: machine.tlsEstablished(version: "TLSv1.3"))
            case .resolveRecipient(let mailbox):
                let answer = lookup(mailbox)
                queue.append(contentsOf: machine.recipientResolved(answer))
            case .resolvePostmaster:
                let answer = lookup(SMTPMailbox(localPart: "postmaster", domain: .name("example.test")))
                queue.append(contentsOf: machine.recipientResolved(answer))
            case .checkSender:
                queue.append(contentsOf: machine.senderChecked(allowed: true))
            case .verifyPassword(let login, _):
                queue.append(contentsOf: machine.authenticationFinished(.success(login)))
            case .fetchSCRAMCredentials:
                queue.append(contentsOf: machine.scramCredentialsFetched(nil, throttled: false))
            case .store(let transaction, let message, let trace, _):
                stored.append(StoreRequest(transaction: transaction, message: message, trace: trace))
                queue.append(contentsOf: machine.stored(.stored(queueID: "Q\(stored.count)")))
            }
        }
    }
}
