import Directory
import Logging
import MailCore
import MailStore
public import NIOCore
public import POP3Protocol
public import SASL
public import ServerSupport

/// One POP3 connection: the state machine plus the services it asks for.
public struct POP3Session: LineSession {
    public enum Event: Sendable {
        case authentication(POP3ServerStateMachine.AuthenticationOutcome)
        case scram(SCRAMServerKeys?, throttled: Bool)
        case maildrop(POP3ServerStateMachine.MaildropOutcome, MaildropHandle?)
        /// The message asked for, and the ones after it read ahead.
        case content(POP3ServerStateMachine.ContentOutcome, readAhead: [(uid: UInt32, bytes: [UInt8])])
        case committed(Bool)
        case nothing
    }

    /// An open maildrop: its mailbox and the lock's owner.
    public struct MaildropHandle: Sendable {
        let user: String
        let mailbox: any OpenMailbox
    }

    private var machine: POP3ServerStateMachine
    private let services: POP3Services
    private let context: ConnectionContext
    private var maildrop: MaildropHandle?
    /// The maildrop's UIDs in message-number order, and where each one is.
    private var order: [UInt32] = []
    private var position: [UInt32: Int] = [:]
    /// Messages read ahead of the client's RETR/TOP, by UID: one trip to the store
    /// serves a run of sequential reads (bounded by `readAheadBytes`).
    private var readAhead: [UInt32: [UInt8]] = [:]

    static let readAheadMessages = 64
    static let readAheadBytes = 512 * 1024

    public init(configuration: POP3ServerStateMachine.Configuration, context: ConnectionContext, services: POP3Services) {
        self.machine = POP3ServerStateMachine(configuration: configuration)
        self.services = services
        self.context = context
    }

    public mutating func start() -> [SessionAction<Event>] { perform(machine.greeting()) }

    public mutating func receive(line: ByteBuffer) -> [SessionAction<Event>] {
        perform(machine.receive(line: Array(line.readableBytesView)))
    }

    public mutating func lineTooLong() -> [SessionAction<Event>] { perform(machine.lineTooLong()) }

    public mutating func tlsEstablished(_ info: TLSInfo) -> [SessionAction<Event>] { perform(machine.tlsEstablished()) }

    public mutating func idleTimeout() -> [SessionAction<Event>] { perform(machine.idleTimeout()) }

    public mutating func shutdown() -> [SessionAction<Event>] { perform(machine.shutdown()) }

    public mutating func connectionClosed() -> [SessionAction<Event>] { perform(machine.connectionClosed()) }

    public mutating func complete(_ event: Event) -> [SessionAction<Event>] {
        switch event {
        case .authentication(let outcome): return perform(machine.authenticationFinished(outcome))
        case .scram(let keys, let throttled): return perform(machine.scramCredentialsFetched(keys, throttled: throttled))
        case .maildrop(let outcome, let handle):
            maildrop = handle
            if case .opened(let messages) = outcome {
                order = messages.map(\.uid)
                position = Dictionary(order.enumerated().map { ($1, $0) }, uniquingKeysWith: { first, _ in first })
            }
            return perform(machine.maildropOpened(outcome))
        case .content(let outcome, let ahead):
            readAhead = [:]
            for (uid, bytes) in ahead { readAhead[uid] = bytes }
            return perform(machine.messageRead(outcome))
        case .committed(let success):
            maildrop = nil
            readAhead = [:]
            return perform(machine.committed(success))
        case .nothing: return []
        }
    }

    // MARK: - Actions

    private mutating func perform(_ actions: [POP3ServerStateMachine.Action]) -> [SessionAction<Event>] {
        var result: [SessionAction<Event>] = []
        for action in actions {
            switch action {
            case .send(let bytes): result.append(.send(bytes))
            case .startTLS: result.append(.startTLS)
            case .close: result.append(.close)
            case .verifyPassword(let login, let password):
                let attempt = loginAttempt(login, password: password)
                let authenticator = services.authenticator
                result.append(
                    .run {
                        .authentication(await authenticator.authenticate(attempt).loginOutcome)
                    })
            case .fetchSCRAMCredentials(let login):
                let attempt = loginAttempt(login, password: "")
                let authenticator = services.authenticator
                result.append(
                    .run {
                        switch await authenticator.scramCredentials(attempt) {
                        case .credentials(let keys): return .scram(keys, throttled: false)
                        case .throttled, .temporaryFailure: return .scram(nil, throttled: true)
                        }
                    })
            case .recordSCRAMOutcome(let login, let success):
                let attempt = loginAttempt(login, password: "")
                let authenticator = services.authenticator
                result.append(
                    .run {
                        await authenticator.recordSCRAMOutcome(attempt, success: success)
                        return .nothing
                    })
            case .openMaildrop(let user):
                let services = self.services
                let context = self.context
                result.append(.run { await Self.open(user: user, services: services, context: context) })
            case .readMessage(let uid):
                if let bytes = readAhead.removeValue(forKey: uid) {
                    result += perform(machine.messageRead(.content(bytes)))
                    continue
                }
                guard let mailbox = maildrop?.mailbox else {
                    result.append(.run { .content(.failed, readAhead: []) })
                    continue
                }
                let following = position[uid].map { order[($0 + 1)..<min(order.count, $0 + Self.readAheadMessages)] } ?? []
                let uids = [uid] + following
                let logger = services.logger
                let session = context.sessionID
                result.append(
                    .run {
                        do {
                            let found = try await mailbox.contents(uids: uids, byteLimit: Self.readAheadBytes)
                            guard let first = found.first, first.uid == uid else { return .content(.failed, readAhead: []) }
                            return .content(.content(first.bytes), readAhead: Array(found.dropFirst()))
                        } catch {
                            logger.warning(
                                "pop3 cannot read a message",
                                metadata: ["session": "\(session)", "uid": "\(uid)", "error": "\(error)"])
                            return .content(.failed, readAhead: [])
                        }
                    })
            case .commit(let deleted, let seen):
                guard let maildrop else {
                    result.append(.run { .committed(true) })
                    continue
                }
                let services = self.services
                let session = context.sessionID
                result.append(
                    .run {
                        .committed(await Self.finish(maildrop, deleted: deleted, seen: seen, services: services, session: session))
                    })
            case .release(let seen):
                readAhead = [:]
                guard let maildrop else { continue }
                self.maildrop = nil
                let services = self.services
                let session = context.sessionID
                result.append(
                    .run {
                        _ = await Self.finish(maildrop, deleted: [], seen: seen, services: services, session: session)
                        return .nothing
                    })
            }
        }
        return result
    }

