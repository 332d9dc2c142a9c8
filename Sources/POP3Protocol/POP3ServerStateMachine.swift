public import NIOCore
public import SASL
import Foundation
import MailCore

/// One POP3 server session, as a value: feed it what the client sent and what the
/// authenticator and the store answered; it returns what to do.
///
///     S: +OK Tsubame POP3 ready (<id>)   greeting()
///     C: USER alice@example.test         receive(line:)          → .send(+OK)
///     C: PASS secret                     receive(line:)          → .verifyPassword
///                                        authenticationFinished  → .openMaildrop
///     S: +OK Logged in.                  maildropOpened(.opened) → .send          TRANSACTION
///     C: RETR 1                          receive(line:)          → .readMessage(uid:)
///     S: +OK 120 octets …  .             messageRead(.content)   → .send
///     C: DELE 1                          receive(line:)          → .send(+OK)
///     C: QUIT                            receive(line:)          → .commit        UPDATE
///     S: +OK Logging out, messages deleted   committed(true)     → .send, .close
///
/// The session never performs I/O: `POP3Server` runs each asynchronous action and feeds
/// the result back, one at a time. While `isWaiting`, it reads no further lines into the
/// machine but queues them, so that pipelined commands (RFC 2449 §6.6) are answered
/// strictly in order.
///
/// The maildrop is the message list handed to `maildropOpened`; message numbers are
/// positions in it (RFC 1939 §5). DELE only marks; QUIT in TRANSACTION asks for the
/// expunge (`.commit`). A session that ends any other way — the peer goes away, the idle
/// timer, too many errors, shutdown — deletes nothing and only `.release`s the lock
/// (RFC 1939 §6: "the POP3 session terminates for some reason other than a
/// client-issued QUIT command, the POP3 session does NOT enter the UPDATE state").
///
/// - SeeAlso: RFC 1939 §3–§7, RFC 2449, RFC 2595 §4, RFC 3206, RFC 5034
public struct POP3ServerStateMachine: Sendable {
    public struct Configuration: Sendable {
        public var hostname: String
        /// Shown in the greeting so that a user's report can be matched to the log.
        public var sessionID: String
        /// AUTH mechanisms offered; PLAIN and LOGIN only where plaintext logins are allowed.
        public var mechanisms: [SASLMechanism] = [.plain, .login]
        /// Accept USER/PASS and AUTH PLAIN/LOGIN on connections without TLS
        /// (`[auth] allow_plaintext`).
        public var allowPlaintextAuth = false
        /// STLS is offered: the plain port, with TLS configured.
        public var canStartTLS = false
        /// The connection runs TLS from the start (port 995).
        public var isTLS = false
        /// `-ERR` answers after which the session ends with "-ERR Too many errors".
        public var maximumErrors = POP3Limits.defaultMaximumErrors
        /// The longest line, without CRLF: bounds PASS and AUTH lines; other commands are
        /// bounded by `POP3Limits.maximumCommandLength`.
        public var maximumLineLength = POP3Limits.defaultMaximumLineLength
        /// Announced as `LOGIN-DELAY n` (RFC 2449 §6.8) when set.
        public var loginDelaySeconds: Int? = nil
        /// Announced as `EXPIRE value` (RFC 2449 §6.7): "NEVER", or a number of days.
        public var expire: String? = nil

        public init(hostname: String, sessionID: String) {
            self.hostname = hostname
            self.sessionID = sessionID
        }
    }

    /// One message of the maildrop.
    public struct Message: Sendable, Equatable {
        /// The store's UID, used in `.readMessage` and `.commit`.
        public var uid: UInt32
        /// The octets RETR sends, line ends as CRLF, before byte-stuffing
        /// (`POP3MessageEncoder.transmittedSize`): LIST and STAT report it.
        public var size: Int
        /// The unique-id listing: RFC 1939 §7, 1 to 70 characters in 0x21...0x7E, stable
        /// across sessions.
        public var uidl: String

        public init(uid: UInt32, size: Int, uidl: String) {
            self.uid = uid
            self.size = size
            self.uidl = uidl
        }
    }

    /// The outcome of a login, as the authenticator reports it (`.success` carries the
    /// canonical user name, whose maildrop to open).
    public typealias AuthenticationOutcome = LoginOutcome

