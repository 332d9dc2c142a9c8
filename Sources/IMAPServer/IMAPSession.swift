import Directory
import IMAPProtocol
import Logging
import MailCore
import MailStore
public import NIOCore
public import SASL
public import ServerSupport

/// One IMAP connection: framing, the not-authenticated state (STARTTLS, LOGIN,
/// AUTHENTICATE), IDLE, and the hand-off of every other command to its
/// `IMAPConnection`, which runs them off the event loop one at a time.
///
///     S: * OK [CAPABILITY IMAP4rev1 IMAP4rev2 … STARTTLS LOGINDISABLED] Tsubame ready.
///     C: a STARTTLS
///     S: a OK Begin TLS negotiation now
///     C: b LOGIN alice secret
///     S: b OK [CAPABILITY …] Logged in
///
/// - SeeAlso: RFC 9051 §3 (states), §6.2 (not authenticated), RFC 2177 (IDLE)
public struct IMAPSession: LineSession {
    public enum Event: Sendable {
        /// A command's answer from the connection.
        case step(IMAPStep)
        /// LOGIN or AUTHENTICATE ended.
        case login(tag: String, LoginOutcome)
        /// SCRAM keys for AUTHENTICATE SCRAM-SHA-256.
        case scram(tag: String, SCRAMServerKeys?, throttled: Bool)
        /// Something may have changed while idling (or the check interval passed).
        case idleWake(generation: UInt64)
        /// Updates found while idling, and the notifier's generation read before looking.
        case idleUpdate(generation: UInt64, ByteBuffer, seen: UInt64)
        case nothing
    }

    /// An AUTHENTICATE exchange in progress.
    private enum Authentication {
        case exchange(tag: String, SASLServerStateMachine, SASLMechanism, login: String?)
        /// SCRAM's server-final message was sent; the client answers with an empty line.
        case awaitingFinal(tag: String, login: String)
    }

    private var framer: IMAPCommandFramer
    private let connection: IMAPConnection
    private let services: IMAPServices
    private let context: ConnectionContext
    private var isTLS: Bool
    private var account: String?
    private var isLoggingOut = false
    private var authentication: Authentication?
    private var idle: (tag: String, generation: UInt64)?
    private var idleGeneration: UInt64 = 0
    /// The notifier wait of the current IDLE, ended when IDLE or the connection ends.
    private var idleWaitID: UInt64?
    /// The peer is gone: no more batches of a command in progress.
    private var isDisconnected = false
    private var errors = 0

    /// Consecutive BAD answers before the connection is closed.
    static let maximumErrors = 20

    public init(context: ConnectionContext, services: IMAPServices) {
        self.framer = IMAPCommandFramer(limits: services.preLoginLimits)
        self.services = services
        self.context = context
        self.isTLS = context.isImplicitTLS
        self.connection = IMAPConnection(services: services, context: context)
    }

    // MARK: - LineSession

    public mutating func start() -> [SessionAction<Event>] {
        [send(.untagged(.ok, code: .capability(capabilities), text: "Tsubame ready."))]
    }

    public var wantsRawInput: Bool { framer.wantsRawBytes != nil }

    public mutating func receive(raw buffer: inout ByteBuffer) -> [SessionAction<Event>] {
        framer.receive(raw: &buffer)
        return []
    }

    public mutating func receive(line: ByteBuffer) -> [SessionAction<Event>] {
        guard !isLoggingOut else { return [] }
        guard let output = framer.receive(line: line) else { return [] }
        return handle(output)
    }

    public mutating func lineTooLong() -> [SessionAction<Event>] {
        handle(framer.lineTooLong())
    }

    public mutating func tlsEstablished(_ info: TLSInfo) -> [SessionAction<Event>] {
        isTLS = true
        framer.reset()
        return []
    }

    public mutating func idleTimeout() -> [SessionAction<Event>] {
        isLoggingOut = true
        return [send(.untagged(.bye, code: nil, text: "Autologout; idle for too long")), .close]
    }

    public mutating func shutdown() -> [SessionAction<Event>] {
        isLoggingOut = true
        return [send(.untagged(.bye, code: nil, text: "Server shutting down")), .close]
    }

    public mutating func connectionLost() {
        isDisconnected = true
        endIdle()
    }

    public mutating func connectionClosed() -> [SessionAction<Event>] {
        endIdle()
        let connection = self.connection
        return [
            .run {
                await connection.release()
                return .nothing
            }
        ]
    }

