public import NIOCore
public import SASL
import Foundation
import MailCore

/// One SMTP server session, as a value: feed it what the client sent and what the
/// directory and the store answered; it returns what to do.
///
///     S: 220 host ESMTP            greeting()
///     C: EHLO client               receive(line:)         → .send(250-…)
///     C: MAIL FROM:<a@b>           receive(line:)         → .checkSender (submission) / .send(250)
///     C: RCPT TO:<c@d>             receive(line:)         → .resolveRecipient(c@d)
///                                  recipientResolved(…)   → .send(250 / 550 / 554)
///     C: DATA                      receive(line:)         → .send(354); wantsRawInput = true
///     C: …message….                receive(raw:)          → .store(transaction, message, trace)
///                                  stored(…)              → .send(250 2.0.0 queued as …)
///
/// The session never performs I/O: `SMTPServer` runs each asynchronous action and
/// feeds the result back, one at a time (reading is paused meanwhile, so pipelined
/// commands are answered strictly in order, RFC 2920 §3).
///
/// Roles: `.mx` (port 25) accepts mail for local recipients from anyone and relays
/// only for authenticated clients; `.submission` (587/465) requires AUTH before MAIL
/// and checks that the login owns the sender address.
///
/// - SeeAlso: RFC 5321 §4.1.4 (command order), §3.3 (mail transactions), RFC 4954, RFC 3030, RFC 2920
public struct SMTPServerStateMachine {
    public enum Role: Sendable, Equatable {
        case mx
        case submission
    }

    public struct Configuration: Sendable {
        public var role: Role
        public var hostname: String
        public var limits = SMTPLimits()
        /// Accept AUTH on connections without TLS (`[auth] allow_plaintext`).
        public var allowPlaintextAuth = false
        /// Mechanisms offered after TLS (or always, with `allowPlaintextAuth`).
        public var mechanisms: [SASLMechanism] = [.plain, .login]
        public var bareLineEndings: DataDecoder.BareLineEndings = .reject
        /// Put the TLS version into `Received:` (Postfix `smtpd_tls_received_header`).
        public var receivedHeaderShowsTLS = false
        /// Put the login into `Received:` (Postfix `smtpd_sasl_authenticated_header`).
        public var receivedHeaderShowsLogin = false

        public init(role: Role, hostname: String) {
            self.role = role
            self.hostname = hostname
        }
    }

    public struct Connection: Sendable {
        public var sessionID: String
        public var remoteAddress: String
        public var isTLS: Bool
        public var canStartTLS: Bool

        public init(sessionID: String, remoteAddress: String, isTLS: Bool, canStartTLS: Bool) {
            self.sessionID = sessionID
            self.remoteAddress = remoteAddress
            self.isTLS = isTLS
            self.canStartTLS = canStartTLS
        }
    }

    /// The outcome of a login, as the authenticator reports it.
    public typealias AuthenticationOutcome = LoginOutcome

    /// The outcome of storing a message durably.
    public enum StoreOutcome: Sendable, Equatable {
        case stored(queueID: String)
        case temporaryFailure
        case mailboxFull
        /// The store refused the size (a file system limit): permanent, 552 5.3.4.
        case messageTooBig
    }

    public enum Action: Sendable {
        case send(SMTPReply)
        /// Switch to TLS now (the 220 was sent just before this action).
        case startTLS
        case close
        /// Ask the directory about a recipient, then call `recipientResolved`.
        case resolveRecipient(SMTPMailbox)
        /// `RCPT TO:<Postmaster>` without a domain (RFC 5321 §4.1.1.3): find the
        /// postmaster of the server's own domain, then call `recipientResolved`.
        case resolvePostmaster
        /// Submission: may `login` use `sender`? Then call `senderChecked`.
        case checkSender(login: String, sender: SMTPMailbox)
        /// Check a password through the authenticator, then call `authenticationFinished`.
        case verifyPassword(login: String, password: String)
        /// SCRAM: fetch the stored keys (or nil) through the authenticator, then call
        /// `scramCredentialsFetched`.
        case fetchSCRAMCredentials(login: String)
        /// SCRAM finished: record the outcome with the authenticator (throttling, log).
        case recordSCRAMOutcome(login: String, success: Bool)
        /// Store the message durably for every recipient, then call `stored`.
        /// `trace` is what the `Received:` header says; the server adds the date.
        /// `number` counts the messages of this session (1, 2, …), for unique queue IDs.
        case store(SMTPTransaction, message: ByteBuffer, trace: ReceivedTrace, number: Int)
    }