    /// The outcome of locking and listing the maildrop.
    public enum MaildropOutcome: Sendable, Equatable {
        /// Locked; the messages in the order to number them 1...n.
        case opened([Message])
        /// Another POP3 session holds the lock (RFC 2449 §8.1.1).
        case inUse
        /// The user logged in less than the configured LOGIN-DELAY ago (RFC 2449 §6.8).
        case loginDelay
        case failed
    }

    /// The outcome of reading one message for RETR or TOP.
    public enum ContentOutcome: Sendable, Equatable {
        /// The raw stored bytes (CRLF or bare LF line ends).
        case content([UInt8])
        case failed
    }

    public enum Action: Sendable, Equatable, CustomStringConvertible {
        /// Complete response bytes, CRLF-terminated; multi-line responses are already
        /// byte-stuffed and end with ".\r\n".
        case send(ByteBuffer)
        /// Start TLS now (the "+OK Begin TLS negotiation" was sent just before), then call
        /// `tlsEstablished()`. Bytes that arrived before the handshake must not be fed as
        /// lines: the machine closes the connection if they are (RFC 2595 §4).
        case startTLS
        /// Check a password through the authenticator, then call `authenticationFinished`.
        case verifyPassword(login: String, password: String)
        /// SCRAM: fetch the stored keys (or nil) through the authenticator, then call
        /// `scramCredentialsFetched`.
        case fetchSCRAMCredentials(login: String)
        /// SCRAM finished: record the outcome with the authenticator (throttling, log).
        case recordSCRAMOutcome(login: String, success: Bool)
        /// The user is authenticated: lock the maildrop and list it, then call
        /// `maildropOpened`.
        case openMaildrop(user: String)
        /// Read the message for RETR or TOP, then call `messageRead`.
        case readMessage(uid: UInt32)
        /// QUIT in TRANSACTION (the UPDATE state, RFC 1939 §6): expunge `deleted`, mark
        /// `seen` \Seen (retrieved with RETR and not deleted), unlock; then call `committed`.
        case commit(deleted: [UInt32], seen: [UInt32])
        /// The session ends without QUIT while the maildrop is locked: delete nothing,
        /// mark `seen` \Seen, unlock. Nothing is called back.
        case release(seen: [UInt32])
        case close

        /// Never the password or the message bytes.
        public var description: String {
            switch self {
            case .send(let buffer): return "send(\(buffer.readableBytes) octets)"
            case .startTLS: return "startTLS"
            case .verifyPassword(let login, _):
                return "verifyPassword(login: \(String(reflecting: login)), password: <redacted>)"
            case .fetchSCRAMCredentials(let login): return "fetchSCRAMCredentials(login: \(String(reflecting: login)))"
            case .recordSCRAMOutcome(let login, let success):
                return "recordSCRAMOutcome(login: \(String(reflecting: login)), success: \(success))"
            case .openMaildrop(let user): return "openMaildrop(user: \(String(reflecting: user)))"
            case .readMessage(let uid): return "readMessage(uid: \(uid))"
            case .commit(let deleted, let seen): return "commit(deleted: \(deleted), seen: \(seen))"
            case .release(let seen): return "release(seen: \(seen))"
            case .close: return "close"
            }
        }
    }

    /// The states of RFC 1939 §3, with the steps in between.
    private enum State: Sendable {
        /// AUTHORIZATION; `user` after a USER command.
        case authorization(user: String?)
        /// STLS answered; waiting for `tlsEstablished()`.
        case startingTLS
        /// An AUTH exchange waits for the client's next response line.
        case authenticating(SASLServerStateMachine, mechanism: SASLMechanism, login: String?)
        /// SCRAM's server-final message was sent as a challenge; an empty line completes
        /// the login (RFC 5034 §4, as RFC 4954 §4 for SMTP).
        case awaitingFinalResponse(login: String)
        /// An action is outstanding.
        case waiting(Waiting)
        /// TRANSACTION: `maildrop` is set.
        case transaction
        /// UPDATE: `.commit` is outstanding (RFC 1939 §6).
        case update(hasDeletions: Bool)
        case closed
    }

    private enum Waiting: Sendable {
        case password(login: String)
        case scramKeys(SASLServerStateMachine, login: String)
        case maildrop(user: String)
        /// RETR (`bodyLines` nil) or TOP.
        case message(number: Int, bodyLines: Int?)
    }

    /// The two states in which commands are read (RFC 1939 §3).
    private enum Phase: Sendable {
        case authorization
        case transaction
    }

