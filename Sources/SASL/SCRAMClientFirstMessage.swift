/// The client's first SCRAM message: the GS2 header (channel-binding flag and optional
/// authorization identity), then the user name and the client's nonce.
///
///     C: n,,n=user,r=rOprNGfwEbeRWgbNEkqO          (RFC 7677 §3)
///
/// Both raw parts are kept byte for byte: the client must echo `gs2Header` in the
/// client-final `c=` attribute, and `bare` starts the AuthMessage both sides sign.
///
/// - SeeAlso: RFC 5802 §5.1, §7
struct SCRAMClientFirstMessage: Sendable, Equatable {
    /// `gs2-header` exactly as sent, trailing comma included (`"n,,"`).
    let gs2Header: [UInt8]
    /// The decoded `a=` of the GS2 header, `nil` when absent.
    let authorizationID: String?
    /// The decoded `n=` user name (not SASLprep'd, see the module header).
    let username: String
    /// The `r=` value the client chose.
    let clientNonce: [UInt8]
    /// `client-first-message-bare` exactly as sent.
    let bare: [UInt8]

    ///     client-first-message = gs2-header client-first-message-bare
    init(parsing bytes: [UInt8]) throws(SASLError) {
        let header = try Self.parseGS2Header(bytes[...])
        let bare = try Self.parseClientFirstMessageBare(header.rest)
        self.gs2Header = Array(header.header)
        self.authorizationID = header.authorizationID
        self.username = bare.username
        self.clientNonce = bare.nonce
        self.bare = Array(header.rest)
    }

    // MARK: - Parsing

    /// Splits off the GS2 header and returns it with its authzid and the rest of the
    /// message (which is `client-first-message-bare`).
    ///
    ///     gs2-header      = gs2-cbind-flag "," [ authzid ] ","
    ///                       ;; GS2 header for SCRAM
    ///                       ;; (the actual GS2 header includes an optional
    ///                       ;; flag to indicate that the GSS mechanism is not
    ///                       ;; "standard", but since SCRAM is "standard", we
    ///                       ;; don't include that flag).
    static func parseGS2Header(
        _ bytes: ArraySlice<UInt8>
    ) throws(SASLError) -> (header: ArraySlice<UInt8>, authorizationID: String?, rest: ArraySlice<UInt8>) {
        let parts = bytes.split(separator: SCRAMGrammar.comma, maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count == 3 else {
            throw SASLError(.malformed, hint: "SCRAM client-first-message has no complete gs2-header")
        }
        try parseGS2CbindFlag(parts[0])
        var authorizationID: String? = nil
        if !parts[1].isEmpty { authorizationID = try parseAuthzid(parts[1]) }
        let rest = parts[2]
        return (bytes[bytes.startIndex..<rest.startIndex], authorizationID, rest)
    }

    /// RFC 5802 §6: "y" means the client could bind but thinks we cannot; a server that
    /// supports channel binding must then fail (a downgrade). We advertise no `-PLUS`
    /// mechanism, so "n" and "y" are both fine, and "p" (the client insists on binding)
    /// is `.unsupported`.
    ///
    ///     gs2-cbind-flag  = ("p=" cb-name) / "n" / "y"
    ///                       ;; "n" -> client doesn't support channel binding.
    ///                       ;; "y" -> client does support channel binding
    ///                       ;;        but thinks the server does not.
    ///                       ;; "p" -> client requires channel binding.
    ///                       ;; The selected channel binding follows "p=".
    static func parseGS2CbindFlag(_ field: ArraySlice<UInt8>) throws(SASLError) {
        if field.elementsEqual("n".utf8) || field.elementsEqual("y".utf8) { return }
        if let name = SCRAMGrammar.attributeValue(field, name: "p") {
            try parseCbName(name)
            throw SASLError(.unsupported, hint: "SCRAM client requires channel binding (p=)")
        }
        throw SASLError(.malformed, hint: "SCRAM gs2-cbind-flag is not n, y or p=")
    }

    ///     cb-name         = 1*(ALPHA / DIGIT / "." / "-")
    ///                       ;; See RFC 5056, Section 7.
    ///                       ;; E.g., "tls-server-end-point" or
    ///                       ;; "tls-unique".
    static func parseCbName(_ value: ArraySlice<UInt8>) throws(SASLError) {
        let isCbNameChar = { (byte: UInt8) -> Bool in
            SCRAMGrammar.isALPHA(byte) || SCRAMGrammar.isDIGIT(byte) || byte == UInt8(ascii: ".")
                || byte == UInt8(ascii: "-")
        }
        guard !value.isEmpty, value.allSatisfy(isCbNameChar) else {
            throw SASLError(.malformed, hint: "SCRAM cb-name is malformed")
        }
    }

    ///     authzid         = "a=" saslname
    ///                       ;; Protocol specific.
    static func parseAuthzid(_ field: ArraySlice<UInt8>) throws(SASLError) -> String {
        guard let value = SCRAMGrammar.attributeValue(field, name: "a") else {
            throw SASLError(.malformed, hint: "SCRAM gs2-header authzid is not a=")
        }
        return try SCRAMGrammar.parseSaslname(value)
    }

    /// RFC 5802 §5.1 `m`: "its presence in a client or a server message MUST cause
    /// authentication failure when the attribute is parsed by the other end."
    ///
    ///     client-first-message-bare =
    ///                       [reserved-mext ","]
    ///                       username "," nonce ["," extensions]
    ///     reserved-mext   = "m=" 1*(value-char)
    static func parseClientFirstMessageBare(
        _ bytes: ArraySlice<UInt8>
    ) throws(SASLError) -> (username: String, nonce: [UInt8]) {
        let fields = SCRAMGrammar.fields(bytes)
        if let first = fields.first, SCRAMGrammar.attributeValue(first, name: "m") != nil {
            throw SASLError(.unsupported, hint: "SCRAM mandatory extension (m=) requested")
        }
        guard fields.count >= 2 else {
            throw SASLError(.malformed, hint: "SCRAM client-first-message-bare lacks n= or r=")
        }
        let username = try parseUsername(fields[0])
        let nonce = try SCRAMGrammar.parseNonce(fields[1])
        try SCRAMGrammar.parseExtensions(fields.dropFirst(2))
        return (username, nonce)
    }

    ///     username        = "n=" saslname
    ///                       ;; Usernames are prepared using SASLprep.
    static func parseUsername(_ field: ArraySlice<UInt8>) throws(SASLError) -> String {
        guard let value = SCRAMGrammar.attributeValue(field, name: "n") else {
            throw SASLError(.malformed, hint: "SCRAM username (n=) missing")
        }
        return try SCRAMGrammar.parseSaslname(value)
    }
}
