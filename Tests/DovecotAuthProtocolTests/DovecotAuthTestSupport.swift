import MailTestSupport
import Foundation
import SASL
import Testing

@testable import DovecotAuthProtocol

// Helpers shared by the DovecotAuthProtocol test suites.

typealias AuthAction = DovecotAuthServerStateMachine.Action
typealias RequestInfo = DovecotAuthServerStateMachine.RequestInfo

let testCookie = "0123456789abcdef0123456789abcdef"

/// Base64 of `bytes`, as the auth client sends SASL data.
func base64(_ bytes: [UInt8]) -> String { Data(bytes).base64EncodedString() }

/// Base64 of the UTF-8 bytes of `text`.
func base64(_ text: String) -> String { base64(Array(text.utf8)) }

/// `base64("\0user\0pass")`: the PLAIN initial response of the protocol's examples.
let plainUserPass = base64([0] + Array("user".utf8) + [0] + Array("pass".utf8))

/// SPID 1234, CUID 7, the test cookie, PLAIN LOGIN SCRAM-SHA-256 offered.
func makeMachine(
    configure: (inout DovecotAuthServerStateMachine.Configuration) -> Void = { _ in }
) -> DovecotAuthServerStateMachine {
    var configuration = DovecotAuthServerStateMachine.Configuration(
        mechanisms: [.plain, .login, .scramSHA256], serverPID: 1234, connectionID: 7, cookie: testCookie)
    configure(&configuration)
    return DovecotAuthServerStateMachine(configuration: configuration)
}

/// A machine that sent its handshake and received `VERSION 1 <minor>` and `CPID`, as
/// Postfix sends them (Postfix says minor version 0).
func handshaken(
    minorVersion: Int = 0,
    configure: (inout DovecotAuthServerStateMachine.Configuration) -> Void = { _ in },
    sourceLocation: SourceLocation = #_sourceLocation
) -> DovecotAuthServerStateMachine {
    var machine = makeMachine(configure: configure)
    _ = machine.start()
    #expect(send(&machine, "VERSION\t1\t\(minorVersion)").isEmpty, sourceLocation: sourceLocation)
    #expect(send(&machine, "CPID\t4711").isEmpty, sourceLocation: sourceLocation)
    return machine
}

/// One line from the client (without LF).
@discardableResult
func send(_ machine: inout DovecotAuthServerStateMachine, _ line: String) -> [AuthAction] {
    machine.receive(line: Array(line.utf8))
}

/// The actions as short strings, so tests read as transcripts: sent lines verbatim
/// (with their LF), `"verifyPassword 1 user pass"`, `"fetchSCRAM 3 user"`,
/// `"recordSCRAM 3 user true"`, `"close"`.
func summary(_ actions: [AuthAction]) -> [String] {
    actions.map { action -> String in
        switch action {
        case .send(let line):
            return String(decoding: line, as: UTF8.self)
        case .verifyPassword(let requestID, let login, let password, _):
            return "verifyPassword \(requestID) \(login) \(password)"
        case .fetchSCRAMCredentials(let requestID, let login, _):
            return "fetchSCRAM \(requestID) \(login)"
        case .recordSCRAMOutcome(let requestID, let login, let success, _):
            return "recordSCRAM \(requestID) \(login) \(success)"
        case .close:
            return "close"
        }
    }
}

extension DovecotAuthServerStateMachine.Action {
    /// The line of a `.send`, as text.
    var sentLine: String? {
        if case .send(let line) = self { return String(decoding: line, as: UTF8.self) }
        return nil
    }

    var isClose: Bool {
        if case .close = self { return true }
        return false
    }
}

/// The fields of a sent line (LF removed, split at TAB, unescaped), or `nil`.
func fields(_ action: AuthAction?) -> [String]? {
    guard case .send(let line)? = action, line.last == UInt8(ascii: "\n") else { return nil }
    return line.dropLast().split(separator: UInt8(ascii: "\t"), omittingEmptySubsequences: false).map {
        String(decoding: DovecotTabEscaping.unescape($0), as: UTF8.self)
    }
}

/// The decoded text of the data field of the first `CONT` line in `actions`.
struct MissingContinuation: Error {}

func continuationText(_ actions: [AuthAction]) throws -> String {
    for action in actions {
        if let parts = fields(action), parts.count == 3, parts.first == "CONT" {
            guard let data = Data(base64Encoded: parts[2]) else { throw MissingContinuation() }
            return String(decoding: data, as: UTF8.self)
        }
    }
    throw MissingContinuation()
}