    public let configuration: Configuration
    private var state = State.authorization(user: nil)
    private var isSecure: Bool
    private var maildrop: Maildrop?
    private var authenticatedUser: String?
    private var errors = 0
    private var commands = 0
    private var isShutdownPending = false

    public init(configuration: Configuration) {
        self.configuration = configuration
        self.isSecure = configuration.isTLS
    }

    /// An action is outstanding: lines that arrive meanwhile are queued by the caller and
    /// fed after the answer.
    public var isWaiting: Bool {
        switch state {
        case .waiting, .update: return true
        default: return false
        }
    }

    /// The canonical user once logged in.
    public var user: String? { authenticatedUser }

    /// Whether the session is in TRANSACTION (the maildrop is locked and listed).
    public var isInTransaction: Bool {
        if case .transaction = state { return true }
        return false
    }

    /// Whether the session has ended (a `.close` was returned, or the peer went away).
    public var isClosed: Bool {
        if case .closed = state { return true }
        return false
    }

    // MARK: - Events

    /// RFC 1939 §4: "+OK" greeting. No APOP timestamp: APOP is not offered.
    public mutating func greeting() -> [Action] {
        [send(.ok("Tsubame POP3 ready (\(configuration.sessionID))"))]
    }

    /// One line from the client, without its line end. Not called while `isWaiting`.
    public mutating func receive(line: [UInt8]) -> [Action] {
        finishingShutdown(handleReceive(line: line))
    }

    private mutating func handleReceive(line: [UInt8]) -> [Action] {
        switch state {
        case .authenticating(var sasl, let mechanism, let login):
            guard line.count <= configuration.maximumLineLength else {
                _ = sasl.cancel()
                state = .authorization(user: nil)
                return refuse(.lineTooLong)
            }
            return continueAuthentication(&sasl, mechanism: mechanism, login: login, line: line)
        case .awaitingFinalResponse(let login):
            return finishAuthentication(login: login, line: line)
        case .startingTLS:
            // RFC 2595 §4: nothing sent before the TLS handshake may run as a command
            // (command injection, CVE-2011-0411 and kin). A client that pipelines past
            // STLS is broken or hostile.
            state = .closed
            return [.close]
        case .waiting, .update, .closed:
            // By contract the caller queues lines while waiting; after close nothing is read.
            return []
        case .authorization, .transaction:
            break
        }
        commands += 1
        guard line.count <= configuration.maximumLineLength else { return refuse(.lineTooLong) }
        switch POP3CommandParser.parse(line) {
        case .success(let command):
            return handle(command)
        case .failure(let error):
            if error.isUnrecognized && commands == 1 {
                // A peer whose first line is not POP3 (an HTTP client, a TLS ClientHello
                // on port 110, a port scanner) gets one answer and is disconnected.
                state = .closed
                return [send(error.response), .close]
            }
            return refuse(error.response)
        }
    }

    /// The framing found a line longer than `maximumLineLength` and discarded it. Counts
    /// as an error; an AUTH exchange in progress is abandoned.
    public mutating func lineTooLong() -> [Action] {
        finishingShutdown(handleLineTooLong())
    }

    private mutating func handleLineTooLong() -> [Action] {
        switch state {
        case .authenticating(var sasl, _, _):
            _ = sasl.cancel()
            state = .authorization(user: nil)
            return refuse(.lineTooLong)
        case .awaitingFinalResponse(let login):
            state = .authorization(user: nil)
            return [.recordSCRAMOutcome(login: login, success: false)] + refuse(.lineTooLong)
        case .startingTLS:
            state = .closed
            return [.close]
        case .waiting, .update, .closed:
            return []
        case .authorization, .transaction:
            commands += 1
            return refuse(.lineTooLong)
        }
    }

    /// The TLS handshake after STLS succeeded. RFC 2595 §4: the session starts over in
    /// AUTHORIZATION and forgets what the client said before (a USER, for one).
    public mutating func tlsEstablished() -> [Action] {
        guard case .startingTLS = state else { return [] }
        isSecure = true
        state = .authorization(user: nil)
        return finishingShutdown([])
    }

    public mutating func authenticationFinished(_ outcome: AuthenticationOutcome) -> [Action] {
        finishingShutdown(handleAuthenticationFinished(outcome))
    }

