import MailTestSupport
import Foundation
import NIOCore
import SASL
import Testing

@testable import POP3Protocol

// Helpers shared by the POP3Protocol test suites.

typealias POP3Action = POP3ServerStateMachine.Action
typealias MaildropMessage = POP3ServerStateMachine.Message

/// The UTF-8 bytes of `text`.
func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

/// Base64 of the UTF-8 bytes of `text`, as a POP3 client sends AUTH data.
func base64(_ text: String) -> String { Data(text.utf8).base64EncodedString() }

/// `bytes` shown with escapes, for test names.
func escaped(_ bytes: [UInt8]) -> String {
    String(reflecting: String(decoding: bytes, as: UTF8.self))
}


// MARK: - Messages

/// A message of exactly `size` octets with CRLF line ends: a Subject header, the empty
/// line, and one body line of "x" (RFC 1939 §10's session uses 120 and 200 octets).
func rfcMessage(_ subject: String, size: Int) -> [UInt8] {
    let header = "Subject: \(subject)\r\n\r\n"
    let body = String(repeating: "x", count: max(size - header.utf8.count - 2, 0)) + "\r\n"
    return bytes(header + body)
}

let message1 = rfcMessage("one", size: 120)
let message2 = rfcMessage("two", size: 200)

/// The maildrop of RFC 1939 §10: two messages, 120 and 200 octets.
let rfcMaildrop = [
    MaildropMessage(uid: 101, size: 120, uidl: "whqtswO00WBw418f9t5JxYwZ"),
    MaildropMessage(uid: 102, size: 200, uidl: "QhdPYR:00WBw1Ph7x7"),
]

let rfcContents: [UInt32: [UInt8]] = [101: message1, 102: message2]

// MARK: - State machine

let testHostname = "pop.example.test"

/// `base64("\0alice@example.test\0secret")`, an AUTH PLAIN initial response.
let plainAliceSecret = "AGFsaWNlQGV4YW1wbGUudGVzdABzZWNyZXQ="

/// A session on `testHostname` with session ID "S1", on a plain port that can start TLS.
func makeMachine(
    isTLS: Bool = false,
    canStartTLS: Bool = true,
    configure: (inout POP3ServerStateMachine.Configuration) -> Void = { _ in }
) -> POP3ServerStateMachine {
    var configuration = POP3ServerStateMachine.Configuration(hostname: testHostname, sessionID: "S1")
    configuration.isTLS = isTLS
    configuration.canStartTLS = canStartTLS
    configure(&configuration)
    return POP3ServerStateMachine(configuration: configuration)
}

/// One command line (without CRLF).
@discardableResult
func send(_ machine: inout POP3ServerStateMachine, _ line: String) -> [POP3Action] {
    machine.receive(line: Array(line.utf8))
}

/// A TLS session logged in as alice@example.test with `messages` in TRANSACTION.
func loggedIn(
    _ messages: [MaildropMessage] = rfcMaildrop,
    configure: (inout POP3ServerStateMachine.Configuration) -> Void = { _ in },
    sourceLocation: SourceLocation = #_sourceLocation
) -> POP3ServerStateMachine {
    var machine = makeMachine(isTLS: true, canStartTLS: false, configure: configure)
    _ = machine.greeting()
    #expect(summary(send(&machine, "USER alice@example.test")) == ["+OK"], sourceLocation: sourceLocation)
    #expect(
        summary(send(&machine, "PASS secret")) == ["verifyPassword alice@example.test secret"],
        sourceLocation: sourceLocation)
    #expect(
        summary(machine.authenticationFinished(.success("alice@example.test")))
            == ["openMaildrop alice@example.test"], sourceLocation: sourceLocation)
    #expect(summary(machine.maildropOpened(.opened(messages))) == ["+OK Logged in."], sourceLocation: sourceLocation)
    #expect(machine.isInTransaction, sourceLocation: sourceLocation)
    return machine
}

/// The bytes of every `.send`, concatenated, as text.
func sentText(_ actions: [POP3Action]) -> String {
    var text = ""
    for case .send(let buffer) in actions { text += String(buffer: buffer) }
    return text
}

