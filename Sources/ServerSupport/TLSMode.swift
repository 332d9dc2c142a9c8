/// How a listener uses TLS (DESIGN.md §5).
public enum TLSMode: Sendable, Equatable {
    /// Plaintext, STARTTLS offered when a TLS context exists (25, 587, 143, 110).
    case startTLS
    /// TLS from the first byte (465, 993, 995; RFC 8314).
    case implicit
}
