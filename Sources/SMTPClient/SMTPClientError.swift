import SMTPProtocol

/// Why a connection to a server failed: the transport layer's taxonomy. The session
/// layer turns it into a diagnostic in plain words, adding the host and what the
/// client was doing (`lost connection with mx.example.org[192.0.2.1] while sending
/// message body`).
struct SMTPClientError: Error, Sendable, Equatable, CustomStringConvertible {
    enum Kind: Sendable, Equatable {
        /// The TCP connection could not be made (`detail`: "Connection refused",
        /// "Connection timed out", …).
        case connect
        /// No reply, or a write that did not finish, within the timeout.
        case timeout
        /// The server closed the connection (or it was reset).
        case connectionClosed
        /// The server's bytes are not SMTP replies.
        case badReply(SMTPReplyDecoderError.Kind)
        /// The TLS handshake failed (`detail` is the TLS library's reason).
        case tls
        /// Bytes arrived after the server's `220` to STARTTLS and before the handshake:
        /// someone tried to inject replies into the TLS session (the client side of
        /// CVE-2011-0411).
        case injectedAfterStartTLS
        /// Anything else the network stack reported.
        case io
        /// The task running the delivery was cancelled (the queue runner stops when the
        /// server shuts down): the connection was closed rather than waited on.
        case cancelled
    }

    let kind: Kind
    /// Plain words for the diagnostic; never contains credentials or message text.
    let detail: String

    init(_ kind: Kind, _ detail: String = "") {
        self.kind = kind
        self.detail = detail
    }

    var description: String { detail.isEmpty ? "\(kind)" : "\(kind): \(detail)" }
}
