public import Directory
public import DovecotAuthProtocol
import Foundation
public import NIOCore
public import SASL
public import ServerSupport

/// One client connection on the auth socket (typically one Postfix smtpd process).
public struct DovecotAuthSession: LineSession {
    public enum Event: Sendable {
        case verified(UInt32, DovecotAuthServerStateMachine.Outcome)
        case scram(UInt32, SCRAMServerKeys?, throttled: Bool)
        case nothing
    }

    private var machine: DovecotAuthServerStateMachine
    private let authenticator: Authenticator
    private let sessionID: String

    public init(configuration: DovecotAuthServerStateMachine.Configuration, context: ConnectionContext, authenticator: Authenticator) {
        self.machine = DovecotAuthServerStateMachine(configuration: configuration)
        self.authenticator = authenticator
        self.sessionID = context.sessionID
    }

    public mutating func start() -> [SessionAction<Event>] { perform(machine.start()) }

    public mutating func receive(line: ByteBuffer) -> [SessionAction<Event>] {
        perform(machine.receive(line: Array(line.readableBytesView)))
    }

    public mutating func lineTooLong() -> [SessionAction<Event>] { perform(machine.lineTooLong()) }

    public mutating func complete(_ event: Event) -> [SessionAction<Event>] {
        switch event {
        case .verified(let id, let outcome): return perform(machine.passwordVerified(requestID: id, outcome: outcome))
        case .scram(let id, let keys, let throttled):
            return perform(machine.scramCredentialsFetched(requestID: id, keys: keys, throttled: throttled))
        case .nothing: return []
        }
    }

    public mutating func tlsEstablished(_ info: TLSInfo) -> [SessionAction<Event>] { [] }

    /// Auth clients keep their connection open for as long as they live; silence is normal.
    public mutating func idleTimeout() -> [SessionAction<Event>] { [] }

    public mutating func shutdown() -> [SessionAction<Event>] { [.close] }

    private func attempt(_ login: String, _ password: String, _ info: DovecotAuthServerStateMachine.RequestInfo) -> LoginAttempt {
        // The client's client: Postfix passes the SMTP client's address as rip=.
        LoginAttempt(
            login: login, password: password, remoteAddress: info.remoteAddress ?? "local",
            service: "auth-socket/\(info.service)", session: sessionID)
    }

    private func perform(_ actions: [DovecotAuthServerStateMachine.Action]) -> [SessionAction<Event>] {
        actions.map { action in
            switch action {
            case .send(let bytes):
                return .send(ByteBuffer(bytes: bytes))
            case .close:
                return .close
            case .verifyPassword(let id, let login, let password, let info):
                let attempt = attempt(login, password, info)
                let authenticator = self.authenticator
                return .run {
                    switch await authenticator.authenticate(attempt) {
                    case .success(let address): return .verified(id, .success(user: address.canonical))
                    case .failure: return .verified(id, .failure)
                    case .throttled: return .verified(id, .throttled)
                    case .temporaryFailure: return .verified(id, .temporaryFailure)
                    }
                }
            case .fetchSCRAMCredentials(let id, let login, let info):
                let attempt = attempt(login, "", info)
                let authenticator = self.authenticator
                return .run {
                    switch await authenticator.scramCredentials(attempt) {
                    case .credentials(let keys):
                        return .scram(id, keys, throttled: false)
                    case .throttled, .temporaryFailure:
                        return .scram(id, nil, throttled: true)
                    }
                }
            case .recordSCRAMOutcome(_, let login, let success, let info):
                let attempt = attempt(login, "", info)
                let authenticator = self.authenticator
                return .run {
                    await authenticator.recordSCRAMOutcome(attempt, success: success)
                    return .nothing
                }
            }
        }
    }
}