    private func loginAttempt(_ login: String, password: String) -> LoginAttempt {
        LoginAttempt(
            login: login, password: password, remoteAddress: context.remoteAddress, service: context.service,
            session: context.sessionID)
    }

    // MARK: - Maildrop

    /// Locks and opens the INBOX of `user`, listing it with its UIDLs.
    static func open(user: String, services: POP3Services, context: ConnectionContext) async -> Event {
        guard let address = MailAddress(user) else { return .maildrop(.failed, nil) }
        if let delay = services.loginDelay, !delay.admit(address.canonical) {
            services.logger.notice(
                "pop3 login too soon after the last one (LOGIN-DELAY)",
                metadata: ["session": "\(context.sessionID)", "user": "\(address.canonical)"])
            return .maildrop(.loginDelay, nil)
        }
        guard services.locks.acquire(address.canonical) else {
            services.logger.notice(
                "pop3 maildrop in use", metadata: ["session": "\(context.sessionID)", "user": "\(address.canonical)"])
            return .maildrop(.inUse, nil)
        }
        do {
            // The session takes the new messages (Maildir: new/ → cur/) unless
            // `retr_marks_seen` is off: Dovecot's `pop3_no_flag_updates` leaves both alone.
            let mailbox = try await services.store.open(
                account: address, mailbox: "INBOX", takingNewMessages: services.retrieveMarksSeen)
            let snapshot = await mailbox.snapshot()
            let messages = snapshot.messages.map { message in
                POP3ServerStateMachine.Message(
                    uid: message.uid, size: message.size,
                    uidl: services.uidlFormat.uidl(uidValidity: snapshot.uidValidity, uid: message.uid))
            }
            services.logger.info(
                "pop3 maildrop opened",
                metadata: [
                    "session": "\(context.sessionID)", "user": "\(address.canonical)", "messages": "\(messages.count)",
                ])
            return .maildrop(.opened(messages), MaildropHandle(user: address.canonical, mailbox: mailbox))
        } catch {
            services.locks.release(address.canonical)
            services.logger.error(
                "pop3 cannot open the maildrop",
                metadata: ["session": "\(context.sessionID)", "user": "\(address.canonical)", "error": "\(error)"])
            return .maildrop(.failed, nil)
        }
    }

    /// The UPDATE state (RFC 1939 §6), or the clean-up of a session that ended without
    /// QUIT (then `deleted` is empty): flags, expunge, close, unlock. True when every
    /// deleted message is gone.
    static func finish(
        _ maildrop: MaildropHandle, deleted: [UInt32], seen: [UInt32], services: POP3Services, session: String
    ) async -> Bool {
        defer { services.locks.release(maildrop.user) }
        var success = true
        if services.retrieveMarksSeen && !seen.isEmpty {
            do {
                try await maildrop.mailbox.setFlags(uids: seen, add: .seen, remove: [])
            } catch {
                // Not worth failing the QUIT for: the messages were read either way.
                services.logger.warning("pop3 cannot mark messages seen", metadata: ["session": "\(session)", "error": "\(error)"])
            }
        }
        if !deleted.isEmpty {
            do {
                try await maildrop.mailbox.expunge(uids: deleted)
            } catch {
                success = false
                services.logger.error(
                    "pop3 cannot remove deleted messages", metadata: ["session": "\(session)", "error": "\(error)"])
            }
        }
        await maildrop.mailbox.close()
        services.logger.info(
            "pop3 maildrop closed",
            metadata: [
                "session": "\(session)", "user": "\(maildrop.user)", "deleted": "\(success ? deleted.count : 0)",
                "retrieved": "\(seen.count)",
            ])
        return success
    }
}