    public mutating func complete(_ event: Event) -> [SessionAction<Event>] {
        switch event {
        case .step(let step):
            var actions: [SessionAction<Event>] = []
            if step.output.readableBytes > 0 { actions.append(.send(step.output)) }
            if step.close {
                isLoggingOut = true
                actions.append(.close)
            } else if step.hasMore && !isDisconnected {
                let connection = self.connection
                actions.append(.run { .step(await connection.continueCommand()) })
            }
            if step.isError { countError(into: &actions) } else if !step.hasMore { errors = 0 }
            return actions
        case .login(let tag, let outcome):
            return loginFinished(tag: tag, outcome)
        case .scram(let tag, let keys, let throttled):
            guard case .exchange(_, var sasl, let mechanism, let login)? = authentication else { return [] }
            authentication = nil
            if throttled { return [tagged(tag, .no, .unavailable, "Temporary authentication failure")] }
            let action = sasl.scramCredentialsFetched(keys)
            return saslStep(tag: tag, &sasl, action, mechanism: mechanism, login: login)
        case .idleWake(let generation):
            guard let idle, idle.generation == generation else { return [] }
            return [idleUpdates(generation: generation)]
        case .idleUpdate(let generation, let output, let seen):
            guard let idle, idle.generation == generation else {
                return output.readableBytes > 0 ? [.send(output)] : []
            }
            var actions: [SessionAction<Event>] = []
            if output.readableBytes > 0 { actions.append(.send(output)) }
            actions.append(waitForChanges(generation: generation, since: seen))
            return actions
        case .nothing:
            return []
        }
    }

    // MARK: - Input

    private mutating func handle(_ output: IMAPCommandFramer.Output) -> [SessionAction<Event>] {
        switch output {
        case .continuationRequest:
            return [send(IMAPResponse.readyForLiteral)]
        case .error(let error):
            // A line other than DONE ends IDLE too (its tag gets the BAD).
            endIdle()
            var actions = [send(error.response)]
            if error.closesConnection {
                isLoggingOut = true
                actions.append(.close)
                return actions
            }
            countError(into: &actions)
            return actions
        case .idleDone:
            guard let idle else { return [] }
            endIdle()
            let connection = self.connection
            let tag = idle.tag
            return [.run { .step(await connection.finishIdle(tag: tag)) }]
        case .authenticationResponse(let bytes):
            return authenticationResponse(bytes)
        case .authenticationCancelled:
            let tag = authenticationTag ?? "*"
            authentication = nil
            return [tagged(tag, .bad, nil, "Authentication cancelled")]
        case .command(let command):
            return handle(command)
        }
    }

    private var authenticationTag: String? {
        switch authentication {
        case .exchange(let tag, _, _, _)?, .awaitingFinal(let tag, _)?: return tag
        case nil: return nil
        }
    }

    private mutating func handle(_ command: IMAPCommand) -> [SessionAction<Event>] {
        let tag = command.tag
        switch command.kind {
        case .capability:
            errors = 0
            return [
                send(.untaggedData("CAPABILITY " + capabilities.joined(separator: " "))),
                tagged(tag, .ok, nil, "Capability completed"),
            ]
        case .logout:
            isLoggingOut = true
            return [
                send(.untagged(.bye, code: nil, text: "Logging out")),
                tagged(tag, .ok, nil, "Logout completed"),
                .close,
            ]
        case .startTLS:
            guard account == nil else { return bad(tag, "Already logged in") }
            guard !isTLS else { return bad(tag, "TLS is already active") }
            guard context.canStartTLS else { return bad(tag, "TLS is not available") }
            errors = 0
            return [tagged(tag, .ok, nil, "Begin TLS negotiation now"), .startTLS]
        case .login(let username, let password):
            guard account == nil else { return bad(tag, "Already logged in") }
            guard mayAuthenticateInPlaintext else {
                return [tagged(tag, .no, .privacyRequired, "Plaintext authentication disallowed on non-secure connections")]
            }
            return verify(tag: tag, login: username, password: password)
        case .authenticate(let mechanismName, let initialResponse):
            guard account == nil else { return bad(tag, "Already logged in") }
            guard let mechanism = SASLMechanism(name: mechanismName), services.mechanisms.contains(mechanism) else {
                return [tagged(tag, .no, .cannot, "Unsupported authentication mechanism")]
            }
            guard !mechanism.isPlaintext || mayAuthenticateInPlaintext else {
                return [tagged(tag, .no, .privacyRequired, "Plaintext authentication disallowed on non-secure connections")]
            }
            var sasl = SASLServerStateMachine(mechanism: mechanism)
            let action = sasl.start(initialResponse: initialResponse)
            return saslStep(tag: tag, &sasl, action, mechanism: mechanism, login: nil)
        case .idle:
            guard account != nil else { return bad(tag, "Please log in first") }
            idleGeneration += 1
            let generation = idleGeneration
            idle = (tag, generation)
            framer.mode = .idle(tag: tag)
            return [send(.continuation("idling")), idleUpdates(generation: generation)]
        case .noop where account == nil:
            return [tagged(tag, .ok, nil, "NOOP completed")]
        default:
            guard account != nil else {
                return bad(tag, "Please log in first")
            }
            let connection = self.connection
            return [.run { .step(await connection.execute(command)) }]
        }
    }