    private enum State {
        case connected
        case ready
        case transaction(SMTPTransaction)
        case data(SMTPTransaction, DataDecoder)
        /// Reading a BDAT chunk. `transaction` is nil when the chunk is read only to be
        /// discarded (the command was refused, RFC 3030 §3.2 still needs the bytes read).
        case chunk(SMTPTransaction?, message: ByteBuffer, remaining: Int, isLast: Bool, refusal: SMTPReply?)
        /// Between BDAT chunks.
        case chunking(SMTPTransaction, message: ByteBuffer)
        case authenticating(SASLServerStateMachine, mechanism: SASLMechanism, login: String?)
        /// SCRAM's server-final message was sent; an empty line completes the login.
        case awaitingFinalResponse(login: String)
        case waiting(Waiting)
        case closed
    }

    private enum Waiting {
        case sender(ReversePath, MailParameters)
        case recipient(SMTPTransaction, ForwardPath, RecipientParameters)
        case password(login: String)
        case scramKeys(SASLServerStateMachine, login: String)
        case store
    }

    public let configuration: Configuration
    private var connection: Connection
    private var state = State.connected
    private var heloName: String?
    private var isExtended = false
    private var authenticatedUser: String?
    private var tlsVersion: String?
    private var errors = 0
    private var junkCommands = 0
    private var commands = 0
    private var isShutdownPending = false
    private var chunkWasEmpty = false
    /// Messages stored in this session, for unique queue IDs.
    private var messagesStored = 0

    public init(configuration: Configuration, connection: Connection) {
        self.configuration = configuration
        self.connection = connection
    }

    /// The login of this session, once authenticated.
    public var login: String? { authenticatedUser }

    /// True while the next input is message data (DATA body or a BDAT chunk), not lines.
    public var wantsRawInput: Bool {
        switch state {
        case .data, .chunk: return true
        default: return false
        }
    }

    // MARK: - Events

    public mutating func greeting() -> [Action] {
        [.send(SMTPReply(220, nil, "\(configuration.hostname) ESMTP Tsubame"))]
    }

    public mutating func receive(line: [UInt8]) -> [Action] {
        finishingShutdown(handleReceive(line: line))
    }

    private mutating func handleReceive(line: [UInt8]) -> [Action] {
        commands += 1
        if case .authenticating(var sasl, let mechanism, let login) = state {
            return continueAuthentication(&sasl, mechanism: mechanism, login: login, line: line)
        }
        if case .awaitingFinalResponse(let login) = state {
            return finishAuthentication(login: login, line: line)
        }
        // RFC 5321 §4.5.3.1.4: command lines are short; only AUTH data lines (above)
        // may be longer (RFC 4954 §4: 12288 octets), so the framing limit is theirs.
        guard line.count <= configuration.limits.maximumCommandLineLength else { return refuse(.lineTooLong) }
        switch SMTPCommandParser.parse(line) {
        case .success(let command):
            return handle(command)
        case .failure(let error):
            if error.isUnrecognized && commands == 1 {
                // A peer whose first line is not SMTP (an HTTP client, a port scanner)
                // gets one answer and is disconnected (STYLE.md §4).
                state = .closed
                return [.send(error.reply), .close]
            }
            return refuse(error.reply)
        }
    }

    public mutating func lineTooLong() -> [Action] {
        finishingShutdown(handleLineTooLong())
    }

    private mutating func handleLineTooLong() -> [Action] {
        switch state {
        case .authenticating, .awaitingFinalResponse:
            state = .ready
            return refuse(.authenticationMalformed)
        default:
            return refuse(.lineTooLong)
        }
    }

    /// Message bytes while `wantsRawInput`.
    public mutating func receive(raw buffer: inout ByteBuffer) -> [Action] {
        finishingShutdown(handleReceive(raw: &buffer))
    }

