public import NIOCore

/// A protocol's per-connection state machine, as the listener layer drives it.
///
/// The session is a value owned by its connection's `LineSessionHandler` and only
/// touched on that connection's event loop. Each event returns the actions to
/// perform, in order; the handler performs them and never decides anything itself.
/// This keeps every protocol decision testable without sockets, and lets the handler
/// perform STARTTLS at exactly the right byte (see `SessionAction.startTLS`).
public protocol LineSession {
    associatedtype Event: Sendable

    /// The connection is open (after the TLS handshake for implicit TLS): the greeting.
    mutating func start() -> [SessionAction<Event>]
    /// One complete line, without its CRLF (or bare LF).
    mutating func receive(line: ByteBuffer) -> [SessionAction<Event>]
    /// A line exceeded `ListenerLimits.maximumLineLength`; its bytes up to the next LF
    /// are dropped without being parsed.
    mutating func lineTooLong() -> [SessionAction<Event>]
    /// The result of a `.run` action.
    mutating func complete(_ event: Event) -> [SessionAction<Event>]
    /// The STARTTLS handshake finished; the session must forget what it knew from the
    /// plaintext part (RFC 3207 §4.2).
    mutating func tlsEstablished(_ info: TLSInfo) -> [SessionAction<Event>]
    /// No input within the idle timeout.
    mutating func idleTimeout() -> [SessionAction<Event>]
    /// The server is shutting down: close now if idle, or after the work in flight.
    mutating func shutdown() -> [SessionAction<Event>]
    /// The connection is gone (the peer closed it, a reset, or our own `.close`), and
    /// no work is in flight. Only `.run` actions are performed, and their results are
    /// dropped: this is for releasing what the session holds (a POP3 maildrop lock).
    mutating func connectionClosed() -> [SessionAction<Event>]
    /// The peer is gone, said at once — work may still be in flight (its results still
    /// come to `complete`, and `connectionClosed` follows when it is done). A session
    /// that answers in batches stops asking for more.
    mutating func connectionLost()

    /// While true, received bytes go to `receive(raw:)` instead of being cut into
    /// lines (SMTP DATA and BDAT). Checked before every framing step.
    var wantsRawInput: Bool { get }
    /// Raw bytes while `wantsRawInput`: consume what belongs to the session; what is
    /// left in `buffer` is framed into lines again once `wantsRawInput` turns false.
    mutating func receive(raw buffer: inout ByteBuffer) -> [SessionAction<Event>]
}

extension LineSession {
    public var wantsRawInput: Bool { false }

    public mutating func connectionClosed() -> [SessionAction<Event>] { [] }

    public mutating func connectionLost() {}

    public mutating func receive(raw buffer: inout ByteBuffer) -> [SessionAction<Event>] { [] }
}

/// What a session asks its connection to do.
public enum SessionAction<Event: Sendable> {
    /// Write these bytes (buffered until the next flush point).
    case send(ByteBuffer)
    /// Flush what was sent, then switch to TLS: bytes already received after the
    /// command line are discarded, the TLS handler is put in front, and
    /// `tlsEstablished` follows when the handshake is done.
    case startTLS
    /// Stop reading, run this work off the event loop, and hand its result to
    /// `complete`. Lines that arrive meanwhile wait, in order.
    case run(@Sendable () async -> Event)
    /// Run this work off the event loop *while reading goes on* (IMAP IDLE waiting for
    /// new mail while the client may send DONE); its result goes to `complete` like a
    /// `.run`'s, unless the connection is gone by then, when it is dropped. The session
    /// must expect the result at any time, also in a state where it no longer matters.
    case spawn(@Sendable () async -> Event)
    /// Flush and close the connection.
    case close
}

/// What the listener knows about a connection, for the session's greeting, policy and
/// logs. `sessionID` is shown to the client too, so a user's report can be matched to
/// the log.
public struct ConnectionContext: Sendable {
    public let service: String
    public let sessionID: String
    public let remoteAddress: String
    public let remotePort: Int
    public let localPort: Int
    /// The connection is TLS from its first byte (465, 993, 995).
    public let isImplicitTLS: Bool
    /// STARTTLS can be offered (a TLS context is configured and this is plaintext).
    public let canStartTLS: Bool

    public init(
        service: String, sessionID: String, remoteAddress: String, remotePort: Int, localPort: Int,
        isImplicitTLS: Bool, canStartTLS: Bool
    ) {
        self.service = service
        self.sessionID = sessionID
        self.remoteAddress = remoteAddress
        self.remotePort = remotePort
        self.localPort = localPort
        self.isImplicitTLS = isImplicitTLS
        self.canStartTLS = canStartTLS
    }
}

/// The negotiated TLS parameters, for logs and `Received:` headers.
public struct TLSInfo: Sendable, Equatable {
    public let version: String

    public init(version: String) { self.version = version }
}

extension ByteBuffer {
    /// A buffer holding `text` as UTF-8.
    public init(text: String) {
        self.init(string: text)
    }
}
