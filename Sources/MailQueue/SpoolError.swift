/// Why a spool operation failed. `detail` is for logs (paths, `errno` text) and never
/// reaches a client: SMTP maps every kind of `enqueue` failure to `451 4.3.0`.
public struct SpoolError: Error, Sendable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        /// The disk or the file system failed; try again later.
        case temporary
        /// A queue file failed its structure check; it was moved to `corrupt/`.
        case corrupt
        /// No queue file with that ID.
        case notFound
    }

    public let kind: Kind
    public let detail: String

    public init(_ kind: Kind, _ detail: String) {
        self.kind = kind
        self.detail = detail
    }

    public var description: String { "\(kind): \(detail)" }
}
