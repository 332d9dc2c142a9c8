/// A command from the client.
///
/// - SeeAlso: RFC 5321 §4.1.1, RFC 3207 (STARTTLS), RFC 4954 (AUTH), RFC 3030 (BDAT)
public enum SMTPCommand: Hashable, Sendable {
    case ehlo(String)
    case helo(String)
    case mail(ReversePath, MailParameters)
    case rcpt(ForwardPath, RecipientParameters)
    case data
    /// `BDAT chunk-size [LAST]`
    case bdat(size: Int, isLast: Bool)
    case rset
    case noop
    case quit
    case vrfy(String)
    case expn(String)
    case help(String?)
    case startTLS
    /// `AUTH mechanism [initial-response]`; the response is still Base64 text.
    case auth(mechanism: String, initialResponse: String?)
}

/// MAIL FROM parameters this server understands.
public struct MailParameters: Hashable, Sendable {
    public enum Body: String, Hashable, Sendable {
        case sevenBit = "7BIT"
        case eightBitMIME = "8BITMIME"
        case binaryMIME = "BINARYMIME"
    }

    public enum Return: String, Hashable, Sendable {
        case full = "FULL"
        case headers = "HDRS"
    }

    /// RFC 1870 `SIZE=`
    public var size: Int?
    /// RFC 6152 / RFC 3030 `BODY=`
    public var body: Body?
    /// RFC 6531 `SMTPUTF8`
    public var smtpUTF8 = false
    /// RFC 3461 `RET=`
    public var ret: Return?
    /// RFC 3461 `ENVID=` (xtext-decoded)
    public var envelopeID: String?
    /// RFC 4954 §5 `AUTH=` (kept for logs; we do not trust it from other servers)
    public var auth: String?

    public init() {}
}

/// RCPT TO parameters this server understands.
public struct RecipientParameters: Hashable, Sendable {
    public enum Notify: String, Hashable, Sendable {
        case never = "NEVER"
        case success = "SUCCESS"
        case failure = "FAILURE"
        case delay = "DELAY"
    }

    /// RFC 3461 `NOTIFY=`
    public var notify: [Notify]?
    /// RFC 3461 `ORCPT=addr-type;xtext` (type and decoded address)
    public var originalRecipient: String?

    public init() {}
}
