/// One line from the auth client (the MTA), parsed: the handshake commands and the
/// three request commands.
///
///     C: VERSION \t 1 \t 0
///     C: CPID \t 4711
///     C: AUTH \t 1 \t PLAIN \t service=smtp \t nologin \t lip=127.0.0.1 \t rip=127.0.0.1
///        \t secured \t resp=AHVzZXIAcGFzcw==
///     C: CONT \t 2 \t dXNlcg==
///     C: CANCEL \t 2
///
/// The grammar is the protocol document's "General" section: a line is TAB-separated
/// fields, the first is the command name, then required parameters in order, then
/// optional ones, each `name=value` or a bare boolean `name`; every field is
/// tab-escaped (`DovecotTabEscaping`). Command names are matched exactly, case and all,
/// as Dovecot does (`strcmp`). This type checks syntax only; what a command means in the
/// connection's state is `DovecotAuthServerStateMachine`'s business.
///
/// - SeeAlso: Dovecot Authentication Protocol, "General", "Client <-> Server",
///   "Authentication"; Dovecot src/auth/auth-client-connection.c,
///   auth-request-handler.c (`auth_request_handler_auth_begin`, `…_auth_continue`)
enum DovecotAuthCommand: Equatable, Sendable {
    /// `"VERSION" TAB <major> TAB <minor>`: the client's protocol version. Exactly two
    /// numbers follow, as Dovecot requires.
    case version(major: UInt32, minor: UInt32)
    /// `"CPID" TAB <pid>`: the client's process ID, which must not be 0. The second and
    /// last line of the client's handshake.
    case clientPID(UInt32)
    /// `"AUTH" TAB <id> TAB <mechanism> [TAB <parameters>]`: start a request.
    case auth(Auth)
    /// `"CONT" TAB <id> TAB <base64 data>`: the client's response to our CONT. The data
    /// is kept as sent (base64 text, unescaped); the state machine decodes it.
    case continuation(requestID: UInt32, response: [UInt8])
    /// `"CANCEL" TAB <id>`: forget a request; no reply.
    case cancel(requestID: UInt32)

    /// The command names, for the state table.
    enum Name: Sendable, Equatable {
        case version, clientPID, auth, continuation, cancel
    }

    var name: Name {
        switch self {
        case .version: return .version
        case .clientPID: return .clientPID
        case .auth: return .auth
        case .continuation: return .continuation
        case .cancel: return .cancel
        }
    }

    /// An AUTH command's fields.
    ///
    ///     AUTH TAB <id> TAB <mechanism> TAB service=<service> [TAB <parameter>]*
    ///          [TAB resp=<base64>]
    ///
    /// Parameters we read: `service=` (required: Dovecot refuses a request without it),
    /// `secured`, `valid-client-cert`, `no-penalty`, `lip=`, `rip=`, `lport=`, `rport=`,
    /// `resp=`. Others (`nologin`, `session=`, `local_name=`, `ssl_cipher=`, …) are
    /// ignored, as the protocol document requires of unknown optional parameters.
    struct Auth: Equatable, Sendable {
        /// Dovecot refuses 0 ("broken AUTH request").
        var requestID: UInt32
        /// As sent; matched against `SASLMechanism` case-insensitively by the caller.
        var mechanismName: String
        /// The end user's protocol: `smtp` from Postfix and Exim.
        var service: String
        /// `secured`: the end user's connection is TLS (Postfix sends it when TLS is
        /// active; Exim also when the connection is local). Dovecot 2.4 may send a value
        /// (`secured=tls`); any value counts.
        var isSecured = false
        /// `valid-client-cert`: a client certificate was verified. Parsed, not used: we
        /// offer no certificate-based login.
        var hasValidClientCertificate = false
        /// `no-penalty`: the client asks us not to delay or count a failure.
        var noPenalty = false
        /// `lip=`: the MTA's own address on the end user's connection; empty is absent.
        var localAddress: String?
        /// `rip=`: the end user's address; empty is absent (Postfix sends `lip=` empty
        /// when it cannot tell its own address).
        var remoteAddress: String?
        /// `resp=`: the initial response as sent (base64 text); `nil` when absent. The
        /// state machine decodes it, because an empty value means "absent" before
        /// protocol version 1.2 and "empty response" from 1.2 on.
        var initialResponse: [UInt8]?
    }

    // MARK: - Parsing

    /// Parses one line, without its LF (and CR).
    static func parse(_ line: ArraySlice<UInt8>) throws(DovecotAuthProtocolError) -> DovecotAuthCommand {
        // Cut at raw TABs first: an escaped TAB is `\001 t` and does not cut.
        let fields = line.split(separator: DovecotAuthGrammar.tab, omittingEmptySubsequences: false)
            .map { DovecotTabEscaping.unescape($0) }
        guard let name = fields.first else {
            throw DovecotAuthProtocolError(.unknownCommand, hint: "empty line")
        }
        let arguments = fields.dropFirst()
        switch name {
        case Array("VERSION".utf8): return try parseVersion(arguments)
        case Array("CPID".utf8): return try parseClientPID(arguments)
        case Array("AUTH".utf8): return try .auth(parseAuth(arguments))
        case Array("CONT".utf8): return try parseContinuation(arguments)
        case Array("CANCEL".utf8): return try .cancel(requestID: parseRequestID(arguments.first))
        default:
            throw DovecotAuthProtocolError(.unknownCommand, hint: "command is not VERSION, CPID, AUTH, CONT or CANCEL")
        }
    }

