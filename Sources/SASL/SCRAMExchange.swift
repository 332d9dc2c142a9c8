import Crypto
import Foundation

/// The server's half of one SCRAM-SHA-256 exchange after the user's keys were looked
/// up: it writes the server-first-message and checks the client's proof.
///
///     S: r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,
///        s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096                   (RFC 7677 §3)
///     C: c=biws,r=…,p=…
///     S: v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=
///
/// For a user that is unknown or has unusable keys it runs on fake keys — a salt
/// derived from a per-process secret and the user name, so that repeated probes of the
/// same name see the same salt, and the usual 4096 iterations — does the same work as
/// for a real user, and fails at the end like a wrong password.
///
/// - SeeAlso: RFC 5802 §3 (algorithm), §5 (exchange), §5.1 (attributes)
struct SCRAMExchange: Sendable {
    let clientFirst: SCRAMClientFirstMessage
    /// The user's keys, or fake ones (`isKnownUser == false`).
    let keys: SCRAMServerKeys
    /// `false` forces the final check to fail whatever proof arrives.
    let isKnownUser: Bool
    /// The client's nonce followed by ours; the client must echo it in client-final.
    let combinedNonce: [UInt8]
    /// Sent to the client, and the middle of AuthMessage.
    let serverFirstMessage: [UInt8]

    /// - Parameter serverNonce: printable ASCII without commas (RFC 5802 §5.1 `r`).
    init(clientFirst: SCRAMClientFirstMessage, keys: SCRAMServerKeys?, serverNonce: [UInt8]) {
        let effectiveKeys: SCRAMServerKeys
        if let keys, keys.isUsable {
            effectiveKeys = keys
            self.isKnownUser = true
        } else {
            effectiveKeys = Self.unknownUserKeys(username: clientFirst.username)
            self.isKnownUser = false
        }
        let combinedNonce = clientFirst.clientNonce + serverNonce
        self.clientFirst = clientFirst
        self.keys = effectiveKeys
        self.combinedNonce = combinedNonce
        self.serverFirstMessage = Self.serverFirstMessage(
            nonce: combinedNonce, salt: effectiveKeys.salt, iterations: effectiveKeys.iterations)
    }

    // MARK: - Encoding

    /// We never send `m=` or extensions.
    ///
    ///     server-first-message =
    ///                       [reserved-mext ","] nonce "," salt ","
    ///                       iteration-count ["," extensions]
    ///     salt            = "s=" base64
    ///     iteration-count = "i=" posit-number
    ///                       ;; A positive number.
    static func serverFirstMessage(nonce: [UInt8], salt: [UInt8], iterations: Int) -> [UInt8] {
        var message = Array("r=".utf8)
        message += nonce
        message += ",s=".utf8
        message += Data(salt).base64EncodedString().utf8
        message += ",i=\(iterations)".utf8
        return message
    }

    /// The server's nonce part: `SASLLimits.serverNonceLength` random octets, base64 —
    /// whose alphabet (A–Z a–z 0–9 + / =) is all `printable`, without a comma.
    static func randomServerNonce() -> [UInt8] {
        var generator = SystemRandomNumberGenerator()
        var bytes = [UInt8](repeating: 0, count: SASLLimits.serverNonceLength)
        for index in bytes.indices { bytes[index] = generator.next() }
        return Array(Data(bytes).base64EncodedString().utf8)
    }

    // MARK: - Verification

    /// Checks the client-final-message and returns the server-final-message.
    ///
    ///     AuthMessage     := client-first-message-bare + "," +
    ///                        server-first-message + "," +
    ///                        client-final-message-without-proof
    ///     ClientSignature := HMAC(StoredKey, AuthMessage)
    ///     ClientKey       := ClientProof XOR ClientSignature
    ///     ServerSignature := HMAC(ServerKey, AuthMessage)
    ///
    ///     server-final-message = (server-error / verifier)
    ///                       ["," extensions]
    ///     verifier        = "v=" base64
    ///                       ;; base-64 encoded ServerSignature.
    ///
    /// RFC 5802 lets the server answer `e=invalid-proof` and similar; we fail the
    /// exchange instead, which every protocol reports with its own failure reply.
    func verify(_ message: SCRAMClientFinalMessage) throws(SASLError) -> [UInt8] {
        // RFC 5802 §5.1 `c`: for "n"/"y" the cbind-input is the gs2-header alone; a
        // mismatch also catches a "y" flag stripped to "n" by an attacker (§6).
        guard message.channelBindingInput == clientFirst.gs2Header else {
            throw SASLError(.authenticationFailed, hint: "SCRAM c= does not match the gs2-header")
        }
        // RFC 5802 §5.1 `r`: the client must repeat the combined nonce exactly.
        guard message.nonce == combinedNonce else {
            throw SASLError(.authenticationFailed, hint: "SCRAM nonce in client-final does not match")
        }
        var authMessage = clientFirst.bare
        authMessage.append(SCRAMGrammar.comma)
        authMessage += serverFirstMessage
        authMessage.append(SCRAMGrammar.comma)
        authMessage += message.withoutProof
        let clientSignature = Array(
            HMAC<SHA256>.authenticationCode(for: authMessage, using: SymmetricKey(data: keys.storedKey)))
        let clientKey = zip(message.proof, clientSignature).map { $0 ^ $1 }
        let computedStoredKey = Array(SHA256.hash(data: clientKey))
        // The comparison runs for unknown users too, so both paths cost the same.
        let proofMatches = constantTimeEquals(computedStoredKey, keys.storedKey)
        guard proofMatches, isKnownUser, clientKey.count == SHA256.byteCount else {
            throw SASLError(.authenticationFailed, hint: "SCRAM proof does not verify")
        }
        let serverSignature = Array(
            HMAC<SHA256>.authenticationCode(for: authMessage, using: SymmetricKey(data: keys.serverKey)))
        var serverFinal = Array("v=".utf8)
        serverFinal += Data(serverSignature).base64EncodedString().utf8
        return serverFinal
    }

    // MARK: - Unknown users

    /// Per-process secret behind the fake salts, made on first use and never changed.
    /// (`[UInt8]`, not `SymmetricKey`, which is not `Sendable`.) Limit: a restart changes
    /// every fake salt, so someone who probes the same name before and after a restart
    /// can tell that it had no SCRAM keys; a secret kept in the data directory would
    /// close that gap.
    private static let unknownUserSecret: [UInt8] = {
        var generator = SystemRandomNumberGenerator()
        var bytes = [UInt8](repeating: 0, count: SHA256.byteCount)
        for index in bytes.indices { bytes[index] = generator.next() }
        return bytes
    }()

    /// Fake keys for `username`: salt = the first 16 octets of HMAC-SHA-256(secret,
    /// username), 4096 iterations; the two keys are derived the same way under other
    /// labels so that they are the right size and match nothing a client can compute.
    static func unknownUserKeys(username: String) -> SCRAMServerKeys {
        let secret = SymmetricKey(data: unknownUserSecret)
        let name = Array(username.utf8)
        let salt = Array(HMAC<SHA256>.authenticationCode(for: name, using: secret))
        let storedKey = Array(HMAC<SHA256>.authenticationCode(for: Array("StoredKey\0".utf8) + name, using: secret))
        let serverKey = Array(HMAC<SHA256>.authenticationCode(for: Array("ServerKey\0".utf8) + name, using: secret))
        return SCRAMServerKeys(
            iterations: SASLLimits.unknownUserIterations,
            salt: Array(salt.prefix(SASLLimits.unknownUserSaltLength)),
            storedKey: storedKey,
            serverKey: serverKey)
    }
}