    private mutating func handleAuthenticationFinished(_ outcome: AuthenticationOutcome) -> [Action] {
        guard case .waiting(.password) = state else { return [] }
        state = .authorization(user: nil)
        switch outcome {
        case .success(let user):
            state = .waiting(.maildrop(user: user))
            return [.openMaildrop(user: user)]
        case .failure:
            return refuse(.authenticationFailed)
        case .throttled:
            return refuse(.loginThrottled)
        case .temporaryFailure:
            return refuse(.authenticationTemporaryFailure)
        }
    }

    /// SCRAM keys looked up; `throttled` when the authenticator refuses this attempt.
    public mutating func scramCredentialsFetched(_ keys: SCRAMServerKeys?, throttled: Bool) -> [Action] {
        finishingShutdown(handleSCRAMCredentialsFetched(keys, throttled: throttled))
    }

    private mutating func handleSCRAMCredentialsFetched(_ keys: SCRAMServerKeys?, throttled: Bool) -> [Action] {
        guard case .waiting(.scramKeys(var sasl, let login)) = state else { return [] }
        if throttled {
            state = .authorization(user: nil)
            return refuse(.loginThrottled)
        }
        let action = sasl.scramCredentialsFetched(keys)
        return saslStep(&sasl, action, mechanism: .scramSHA256, login: login)
    }

    public mutating func maildropOpened(_ outcome: MaildropOutcome) -> [Action] {
        finishingShutdown(handleMaildropOpened(outcome))
    }

    private mutating func handleMaildropOpened(_ outcome: MaildropOutcome) -> [Action] {
        guard case .waiting(.maildrop(let user)) = state else {
            // The session ended while the maildrop was being opened: give the lock back.
            if case .opened = outcome { return [.release(seen: [])] }
            return []
        }
        state = .authorization(user: nil)
        switch outcome {
        case .opened(let messages):
            maildrop = Maildrop(messages)
            authenticatedUser = user
            state = .transaction
            return [send(.ok("Logged in."))]
        case .inUse:
            return refuse(.err(.inUse, "Mailbox is locked by another POP3 session"))
        case .loginDelay:
            return refuse(.err(.loginDelay, "Logged in too recently; wait \(configuration.loginDelaySeconds ?? 0) seconds between logins"))
        case .failed:
            return refuse(.err(.systemTemporary, "Cannot open the mailbox"))
        }
    }

    public mutating func messageRead(_ outcome: ContentOutcome) -> [Action] {
        finishingShutdown(handleMessageRead(outcome))
    }

    private mutating func handleMessageRead(_ outcome: ContentOutcome) -> [Action] {
        guard case .waiting(.message(let number, let bodyLines)) = state else { return [] }
        state = .transaction
        guard var current = maildrop, let index = current.index(of: number) else { return [] }
        switch outcome {
        case .content(let bytes):
            var buffer = ByteBuffer()
            if let bodyLines {
                // RFC 1939 §7: TOP does not count as retrieval (Dovecot agrees: no \Seen).
                POP3Response.ok().encode(into: &buffer)
                POP3MessageEncoder.encodeTop(bytes, bodyLines: bodyLines, into: &buffer)
            } else {
                POP3Response.ok("\(current.messages[index].size) octets").encode(into: &buffer)
                POP3MessageEncoder.encode(bytes, into: &buffer)
                current.isRetrieved[index] = true
                maildrop = current
            }
            return [.send(buffer)]
        case .failed:
            return refuse(.err(.systemTemporary, "Cannot read message \(number)"))
        }
    }

    /// The answer to `.commit`: whether every deleted message was removed.
    public mutating func committed(_ success: Bool) -> [Action] {
        guard case .update(let hasDeletions) = state else { return [] }
        state = .closed
        guard success else {
            // RFC 1939 §6: "-ERR some deleted messages not removed".
            return [send(.err(.systemTemporary, "Some deleted messages were not removed")), .close]
        }
        return [send(.ok(hasDeletions ? "Logging out, messages deleted" : "Logging out")), .close]
    }

    /// The client sent nothing for too long (RFC 1939 §3: the autologout timer).
    public mutating func idleTimeout() -> [Action] {
        if case .closed = state { return [] }
        state = .closed
        var actions = [send(.err("Autologout; idle for too long"))]
        actions += releasingMaildrop()
        actions.append(.close)
        return actions
    }

    /// The peer went away: no UPDATE state (RFC 1939 §6), only the lock is released.
    public mutating func connectionClosed() -> [Action] {
        state = .closed
        return releasingMaildrop()
    }