    private mutating func handleReceive(raw buffer: inout ByteBuffer) -> [Action] {
        switch state {
        case .data(let transaction, var decoder):
            switch decoder.decode(&buffer) {
            case .needMoreData:
                state = .data(transaction, decoder)
                return []
            case .complete:
                if decoder.isTooBig {
                    state = .ready
                    return refuse(.messageTooBig)
                }
                if decoder.sawBareLineEnding && configuration.bareLineEndings == .reject {
                    state = .ready
                    return refuse(.bareLineEnding)
                }
                return store(transaction, message: decoder.message)
            }
        case .chunk(let transaction, var message, let remaining, let isLast, let refusal):
            let count = min(remaining, buffer.readableBytes)
            if transaction != nil && refusal == nil && message.readableBytes + count <= configuration.limits.maximumMessageSize {
                var slice = buffer.readSlice(length: count) ?? ByteBuffer()
                message.writeBuffer(&slice)
            } else {
                buffer.moveReaderIndex(forwardBy: count)
            }
            let left = remaining - count
            guard left == 0 else {
                state = .chunk(transaction, message: message, remaining: left, isLast: isLast, refusal: refusal)
                return []
            }
            return finishChunk(transaction, message: message, isLast: isLast, refusal: refusal)
        default:
            return []
        }
    }

    public mutating func tlsEstablished(version: String) -> [Action] {
        // RFC 3207 §4.2: forget everything learned before TLS; the client starts over with EHLO.
        connection.isTLS = true
        tlsVersion = version
        authenticatedUser = nil
        heloName = nil
        isExtended = false
        state = .connected
        return []
    }

    public mutating func recipientResolved(_ lookup: RecipientLookup) -> [Action] {
        finishingShutdown(handleRecipientResolved(lookup))
    }

    private mutating func handleRecipientResolved(_ lookup: RecipientLookup) -> [Action] {
        guard case .waiting(.recipient(var transaction, let path, let parameters)) = state else { return [] }
        state = .transaction(transaction)
        let mailbox: SMTPMailbox
        var lookup = lookup
        switch path {
        case .postmaster:
            mailbox = SMTPMailbox(localPart: "postmaster", domain: .name(configuration.hostname))
            // `<Postmaster>` is always ours (RFC 5321 §4.5.1): never relayed, never denied as relay.
            if lookup == .notLocalDomain { lookup = .unknownUser }
        case .mailbox(let value):
            mailbox = value
        }
        switch lookup {
        case .temporaryFailure:
            return refuse(SMTPReply(451, .init(4, 3, 0), "Recipient address rejected: temporary lookup failure"))
        case .unknownUser:
            return refuse(.userUnknown)
        case .notLocalDomain:
            // The open-relay rule: only authenticated clients may send elsewhere.
            guard authenticatedUser != nil else { return refuse(.relayDenied) }
            transaction.recipients.append(
                AcceptedRecipient(path: path, parameters: parameters, local: [], remote: [mailbox.description]))
        case .deliver(let local, let forward):
            transaction.recipients.append(
                AcceptedRecipient(path: path, parameters: parameters, local: local, remote: forward))
        }
        state = .transaction(transaction)
        return [.send(.recipientOK)]
    }

    public mutating func senderChecked(allowed: Bool) -> [Action] {
        finishingShutdown(handleSenderChecked(allowed: allowed))
    }

    private mutating func handleSenderChecked(allowed: Bool) -> [Action] {
        guard case .waiting(.sender(let path, let parameters)) = state else { return [] }
        state = .ready
        guard allowed else { return refuse(.senderNotOwned) }
        state = .transaction(SMTPTransaction(sender: path, parameters: parameters))
        return [.send(.senderOK)]
    }

    public mutating func authenticationFinished(_ outcome: AuthenticationOutcome) -> [Action] {
        finishingShutdown(handleAuthenticationFinished(outcome))
    }

    private mutating func handleAuthenticationFinished(_ outcome: AuthenticationOutcome) -> [Action] {
        guard case .waiting(.password) = state else { return [] }
        state = .ready
        switch outcome {
        case .success(let user):
            authenticatedUser = user
            return [.send(.authenticated)]
        case .failure:
            return refuse(.authenticationFailed)
        case .throttled, .temporaryFailure:
            return refuse(.authenticationThrottled)
        }
    }

