/// A command from the client. Message numbers are 1-based positions in the maildrop
/// listing of this session, already checked to be in 1...`POP3Limits.maximumMessageNumber`.
///
///     C: USER mrose        .user("mrose")
///     C: RETR 1            .retr(1)
///     C: TOP 1 10          .top(1, lines: 10)
///     C: AUTH PLAIN AGFs…  .auth(mechanism: "PLAIN", initialResponse: "AGFs…")
///
/// Carries passwords and SASL data: `description` redacts them.
///
/// - SeeAlso: RFC 1939 §4–§7, RFC 2449 §5 (CAPA), RFC 2595 §4 (STLS), RFC 5034 §4 (AUTH)
public enum POP3Command: Hashable, Sendable, CustomStringConvertible, CustomDebugStringConvertible,
    CustomReflectable
{
    /// `USER name` (RFC 1939 §7): the rest of the line, without surrounding spaces.
    case user(String)
    /// `PASS string` (RFC 1939 §7): everything after "PASS ", spaces included.
    case pass(String)
    /// `APOP name digest` (RFC 1939 §7): recognised so that it can be refused by name.
    case apop
    /// `QUIT` (RFC 1939 §4, §6)
    case quit
    /// `STAT` (RFC 1939 §5)
    case stat
    /// `LIST [msg]` (RFC 1939 §5)
    case list(Int?)
    /// `RETR msg` (RFC 1939 §5)
    case retr(Int)
    /// `DELE msg` (RFC 1939 §5)
    case dele(Int)
    /// `NOOP` (RFC 1939 §5)
    case noop
    /// `RSET` (RFC 1939 §5)
    case rset
    /// `TOP msg n` (RFC 1939 §7): the headers and the first `lines` lines of the body.
    case top(Int, lines: Int)
    /// `UIDL [msg]` (RFC 1939 §7)
    case uidl(Int?)
    /// `CAPA` (RFC 2449 §5)
    case capa
    /// `STLS` (RFC 2595 §4)
    case stls
    /// `AUTH` without arguments: list the mechanisms. Not in RFC 5034; clients of RFC 1734
    /// days probe with it, and Dovecot answers it the same way.
    case authMechanisms
    /// `AUTH mechanism [initial-response]` (RFC 5034 §4): the mechanism name upper-cased,
    /// the initial response still base64 text ("=" is an empty one).
    case auth(mechanism: String, initialResponse: String?)

    /// The command keyword, upper-case.
    public var keyword: String {
        switch self {
        case .user: return "USER"
        case .pass: return "PASS"
        case .apop: return "APOP"
        case .quit: return "QUIT"
        case .stat: return "STAT"
        case .list: return "LIST"
        case .retr: return "RETR"
        case .dele: return "DELE"
        case .noop: return "NOOP"
        case .rset: return "RSET"
        case .top: return "TOP"
        case .uidl: return "UIDL"
        case .capa: return "CAPA"
        case .stls: return "STLS"
        case .authMechanisms, .auth: return "AUTH"
        }
    }

    /// The command without secrets: the password and the initial response are redacted;
    /// the user name is quoted and escaped (it comes from the client).
    public var description: String {
        switch self {
        case .user(let name): return "USER \(String(reflecting: name))"
        case .pass: return "PASS <redacted>"
        case .list(let number): return number.map { "LIST \($0)" } ?? "LIST"
        case .retr(let number): return "RETR \(number)"
        case .dele(let number): return "DELE \(number)"
        case .top(let number, let lines): return "TOP \(number) \(lines)"
        case .uidl(let number): return number.map { "UIDL \($0)" } ?? "UIDL"
        case .auth(let mechanism, let initialResponse):
            return "AUTH \(mechanism)" + (initialResponse == nil ? "" : " <redacted>")
        case .apop, .quit, .stat, .noop, .rset, .capa, .stls, .authMechanisms:
            return keyword
        }
    }

    public var debugDescription: String { description }
    public var customMirror: Mirror { Mirror(self, children: [:]) }
}
