import SASL

/// One line the server sends: the handshake, then the answers to requests.
///
///     S: VERSION \t 1 \t 2
///     S: MECH \t PLAIN \t plaintext
///     S: MECH \t LOGIN \t plaintext
///     S: MECH \t SCRAM-SHA-256 \t mutual-auth
///     S: SPID \t 1234
///     S: CUID \t 1
///     S: COOKIE \t 0123456789abcdef0123456789abcdef
///     S: DONE
///     S: CONT \t 2 \t VXNlcm5hbWU6
///     S: OK \t 1 \t user=alice@example.test
///     S: FAIL \t 3 \t user=bob@example.test
///
/// Every field is tab-escaped (`DovecotTabEscaping`), so a user name with a TAB or LF
/// cannot split or end the line.
///
/// - SeeAlso: Dovecot Authentication Protocol, "Client <-> Server", "Authentication";
///   Dovecot src/auth/auth-client-connection.c (`auth_client_finish_handshake`),
///   auth-request-handler.c (`…_reply_continue_finish`, `…_reply_success_finish`,
///   `…_reply_failure_finish`, `…_auth_fail_code`)
enum DovecotAuthReply: Equatable, Sendable {
    /// `"VERSION" TAB <major> TAB <minor>`.
    case version(major: Int, minor: Int)
    /// `"MECH" TAB <name> [TAB <parameters>]`: one mechanism we offer, with its
    /// security properties.
    case mechanism(SASLMechanism)
    /// `"SPID" TAB <pid>`: the server's process ID.
    case serverPID(Int)
    /// `"CUID" TAB <id>`: this connection's ID, unique within the server process.
    case connectionID(Int)
    /// `"COOKIE" TAB <hex>`: a secret for this connection (used by the master side).
    case cookie(String)
    /// `"DONE"`: the handshake is over.
    case done
    /// `"CONT" TAB <id> TAB <base64 data>`: a challenge; the client answers with CONT.
    case continuation(requestID: UInt32, challenge: [UInt8])
    /// `"OK" TAB <id> TAB "user=" <user> [TAB "resp=" <base64>]`: the login succeeded;
    /// `serverFinal` is SCRAM's server-final-message (RFC 4422 §3.6 "additional data
    /// with success"), sent as Dovecot sends it.
    case ok(requestID: UInt32, user: String, serverFinal: [UInt8]?)
    /// `"FAIL" TAB <id> [TAB "user=" <user>] [TAB "code=" <code>] [TAB "reason=" <text>]`:
    /// the request failed and is over. `reason` goes to the end user (Postfix copies it
    /// into its reply), so it is one of our fixed texts, never a detail.
    case fail(requestID: UInt32, user: String?, code: FailureCode?, reason: String?)

    /// The `code=` values of Dovecot's src/lib-auth/auth-client-interface.h that we send.
    enum FailureCode: String, Sendable, Equatable {
        /// `temp_fail`: an internal or temporary failure (or throttling): the client must
        /// not treat it as a wrong password. We add the bare `temp` flag too, which is
        /// what Dovecot before 2.3 sent and older clients (Exim, Dovecot 2.2 login
        /// processes) look for.
        case temporaryFailure = "temp_fail"
        /// `authz_fail`: authenticated, but may not act as the requested authorization
        /// identity.
        case authorizationFailed = "authz_fail"
        /// `invalid_base64`: the initial or continued response is not base64.
        case invalidBase64 = "invalid_base64"
    }

    /// Dovecot's own texts, so that logs read the same as with Dovecot.
    enum Reason {
        static let unsupportedMechanism = "Unsupported authentication mechanism"
        static let plaintextDisallowed = "Plaintext authentication disallowed on non-secure (SSL/TLS) connections."
        static let invalidInitialResponse = "Invalid base64 data in initial response"
        static let invalidContinuedResponse = "Invalid base64 data in continued response"
        static let unexpectedContinuation = "Unexpected continuation"
        static let timedOut = "Authentication request timed out"
        static let tooManyRequests = "Too many concurrent authentication requests"
    }

    // MARK: - Encoding

    /// The security properties Dovecot announces for each mechanism (its `MECH_SEC_*`
    /// flags); Postfix filters on them (`smtpd_sasl_security_options = noplaintext`).
    /// Only names Postfix knows are sent: it treats unknown ones as configuration errors.
    static func mechanismParameters(_ mechanism: SASLMechanism) -> [String] {
        switch mechanism {
        case .plain, .login: return ["plaintext"]
        case .scramSHA256: return ["mutual-auth"]
        }
    }

    /// The fields of the line, unescaped.
    var fields: [[UInt8]] {
        func text(_ string: String) -> [UInt8] { Array(string.utf8) }
        switch self {
        case .version(let major, let minor):
            return [text("VERSION"), text(String(major)), text(String(minor))]
        case .mechanism(let mechanism):
            return [text("MECH"), text(mechanism.name)] + Self.mechanismParameters(mechanism).map(text)
        case .serverPID(let pid):
            return [text("SPID"), text(String(pid))]
        case .connectionID(let connectionID):
            return [text("CUID"), text(String(connectionID))]
        case .cookie(let cookie):
            return [text("COOKIE"), text(cookie)]
        case .done:
            return [text("DONE")]
        case .continuation(let requestID, let challenge):
            return [text("CONT"), text(String(requestID)), encodeBase64(challenge)]
        case .ok(let requestID, let user, let serverFinal):
            var fields = [text("OK"), text(String(requestID)), text("user=") + text(user)]
            if let serverFinal { fields.append(text("resp=") + encodeBase64(serverFinal)) }
            return fields
        case .fail(let requestID, let user, let code, let reason):
            var fields = [text("FAIL"), text(String(requestID))]
            if let user { fields.append(text("user=") + text(user)) }
            if let code { fields.append(text("code=") + text(code.rawValue)) }
            if let reason { fields.append(text("reason=") + text(reason)) }
            if code == .temporaryFailure { fields.append(text("temp")) }
            return fields
        }
    }

    /// The whole line: escaped fields joined by TAB, then LF.
    var encoded: [UInt8] {
        var line: [UInt8] = []
        for (index, field) in fields.enumerated() {
            if index > 0 { line.append(DovecotAuthGrammar.tab) }
            line += DovecotTabEscaping.escape(field)
        }
        line.append(DovecotAuthGrammar.lineFeed)
        return line
    }
}
