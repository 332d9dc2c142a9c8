/// Why a storage operation failed. The kind is closed: every protocol maps it with one
/// exhaustive `switch` (STYLE §4), so a new kind cannot be missed.
///
/// | kind | SMTP (delivery) | IMAP |
/// | --- | --- | --- |
/// | `notFound` | `550 5.1.1` | `NO [NONEXISTENT]` |
/// | `alreadyExists` | `451 4.3.0` | `NO [ALREADYEXISTS]` |
/// | `permissionDenied` | `451 4.3.0` (an operator's problem, so the sender retries) | `NO [NOPERM]` |
/// | `overQuota` | `452 4.2.2` (RFC 3463 §3.3: mailbox full) | `NO [OVERQUOTA]` |
/// | `expunged` | — | `NO [EXPUNGEISSUED]` |
/// | `inUse` | `451 4.3.0` | `NO [INUSE]` |
/// | `limitExceeded` | `552 5.3.4` | `NO [LIMIT]` |
/// | `temporary` | `451 4.3.0` | `NO [UNAVAILABLE]` |
/// | `internal` | `451 4.3.0` | `NO [SERVERBUG]` |
///
/// `detail` is for the log (paths, `errno` text); protocol code never sends it.
///
/// - SeeAlso: RFC 5530 (IMAP response codes), RFC 3463 (enhanced status codes)
public struct StoreError: Error, Sendable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        case notFound
        case alreadyExists
        case permissionDenied
        case overQuota
        case expunged
        case inUse
        case limitExceeded
        case temporary
        case `internal`
    }

    public let kind: Kind
    /// What happened, for logs only.
    public let detail: String

    public init(_ kind: Kind, _ detail: String) {
        self.kind = kind
        self.detail = detail
    }

    public var description: String { "\(kind): \(detail)" }
}