    /// `"VERSION" TAB <major> TAB <minor>`; Dovecot checks that there are exactly three
    /// fields.
    static func parseVersion(_ arguments: ArraySlice<[UInt8]>) throws(DovecotAuthProtocolError) -> DovecotAuthCommand {
        guard arguments.count == 2, let majorField = arguments.first, let minorField = arguments.last,
            let major = parseNumber(majorField), let minor = parseNumber(minorField)
        else {
            throw DovecotAuthProtocolError(.malformed, hint: "VERSION needs exactly two decimal numbers")
        }
        return .version(major: major, minor: minor)
    }

    /// `"CPID" TAB <pid>`; Dovecot refuses PID 0 and ignores further fields.
    static func parseClientPID(_ arguments: ArraySlice<[UInt8]>) throws(DovecotAuthProtocolError) -> DovecotAuthCommand
    {
        guard let field = arguments.first, let pid = parseNumber(field), pid != 0 else {
            throw DovecotAuthProtocolError(.malformed, hint: "CPID needs a decimal process ID other than 0")
        }
        return .clientPID(pid)
    }

    /// `"AUTH" TAB <id> TAB <mechanism> [TAB <parameters>]`. As in Dovecot, `resp=` must
    /// be the last parameter and `service=` must be present.
    static func parseAuth(_ arguments: ArraySlice<[UInt8]>) throws(DovecotAuthProtocolError) -> Auth {
        let requestID = try parseRequestID(arguments.first)
        guard let mechanismField = arguments.dropFirst().first, !mechanismField.isEmpty else {
            throw DovecotAuthProtocolError(.malformed, hint: "AUTH without a mechanism")
        }
        var service: String? = nil
        var auth = Auth(
            requestID: requestID, mechanismName: String(decoding: mechanismField, as: UTF8.self), service: "")
        for parameter in arguments.dropFirst(2) {
            // Dovecot: "this must be the last parameter".
            guard auth.initialResponse == nil else {
                throw DovecotAuthProtocolError(.malformed, hint: "AUTH parameters after resp=")
            }
            let (name, value) = splitParameter(parameter)
            switch name {
            case Array("service".utf8):
                guard let text = value.flatMap({ decodeUTF8($0) }), !text.isEmpty else {
                    throw DovecotAuthProtocolError(.malformed, hint: "AUTH service= is empty or not UTF-8")
                }
                service = text
            case Array("secured".utf8):
                auth.isSecured = true
            case Array("valid-client-cert".utf8):
                auth.hasValidClientCertificate = true
            case Array("no-penalty".utf8):
                auth.noPenalty = true
            case Array("lip".utf8):
                auth.localAddress = try parseAddress(value)
            case Array("rip".utf8):
                auth.remoteAddress = try parseAddress(value)
            case Array("resp".utf8):
                auth.initialResponse = value ?? []
            default:
                // `lport=`, `rport=` (we log no ports here), `nologin`, and everything
                // unknown: "If optional parameter name is unknown, the parameter should
                // just be ignored."
                continue
            }
        }
        guard let service else {
            throw DovecotAuthProtocolError(.malformed, hint: "AUTH without service=")
        }
        auth.service = service
        return auth
    }

    /// `"CONT" TAB <id> TAB <data>`: Dovecot closes the connection when the data field
    /// is missing. Fields after it (1.3's `channel_binding=`) are ignored.
    static func parseContinuation(_ arguments: ArraySlice<[UInt8]>) throws(DovecotAuthProtocolError)
        -> DovecotAuthCommand
    {
        let requestID = try parseRequestID(arguments.first)
        guard let response = arguments.dropFirst().first else {
            throw DovecotAuthProtocolError(.malformed, hint: "CONT without data")
        }
        return .continuation(requestID: requestID, response: response)
    }

    /// `<id>`: "a unique identifier for this request", a decimal number that fits an
    /// unsigned 32-bit integer; 0 is refused (Dovecot: `id == 0` is a broken request).
    static func parseRequestID(_ field: [UInt8]?) throws(DovecotAuthProtocolError) -> UInt32 {
        guard let field, let requestID = parseNumber(field), requestID != 0 else {
            throw DovecotAuthProtocolError(.malformed, hint: "request ID is not a decimal number from 1 to 4294967295")
        }
        return requestID
    }

    /// An unsigned decimal number of at most 10 digits that fits `UInt32`, no sign and
    /// no spaces (Dovecot's `str_to_uint`).
    static func parseNumber(_ field: [UInt8]) -> UInt32? {
        guard !field.isEmpty, field.count <= 10 else { return nil }
        var value: UInt64 = 0
        for byte in field {
            guard (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) else { return nil }
            value = value * 10 + UInt64(byte - UInt8(ascii: "0"))
        }
        return UInt32(exactly: value)
    }

    /// `name=value` → (name, value); a bare `name` → (name, nil). The value is
    /// everything after the first `=`, so it may itself contain `=` (base64 padding).
    static func splitParameter(_ parameter: [UInt8]) -> (name: [UInt8], value: [UInt8]?) {
        guard let equals = parameter.firstIndex(of: DovecotAuthGrammar.equals) else { return (parameter, nil) }
        return (Array(parameter[..<equals]), Array(parameter[parameter.index(after: equals)...]))
    }

    /// `lip=`/`rip=`: an address as text; empty or absent is `nil`. Not parsed as an IP
    /// address here (the plaintext rule does that); it must be UTF-8 to be logged.
    static func parseAddress(_ value: [UInt8]?) throws(DovecotAuthProtocolError) -> String? {
        guard let value, !value.isEmpty else { return nil }
        guard let text = decodeUTF8(value) else {
            throw DovecotAuthProtocolError(.malformed, hint: "AUTH lip=/rip= is not UTF-8")
        }
        return text
    }
}
