/// One server-side SASL authentication exchange, as a value: the protocol layer passes
/// in the client's decoded responses and performs the `Action` each call returns.
///
/// RFC 4422 §3 leaves the framing to the protocol: it carries base64 challenges and
/// responses (SMTP `334`, IMAP and POP3 `+`), the optional initial response, and the
/// client's abort (`*`). This type is the mechanism's side: it sees raw bytes only, never
/// base64, sockets or the user database. PLAIN without an initial response, in SMTP:
///
///     C: AUTH PLAIN                      start(initialResponse: nil)
///     S: 334                             ← .challenge([])
///     C: AHRpbQB0YW5zdGFhZmw=            receive("\0tim\0tanstaafl")
///                                        ← .verifyPassword(authorizationID: nil,
///                                             authenticationID: "tim", password: "tanstaafl")
///     S: 235 2.7.0 Authentication successful     (the Authenticator said yes)
///
/// SCRAM-SHA-256 (RFC 7677 §3) needs the user's stored keys half-way through:
///
///     C: AUTH SCRAM-SHA-256 <base64>     start(initialResponse: "n,,n=user,r=rOprNG…")
///                                        ← .fetchSCRAMCredentials(authenticationID: "user")
///                                        scramCredentialsFetched(keys)   (nil if unknown)
///     S: 334 <base64>                    ← .challenge("r=rOprNG…%hvYD…,s=W22Z…,i=4096")
///     C: <base64>                        receive("c=biws,r=rOprNG…%hvYD…,p=dHzb…")
///                                        ← .success(authorizationID: nil,
///                                             authenticationID: "user", serverFinal: "v=6rri…")
///     S: 334 <base64 of serverFinal>     (serverFinal as one more challenge)
///     C:                                 (the client acknowledges with an empty line)
///     S: 235 2.7.0 Authentication successful
///
/// `serverFinal` goes to the client as "additional data with success" where the
/// protocol can carry it (RFC 4422 §3.6), otherwise as one more challenge whose empty
/// answer the protocol layer reads itself (this exchange is already over). Only after
/// that answer does the protocol report success; a `*` in its place cancels the login.
///
/// Every failure ends the exchange, as do `.verifyPassword` and `.success`: after them
/// each call answers `.failure(.wrongState)`. A non-nil authorization identity that is
/// not the authenticated login is for the caller to allow or refuse (RFC 4422 §3.4.1).
///
/// - SeeAlso: RFC 4422 §3, §4; RFC 4616; draft-murchison-sasl-login-00; RFC 5802 §5;
///   RFC 7677
public struct SASLServerStateMachine: Sendable, CustomStringConvertible, CustomDebugStringConvertible,
    CustomReflectable
{
    /// What the protocol layer does next.
    public enum Action: Equatable, Sendable {
        /// Send these bytes to the client as a challenge, base64-encoded (SMTP `334 `,
        /// IMAP/POP3 `+ `); an empty array is the empty challenge, nothing after the
        /// space. Then read the client's response and pass it to `receive(_:)`, or call
        /// `cancel()` when it is `*`.
        case challenge([UInt8])
        /// PLAIN or LOGIN has the credentials: check `password` for `authenticationID`
        /// through the authenticator. `authorizationID` is `nil` unless the client asked
        /// to act as someone else (RFC 4422 §3.4.1). The exchange is over.
        case verifyPassword(authorizationID: String?, authenticationID: String, password: String)
        /// SCRAM: look up the SCRAM-SHA-256 keys of `authenticationID` (off the event
        /// loop if the directory blocks), then call `scramCredentialsFetched(_:)` with
        /// them, or with `nil` when the user is unknown or has no SCRAM keys.
        case fetchSCRAMCredentials(authenticationID: String)
        /// The client proved who it is. For SCRAM `serverFinal` (`v=…`) must still reach
        /// the client (see the type's documentation) so that it can check the server.
        /// The exchange is over.
        case success(authorizationID: String?, authenticationID: String, serverFinal: [UInt8]?)
        /// The exchange failed and is over; map `SASLError.kind` to the protocol's reply.
        case failure(SASLError)
    }

    /// Where the exchange stands; each case carries what the next step needs.
    enum State: Sendable {
        /// Before `start(initialResponse:)`.
        case initial
        /// PLAIN sent its empty challenge; waiting for `[authzid] NUL authcid NUL passwd`.
        case plainAwaitingMessage
        /// LOGIN sent "Username:".
        case loginAwaitingUsername
        /// LOGIN sent "Password:".
        case loginAwaitingPassword(username: String)
        /// SCRAM sent its empty challenge; waiting for the client-first-message.
        case scramAwaitingClientFirst
        /// SCRAM asked the caller for the user's keys.
        case scramAwaitingCredentials(SCRAMClientFirstMessage)
        /// SCRAM sent the server-first-message; waiting for the client-final-message.
        case scramAwaitingClientFinal(SCRAMExchange)
        /// Succeeded, failed, or handed the password to the caller.
        case finished

        var name: String {
            switch self {
            case .initial: return "initial"
            case .plainAwaitingMessage: return "plainAwaitingMessage"
            case .loginAwaitingUsername: return "loginAwaitingUsername"
            case .loginAwaitingPassword: return "loginAwaitingPassword"
            case .scramAwaitingClientFirst: return "scramAwaitingClientFirst"
            case .scramAwaitingCredentials: return "scramAwaitingCredentials"
            case .scramAwaitingClientFinal: return "scramAwaitingClientFinal"
            case .finished: return "finished"
            }
        }
    }

    /// draft-murchison-sasl-login-00 §2 suggests "User Name" and "Password"; clients
    /// ignore the text, and "Username:"/"Password:" is what servers send in practice
    /// (Dovecot, Cyrus SASL).
    static let usernameChallenge = Array("Username:".utf8)
    static let passwordChallenge = Array("Password:".utf8)

    public let mechanism: SASLMechanism
    public let limits: SASLLimits
    private var state: State = .initial
    /// Replaces the random server nonce: tests replay RFC 7677 §3 with it.
    private let injectedServerNonce: [UInt8]?

    /// A new exchange for `mechanism`; call `start(initialResponse:)` next.
    public init(mechanism: SASLMechanism, limits: SASLLimits = SASLLimits()) {
        self.init(mechanism: mechanism, limits: limits, serverNonce: nil)
    }

    /// For tests: `serverNonce` (printable ASCII without commas) replaces the 24 random
    /// octets of the SCRAM server nonce.
    init(mechanism: SASLMechanism, limits: SASLLimits = SASLLimits(), serverNonce: [UInt8]?) {
        self.mechanism = mechanism
        self.limits = limits
        self.injectedServerNonce = serverNonce
    }

    /// Whether the exchange is over (success, failure, or password handed over).
    public var isFinished: Bool {
        if case .finished = state { return true }
        return false
    }

    // MARK: - Events

    /// Begins the exchange.
    ///
    /// - Parameter initialResponse: the client's initial response (SMTP `AUTH mech
    ///   resp`, IMAP SASL-IR, POP3 `AUTH mech resp`), decoded; `[]` when the client sent
    ///   `=`, an empty initial response, which RFC 4422 §4 distinguishes from none
    ///   (`nil`). Without one, PLAIN and SCRAM answer an empty challenge and LOGIN
    ///   "Username:"; LOGIN takes an initial response as the user name.
    public mutating func start(initialResponse: [UInt8]?) -> Action {
        do throws(SASLError) {
            guard case .initial = state else {
                throw SASLError(.wrongState, hint: "start(initialResponse:) called on a started exchange")
            }
            switch mechanism {
            case .plain:
                guard let initialResponse else {
                    state = .plainAwaitingMessage
                    return .challenge([])
                }
                return try acceptPLAINMessage(initialResponse)
            case .login:
                guard let initialResponse else {
                    state = .loginAwaitingUsername
                    return .challenge(Self.usernameChallenge)
                }
                return try acceptLOGINUsername(initialResponse)
            case .scramSHA256:
                guard let initialResponse else {
                    state = .scramAwaitingClientFirst
                    return .challenge([])
                }
                return try acceptSCRAMClientFirst(initialResponse)
            }
        } catch {
            return fail(error)
        }
    }

    /// The client's (decoded) response to the last challenge.
    public mutating func receive(_ response: [UInt8]) -> Action {
        do throws(SASLError) {
            switch state {
            case .plainAwaitingMessage:
                return try acceptPLAINMessage(response)
            case .loginAwaitingUsername:
                return try acceptLOGINUsername(response)
            case .loginAwaitingPassword(let username):
                return try acceptLOGINPassword(response, username: username)
            case .scramAwaitingClientFirst:
                return try acceptSCRAMClientFirst(response)
            case .scramAwaitingClientFinal(let exchange):
                return try acceptSCRAMClientFinal(response, exchange: exchange)
            case .initial, .scramAwaitingCredentials, .finished:
                throw SASLError(.wrongState, hint: "no client response expected in this state")
            }
        } catch {
            return fail(error)
        }
    }

    /// The client answered a challenge with `*`: RFC 4422 §3.5, the exchange fails.
    public mutating func cancel() -> Action {
        switch state {
        case .plainAwaitingMessage, .loginAwaitingUsername, .loginAwaitingPassword, .scramAwaitingClientFirst,
            .scramAwaitingCredentials, .scramAwaitingClientFinal:
            return fail(SASLError(.cancelled, hint: "client cancelled the exchange"))
        case .initial, .finished:
            return fail(SASLError(.wrongState, hint: "cancel() outside an exchange"))
        }
    }

    /// SCRAM: the answer to `.fetchSCRAMCredentials`. With `nil` (unknown user, or no
    /// SCRAM keys stored) the exchange continues on a fake salt that is the same for
    /// every attempt on that user name, with 4096 iterations, and fails at the end, so
    /// that a client cannot tell unknown users from known ones.
    public mutating func scramCredentialsFetched(_ keys: SCRAMServerKeys?) -> Action {
        guard case .scramAwaitingCredentials(let clientFirst) = state else {
            return fail(SASLError(.wrongState, hint: "SCRAM credentials arrived when none were asked for"))
        }
        let exchange = SCRAMExchange(
            clientFirst: clientFirst, keys: keys,
            serverNonce: injectedServerNonce ?? SCRAMExchange.randomServerNonce())
        state = .scramAwaitingClientFinal(exchange)
        return .challenge(exchange.serverFirstMessage)
    }

    // MARK: - Mechanisms

    private mutating func fail(_ error: SASLError) -> Action {
        state = .finished
        return .failure(error)
    }

    /// Every response, initial or not, is bounded before it is parsed.
    private func checkLength(_ response: [UInt8]) throws(SASLError) {
        guard response.count <= limits.maximumResponseLength else {
            throw SASLError(.tooLong, hint: "client response longer than SASLLimits.maximumResponseLength")
        }
    }

    /// PLAIN's one message (RFC 4616 §2).
    private mutating func acceptPLAINMessage(_ response: [UInt8]) throws(SASLError) -> Action {
        try checkLength(response)
        let message = try PLAINMessage(parsing: response)
        state = .finished
        return .verifyPassword(
            authorizationID: message.authorizationID, authenticationID: message.authenticationID,
            password: message.password)
    }

    private mutating func acceptLOGINUsername(_ response: [UInt8]) throws(SASLError) -> Action {
        try checkLength(response)
        let username = try Self.parseLOGINResponse(response)
        state = .loginAwaitingPassword(username: username)
        return .challenge(Self.passwordChallenge)
    }

    private mutating func acceptLOGINPassword(_ response: [UInt8], username: String) throws(SASLError) -> Action {
        try checkLength(response)
        let password = try Self.parseLOGINResponse(response)
        state = .finished
        return .verifyPassword(authorizationID: nil, authenticationID: username, password: password)
    }

    /// LOGIN has no grammar: each response is the whole user name, then the whole
    /// password (draft-murchison-sasl-login-00 §2). Both are held to PLAIN's rules
    /// (RFC 4616 §2: `1*SAFE`, at most 255 octets), so the two mechanisms accept the
    /// same credentials.
    static func parseLOGINResponse(_ response: [UInt8]) throws(SASLError) -> String {
        guard !response.isEmpty else {
            throw SASLError(.malformed, hint: "LOGIN user name or password is empty")
        }
        return try PLAINMessage.parseSAFEString(response[...])
    }

    private mutating func acceptSCRAMClientFirst(_ response: [UInt8]) throws(SASLError) -> Action {
        try checkLength(response)
        let message = try SCRAMClientFirstMessage(parsing: response)
        state = .scramAwaitingCredentials(message)
        return .fetchSCRAMCredentials(authenticationID: message.username)
    }

    private mutating func acceptSCRAMClientFinal(
        _ response: [UInt8], exchange: SCRAMExchange
    ) throws(SASLError) -> Action {
        try checkLength(response)
        let message = try SCRAMClientFinalMessage(parsing: response)
        let serverFinal = try exchange.verify(message)
        state = .finished
        return .success(
            authorizationID: exchange.clientFirst.authorizationID,
            authenticationID: exchange.clientFirst.username, serverFinal: serverFinal)
    }

    // MARK: - Description

    /// Mechanism and state only: never the stored keys, nonces or user data.
    public var description: String { "SASLServerStateMachine(\(mechanism.rawValue), \(state.name))" }
    public var debugDescription: String { description }
    public var customMirror: Mirror { Mirror(self, children: [:]) }
}

extension SASLServerStateMachine.Action: CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    /// Never contains the password or challenge contents; identities are quoted and
    /// escaped (they come from the client and could carry control characters).
    public var description: String {
        func quoted(_ identity: String?) -> String {
            identity.map { String(reflecting: $0) } ?? "nil"
        }
        switch self {
        case .challenge(let bytes):
            return "challenge(\(bytes.count) octets)"
        case .verifyPassword(let authorizationID, let authenticationID, _):
            return "verifyPassword(authorizationID: \(quoted(authorizationID)), "
                + "authenticationID: \(quoted(authenticationID)), password: <redacted>)"
        case .fetchSCRAMCredentials(let authenticationID):
            return "fetchSCRAMCredentials(authenticationID: \(quoted(authenticationID)))"
        case .success(let authorizationID, let authenticationID, let serverFinal):
            let finalText = serverFinal.map { "\($0.count) octets" } ?? "nil"
            return "success(authorizationID: \(quoted(authorizationID)), "
                + "authenticationID: \(quoted(authenticationID)), serverFinal: \(finalText))"
        case .failure(let error):
            return "failure(\(error))"
        }
    }

    public var debugDescription: String { description }
    public var customMirror: Mirror { Mirror(self, children: [:]) }
}
