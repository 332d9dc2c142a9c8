// IMAPServer — IMAP4rev2 (RFC 9051) and IMAP4rev1 (RFC 3501) sessions on the mailbox
// store: the command framer and parser (IMAPProtocol) and the MIME analysis
// (MIMEStructure) wired to the authenticator and `MailboxFolders`; one `IMAPSession`
// per connection, driven by ServerSupport's LineSessionHandler.
//
// Standards: RFC 9051, RFC 3501, RFC 2177 (IDLE), RFC 3691 (UNSELECT), RFC 4315
// (UIDPLUS), RFC 4731 (ESEARCH), RFC 4959 (SASL-IR), RFC 5161 (ENABLE), RFC 5182
// (SEARCHRES), RFC 5258 (LIST-EXTENDED), RFC 5819 (LIST-STATUS), RFC 6154 (SPECIAL-USE),
// RFC 6851 (MOVE), RFC 6855 (UTF8=ACCEPT), RFC 7888 (LITERAL-), RFC 7889 (APPENDLIMIT),
// RFC 3516 (BINARY), RFC 3502 (MULTIAPPEND), RFC 2342 (NAMESPACE).
// Security: no AUTHENTICATE/LOGIN before TLS unless `[auth] allow_plaintext`
// (LOGINDISABLED); mailbox names reach the store only through `MailboxNaming`; a
// client's literal is never allocated before it arrives (IMAPCommandFramer); large
// FETCH answers go out in batches as the socket drains.
// Limits: IMAPLimits (command, literal and APPEND sizes), FETCH batches of
// `IMAPConnection.batchBytes`.
public import Directory
public import IMAPProtocol
public import Logging
public import MailStore
public import SASL
import Synchronization

/// What every IMAP session shares.
public struct IMAPServices: Sendable {
    public let authenticator: Authenticator
    public let store: any MailboxFolders
    /// Wakes IDLE sessions when mail arrives or another session changes a mailbox.
    public let notifier: MailboxChangeNotifier?
    public let logger: Logger
    /// SASL mechanisms offered (SCRAM only when the directory has SCRAM keys).
    public let mechanisms: [SASLMechanism]
    /// LOGIN and AUTHENTICATE PLAIN/LOGIN before TLS (`[auth] allow_plaintext`).
    public let allowPlaintextAuth: Bool
    public let limits: IMAPLimits
    /// How often an IDLE session looks at its mailbox when nothing wakes it (changes
    /// by other programs than Tsubame). Dovecot's `mailbox_idle_check_interval`.
    public let idleCheckInterval: Duration
    /// The framer's limits before login: LOGIN and AUTHENTICATE need a few short
    /// literals; nobody may make the server hold a message before it knows who they are.
    var preLoginLimits: IMAPLimits {
        var limits = self.limits
        limits.maximumLiteralSize = 8 * 1024
        limits.maximumMessageSize = 0
        limits.maximumAppendSize = 0
        limits.maximumCommandSize = 64 * 1024
        limits.maximumDiscardedLiteralSize = 64 * 1024
        return limits
    }
    /// Which messages are \Recent for IMAP4rev1 sessions.
    let recent = RecentTracker()
    /// Encoded ENVELOPE/BODYSTRUCTURE/BODY of recently fetched messages.
    let structures = StructureCache()

    public init(
        authenticator: Authenticator, store: any MailboxFolders, notifier: MailboxChangeNotifier? = nil,
        logger: Logger, mechanisms: [SASLMechanism] = [.plain, .login], allowPlaintextAuth: Bool = false,
        limits: IMAPLimits = IMAPLimits(), idleCheckInterval: Duration = .seconds(30)
    ) {
        self.authenticator = authenticator
        self.store = store
        self.notifier = notifier
        self.logger = logger
        self.mechanisms = mechanisms
        self.allowPlaintextAuth = allowPlaintextAuth
        self.limits = limits
        self.idleCheckInterval = idleCheckInterval
    }
}

/// RFC 3501 \Recent: a message is recent in the first session that sees it. Kept in
/// memory per mailbox as the UIDNEXT the last session to look at it saw (one Tsubame
/// serves a data directory), and by the store across restarts (`IMAPMailbox
/// .recentBoundary`), which a mailbox's first claim since the start begins from.
final class RecentTracker: Sendable {
    private let seen = Mutex<[String: UInt32]>([:])

    /// The lowest UID that is recent for the session asking (it is the first to see the
    /// messages from there up to `uidNext`), and records that everything below
    /// `uidNext` has been seen.
    func claim(_ key: String, uidNext: UInt32, kept: UInt32? = nil) -> UInt32 {
        seen.withLock { table in
            let first = table[key] ?? min(kept ?? uidNext, uidNext)
            table[key] = max(first, uidNext)
            if table.count > 100_000 { table = [key: uidNext] }
            return first
        }
    }

    /// Whether a session claimed in the mailbox since the start.
    func knows(_ key: String) -> Bool {
        seen.withLock { $0[key] != nil }
    }
}
