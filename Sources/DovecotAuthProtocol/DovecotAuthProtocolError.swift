/// Why the state machine closed an auth-socket connection.
///
/// Every one of these is the client's bug or hostility, and Dovecot answers each by
/// disconnecting (it logs "BUG: Authentication client sent …"); so do we. The listener
/// reads it from `DovecotAuthServerStateMachine.protocolError` after `.close`, for the
/// log. `hint`, `file` and `line` are literals from this module: never client data.
/// Equality compares `kind` only.
///
/// - SeeAlso: Dovecot src/auth/auth-client-connection.c, auth-request-handler.c
public struct DovecotAuthProtocolError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The closed set of reasons; map each with one exhaustive `switch`.
    public enum Kind: Sendable, Hashable, CustomStringConvertible {
        /// The command name is none of VERSION, CPID, AUTH, CONT, CANCEL.
        case unknownCommand
        /// A known command where the handshake does not allow it (AUTH before VERSION
        /// and CPID, a second VERSION, CPID before VERSION, …).
        case unexpectedCommand
        /// A known command with missing or broken fields (a request ID that is not a
        /// decimal number from 1 to 2³²−1, AUTH without `service=`, parameters after
        /// `resp=`, CPID 0, …).
        case malformed
        /// VERSION with a major version other than 1.
        case unsupportedVersion
        /// AUTH with the ID of a request still in progress.
        case duplicateRequestID
        /// A line longer than `DovecotAuthLimits.maximumLineLength`.
        case lineTooLong

        public var description: String {
            switch self {
            case .unknownCommand: return "unknownCommand"
            case .unexpectedCommand: return "unexpectedCommand"
            case .malformed: return "malformed"
            case .unsupportedVersion: return "unsupportedVersion"
            case .duplicateRequestID: return "duplicateRequestID"
            case .lineTooLong: return "lineTooLong"
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
    public static func == (lhs: DovecotAuthProtocolError, rhs: DovecotAuthProtocolError) -> Bool {
        lhs.kind == rhs.kind
    }

    public var description: String {
        let hintText = "\(hint)"
        let detail = hintText.isEmpty ? "" : ": \(hintText)"
        return "Dovecot auth protocol \(kind)\(detail) (\(file):\(line))"
    }
}