    /// Server shutdown: end the session now unless an action is outstanding; then finish
    /// it first (the client gets its answer before the "-ERR [SYS/TEMP]").
    public mutating func shutdown() -> [Action] {
        switch state {
        case .waiting, .update, .startingTLS:
            isShutdownPending = true
            return []
        case .closed:
            return []
        case .authorization, .authenticating, .awaitingFinalResponse, .transaction:
            return closingForShutdown()
        }
    }

    /// A shutdown that arrived while an action was outstanding takes effect as soon as
    /// the session is between commands again.
    private mutating func finishingShutdown(_ actions: [Action]) -> [Action] {
        guard isShutdownPending else { return actions }
        switch state {
        case .waiting, .update, .startingTLS, .closed:
            return actions
        case .authorization, .authenticating, .awaitingFinalResponse, .transaction:
            return actions + closingForShutdown()
        }
    }

    private mutating func closingForShutdown() -> [Action] {
        var actions: [Action] = []
        if case .awaitingFinalResponse(let login) = state {
            actions.append(.recordSCRAMOutcome(login: login, success: false))
        }
        state = .closed
        actions.append(send(.err(.systemTemporary, "Server shutting down")))
        actions += releasingMaildrop()
        actions.append(.close)
        return actions
    }

    /// `.release` when the maildrop is locked (and forgets it), else nothing.
    private mutating func releasingMaildrop() -> [Action] {
        guard let current = maildrop else { return [] }
        maildrop = nil
        return [.release(seen: current.seenUIDs)]
    }

    // MARK: - Commands

    /// Which state accepts which command: one lookup instead of scattered checks.
    ///
    /// - SeeAlso: RFC 1939 §4 (AUTHORIZATION: USER, PASS, APOP, QUIT), §5 (TRANSACTION:
    ///   STAT, LIST, RETR, DELE, NOOP, RSET, QUIT), §7 (TOP, UIDL: TRANSACTION);
    ///   RFC 2449 §5 (CAPA: both); RFC 2595 §4 (STLS), RFC 5034 §4 (AUTH): AUTHORIZATION
    private static func phases(of command: POP3Command) -> [Phase] {
        switch command {
        case .capa, .quit:
            return [.authorization, .transaction]
        case .user, .pass, .apop, .stls, .authMechanisms, .auth:
            return [.authorization]
        case .stat, .list, .retr, .dele, .noop, .rset, .top, .uidl:
            return [.transaction]
        }
    }

    private mutating func handle(_ command: POP3Command) -> [Action] {
        let phase: Phase
        var pendingUser: String? = nil
        switch state {
        case .authorization(let user):
            phase = .authorization
            pendingUser = user
        case .transaction:
            phase = .transaction
        default:
            return []  // handleReceive parses commands only in the two states above
        }
        guard Self.phases(of: command).contains(phase) else { return refuse(.notValidInThisState) }

        switch command {
        case .capa:
            return [.send(POP3Response.ok("Capability list follows").encodedWithLines(capabilities()))]
        case .quit:
            return quit()
        case .user(let name):
            guard isPlaintextAllowed else { return refuse(.plaintextDisallowed) }
            state = .authorization(user: name)
            return [send(.ok())]
        case .pass(let password):
            guard isPlaintextAllowed else { return refuse(.plaintextDisallowed) }
            guard let login = pendingUser else { return refuse(.err("No username given.")) }
            state = .waiting(.password(login: login))
            return [.verifyPassword(login: login, password: password)]
        case .apop:
            return refuse(.err("APOP is not enabled"))
        case .stls:
            return startTLS(afterUser: pendingUser != nil)
        case .authMechanisms:
            // Not in RFC 5034; answered as Dovecot does, for clients that probe with it.
            return [.send(POP3Response.ok().encodedWithLines(offeredMechanisms.map(\.name)))]
        case .auth(let name, let initialResponse):
            return auth(name, initialResponse: initialResponse)
        case .stat, .list, .retr, .dele, .noop, .rset, .top, .uidl:
            return transaction(command)
        }
    }

