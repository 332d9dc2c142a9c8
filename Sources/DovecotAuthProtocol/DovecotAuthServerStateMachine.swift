public import SASL

/// One connection to the auth socket, server side, as a value: feed it the client's
/// lines and the directory's answers; it returns what to do.
///
/// Postfix (`smtpd_sasl_type = dovecot`) checking `AUTH PLAIN` from an SMTP client:
///
///     S: VERSION \t 1 \t 2                  start()          → .send × 8, the handshake
///     S: MECH \t PLAIN \t plaintext
///     S: MECH \t LOGIN \t plaintext
///     S: SPID \t 1234
///     S: CUID \t 1
///     S: COOKIE \t 0123456789abcdef0123456789abcdef
///     S: DONE
///     C: VERSION \t 1 \t 0                  receive(line:)   → []
///     C: CPID \t 4711                       receive(line:)   → []
///     C: AUTH \t 1 \t PLAIN \t service=smtp \t nologin \t lip=127.0.0.1 \t rip=127.0.0.1
///        \t secured \t resp=AHVzZXIAcGFzcw==
///                                           receive(line:)   → .verifyPassword(1, "user", "pass", info)
///                                           passwordVerified(1, .success(user: "user"))
///     S: OK \t 1 \t user=user                                → .send
///
/// LOGIN goes through CONT round trips ("Username:", "Password:"):
///
///     C: AUTH \t 2 \t LOGIN \t service=smtp \t secured
///     S: CONT \t 2 \t VXNlcm5hbWU6
///     C: CONT \t 2 \t dXNlcg==
///     S: CONT \t 2 \t UGFzc3dvcmQ6
///     C: CONT \t 2 \t cGFzcw==              → .verifyPassword(2, "user", "pass", info)
///     S: FAIL \t 2 \t user=user             passwordVerified(2, .failure)
///
/// SCRAM-SHA-256 needs the stored keys half-way, and its server-final-message travels
/// in OK, as Dovecot sends it:
///
///     C: AUTH \t 3 \t SCRAM-SHA-256 \t service=smtp \t resp=<client-first>
///                                           → .fetchSCRAMCredentials(3, "user", info)
///                                           scramCredentialsFetched(3, keys, throttled: false)
///     S: CONT \t 3 \t <server-first>
///     C: CONT \t 3 \t <client-final>        → .recordSCRAMOutcome(3, "user", success: true, info)
///     S: OK \t 3 \t user=user \t resp=<server-final>
///
/// The connection's states and the commands each allows (anything else closes the
/// connection, as Dovecot does — it logs "BUG: Authentication client sent unknown
/// command" and disconnects; the protocol document's "unknown parameters are ignored"
/// is about parameters, not commands):
///
/// | state | VERSION | CPID | AUTH, CONT, CANCEL |
/// | --- | --- | --- | --- |
/// | `awaitingVersion` | → `awaitingClientPID` (major 1, else close) | close | close |
/// | `awaitingClientPID` | close | → `ready` | close |
/// | `ready` | close | close | per request |
///
/// Requests: every AUTH names an ID; requests for different IDs may be pipelined and
/// interleaved, each with its own `SASLServerStateMachine`. Per request:
///
/// - Refused with FAIL (the connection stays): an unknown or unoffered mechanism; a
///   plaintext mechanism (PLAIN, LOGIN) when the request is not `secured` and the end
///   user is not local (`rip` equal to `lip`, or a loopback `rip`) and
///   `Configuration.allowPlaintext` is off (Dovecot's `disable_plaintext_auth`); bad
///   base64 in `resp=` or CONT; an authorization identity other than the login (no
///   master users, RFC 4422 §3.4.1); a CONT while the request waits for the directory;
///   a CONT for an unknown ID (Dovecot says "timed out"). A wrong password is
///   `FAIL \t id \t user=<login>`; throttling and directory trouble add
///   `code=temp_fail \t temp`, so the client does not count it as a wrong password.
/// - Closes the connection: a broken command (no `service=`, ID 0 or not a number,
///   parameters after `resp=`), and an AUTH whose ID is still in progress.
/// - `CANCEL \t id` forgets the request without a reply.
///
/// An ID stays in progress until its last reply is sent — and, when the request was
/// cancelled while the directory was working on it, until that answer has arrived (it
/// is then dropped), so that a late answer can never be taken for a newer request
/// with the same ID.
///
/// At most `DovecotAuthLimits.maximumConcurrentRequests` requests are in progress. At
/// the limit a new AUTH first evicts the oldest request that waits for the client's CONT
/// (`FAIL \t old \t reason=Authentication request timed out`, Dovecot's text for an
/// expired request): Postfix never sends CANCEL — neither when its SMTP client answers
/// `*` nor when it disconnects mid-exchange — and keeps one socket connection per smtpd
/// process for many sessions, so abandoned exchanges would otherwise pile up and lock
/// AUTH for that process. When every request in progress waits for the directory, the
/// new one fails (`reason=Too many concurrent authentication requests`, temporary).
///
/// Nothing traps on any input, and the state is bounded: the request table by the
/// limit above, each request by `SASLLimits`.
///
/// - SeeAlso: Dovecot Authentication Protocol 1.x (doc.dovecot.org,
///   developer_manual/design/auth_protocol); Dovecot src/auth/auth-client-connection.c,
///   auth-request-handler.c; Postfix src/xsasl/xsasl_dovecot_server.c; RFC 4422
public struct DovecotAuthServerStateMachine: Sendable, CustomStringConvertible, CustomDebugStringConvertible,
    CustomReflectable
{
    /// The major version we speak, and the minor version we announce.
    static let majorVersion: UInt32 = 1
    static let minorVersion: UInt32 = 2
    /// From minor version 2 on, `resp=` with an empty value is an empty initial
    /// response; before, it means no initial response (Dovecot: "Some authentication
    /// clients like Exim send an empty initial response field when it is in fact absent
    /// in the authentication command").
    static let emptyInitialResponseMinorVersion: UInt32 = 2

    public struct Configuration: Sendable {
        /// Announced in MECH lines, in this order (duplicates dropped); AUTH for any
        /// other mechanism fails.
        public var mechanisms: [SASLMechanism]
        /// `SPID`: the server's process ID.
        public var serverPID: Int
        /// `CUID`: this connection's number, unique within the process.
        public var connectionID: Int
        /// `COOKIE`: 32 hex digits (16 random octets), fresh for each connection.
        public var cookie: String
        /// Accept PLAIN and LOGIN on requests that are neither `secured` nor local
        /// (Dovecot `disable_plaintext_auth = no`; Tsubame `[auth] allow_plaintext`).
        public var allowPlaintext: Bool
        public var limits: DovecotAuthLimits

        public init(
            mechanisms: [SASLMechanism] = [.plain, .login], serverPID: Int, connectionID: Int, cookie: String,
            allowPlaintext: Bool = false, limits: DovecotAuthLimits = DovecotAuthLimits()
        ) {
            self.mechanisms = mechanisms
            self.serverPID = serverPID
            self.connectionID = connectionID
            self.cookie = cookie
            self.allowPlaintext = allowPlaintext
            self.limits = limits
        }
    }

    /// The answer to `.verifyPassword`, as the authenticator reports it.
    public enum Outcome: Sendable, Equatable {
        /// The password is right; `user` is the login as the directory spells it, and
        /// is what OK reports (`user=`).
        case success(user: String)
        /// Wrong password, unknown user, disabled account: the client is not told which.
        case failure
        /// Too many failures from this user or address: refused without checking.
        case throttled
        /// The directory could not answer.
        case temporaryFailure
    }

    /// What the client told us about the end user's connection (AUTH parameters), for
    /// the authenticator's throttling and the log.
    public struct RequestInfo: Sendable, Equatable {
        /// `service=`: `smtp` from Postfix and Exim.
        public var service: String
        /// `rip=`: the end user's address, as sent.
        public var remoteAddress: String?
        /// `lip=`: the MTA's own address on that connection, as sent.
        public var localAddress: String?
        /// `secured`: the end user's connection is TLS (or local, as Exim reports it).
        public var isSecured: Bool
        /// `no-penalty`: the client asks that a failure not be delayed or counted.
        public var noPenalty: Bool

        public init(
            service: String, remoteAddress: String? = nil, localAddress: String? = nil, isSecured: Bool = false,
            noPenalty: Bool = false
        ) {
            self.service = service
            self.remoteAddress = remoteAddress
            self.localAddress = localAddress
            self.isSecured = isSecured
            self.noPenalty = noPenalty
        }
    }

    /// What the connection does next. The listener performs them in order.
    public enum Action: Sendable, Equatable {
        /// Write this line (already LF-terminated and tab-escaped).
        case send([UInt8])
        /// Check `password` for `login` through the authenticator (off the event loop),
        /// then call `passwordVerified(requestID:outcome:)`.
        case verifyPassword(requestID: UInt32, login: String, password: String, info: RequestInfo)
        /// SCRAM: look up the SCRAM-SHA-256 keys of `login` and ask the authenticator
        /// whether this attempt is throttled, then call
        /// `scramCredentialsFetched(requestID:keys:throttled:)` (`keys` nil when the user
        /// is unknown or has none).
        case fetchSCRAMCredentials(requestID: UInt32, login: String, info: RequestInfo)
        /// SCRAM finished: record the outcome with the authenticator (throttling, log).
        case recordSCRAMOutcome(requestID: UInt32, login: String, success: Bool, info: RequestInfo)
        /// Flush what was sent and close the connection.
        case close
    }

    /// Where the connection stands in the handshake (see the table above).
    enum State: Sendable {
        /// Before the client's VERSION.
        case awaitingVersion
        /// VERSION accepted; the client's CPID is next.
        case awaitingClientPID(minorVersion: UInt32)
        /// Handshake done: requests may come.
        case ready(minorVersion: UInt32)
        /// `.close` was returned; every event is ignored.
        case closed

        /// The state table: whether `command` may come now. Everything else closes the
        /// connection.
        func allows(_ command: DovecotAuthCommand.Name) -> Bool {
            switch (self, command) {
            case (.awaitingVersion, .version): return true
            case (.awaitingClientPID, .clientPID): return true
            case (.ready, .auth), (.ready, .continuation), (.ready, .cancel): return true
            default: return false
            }
        }

        var name: String {
            switch self {
            case .awaitingVersion: return "awaitingVersion"
            case .awaitingClientPID: return "awaitingClientPID"
            case .ready: return "ready"
            case .closed: return "closed"
            }
        }
    }

    /// One AUTH in progress.
    struct Request: Sendable {
        let mechanism: SASLMechanism
        let info: RequestInfo
        /// Arrival order, to find the oldest request to evict at the limit.
        let sequence: UInt64
        var phase: Phase
    }

    /// What a request waits for.
    enum Phase: Sendable {
        /// A CONT was sent; the client's CONT is next. `login` is known for SCRAM once
        /// the client-first-message was read.
        case awaitingResponse(SASLServerStateMachine, login: String?)
        /// `.verifyPassword` is out.
        case awaitingPasswordCheck(login: String)
        /// `.fetchSCRAMCredentials` is out.
        case awaitingSCRAMCredentials(SASLServerStateMachine, login: String)

        var isAwaitingClient: Bool {
            if case .awaitingResponse = self { return true }
            return false
        }

        var login: String? {
            switch self {
            case .awaitingResponse(_, let login): return login
            case .awaitingPasswordCheck(let login): return login
            case .awaitingSCRAMCredentials(_, let login): return login
            }
        }
    }

    public let configuration: Configuration
    private var state: State = .awaitingVersion
    private var hasSentHandshake = false
    private var requests: [UInt32: Request] = [:]
    /// Requests cancelled (or failed by an unexpected CONT) while the directory was
    /// working on them: their answers are still to come and must be dropped.
    private var abandonedRequestIDs: Set<UInt32> = []
    private var nextSequence: UInt64 = 0
    /// Why the connection was closed, for the log; `nil` while it is open.
    public private(set) var protocolError: DovecotAuthProtocolError?

    public init(configuration: Configuration) {
        self.configuration = configuration
    }

    /// Whether `.close` was returned.
    public var isClosed: Bool {
        if case .closed = state { return true }
        return false
    }

    /// Requests in progress, abandoned ones awaiting their answer included.
    public var requestsInProgress: Int { requests.count + abandonedRequestIDs.count }

    // MARK: - Events

    /// The server's handshake, sent as soon as the connection is accepted, without
    /// waiting for the client's (as Dovecot's auth process did up to 2.3; Postfix sends
    /// its VERSION and CPID without waiting either):
    ///
    ///     VERSION \t 1 \t 2
    ///     MECH \t <name> [\t <properties>]     (one per configured mechanism)
    ///     SPID \t <pid>
    ///     CUID \t <connection id>
    ///     COOKIE \t <32 hex digits>
    ///     DONE
    ///
    /// Only the first call answers; later ones return nothing.
    public mutating func start() -> [Action] {
        guard !hasSentHandshake, !isClosed else { return [] }
        hasSentHandshake = true
        var replies: [DovecotAuthReply] = [.version(major: Int(Self.majorVersion), minor: Int(Self.minorVersion))]
        replies += offeredMechanisms.map { DovecotAuthReply.mechanism($0) }
        replies += [
            .serverPID(configuration.serverPID), .connectionID(configuration.connectionID),
            .cookie(configuration.cookie), .done,
        ]
        return replies.map { .send($0.encoded) }
    }

    /// One line from the client, without its LF; a CR before the LF is tolerated.
    public mutating func receive(line: [UInt8]) -> [Action] {
        guard !isClosed else { return [] }
        var content = line[...]
        if content.last == DovecotAuthGrammar.carriageReturn { content = content.dropLast() }
        guard content.count <= configuration.limits.maximumLineLength else { return lineTooLong() }
        do throws(DovecotAuthProtocolError) {
            let command = try DovecotAuthCommand.parse(content)
            guard state.allows(command.name) else {
                throw DovecotAuthProtocolError(.unexpectedCommand, hint: "command not allowed in this handshake state")
            }
            return try handle(command)
        } catch {
            return close(error)
        }
    }

    /// The listener cut a line longer than `DovecotAuthLimits.maximumLineLength`: the
    /// connection is closed without a reply (Dovecot disconnects too; there is no reply
    /// that names no request).
    public mutating func lineTooLong() -> [Action] {
        guard !isClosed else { return [] }
        return close(
            DovecotAuthProtocolError(.lineTooLong, hint: "line longer than DovecotAuthLimits.maximumLineLength"))
    }

    /// The authenticator's answer to `.verifyPassword(requestID:…)`. Answers for
    /// requests that are gone (cancelled, closed) are dropped.
    public mutating func passwordVerified(requestID: UInt32, outcome: Outcome) -> [Action] {
        guard !isClosed else { return [] }
        if abandonedRequestIDs.remove(requestID) != nil { return [] }
        guard let request = requests[requestID], case .awaitingPasswordCheck(let login) = request.phase else {
            return []
        }
        requests[requestID] = nil
        switch outcome {
        case .success(let user):
            return [send(.ok(requestID: requestID, user: user, serverFinal: nil))]
        case .failure:
            return [fail(requestID, user: login)]
        case .throttled, .temporaryFailure:
            return [fail(requestID, user: login, code: .temporaryFailure)]
        }
    }

    /// The answer to `.fetchSCRAMCredentials(requestID:…)`: the user's keys (`nil` when
    /// unknown or without SCRAM keys: the exchange goes on and fails at the end, so the
    /// client cannot tell), and whether the authenticator refuses this attempt now.
    public mutating func scramCredentialsFetched(requestID: UInt32, keys: SCRAMServerKeys?, throttled: Bool) -> [Action]
    {
        guard !isClosed else { return [] }
        if abandonedRequestIDs.remove(requestID) != nil { return [] }
        guard let request = requests[requestID], case .awaitingSCRAMCredentials(var sasl, let login) = request.phase
        else {
            return []
        }
        if throttled {
            requests[requestID] = nil
            return [fail(requestID, user: login, code: .temporaryFailure)]
        }
        let step = sasl.scramCredentialsFetched(keys)
        return advance(requestID, request, sasl: sasl, login: login, step)
    }

    // MARK: - Commands

    private mutating func handle(_ command: DovecotAuthCommand) throws(DovecotAuthProtocolError) -> [Action] {
        switch (state, command) {
        case (.awaitingVersion, .version(let major, let minor)):
            // "Both client and server should check that they support the same major
            // version number. If they don't, the other side isn't expected to be talking
            // the same protocol and should be disconnected."
            guard major == Self.majorVersion else {
                throw DovecotAuthProtocolError(.unsupportedVersion, hint: "client's major version is not 1")
            }
            state = .awaitingClientPID(minorVersion: minor)
            return []
        case (.awaitingClientPID(let minorVersion), .clientPID):
            // The PID is for Dovecot's master process (REQUEST), which we do not have.
            state = .ready(minorVersion: minorVersion)
            return []
        case (.ready(let minorVersion), .auth(let auth)):
            return try begin(auth, minorVersion: minorVersion)
        case (.ready, .continuation(let requestID, let response)):
            return proceed(requestID, response: response)
        case (.ready, .cancel(let requestID)):
            cancel(requestID)
            return []
        default:
            // `State.allows` let through only the pairs above.
            throw DovecotAuthProtocolError(.unexpectedCommand, hint: "command not allowed in this handshake state")
        }
    }

    /// AUTH. The checks run in this order: duplicate ID (close), mechanism, plaintext
    /// rule, initial response encoding, capacity; then the mechanism starts.
    private mutating func begin(
        _ auth: DovecotAuthCommand.Auth, minorVersion: UInt32
    ) throws(DovecotAuthProtocolError) -> [Action] {
        let requestID = auth.requestID
        // Dovecot: "BUG: Authentication client sent a duplicate ID" — the client lost
        // track of its own requests, so nothing it says can be matched any more.
        guard requests[requestID] == nil, !abandonedRequestIDs.contains(requestID) else {
            throw DovecotAuthProtocolError(.duplicateRequestID, hint: "AUTH with the ID of a request in progress")
        }
        // Dovecot treats an unknown mechanism as a client bug and disconnects; a FAIL is
        // kinder and tells the MTA the same thing.
        guard let mechanism = SASLMechanism(name: auth.mechanismName), offeredMechanisms.contains(mechanism) else {
            return [fail(requestID, reason: Reason.unsupportedMechanism)]
        }
        let info = RequestInfo(
            service: auth.service, remoteAddress: auth.remoteAddress, localAddress: auth.localAddress,
            isSecured: auth.isSecured, noPenalty: auth.noPenalty)
        if mechanism.isPlaintext && !configuration.allowPlaintext && !Self.isProtected(info) {
            return [fail(requestID, reason: Reason.plaintextDisallowed)]
        }
        var initialResponse: [UInt8]? = nil
        if let text = auth.initialResponse {
            if text.isEmpty && minorVersion < Self.emptyInitialResponseMinorVersion {
                initialResponse = nil
            } else if text == Array("=".utf8) {
                // "=" is how SMTP and IMAP write an empty response; Dovecot accepts it.
                initialResponse = []
            } else if let decoded = Base64.decode(text) {
                initialResponse = decoded
            } else {
                return [fail(requestID, code: .invalidBase64, reason: Reason.invalidInitialResponse)]
            }
        }
        var actions: [Action] = []
        if requestsInProgress >= configuration.limits.maximumConcurrentRequests {
            guard let oldest = oldestRequestAwaitingClient() else {
                return [fail(requestID, code: .temporaryFailure, reason: Reason.tooManyRequests)]
            }
            requests[oldest] = nil
            actions.append(fail(oldest, reason: Reason.timedOut))
        }
        var sasl = SASLServerStateMachine(mechanism: mechanism)
        let step = sasl.start(initialResponse: initialResponse)
        let request = Request(
            mechanism: mechanism, info: info, sequence: nextSequence, phase: .awaitingResponse(sasl, login: nil))
        nextSequence &+= 1
        return actions + advance(requestID, request, sasl: sasl, login: nil, step)
    }

    /// CONT: the client's answer to our last CONT for this request.
    private mutating func proceed(_ requestID: UInt32, response: [UInt8]) -> [Action] {
        guard let request = requests[requestID] else {
            // Dovecot's answer for an ID it no longer knows (the request expired, or
            // never was); the connection stays.
            return [fail(requestID, reason: Reason.timedOut)]
        }
        guard case .awaitingResponse(var sasl, let login) = request.phase else {
            // Dovecot accepts one CONT per challenge and fails the request otherwise. The
            // directory's answer is still coming: drop it when it arrives.
            requests[requestID] = nil
            abandonedRequestIDs.insert(requestID)
            return [fail(requestID, user: request.phase.login, reason: Reason.unexpectedContinuation)]
        }
        guard let decoded = Base64.decode(response) else {
            requests[requestID] = nil
            return [fail(requestID, user: login, code: .invalidBase64, reason: Reason.invalidContinuedResponse)]
        }
        let step = sasl.receive(decoded)
        return advance(requestID, request, sasl: sasl, login: login, step)
    }

    /// CANCEL: "Cancels the authentication request", silently. Unknown IDs are ignored.
    private mutating func cancel(_ requestID: UInt32) {
        guard let request = requests.removeValue(forKey: requestID) else { return }
        if !request.phase.isAwaitingClient { abandonedRequestIDs.insert(requestID) }
    }

    /// Turns what the request's SASL exchange asked for into actions, and stores or
    /// removes the request.
    private mutating func advance(
        _ requestID: UInt32, _ request: Request, sasl: SASLServerStateMachine, login: String?,
        _ step: SASLServerStateMachine.Action
    ) -> [Action] {
        var request = request
        switch step {
        case .challenge(let challenge):
            request.phase = .awaitingResponse(sasl, login: login)
            requests[requestID] = request
            return [send(.continuation(requestID: requestID, challenge: challenge))]
        case .verifyPassword(let authorizationID, let authenticationID, let password):
            // RFC 4422 §3.4.1: acting as someone else (Dovecot's master users) is not
            // supported; refuse before the password is even checked.
            guard Self.isOwnIdentity(authorizationID, authenticationID: authenticationID) else {
                requests[requestID] = nil
                return [fail(requestID, user: authenticationID, code: .authorizationFailed)]
            }
            request.phase = .awaitingPasswordCheck(login: authenticationID)
            requests[requestID] = request
            return [
                .verifyPassword(requestID: requestID, login: authenticationID, password: password, info: request.info)
            ]
        case .fetchSCRAMCredentials(let authenticationID):
            request.phase = .awaitingSCRAMCredentials(sasl, login: authenticationID)
            requests[requestID] = request
            return [.fetchSCRAMCredentials(requestID: requestID, login: authenticationID, info: request.info)]
        case .success(let authorizationID, let authenticationID, let serverFinal):
            requests[requestID] = nil
            let isSCRAM = request.mechanism == .scramSHA256
            guard Self.isOwnIdentity(authorizationID, authenticationID: authenticationID) else {
                var actions: [Action] = []
                if isSCRAM {
                    actions.append(
                        .recordSCRAMOutcome(
                            requestID: requestID, login: authenticationID, success: false, info: request.info))
                }
                actions.append(fail(requestID, user: authenticationID, code: .authorizationFailed))
                return actions
            }
            var actions: [Action] = []
            if isSCRAM {
                actions.append(
                    .recordSCRAMOutcome(
                        requestID: requestID, login: authenticationID, success: true, info: request.info))
            }
            // Dovecot sends SCRAM's server-final-message as `resp=` in OK.
            actions.append(send(.ok(requestID: requestID, user: authenticationID, serverFinal: serverFinal)))
            return actions
        case .failure(let error):
            requests[requestID] = nil
            var actions: [Action] = []
            if request.mechanism == .scramSHA256, let login {
                actions.append(
                    .recordSCRAMOutcome(requestID: requestID, login: login, success: false, info: request.info))
            }
            let code: DovecotAuthReply.FailureCode?
            switch error.kind {
            case .malformed, .cancelled, .authenticationFailed, .unsupported, .tooLong:
                code = nil
            case .wrongState:
                // Our bug, not the client's: not a wrong password.
                code = .temporaryFailure
            }
            actions.append(fail(requestID, user: login, code: code))
            return actions
        }
    }

    // MARK: - Rules

    /// The configured mechanisms, in order, without duplicates.
    private var offeredMechanisms: [SASLMechanism] {
        var offered: [SASLMechanism] = []
        for mechanism in configuration.mechanisms where !offered.contains(mechanism) {
            offered.append(mechanism)
        }
        return offered
    }

    /// Dovecot's `disable_plaintext_auth`: a password may travel only where nobody can
    /// read it — the end user's connection is TLS (`secured`), or it never left the
    /// machine (`rip` is `lip`, or a loopback address). Absent or unparseable addresses
    /// never count as local.
    static func isProtected(_ info: RequestInfo) -> Bool {
        if info.isSecured { return true }
        guard let remoteText = info.remoteAddress, let remote = InternetAddress(parsing: remoteText) else {
            return false
        }
        if remote.isLoopback { return true }
        guard let localText = info.localAddress, let local = InternetAddress(parsing: localText) else { return false }
        return remote == local
    }

    /// No authorization identity, or the login itself (compared case-insensitively, as
    /// the SMTP server does).
    static func isOwnIdentity(_ authorizationID: String?, authenticationID: String) -> Bool {
        guard let authorizationID, !authorizationID.isEmpty else { return true }
        return authorizationID.lowercased() == authenticationID.lowercased()
    }

    /// The request waiting longest for the client's CONT, to evict at the limit.
    private func oldestRequestAwaitingClient() -> UInt32? {
        var oldest: (requestID: UInt32, sequence: UInt64)? = nil
        for (requestID, request) in requests where request.phase.isAwaitingClient {
            if let current = oldest, current.sequence <= request.sequence { continue }
            oldest = (requestID, request.sequence)
        }
        return oldest?.requestID
    }

    private func send(_ reply: DovecotAuthReply) -> Action {
        .send(reply.encoded)
    }

    private typealias Reason = DovecotAuthReply.Reason

    private func fail(
        _ requestID: UInt32, user: String? = nil, code: DovecotAuthReply.FailureCode? = nil, reason: String? = nil
    ) -> Action {
        send(.fail(requestID: requestID, user: user, code: code, reason: reason))
    }

    private mutating func close(_ error: DovecotAuthProtocolError) -> [Action] {
        protocolError = error
        state = .closed
        requests.removeAll()
        abandonedRequestIDs.removeAll()
        return [.close]
    }

    // MARK: - Description

    /// State and counts only: never user names, passwords or exchange contents.
    public var description: String {
        "DovecotAuthServerStateMachine(\(state.name), \(requests.count) requests, \(abandonedRequestIDs.count) abandoned)"
    }
    public var debugDescription: String { description }
    public var customMirror: Mirror { Mirror(self, children: [:]) }
}