/// The actions as short strings, so that tests read as transcripts: the first line of
/// each response (`"+OK 2 320"`), `"close"`, `"verifyPassword alice secret"`,
/// `"readMessage 101"`, `"commit [101] [102]"`.
func summary(_ actions: [POP3Action]) -> [String] {
    actions.map { action -> String in
        switch action {
        case .send(let buffer):
            let bytes = Array(buffer.readableBytesView)
            let end = bytes.firstIndex(of: 13) ?? bytes.endIndex
            return String(decoding: bytes[..<end], as: UTF8.self)
        case .startTLS:
            return "startTLS"
        case .close:
            return "close"
        case .verifyPassword(let login, let password):
            return "verifyPassword \(login) \(password)"
        case .fetchSCRAMCredentials(let login):
            return "fetchSCRAM \(login)"
        case .recordSCRAMOutcome(let login, let success):
            return "recordSCRAM \(login) \(success)"
        case .openMaildrop(let user):
            return "openMaildrop \(user)"
        case .readMessage(let uid):
            return "readMessage \(uid)"
        case .commit(let deleted, let seen):
            return "commit \(deleted) \(seen)"
        case .release(let seen):
            return "release \(seen)"
        }
    }
}

/// What a client makes of a multi-line response body (RFC 1939 §3): the lines up to the
/// terminating ".", each with one leading "." removed, CRLF-joined. `nil` when the
/// response is not properly terminated.
func clientView(_ response: [UInt8]) -> [UInt8]? {
    var result: [UInt8] = []
    var start = response.startIndex
    while start < response.endIndex {
        // Lines end at CRLF only: a lone CR is data.
        var end = start
        while end + 1 < response.endIndex, !(response[end] == 13 && response[end + 1] == 10) { end += 1 }
        guard end + 1 < response.endIndex else { return nil }
        var line = response[start..<end]
        if line.elementsEqual([UInt8(ascii: ".")]) {
            return end + 2 == response.endIndex ? result : nil
        }
        if line.first == UInt8(ascii: ".") { line = line.dropFirst() }
        result += line
        result += [13, 10]
        start = end + 2
    }
    return nil
}

/// Drives a state machine the way POP3Server does: every request is answered at once
/// (passwords accepted, SCRAM users unknown, the maildrop opened with `messages`,
/// messages read from `contents`, commits succeed). Nothing is read after `.close`.
struct POP3TestSession {
    var machine: POP3ServerStateMachine
    var messages: [MaildropMessage]
    var contents: [UInt32: [UInt8]]
    private(set) var actions: [POP3Action] = []
    private(set) var isClosed = false

    init(
        _ machine: POP3ServerStateMachine, messages: [MaildropMessage] = rfcMaildrop,
        contents: [UInt32: [UInt8]] = rfcContents
    ) {
        self.machine = machine
        self.messages = messages
        self.contents = contents
    }

    var transcript: [String] { summary(actions) }

    mutating func start() {
        handle(machine.greeting())
    }

    @discardableResult
    mutating func receive(_ text: String) -> [POP3Action] {
        receive(bytes: Array(text.utf8))
    }

    @discardableResult
    mutating func receive(bytes: [UInt8]) -> [POP3Action] {
        guard !isClosed else { return [] }
        let before = actions.count
        handle(machine.receive(line: bytes))
        return Array(actions[before...])
    }

    private mutating func handle(_ produced: [POP3Action]) {
        var queue = produced[...]
        while let action = queue.popFirst() {
            actions.append(action)
            switch action {
            case .send, .recordSCRAMOutcome, .release:
                break
            case .close:
                isClosed = true
            case .startTLS:
                queue.append(contentsOf: machine.tlsEstablished())
            case .verifyPassword(let login, _):
                queue.append(contentsOf: machine.authenticationFinished(.success(login)))
            case .fetchSCRAMCredentials:
                queue.append(contentsOf: machine.scramCredentialsFetched(nil, throttled: false))
            case .openMaildrop:
                queue.append(contentsOf: machine.maildropOpened(.opened(messages)))
            case .readMessage(let uid):
                let outcome: POP3ServerStateMachine.ContentOutcome = contents[uid].map { .content($0) } ?? .failed
                queue.append(contentsOf: machine.messageRead(outcome))
            case .commit:
                queue.append(contentsOf: machine.committed(true))
            }
        }
    }
}
