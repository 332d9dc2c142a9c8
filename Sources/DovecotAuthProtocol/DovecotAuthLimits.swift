/// The bounds one auth-socket connection enforces; each is configurable.
///
/// - SeeAlso: Dovecot Authentication Protocol, "General" (line length); Dovecot
///   src/lib-auth/auth-client-interface.h (`AUTH_CLIENT_MAX_LINE_LENGTH`)
public struct DovecotAuthLimits: Sendable, Equatable {
    /// The longest line, its LF excluded. The protocol document: "The maximum line
    /// length isn't defined, but it's currently expected to fit into 16384 bytes"
    /// (Dovecot's `AUTH_CLIENT_MAX_LINE_LENGTH`; GSSAPI tokens are the large ones). The
    /// listener must cut lines at this length and call `lineTooLong()`, which closes the
    /// connection as Dovecot does; the state machine checks it again on every line.
    public var maximumLineLength = 16384

    /// Requests in progress at once on one connection. One MTA process authenticates one
    /// SMTP session at a time, so a handful is plenty; the bound keeps a hostile client
    /// from growing the request table. See `DovecotAuthServerStateMachine` for what
    /// happens at the limit.
    public var maximumConcurrentRequests = 64

    public init() {}
}