    /// RFC 2449 §5. USER and SASL follow what this connection allows now; STLS only in
    /// AUTHORIZATION while it can still be used.
    private func capabilities() -> [String] {
        var lines = ["TOP", "UIDL", "RESP-CODES", "PIPELINING", "AUTH-RESP-CODE"]
        if isPlaintextAllowed { lines.append("USER") }
        let mechanisms = offeredMechanisms
        if !mechanisms.isEmpty { lines.append("SASL " + mechanisms.map(\.name).joined(separator: " ")) }
        if case .authorization = state, configuration.canStartTLS, !isSecure { lines.append("STLS") }
        if let expire = configuration.expire { lines.append("EXPIRE \(expire)") }
        if let delay = configuration.loginDelaySeconds { lines.append("LOGIN-DELAY \(delay)") }
        lines.append("IMPLEMENTATION Tsubame")
        return lines
    }

    /// USER/PASS and PLAIN/LOGIN send the password itself: only under TLS unless the
    /// operator allows it (RFC 2595 §2.3, RFC 4616 §5).
    private var isPlaintextAllowed: Bool { isSecure || configuration.allowPlaintextAuth }

    /// The configured mechanisms that may be used now; SCRAM never reveals the password.
    private var offeredMechanisms: [SASLMechanism] {
        var seen: [SASLMechanism] = []
        for mechanism in configuration.mechanisms where !seen.contains(mechanism) {
            if !mechanism.isPlaintext || isPlaintextAllowed { seen.append(mechanism) }
        }
        return seen
    }

    private mutating func quit() -> [Action] {
        guard case .transaction = state, let current = maildrop else {
            // RFC 1939 §4: QUIT in AUTHORIZATION ends the session; nothing to update.
            state = .closed
            return [send(.ok("Logging out")), .close]
        }
        // RFC 1939 §6: QUIT in TRANSACTION enters UPDATE.
        maildrop = nil
        let deleted = current.deletedUIDs
        state = .update(hasDeletions: !deleted.isEmpty)
        return [.commit(deleted: deleted, seen: current.seenUIDs)]
    }

    /// RFC 2595 §4: "+OK Begin TLS negotiation", only in AUTHORIZATION; we also refuse it
    /// after USER, so that no half-finished login crosses into the TLS session.
    private mutating func startTLS(afterUser: Bool) -> [Action] {
        guard !isSecure else { return refuse(.err("TLS is already active.")) }
        guard configuration.canStartTLS else { return refuse(.err("TLS support isn't enabled.")) }
        guard !afterUser else { return refuse(.err("STLS is not allowed after USER")) }
        state = .startingTLS
        return [send(.ok("Begin TLS negotiation")), .startTLS]
    }

    // MARK: - TRANSACTION (RFC 1939 §5, §7)

    private mutating func transaction(_ command: POP3Command) -> [Action] {
        guard var current = maildrop else { return [] }
        switch command {
        case .stat:
            return [send(.ok("\(current.count) \(current.octets)"))]
        case .list(nil):
            let lines = current.liveNumbers.map { "\($0) \(current.messages[$0 - 1].size)" }
            return [
                .send(POP3Response.ok("\(current.count) messages (\(current.octets) octets)").encodedWithLines(lines))
            ]
        case .list(let number?):
            guard let index = current.liveIndex(of: number) else { return refuse(lookupFailure(number)) }
            return [send(.ok("\(number) \(current.messages[index].size)"))]
        case .uidl(nil):
            let lines = current.liveNumbers.map { "\($0) \(current.messages[$0 - 1].uidl)" }
            return [.send(POP3Response.ok().encodedWithLines(lines))]
        case .uidl(let number?):
            guard let index = current.liveIndex(of: number) else { return refuse(lookupFailure(number)) }
            return [send(.ok("\(number) \(current.messages[index].uidl)"))]
        case .retr(let number):
            guard let index = current.liveIndex(of: number) else { return refuse(lookupFailure(number)) }
            state = .waiting(.message(number: number, bodyLines: nil))
            return [.readMessage(uid: current.messages[index].uid)]
        case .top(let number, let lines):
            guard let index = current.liveIndex(of: number) else { return refuse(lookupFailure(number)) }
            state = .waiting(.message(number: number, bodyLines: lines))
            return [.readMessage(uid: current.messages[index].uid)]
        case .dele(let number):
            guard let index = current.index(of: number) else { return refuse(.noSuchMessage) }
            // RFC 1939 §5 DELE example: "-ERR message 2 already deleted".
            guard !current.isDeleted[index] else { return refuse(.err("message \(number) already deleted")) }
            current.isDeleted[index] = true
            maildrop = current
            return [send(.ok("message \(number) deleted"))]
        case .noop:
            return [send(.ok())]
        case .rset:
            // RFC 1939 §5: unmark the deleted messages. The retrieved marks go too (as in
            // Dovecot): RSET undoes the session's changes.
            current.reset()
            maildrop = current
            return [send(.ok("maildrop has \(current.count) messages (\(current.octets) octets)"))]
        case .capa, .quit, .user, .pass, .apop, .stls, .authMechanisms, .auth:
            return []
        }
    }