    /// SCRAM keys looked up; `throttled` when the authenticator refuses this attempt.
    public mutating func scramCredentialsFetched(_ keys: SCRAMServerKeys?, throttled: Bool) -> [Action] {
        finishingShutdown(handleScramCredentialsFetched(keys, throttled: throttled))
    }

    private mutating func handleScramCredentialsFetched(_ keys: SCRAMServerKeys?, throttled: Bool) -> [Action] {
        guard case .waiting(.scramKeys(var sasl, let login)) = state else { return [] }
        if throttled {
            state = .ready
            return refuse(.authenticationThrottled)
        }
        let action = sasl.scramCredentialsFetched(keys)
        return saslStep(&sasl, action, mechanism: .scramSHA256, login: login)
    }

    public mutating func stored(_ outcome: StoreOutcome) -> [Action] {
        finishingShutdown(handleStored(outcome))
    }

    private mutating func handleStored(_ outcome: StoreOutcome) -> [Action] {
        guard case .waiting(.store) = state else { return [] }
        state = .ready
        var actions: [Action]
        switch outcome {
        case .stored(let queueID):
            actions = [.send(.ok("Ok: queued as \(queueID)"))]
        case .temporaryFailure:
            actions = refuse(.temporaryFailure)
        case .mailboxFull:
            actions = refuse(SMTPReply(452, .init(4, 2, 2), "Mailbox full"))
        case .messageTooBig:
            actions = refuse(.messageTooBig)
        }
        return actions
    }

    /// A shutdown that arrived while work was in flight takes effect as soon as the
    /// session is between commands again.
    private mutating func finishingShutdown(_ actions: [Action]) -> [Action] {
        guard isShutdownPending else { return actions }
        switch state {
        case .data, .chunk, .chunking, .waiting, .closed:
            return actions
        default:
            if actions.contains(where: { if case .close = $0 { return true } else { return false } }) { return actions }
            state = .closed
            return actions + [.send(.shuttingDown(configuration.hostname)), .close]
        }
    }

    public mutating func idleTimeout() -> [Action] {
        state = .closed
        return [.send(.idleTimeout(configuration.hostname)), .close]
    }

    /// Server shutdown: close now unless a message is being received or stored; then
    /// finish it first (the client gets its 250 before the 421).
    public mutating func shutdown() -> [Action] {
        switch state {
        case .data, .chunk, .chunking, .waiting:
            isShutdownPending = true
            return []
        default:
            state = .closed
            return [.send(.shuttingDown(configuration.hostname)), .close]
        }
    }

    // MARK: - Commands

    private var isInTransaction: Bool {
        switch state {
        case .transaction, .chunking: return true
        default: return false
        }
    }

    private var authAvailable: Bool {
        connection.isTLS || configuration.allowPlaintextAuth
    }

    private mutating func handle(_ command: SMTPCommand) -> [Action] {
        switch command {
        case .ehlo(let name): return hello(name, extended: true)
        case .helo(let name): return hello(name, extended: false)
        case .mail(let path, let parameters): return mail(path, parameters)
        case .rcpt(let path, let parameters): return rcpt(path, parameters)
        case .data: return data()
        case .bdat(let size, let isLast): return bdat(size: size, isLast: isLast)
        case .rset:
            if case .connected = state {} else { state = .ready }
            return junk(.ok())
        case .noop:
            return junk(.ok())
        case .quit:
            state = .closed
            return [.send(.bye), .close]
        case .vrfy:
            // RFC 5321 §3.5.3: 252 when we will not verify — no account probing.
            return junk(.cannotVerify)
        case .expn:
            return refuse(SMTPReply(502, .init(5, 5, 1), "Error: EXPN not available"))
        case .help:
            return junk(SMTPReply(214, .init(2, 0, 0), "See https://www.rfc-editor.org/rfc/rfc5321"))
        case .startTLS: return startTLS()
        case .auth(let mechanism, let response): return auth(mechanism, initialResponse: response)
        }
    }