    // MARK: - Authentication

    private var mayAuthenticateInPlaintext: Bool { isTLS || services.allowPlaintextAuth }

    private func attempt(_ login: String, password: String) -> LoginAttempt {
        LoginAttempt(
            login: login, password: password, remoteAddress: context.remoteAddress, service: context.service,
            session: context.sessionID)
    }

    private func verify(tag: String, login: String, password: String) -> [SessionAction<Event>] {
        let attempt = self.attempt(login, password: password)
        let authenticator = services.authenticator
        let connection = self.connection
        return [
            .run {
                let outcome = await authenticator.authenticate(attempt).loginOutcome
                if case .success(let user) = outcome { await connection.loggedIn(user: user) }
                return .login(tag: tag, outcome)
            }
        ]
    }

    private mutating func authenticationResponse(_ bytes: [UInt8]) -> [SessionAction<Event>] {
        switch authentication {
        case .exchange(let tag, var sasl, let mechanism, let login)?:
            authentication = nil
            let action = sasl.receive(bytes)
            return saslStep(tag: tag, &sasl, action, mechanism: mechanism, login: login)
        case .awaitingFinal(let tag, let login)?:
            authentication = nil
            guard bytes.isEmpty else {
                return recordSCRAM(tag: tag, login: login, success: false)
            }
            return recordSCRAM(tag: tag, login: login, success: true)
        case nil:
            return []
        }
    }

    private mutating func saslStep(
        tag: String, _ sasl: inout SASLServerStateMachine, _ action: SASLServerStateMachine.Action,
        mechanism: SASLMechanism, login: String?
    ) -> [SessionAction<Event>] {
        switch action {
        case .challenge(let bytes):
            authentication = .exchange(tag: tag, sasl, mechanism, login: login)
            framer.mode = .authenticate(tag: tag)
            return [send(.continuation(Base64.encode(bytes)))]
        case .verifyPassword(let authorizationID, let authenticationID, let password):
            // Acting as another user (RFC 4422 §3.4.1) is not supported.
            if let authorizationID, !authorizationID.isEmpty, authorizationID.lowercased() != authenticationID.lowercased() {
                return [tagged(tag, .no, .authorizationFailed, "Authorization failed")]
            }
            return verify(tag: tag, login: authenticationID, password: password)
        case .fetchSCRAMCredentials(let authenticationID):
            authentication = .exchange(tag: tag, sasl, mechanism, login: authenticationID)
            let attempt = self.attempt(authenticationID, password: "")
            let authenticator = services.authenticator
            return [
                .run {
                    switch await authenticator.scramCredentials(attempt) {
                    case .credentials(let keys): return .scram(tag: tag, keys, throttled: false)
                    case .throttled, .temporaryFailure: return .scram(tag: tag, nil, throttled: true)
                    }
                }
            ]
        case .success(let authorizationID, let rawAuthenticationID, let serverFinal):
            let authenticationID = MailAddress(rawAuthenticationID)?.canonical ?? rawAuthenticationID
            if let authorizationID, !authorizationID.isEmpty, authorizationID.lowercased() != authenticationID.lowercased() {
                return recordSCRAM(tag: tag, login: authenticationID, success: false, code: .authorizationFailed)
            }
            if let serverFinal {
                authentication = .awaitingFinal(tag: tag, login: authenticationID)
                framer.mode = .authenticate(tag: tag)
                return [send(.continuation(Base64.encode(serverFinal)))]
            }
            return recordSCRAM(tag: tag, login: authenticationID, success: true)
        case .failure(let error):
            var actions: [SessionAction<Event>] = []
            if mechanism == .scramSHA256, let login {
                actions += recordSCRAM(tag: tag, login: login, success: false)
                return actions
            }
            switch error.kind {
            case .cancelled: return [tagged(tag, .bad, nil, "Authentication cancelled")]
            case .malformed, .tooLong, .unsupported: return [tagged(tag, .bad, nil, "Invalid authentication data")]
            case .authenticationFailed: return [tagged(tag, .no, .authenticationFailed, "Authentication failed")]
            case .wrongState: return [tagged(tag, .no, .unavailable, "Temporary authentication failure")]
            }
        }
    }