    /// Why a message number did not name a live message.
    private func lookupFailure(_ number: Int) -> POP3Response {
        guard let current = maildrop, let index = current.index(of: number) else { return .noSuchMessage }
        return current.isDeleted[index] ? .err("message \(number) is deleted") : .noSuchMessage
    }

    // MARK: - AUTH (RFC 5034)

    private mutating func auth(_ name: String, initialResponse: String?) -> [Action] {
        guard let mechanism = SASLMechanism(name: name), configuration.mechanisms.contains(mechanism) else {
            return refuse(.err("Unsupported authentication mechanism."))
        }
        guard !mechanism.isPlaintext || isPlaintextAllowed else { return refuse(.plaintextDisallowed) }
        var sasl = SASLServerStateMachine(mechanism: mechanism)
        var initial: [UInt8]? = nil
        if let initialResponse {
            // RFC 5034 §4: "=" is an empty initial response, distinct from none.
            guard let decoded = Base64.decodeResponse(initialResponse) else { return refuse(.invalidBase64) }
            initial = decoded
        }
        let action = sasl.start(initialResponse: initial)
        return saslStep(&sasl, action, mechanism: mechanism, login: nil)
    }

    private mutating func continueAuthentication(
        _ sasl: inout SASLServerStateMachine, mechanism: SASLMechanism, login: String?, line: [UInt8]
    ) -> [Action] {
        // RFC 5034 §4: "*" cancels the exchange; the server answers -ERR.
        if line == [UInt8(ascii: "*")] {
            state = .authorization(user: nil)
            let action = sasl.cancel()
            return saslStep(&sasl, action, mechanism: mechanism, login: login)
        }
        guard let decoded = Base64.decodeResponse(String(decoding: line, as: UTF8.self)) else {
            state = .authorization(user: nil)
            _ = sasl.cancel()
            var actions: [Action] = []
            if mechanism == .scramSHA256, let login {
                actions.append(.recordSCRAMOutcome(login: login, success: false))
            }
            return actions + refuse(.invalidBase64)
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
            return [.send(Self.continuation(bytes))]
        case .verifyPassword(let authorizationID, let authenticationID, let password):
            // We do not support acting as another user (RFC 4422 §3.4.1).
            if let authorizationID, !authorizationID.isEmpty,
                authorizationID.lowercased() != authenticationID.lowercased()
            {
                state = .authorization(user: nil)
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
            if let authorizationID, !authorizationID.isEmpty,
                authorizationID.lowercased() != authenticationID.lowercased()
            {
                state = .authorization(user: nil)
                return [.recordSCRAMOutcome(login: authenticationID, success: false)] + refuse(.authenticationFailed)
            }
            if let serverFinal {
                // The server-final message goes as one more challenge; the client answers
                // with an empty line (RFC 5034 §4, RFC 4422 §3.6).
                state = .awaitingFinalResponse(login: authenticationID)
                return [.send(Self.continuation(serverFinal))]
            }
            state = .waiting(.maildrop(user: authenticationID))
            return [.recordSCRAMOutcome(login: authenticationID, success: true), .openMaildrop(user: authenticationID)]
        case .failure(let error):
            state = .authorization(user: nil)
            var actions: [Action] = []
            if mechanism == .scramSHA256, let login {
                actions.append(.recordSCRAMOutcome(login: login, success: false))
            }
            return actions + refuse(Self.response(for: error))
        }
    }

    /// The client's answer to SCRAM's server-final challenge: must be empty.
    private mutating func finishAuthentication(login: String, line: [UInt8]) -> [Action] {
        state = .authorization(user: nil)
        if line == [UInt8(ascii: "*")] {
            return [.recordSCRAMOutcome(login: login, success: false)] + refuse(.authenticationCancelled)
        }
        guard line.isEmpty || line == [UInt8(ascii: "=")] else {
            return [.recordSCRAMOutcome(login: login, success: false)] + refuse(.authenticationMalformed)
        }
        state = .waiting(.maildrop(user: login))
        return [.recordSCRAMOutcome(login: login, success: true), .openMaildrop(user: login)]
    }

    /// The one mapping of SASL failures to POP3 (SASLError's table).
    private static func response(for error: SASLError) -> POP3Response {
        switch error.kind {
        case .cancelled: return .authenticationCancelled
        case .malformed, .tooLong, .unsupported: return .authenticationMalformed
        case .authenticationFailed: return .authenticationFailed
        case .wrongState: return .authenticationTemporaryFailure
        }
    }

    /// RFC 5034 §4: a challenge is "+" SP base64 CRLF; an empty one is "+ ".
    private static func continuation(_ bytes: [UInt8]) -> ByteBuffer {
        var buffer = ByteBuffer()
        buffer.writeString("+ ")
        buffer.writeString(Base64.encode(bytes))
        buffer.writeString("\r\n")
        return buffer
    }

    // MARK: - Errors

    /// Sends an error and counts it; at `maximumErrors` the session ends.
    private mutating func refuse(_ response: POP3Response) -> [Action] {
        errors += 1
        guard errors >= configuration.maximumErrors else { return [send(response)] }
        state = .closed
        var actions = [send(response), send(.err("Too many errors"))]
        actions += releasingMaildrop()
        actions.append(.close)
        return actions
    }

    private func send(_ response: POP3Response) -> Action {
        .send(response.encoded)
    }
}

// MARK: - The maildrop of one session

/// The listing handed to `maildropOpened`, with this session's marks.
private struct Maildrop: Sendable {
    let messages: [POP3ServerStateMachine.Message]
    var isDeleted: [Bool]
    var isRetrieved: [Bool]