    private mutating func hello(_ name: String, extended: Bool) -> [Action] {
        // RFC 5321 §4.1.4: EHLO/HELO in a transaction acts as RSET.
        if heloName != nil { junkCommands += 1 }
        heloName = name
        isExtended = extended
        state = .ready
        if junkCommands > configuration.limits.maximumJunkCommands { return tooManyErrors() }
        guard extended else { return [.send(SMTPReply(250, nil, configuration.hostname))] }
        var lines = [configuration.hostname, "PIPELINING", "SIZE \(configuration.limits.maximumMessageSize)"]
        if connection.canStartTLS && !connection.isTLS { lines.append("STARTTLS") }
        if authAvailable && authenticatedUser == nil && !configuration.mechanisms.isEmpty {
            lines.append("AUTH " + configuration.mechanisms.map(\.rawValue).joined(separator: " "))
        }
        lines += ["ENHANCEDSTATUSCODES", "8BITMIME", "BINARYMIME", "CHUNKING", "DSN", "SMTPUTF8"]
        return [.send(SMTPReply(250, nil, lines))]
    }

    private mutating func startTLS() -> [Action] {
        guard connection.canStartTLS && !connection.isTLS else {
            return refuse(.badSequence(connection.isTLS ? "TLS already active" : "STARTTLS not available"))
        }
        guard !isInTransaction else { return refuse(.badSequence("STARTTLS not allowed in a mail transaction")) }
        return [.send(.readyToStartTLS), .startTLS]
    }

    private mutating func mail(_ path: ReversePath, _ parameters: MailParameters) -> [Action] {
        guard heloName != nil else { return refuse(.badSequence("send HELO/EHLO first")) }
        guard !isInTransaction else { return refuse(.badSequence("nested MAIL command")) }
        if configuration.role == .submission {
            guard connection.isTLS || configuration.allowPlaintextAuth else { return refuse(.encryptionRequired) }
            guard authenticatedUser != nil else { return refuse(.authenticationRequired) }
        }
        if let size = parameters.size, size > configuration.limits.maximumMessageSize { return refuse(.messageTooBig) }
        if case .mailbox(let mailbox) = path, !mailbox.isASCII, !parameters.smtpUTF8 { return refuse(.utf8NotDeclared) }
        if !isExtended && (parameters != MailParameters()) {
            return refuse(.parameterSyntax("Error: parameters need EHLO"))
        }
        // Whoever is logged in — on submission, or on port 25 after STARTTLS + AUTH —
        // must own the sender (Postfix reject_sender_login_mismatch). The null sender
        // is allowed, as in Postfix: it cannot be impersonated.
        if case .mailbox(let mailbox) = path, let login = authenticatedUser {
            state = .waiting(.sender(path, parameters))
            return [.checkSender(login: login, sender: mailbox)]
        }
        state = .transaction(SMTPTransaction(sender: path, parameters: parameters))
        return [.send(.senderOK)]
    }

    private mutating func rcpt(_ path: ForwardPath, _ parameters: RecipientParameters) -> [Action] {
        guard case .transaction(let transaction) = state else { return refuse(.badSequence("need MAIL command")) }
        guard transaction.recipients.count < configuration.limits.maximumRecipients else {
            return refuse(.tooManyRecipients)
        }
        state = .waiting(.recipient(transaction, path, parameters))
        switch path {
        case .postmaster:
            return [.resolvePostmaster]
        case .mailbox(let mailbox):
            if !mailbox.isASCII && !transaction.parameters.smtpUTF8 {
                state = .transaction(transaction)
                return refuse(.utf8NotDeclared)
            }
            return [.resolveRecipient(mailbox)]
        }
    }

    private mutating func data() -> [Action] {
        guard case .transaction(let transaction) = state else {
            if case .chunking = state { return refuse(.badSequence("DATA not allowed after BDAT")) }
            return refuse(.badSequence("need RCPT command"))
        }
        guard !transaction.recipients.isEmpty else { return refuse(.noValidRecipients) }
        // RFC 3030 §3: BINARYMIME content cannot be sent with DATA.
        guard transaction.parameters.body != .binaryMIME else { return refuse(.binaryNeedsChunking) }
        state = .data(
            transaction,
            DataDecoder(maximumSize: configuration.limits.maximumMessageSize, bareLineEndings: configuration.bareLineEndings))
        return [.send(.startData)]
    }

