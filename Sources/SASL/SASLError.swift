/// Why a SASL exchange failed. Every failure ends the exchange.
///
/// `hint`, `file` and `line` are for the log and never go to the client; they are
/// string literals from this module, so they can never carry client data (no
/// password, no proof, no user name). Equality compares `kind` only, so that callers
/// and tests can match `.failure(SASLError(.malformed))`.
///
/// Suggested wire mapping (STYLE.md §4: one function per protocol does it):
///
/// | kind | SMTP (RFC 4954) | IMAP (RFC 9051, RFC 5530) | POP3 (RFC 5034, RFC 3206) |
/// | --- | --- | --- | --- |
/// | `malformed` | `501 5.5.2` | tagged `BAD` | `-ERR` |
/// | `cancelled` | `501 5.7.0` (§4) | tagged `BAD` | `-ERR` |
/// | `authenticationFailed` | `535 5.7.8` (§6) | `NO [AUTHENTICATIONFAILED]` | `-ERR [AUTH]` |
/// | `unsupported` | `504 5.5.4` | `NO [CANNOT]` | `-ERR` |
/// | `tooLong` | `500 5.5.6` (§4) | tagged `BAD` | `-ERR` |
/// | `wrongState` | `451 4.3.0` (a bug in the caller) | `NO [SERVERBUG]` | `-ERR [SYS/TEMP]` |
///
/// - SeeAlso: RFC 4422 §3.5 (abort), §3.6 (outcome)
public struct SASLError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The closed set of failure kinds; map each with one exhaustive `switch`.
    public enum Kind: Sendable, Hashable, CustomStringConvertible {
        /// The client's message does not follow the mechanism's grammar (or is not
        /// UTF-8, or carries a NUL where none is allowed).
        case malformed
        /// The client aborted the exchange with `*` (RFC 4422 §3.5).
        case cancelled
        /// Wrong proof, wrong nonce, channel-binding data that does not match, or an
        /// unknown user: the client is not told which (STYLE.md §4).
        case authenticationFailed
        /// The client asked for something we do not implement: channel binding
        /// (gs2-cbind-flag `p=`, RFC 5802 §6) or a mandatory extension (`m=`, §5.1).
        case unsupported
        /// A response longer than `SASLLimits.maximumResponseLength`, or a field longer
        /// than `SASLLimits.maximumFieldLength`.
        case tooLong
        /// The caller called a method that the exchange's state does not allow (a bug
        /// in the protocol layer, or a response after the exchange ended).
        case wrongState

        public var description: String {
            switch self {
            case .malformed: return "malformed"
            case .cancelled: return "cancelled"
            case .authenticationFailed: return "authenticationFailed"
            case .unsupported: return "unsupported"
            case .tooLong: return "tooLong"
            case .wrongState: return "wrongState"
            }
        }
    }

    public let kind: Kind
    /// What exactly was wrong, for the log. A literal: never client data.
    public let hint: StaticString
    public let file: StaticString
    public let line: UInt

    public init(_ kind: Kind, hint: StaticString = "", file: StaticString = #fileID, line: UInt = #line) {
        self.kind = kind
        self.hint = hint
        self.file = file
        self.line = line
    }

    /// Compares `kind` only: the context is for logs.
    public static func == (lhs: SASLError, rhs: SASLError) -> Bool {
        lhs.kind == rhs.kind
    }

    public var description: String {
        let hintText = "\(hint)"
        let detail = hintText.isEmpty ? "" : ": \(hintText)"
        return "SASL \(kind)\(detail) (\(file):\(line))"
    }
}
