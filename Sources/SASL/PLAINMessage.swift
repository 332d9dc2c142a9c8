/// The one message of the PLAIN mechanism: an optional authorization identity, the
/// authentication identity and the password, separated by NUL.
///
///     C: AUTH PLAIN AHRpbQB0YW5zdGFhZmw=      ("\0tim\0tanstaafl", RFC 4616 §4)
///
/// Carries a password: `description` redacts it.
///
/// - SeeAlso: RFC 4616 §2, §4
struct PLAINMessage: Sendable, Equatable, CustomStringConvertible {
    /// `nil` when the client sent an empty authzid (act as `authenticationID`).
    let authorizationID: String?
    let authenticationID: String
    let password: String

    init(parsing bytes: [UInt8]) throws(SASLError) {
        self = try Self.parseMessage(bytes)
    }

    private init(authorizationID: String?, authenticationID: String, password: String) {
        self.authorizationID = authorizationID
        self.authenticationID = authenticationID
        self.password = password
    }

    var description: String {
        "PLAINMessage(authorizationID: \(authorizationID.map { String(reflecting: $0) } ?? "nil"), "
            + "authenticationID: \(String(reflecting: authenticationID)), password: <redacted>)"
    }

    // MARK: - Parsing

    /// RFC 4616 §2:
    ///
    ///     message   = [authzid] UTF8NUL authcid UTF8NUL passwd
    ///     authcid   = 1*SAFE ; MUST accept up to 255 octets
    ///     authzid   = 1*SAFE ; MUST accept up to 255 octets
    ///     passwd    = 1*SAFE ; MUST accept up to 255 octets
    ///     UTF8NUL   = %x00 ; UTF-8 encoded NUL character
    static func parseMessage(_ bytes: [UInt8]) throws(SASLError) -> PLAINMessage {
        // SAFE excludes NUL, so the message is exactly three NUL-separated fields.
        let fields = bytes.split(separator: 0, omittingEmptySubsequences: false)
        guard fields.count == 3 else {
            throw SASLError(.malformed, hint: "PLAIN message does not have exactly two NULs")
        }
        let authzid = fields[0]
        let authcid = fields[1]
        let passwd = fields[2]
        // RFC 4616 §2: authcid and passwd are 1*SAFE; an empty authzid means "none".
        guard !authcid.isEmpty else { throw SASLError(.malformed, hint: "PLAIN authcid is empty") }
        guard !passwd.isEmpty else { throw SASLError(.malformed, hint: "PLAIN passwd is empty") }
        var authorizationID: String? = nil
        if !authzid.isEmpty { authorizationID = try parseSAFEString(authzid) }
        let authenticationID = try parseSAFEString(authcid)
        let password = try parseSAFEString(passwd)
        return PLAINMessage(authorizationID: authorizationID, authenticationID: authenticationID, password: password)
    }

    /// One field, at most `SASLLimits.maximumFieldLength` octets (RFC 4616 §2: "MUST
    /// accept up to 255 octets"; we accept no more):
    ///
    ///     SAFE      = UTF1 / UTF2 / UTF3 / UTF4
    ///                 ;; any UTF-8 encoded Unicode character except NUL
    static func parseSAFEString(_ field: ArraySlice<UInt8>) throws(SASLError) -> String {
        guard field.count <= SASLLimits.maximumFieldLength else {
            throw SASLError(.tooLong, hint: "PLAIN field longer than 255 octets")
        }
        guard !field.contains(0), let string = decodeUTF8(field) else {
            throw SASLError(.malformed, hint: "PLAIN field is not UTF-8 without NUL")
        }
        return string
    }
}
