import Crypto

/// One client-side SASL authentication exchange, as a value: the protocol layer sends
/// what each call returns and passes in the server's decoded challenges. It is the
/// mirror of `SASLServerStateMachine`, used by the outbound SMTP client to log in to a
/// smarthost. PLAIN in SMTP:
///
///     start()                            ← .respond("\0user\0password")
///     C: AUTH PLAIN AHVzZXIAcGFzc3dvcmQ=
///     S: 235 2.7.0 Authentication successful
///                                        successReceived() ← .succeeded
///
/// SCRAM-SHA-256 (RFC 7677 §3); the server must prove that it knows the password too:
///
///     start()                            ← .respond("n,,n=user,r=rOprNG…")
///     C: AUTH SCRAM-SHA-256 <base64>
///     S: 334 <base64>                    receive(challenge: "r=rOprNG…%hvYD…,s=W22Z…,i=4096")
///                                        ← .respond("c=biws,r=rOprNG…%hvYD…,p=dHzb…")
///     C: <base64>
///     S: 334 <base64>                    receive(challenge: "v=6rri…")   (signature checked)
///                                        ← .respond([])
///     C:                                 (an empty line)
///     S: 235 2.7.0 Authentication successful
///                                        successReceived() ← .succeeded
///
/// A server that answers 235 before SCRAM's `v=` arrived has not proved anything:
/// `successReceived()` fails then (RFC 5802 §5: the client "MUST verify" the server
/// signature). Every failure ends the exchange; the caller cancels it on the wire
/// (`*`, RFC 4422 §3.5) or, when the server already answered, just reports it.
///
/// Not implemented: SASLprep (RFC 4013) of user names and passwords (their UTF-8 bytes
/// are used as given, as `SASLServerStateMachine` does), channel binding.
///
/// - SeeAlso: RFC 4422 §3, RFC 4616 §2, draft-murchison-sasl-login-00, RFC 5802 §3,
///   §5, §7, RFC 7677
public struct SASLClientStateMachine: Sendable, CustomStringConvertible, CustomDebugStringConvertible,
    CustomReflectable
{
    /// What the protocol layer does next.
    public enum Action: Sendable, Equatable {
        /// Send these bytes, base64-encoded: as the initial response of the AUTH command
        /// when returned by `start()`, else as the response to the last challenge. An
        /// empty array is an empty response (`=` as an initial response in SMTP,
        /// RFC 4954 §4; an empty line as a response).
        case respond([UInt8])
        /// Send the AUTH command without an initial response and wait for a challenge
        /// (LOGIN).
        case awaitChallenge
        /// The exchange is complete and, for SCRAM, the server is verified.
        case succeeded
        /// The exchange failed and is over.
        case failed(SASLError)
    }

    /// The limits the client holds a server to.
    public enum Limits {
        /// The highest SCRAM iteration count accepted from a server. Each iteration is
        /// one HMAC-SHA-256; a hostile server could otherwise make the client spend
        /// minutes per login. RFC 7677 §4 asks for at least 4096; deployments use up to
        /// a few hundred thousand.
        public static let maximumSCRAMIterations = 1_000_000
        /// Octets of randomness in the client's SCRAM nonce (sent base64-encoded).
        public static let clientNonceLength = 24
        /// LOGIN answers two prompts, user name and password.
        static let loginPrompts = 2
    }

    enum State: Sendable {
        case initial
        /// LOGIN: the number of prompts answered so far.
        case login(answered: Int)
        /// PLAIN sent everything with the AUTH command; only the outcome is missing.
        case plainSent
        /// SCRAM sent client-first and waits for server-first.
        case scramSentClientFirst(clientFirstBare: [UInt8])
        /// SCRAM sent client-final and waits for the server's signature.
        case scramSentClientFinal(expectedServerSignature: [UInt8])
        /// SCRAM checked the server's signature; waits for 235.
        case scramVerified
        case done
        case failed
    }

    public let mechanism: SASLMechanism
    private let username: String
    private let password: String
    private let clientNonce: [UInt8]
    private var state = State.initial

    /// - Parameters:
    ///   - clientNonce: SCRAM's `c-nonce` (printable ASCII without commas); random when
    ///     nil. Tests fix it to reproduce RFC 7677's example.
    public init(mechanism: SASLMechanism, username: String, password: String, clientNonce: [UInt8]? = nil) {
        self.mechanism = mechanism
        self.username = username
        self.password = password
        self.clientNonce = clientNonce ?? Self.randomClientNonce()
    }

    /// What goes with the AUTH command.
    public mutating func start() -> Action {
        guard case .initial = state else { return fail(SASLError(.wrongState, hint: "start() called twice")) }
        switch mechanism {
        case .plain:
            state = .plainSent
            return .respond(Self.plainMessage(username: username, password: password))
        case .login:
            state = .login(answered: 0)
            return .awaitChallenge
        case .scramSHA256:
            let bare = Self.clientFirstMessageBare(username: username, nonce: clientNonce)
            state = .scramSentClientFirst(clientFirstBare: bare)
            return .respond(Array(Self.gs2Header.utf8) + bare)
        }
    }

    /// The server sent a challenge (SMTP `334`), already base64-decoded.
    public mutating func receive(challenge: [UInt8]) -> Action {
        switch state {
        case .login(let answered):
            // draft-murchison-sasl-login-00 §2: the prompts' text is not meaningful
            // (servers send "Username:", "User Name", localised text); answer in order.
            guard answered < Limits.loginPrompts else {
                return fail(SASLError(.malformed, hint: "LOGIN server sent a third challenge"))
            }
            state = .login(answered: answered + 1)
            return .respond(Array((answered == 0 ? username : password).utf8))
        case .scramSentClientFirst(let bare):
            do throws(SASLError) {
                let (response, signature) = try Self.clientFinalMessage(
                    serverFirst: challenge, clientFirstBare: bare, clientNonce: clientNonce, password: password)
                state = .scramSentClientFinal(expectedServerSignature: signature)
                return .respond(response)
            } catch {
                return fail(error)
            }
        case .scramSentClientFinal(let expected):
            do throws(SASLError) {
                try Self.verifyServerFinal(challenge, expectedServerSignature: expected)
                state = .scramVerified
                // RFC 4954 §4: additional data with success comes as a 334; the client
                // answers with an empty response.
                return .respond([])
            } catch {
                return fail(error)
            }
        case .plainSent:
            // RFC 4616: PLAIN has one message; a challenge after it is not PLAIN.
            return fail(SASLError(.malformed, hint: "PLAIN server sent a challenge after the message"))
        case .initial, .scramVerified, .done, .failed:
            return fail(SASLError(.wrongState, hint: "challenge in a state that expects none"))
        }
    }

    /// The server said the login succeeded (SMTP `235`).
    public mutating func successReceived() -> Action {
        switch state {
        case .plainSent, .scramVerified:
            state = .done
            return .succeeded
        case .login(let answered) where answered == Limits.loginPrompts:
            state = .done
            return .succeeded
        case .scramSentClientFirst, .scramSentClientFinal:
            return fail(SASLError(.authenticationFailed, hint: "SCRAM server reported success without proving itself"))
        case .login:
            return fail(SASLError(.malformed, hint: "LOGIN server reported success before the password"))
        case .initial, .done, .failed:
            return fail(SASLError(.wrongState, hint: "success in a state that expects none"))
        }
    }

    private mutating func fail(_ error: SASLError) -> Action {
        state = .failed
        return .failed(error)
    }

    /// Never shows the password or any key material.
    public var description: String { "SASLClientStateMachine(\(mechanism.name), <redacted>)" }
    public var debugDescription: String { description }
    public var customMirror: Mirror { Mirror(self, children: ["mechanism": mechanism]) }

    // MARK: - PLAIN (RFC 4616 §2)

    /// `[authzid] UTF8NUL authcid UTF8NUL passwd`, without an authorization identity
    /// (we act as ourselves).
    static func plainMessage(username: String, password: String) -> [UInt8] {
        [0] + Array(username.utf8) + [0] + Array(password.utf8)
    }

    // MARK: - SCRAM (RFC 5802)

    /// No channel binding, no authorization identity.
    ///
    ///     gs2-header      = gs2-cbind-flag "," [ authzid ] ","
    static let gs2Header = "n,,"

    ///     client-first-message-bare =
    ///                       [reserved-mext ","]
    ///                       username "," nonce ["," extensions]
    ///     username        = "n=" saslname
    static func clientFirstMessageBare(username: String, nonce: [UInt8]) -> [UInt8] {
        Array("n=".utf8) + encodeSaslname(username) + Array(",r=".utf8) + nonce
    }

    /// RFC 5802 §5.1: "The characters ',' or '=' in usernames are sent as '=2C' and
    /// '=3D' respectively."
    static func encodeSaslname(_ name: String) -> [UInt8] {
        var bytes: [UInt8] = []
        for byte in name.utf8 {
            switch byte {
            case SCRAMGrammar.comma: bytes += Array("=2C".utf8)
            case SCRAMGrammar.equals: bytes += Array("=3D".utf8)
            default: bytes.append(byte)
            }
        }
        return bytes
    }

    /// Parses server-first and computes client-final and the signature the server must
    /// send back.
    ///
    ///     server-first-message =
    ///                       [reserved-mext ","] nonce "," salt ","
    ///                       iteration-count ["," extensions]
    ///     client-final-message-without-proof =
    ///                       channel-binding "," nonce [","
    ///                       extensions]
    ///     client-final-message =
    ///                       client-final-message-without-proof "," proof
    ///
    ///     SaltedPassword  := Hi(Normalize(password), salt, i)
    ///     ClientKey       := HMAC(SaltedPassword, "Client Key")
    ///     StoredKey       := H(ClientKey)
    ///     AuthMessage     := client-first-message-bare + "," +
    ///                        server-first-message + "," +
    ///                        client-final-message-without-proof
    ///     ClientSignature := HMAC(StoredKey, AuthMessage)
    ///     ClientProof     := ClientKey XOR ClientSignature
    ///     ServerKey       := HMAC(SaltedPassword, "Server Key")
    ///     ServerSignature := HMAC(ServerKey, AuthMessage)
    static func clientFinalMessage(
        serverFirst: [UInt8], clientFirstBare: [UInt8], clientNonce: [UInt8], password: String
    ) throws(SASLError) -> (message: [UInt8], serverSignature: [UInt8]) {
        let fields = SCRAMGrammar.fields(serverFirst[...])
        // RFC 5802 §5.1 `m`: its presence "MUST cause authentication failure".
        guard fields.count >= 3, SCRAMGrammar.attributeValue(fields[0], name: "m") == nil else {
            throw SASLError(.malformed, hint: "SCRAM server-first-message is malformed or has m=")
        }
        let nonce = try SCRAMGrammar.parseNonce(fields[0])
        // RFC 5802 §5.1 `r`: the server appends its part to ours; anything else is a
        // replay or a confused server.
        guard nonce.count > clientNonce.count, nonce.starts(with: clientNonce) else {
            throw SASLError(.authenticationFailed, hint: "SCRAM server nonce does not extend the client nonce")
        }
        guard let saltText = SCRAMGrammar.attributeValue(fields[1], name: "s") else {
            throw SASLError(.malformed, hint: "SCRAM salt (s=) missing")
        }
        let salt = try SCRAMGrammar.parseBase64(saltText)
        guard !salt.isEmpty else { throw SASLError(.malformed, hint: "SCRAM salt is empty") }
        let iterations = try parseIterationCount(fields[2])
        try SCRAMGrammar.parseExtensions(fields.dropFirst(3))

        let saltedPassword = hi(password: Array(password.utf8), salt: salt, iterations: iterations)
        let clientKey = hmac(key: saltedPassword, Array("Client Key".utf8))
        let storedKey = Array(SHA256.hash(data: clientKey))
        // c= is base64(gs2-header): "biws" for "n,,".
        let withoutProof = Array("c=\(Base64.encode(gs2Header.utf8)),r=".utf8) + nonce
        let authMessage = clientFirstBare + [SCRAMGrammar.comma] + serverFirst + [SCRAMGrammar.comma] + withoutProof
        let clientSignature = hmac(key: storedKey, authMessage)
        let proof = zip(clientKey, clientSignature).map { $0 ^ $1 }
        let serverKey = hmac(key: saltedPassword, Array("Server Key".utf8))
        let serverSignature = hmac(key: serverKey, authMessage)
        return (withoutProof + Array(",p=".utf8) + Array(Base64.encode(proof).utf8), serverSignature)
    }

    ///     iteration-count = "i=" posit-number
    ///     posit-number = %x31-39 *DIGIT
    static func parseIterationCount(_ field: ArraySlice<UInt8>) throws(SASLError) -> Int {
        guard let value = SCRAMGrammar.attributeValue(field, name: "i"), let first = value.first,
            first != UInt8(ascii: "0"), value.count <= 10, value.allSatisfy(SCRAMGrammar.isDIGIT)
        else { throw SASLError(.malformed, hint: "SCRAM iteration count (i=) is not a positive number") }
        var count = 0
        for digit in value { count = count * 10 + Int(digit - UInt8(ascii: "0")) }
        guard count <= Limits.maximumSCRAMIterations else {
            throw SASLError(.unsupported, hint: "SCRAM iteration count above the client's limit")
        }
        return count
    }

    /// Checks server-final against the expected signature, in constant time.
    ///
    ///     server-final-message = (server-error / verifier)
    ///                       ["," extensions]
    ///     server-error = "e=" server-error-value
    ///     verifier        = "v=" base64
    static func verifyServerFinal(_ message: [UInt8], expectedServerSignature: [UInt8]) throws(SASLError) {
        let fields = SCRAMGrammar.fields(message[...])
        guard let first = fields.first, let value = SCRAMGrammar.attributeValue(first, name: "v") else {
            // `e=…` (the server refused the proof) or anything else: not verified.
            throw SASLError(.authenticationFailed, hint: "SCRAM server-final-message has no verifier")
        }
        let signature = try SCRAMGrammar.parseBase64(value)
        guard constantTimeEquals(signature, expectedServerSignature) else {
            throw SASLError(.authenticationFailed, hint: "SCRAM server signature does not verify")
        }
    }

    /// Hi(str, salt, i): PBKDF2 with HMAC-SHA-256 and one 32-octet block (RFC 5802 §2.2).
    ///
    ///     U1   := HMAC(str, salt + INT(1))
    ///     U2   := HMAC(str, U1)
    ///     ...
    ///     Hi := U1 XOR U2 XOR ... XOR Ui
    static func hi(password: [UInt8], salt: [UInt8], iterations: Int) -> [UInt8] {
        let key = SymmetricKey(data: password)
        var block = Array(HMAC<SHA256>.authenticationCode(for: salt + [0, 0, 0, 1], using: key))
        var result = block
        var round = 1
        while round < iterations {
            block = Array(HMAC<SHA256>.authenticationCode(for: block, using: key))
            for index in result.indices { result[index] ^= block[index] }
            round += 1
        }
        return result
    }

    static func hmac(key: [UInt8], _ message: [UInt8]) -> [UInt8] {
        Array(HMAC<SHA256>.authenticationCode(for: message, using: SymmetricKey(data: key)))
    }

    /// `Limits.clientNonceLength` random octets, base64: printable, without a comma.
    static func randomClientNonce() -> [UInt8] {
        var generator = SystemRandomNumberGenerator()
        var bytes = [UInt8](repeating: 0, count: Limits.clientNonceLength)
        for index in bytes.indices { bytes[index] = generator.next() }
        return Array(Base64.encode(bytes).utf8)
    }
}