extension DovecotAuthServerStateMachine.Action: CustomStringConvertible, CustomDebugStringConvertible,
    CustomReflectable
{
    /// Never the password. Lines are shown by command word and length only; logins are
    /// quoted and escaped (they come from the client and may carry control characters).
    public var description: String {
        switch self {
        case .send(let line):
            let command = line.prefix { $0 != DovecotAuthGrammar.tab && $0 != DovecotAuthGrammar.lineFeed }
            return "send(\(String(decoding: command, as: UTF8.self)), \(line.count) octets)"
        case .verifyPassword(let requestID, let login, _, let info):
            return "verifyPassword(requestID: \(requestID), login: \(String(reflecting: login)), password: <redacted>, "
                + "service: \(String(reflecting: info.service)))"
        case .fetchSCRAMCredentials(let requestID, let login, _):
            return "fetchSCRAMCredentials(requestID: \(requestID), login: \(String(reflecting: login)))"
        case .recordSCRAMOutcome(let requestID, let login, let success, _):
            return
                "recordSCRAMOutcome(requestID: \(requestID), login: \(String(reflecting: login)), success: \(success))"
        case .close:
            return "close"
        }
    }

    public var debugDescription: String { description }
    public var customMirror: Mirror { Mirror(self, children: [:]) }
}