    /// RFC 3030 §2: the chunk's bytes follow the command line and are always read,
    /// even when the command is refused.
    private mutating func bdat(size: Int, isLast: Bool) -> [Action] {
        var refusal: SMTPReply? = nil
        var transaction: SMTPTransaction? = nil
        var message = ByteBuffer()
        switch state {
        case .transaction(let current):
            if current.recipients.isEmpty {
                refusal = .noValidRecipients
            } else {
                transaction = current
            }
        case .chunking(let current, let partial):
            transaction = current
            message = partial
        default:
            refusal = .badSequence("need MAIL and RCPT commands")
        }
        if refusal == nil, message.readableBytes + size > configuration.limits.maximumMessageSize {
            refusal = .messageTooBig
        }
        state = .chunk(transaction, message: message, remaining: size, isLast: isLast, refusal: refusal)
        chunkWasEmpty = size == 0
        if size == 0 {
            var empty = ByteBuffer()
            return receive(raw: &empty)
        }
        return []
    }

    private mutating func finishChunk(
        _ transaction: SMTPTransaction?, message: ByteBuffer, isLast: Bool, refusal: SMTPReply?
    ) -> [Action] {
        defer { chunkWasEmpty = false }
        if let refusal {
            // A refused chunk ends the transaction (RFC 3030 §3.2: RSET is implied).
            if transaction != nil || isInTransaction { state = .ready } else { state = heloName == nil ? .connected : .ready }
            return refuse(refusal)
        }
        guard let transaction else {
            state = .ready
            return refuse(.badSequence("need MAIL and RCPT commands"))
        }
        guard isLast else {
            state = .chunking(transaction, message: message)
            let reply = SMTPReply.ok("Ok: \(message.readableBytes) octets received")
            // An empty chunk that is not the last one moves nothing forward.
            return chunkWasEmpty ? junk(reply) : [.send(reply)]
        }
        return store(transaction, message: message)
    }

    private mutating func store(_ transaction: SMTPTransaction, message: ByteBuffer) -> [Action] {
        state = .waiting(.store)
        let tls = connection.isTLS
        let authenticated = authenticatedUser != nil
        let utf8 = transaction.parameters.smtpUTF8
        // RFC 3848 §2 protocol types.
        let type = (utf8 ? "UTF8SMTP" : (isExtended ? "ESMTP" : "SMTP")) + (tls ? "S" : "") + (authenticated ? "A" : "")
        let single: String?
        if transaction.recipients.count == 1, let only = transaction.recipients.first {
            switch only.path {
            case .postmaster: single = "postmaster@\(configuration.hostname)"
            case .mailbox(let mailbox): single = mailbox.description
            }
        } else {
            single = nil
        }
        let trace = ReceivedTrace(
            heloName: heloName ?? "unknown", remoteAddress: connection.remoteAddress, hostname: configuration.hostname,
            protocolType: type, sessionID: connection.sessionID,
            tlsVersion: configuration.receivedHeaderShowsTLS ? tlsVersion : nil,
            authenticatedUser: configuration.receivedHeaderShowsLogin ? authenticatedUser : nil,
            singleRecipient: single)
        messagesStored += 1
        return [.store(transaction, message: message, trace: trace, number: messagesStored)]
    }

    // MARK: - AUTH (RFC 4954)

    private mutating func auth(_ name: String, initialResponse: String?) -> [Action] {
        guard heloName != nil, isExtended else { return refuse(.badSequence("send EHLO first")) }
        guard authenticatedUser == nil else { return refuse(.badSequence("already authenticated")) }
        guard !isInTransaction else { return refuse(.badSequence("AUTH not allowed in a mail transaction")) }
        guard authAvailable else { return refuse(.encryptionRequiredForAuth) }
        guard let mechanism = SASLMechanism(name: name), configuration.mechanisms.contains(mechanism) else {
            return refuse(.mechanismUnknown)
        }
        var sasl = SASLServerStateMachine(mechanism: mechanism)
        var initial: [UInt8]? = nil
        if let initialResponse {
            // RFC 4954 §4: "=" is an empty initial response.
            guard let decoded = Base64.decodeResponse(initialResponse) else { return refuse(.authenticationMalformed) }
            initial = decoded
        }
        let action = sasl.start(initialResponse: initial)
        return saslStep(&sasl, action, mechanism: mechanism, login: nil)
    }