    /// Ends a SCRAM exchange: the authenticator counts the outcome (throttling), and a
    /// success logs the user in.
    private func recordSCRAM(
        tag: String, login: String, success: Bool, code: IMAPResponseCode = .authenticationFailed
    ) -> [SessionAction<Event>] {
        let attempt = self.attempt(login, password: "")
        let authenticator = services.authenticator
        let connection = self.connection
        return [
            .run {
                await authenticator.recordSCRAMOutcome(attempt, success: success)
                guard success else { return .login(tag: tag, .failure) }
                await connection.loggedIn(user: login)
                return .login(tag: tag, .success(login))
            }
        ]
    }

    private mutating func loginFinished(tag: String, _ outcome: LoginOutcome) -> [SessionAction<Event>] {
        switch outcome {
        case .success(let user):
            account = user
            errors = 0
            // Between commands: the framer holds nothing. From now on messages may come.
            if !framer.isInCommand { framer = IMAPCommandFramer(limits: services.limits) }
            services.logger.info(
                "imap login", metadata: ["session": "\(context.sessionID)", "user": "\(user)", "tls": "\(isTLS)"])
            return [tagged(tag, .ok, .capability(capabilities), "Logged in")]
        case .failure, .throttled:
            var actions = [tagged(tag, .no, .authenticationFailed, "Authentication failed")]
            countError(into: &actions)
            return actions
        case .temporaryFailure:
            return [tagged(tag, .no, .unavailable, "Temporary authentication failure, try again later")]
        }
    }

    // MARK: - IDLE

    /// Looks at the selected mailbox for the idling client; the notifier's generation is
    /// read first, so a change posted while looking wakes the next wait at once.
    private func idleUpdates(generation: UInt64) -> SessionAction<Event> {
        let connection = self.connection
        let notifier = services.notifier
        let account = self.account ?? ""
        return .run {
            let seen = notifier?.generation(account: account) ?? 0
            return .idleUpdate(generation: generation, await connection.updates(), seen: seen)
        }
    }

    /// Ends IDLE and the wait that goes with it.
    private mutating func endIdle() {
        idle = nil
        if let id = idleWaitID, let notifier = services.notifier {
            notifier.cancel(account: account ?? "", id: id)
        }
        idleWaitID = nil
    }

    private mutating func waitForChanges(generation: UInt64, since seen: UInt64) -> SessionAction<Event> {
        let notifier = services.notifier
        let interval = services.idleCheckInterval
        let account = self.account ?? ""
        let id = notifier?.makeWaitID()
        idleWaitID = id
        return .spawn {
            if let notifier {
                await notifier.wait(account: account, since: seen, timeout: interval, id: id)
            } else {
                try? await Task.sleep(for: interval)
            }
            return .idleWake(generation: generation)
        }
    }

    // MARK: - Capabilities and replies

    /// What this connection can do now (RFC 9051 §6.1.1: it changes with TLS and login).
    var capabilities: [String] {
        var list = ["IMAP4rev1", "IMAP4rev2", "SASL-IR", "LITERAL-", "ENABLE", "IDLE"]
        if account == nil {
            if context.canStartTLS && !isTLS { list.append("STARTTLS") }
            if !mayAuthenticateInPlaintext { list.append("LOGINDISABLED") }
            for mechanism in services.mechanisms where !mechanism.isPlaintext || mayAuthenticateInPlaintext {
                list.append("AUTH=" + mechanism.name)
            }
        } else {
            list += [
                "NAMESPACE", "UNSELECT", "UIDPLUS", "MOVE", "CHILDREN", "LIST-EXTENDED", "LIST-STATUS", "SPECIAL-USE",
                "CREATE-SPECIAL-USE", "ESEARCH", "SEARCHRES", "BINARY", "MULTIAPPEND", "STATUS=SIZE", "UTF8=ACCEPT",
                "APPENDLIMIT=\(services.limits.maximumMessageSize)",
            ]
        }
        return list
    }

    private func send(_ response: IMAPResponse) -> SessionAction<Event> { .send(response.encoded) }

    private func tagged(
        _ tag: String, _ status: IMAPResponse.Status, _ code: IMAPResponseCode?, _ text: String
    ) -> SessionAction<Event> {
        send(.tagged(tag: tag, status: status, code: code, text: text))
    }

    private mutating func bad(_ tag: String, _ text: String) -> [SessionAction<Event>] {
        var actions = [tagged(tag, .bad, nil, text)]
        countError(into: &actions)
        return actions
    }

    private mutating func countError(into actions: inout [SessionAction<Event>]) {
        errors += 1
        guard errors >= Self.maximumErrors else { return }
        isLoggingOut = true
        actions.append(send(.untagged(.bye, code: nil, text: "Too many invalid commands")))
        actions.append(.close)
    }
}