    init(_ messages: [POP3ServerStateMachine.Message]) {
        self.messages = messages
        self.isDeleted = Array(repeating: false, count: messages.count)
        self.isRetrieved = Array(repeating: false, count: messages.count)
    }

    /// The index of message `number` (1-based), deleted or not.
    func index(of number: Int) -> Int? {
        guard number >= 1, number <= messages.count else { return nil }
        return number - 1
    }

    /// The index of message `number` when it exists and is not deleted.
    func liveIndex(of number: Int) -> Int? {
        guard let index = index(of: number), !isDeleted[index] else { return nil }
        return index
    }

    /// The numbers of the messages not marked deleted, in order.
    var liveNumbers: [Int] {
        messages.indices.filter { !isDeleted[$0] }.map { $0 + 1 }
    }

    /// RFC 1939 §5 STAT: messages marked deleted are not counted.
    var count: Int { isDeleted.lazy.filter { !$0 }.count }

    /// The sum of the live messages' sizes. Sizes come from the store; a negative one
    /// counts as 0 and the sum wraps instead of trapping (it cannot reach Int.max).
    var octets: Int {
        var total = 0
        for index in messages.indices where !isDeleted[index] { total &+= max(messages[index].size, 0) }
        return total
    }

    var deletedUIDs: [UInt32] {
        messages.indices.filter { isDeleted[$0] }.map { messages[$0].uid }
    }

    /// Retrieved with RETR and not deleted: these become \Seen.
    var seenUIDs: [UInt32] {
        messages.indices.filter { isRetrieved[$0] && !isDeleted[$0] }.map { messages[$0].uid }
    }

    mutating func reset() {
        isDeleted = Array(repeating: false, count: messages.count)
        isRetrieved = Array(repeating: false, count: messages.count)
    }
}

// MARK: - The responses the server sends, by name

extension POP3Response {
    static let lineTooLong = POP3Response.err("Line too long")
    static let notValidInThisState = POP3Response.err("Command not valid in this state")
    static let noSuchMessage = POP3Response.err("no such message")
    /// Dovecot's wording (`disable_plaintext_auth`), with RFC 3206's [AUTH].
    static let plaintextDisallowed = POP3Response.err(
        .authentication, "Plaintext authentication disallowed on non-secure (SSL/TLS) connections")
    static let authenticationFailed = POP3Response.err(.authentication, "Authentication failed.")
    static let loginThrottled = POP3Response.err(.loginDelay, "Too many failed logins; try again later")
    static let authenticationTemporaryFailure = POP3Response.err(
        .systemTemporary, "Temporary authentication failure")
    static let authenticationCancelled = POP3Response.err("Authentication cancelled.")
    static let authenticationMalformed = POP3Response.err("Invalid authentication data.")
    static let invalidBase64 = POP3Response.err("Invalid base64 data.")
}