    private mutating func continueAuthentication(
        _ sasl: inout SASLServerStateMachine, mechanism: SASLMechanism, login: String?, line: [UInt8]
    ) -> [Action] {
        let text = String(decoding: line, as: UTF8.self)
        if text == "*" {
            state = .ready
            _ = sasl.cancel()
            return refuse(.authenticationCancelled)
        }
        guard let decoded = Base64.decodeResponse(text) else {
            state = .ready
            return refuse(.authenticationMalformed)
        }
        let action = sasl.receive(decoded)
        return saslStep(&sasl, action, mechanism: mechanism, login: login)
    }

    private mutating func saslStep(
        _ sasl: inout SASLServerStateMachine, _ action: SASLServerStateMachine.Action, mechanism: SASLMechanism,
        login: String?
    ) -> [Action] {
        switch action {
        case .challenge(let bytes):
            state = .authenticating(sasl, mechanism: mechanism, login: login)
            return [.send(SMTPReply(334, nil, Base64.encode(bytes)))]
        case .verifyPassword(let authorizationID, let authenticationID, let password):
            // We do not support acting as another user.
            if let authorizationID, !authorizationID.isEmpty, authorizationID.lowercased() != authenticationID.lowercased() {
                state = .ready
                return refuse(.authenticationFailed)
            }
            state = .waiting(.password(login: authenticationID))
            return [.verifyPassword(login: authenticationID, password: password)]
        case .fetchSCRAMCredentials(let authenticationID):
            state = .waiting(.scramKeys(sasl, login: authenticationID))
            return [.fetchSCRAMCredentials(login: authenticationID)]
        case .success(let authorizationID, let rawAuthenticationID, let serverFinal):
            // Report the login as the directory writes it, as PLAIN/LOGIN do.
            let authenticationID = MailAddress(rawAuthenticationID)?.canonical ?? rawAuthenticationID
            if let authorizationID, !authorizationID.isEmpty, authorizationID.lowercased() != authenticationID.lowercased() {
                state = .ready
                return [.recordSCRAMOutcome(login: authenticationID, success: false)] + refuse(.authenticationFailed)
            }
            if let serverFinal {
                // RFC 4954 §4: additional data with a successful outcome is sent as a
                // final 334 challenge; the client answers with an empty line, then 235.
                // The outcome is recorded then, not before.
                state = .awaitingFinalResponse(login: authenticationID)
                return [.send(SMTPReply(334, nil, Base64.encode(serverFinal)))]
            }
            authenticatedUser = authenticationID
            state = .ready
            return [.recordSCRAMOutcome(login: authenticationID, success: true), .send(.authenticated)]
        case .failure(let error):
            state = .ready
            var actions: [Action] = []
            if mechanism == .scramSHA256, let login { actions.append(.recordSCRAMOutcome(login: login, success: false)) }
            switch error.kind {
            case .cancelled: return actions + refuse(.authenticationCancelled)
            case .malformed, .tooLong, .unsupported, .wrongState: return actions + refuse(.authenticationMalformed)
            case .authenticationFailed: return actions + refuse(.authenticationFailed)
            }
        }
    }

    /// The client's answer to the final server message of SCRAM: must be empty.
    private mutating func finishAuthentication(login: String, line: [UInt8]) -> [Action] {
        state = .ready
        if line == Array("*".utf8) {
            return [.recordSCRAMOutcome(login: login, success: false)] + refuse(.authenticationCancelled)
        }
        guard line.isEmpty || line == Array("=".utf8) else {
            return [.recordSCRAMOutcome(login: login, success: false)] + refuse(.authenticationMalformed)
        }
        authenticatedUser = login
        return [.recordSCRAMOutcome(login: login, success: true), .send(.authenticated)]
    }

    // MARK: - Errors

    /// Sends an error reply and counts it; past the limit the session ends with 421.
    private mutating func refuse(_ reply: SMTPReply) -> [Action] {
        errors += 1
        if errors >= configuration.limits.maximumErrors {
            return [.send(reply)] + tooManyErrors()
        }
        return [.send(reply)]
    }

    private mutating func junk(_ reply: SMTPReply) -> [Action] {
        junkCommands += 1
        if junkCommands > configuration.limits.maximumJunkCommands { return tooManyErrors() }
        return [.send(reply)]
    }

    private mutating func tooManyErrors() -> [Action] {
        state = .closed
        return [.send(.tooManyErrors(configuration.hostname)), .close]
    }
}
