// POP3Server — the POP3 protocol state machine (POP3Protocol) wired to the
// authenticator, the mailbox store and the maildrop locks; one `POP3Session` per
// connection, driven by ServerSupport's LineSessionHandler.
//
// Standards: RFC 1939 (POP3, the UPDATE state), RFC 2449 (IN-USE), RFC 3206 (SYS/AUTH
// codes), RFC 2595 (STLS), RFC 5034 (AUTH).
// Security: a maildrop is open in at most one session (RFC 1939 §8); nothing is deleted
// unless the client sends QUIT in the TRANSACTION state; the lock is released when the
// connection ends however it ends.
// Limits: those of the state machine (line length, errors) and the listener.
public import Directory
public import Logging
import MailCore
public import MailStore
import Synchronization

/// What every POP3 session shares.
public struct POP3Services: Sendable {
    public let authenticator: Authenticator
    public let store: any MailboxStore
    public let locks: MaildropLocks
    public let uidlFormat: UIDLFormat
    /// RETR marks the message `\Seen` for IMAP (Dovecot's `pop3_no_flag_updates = no`).
    public let retrieveMarksSeen: Bool
    /// The least time between two logins of one user (RFC 2449 LOGIN-DELAY), or nil.
    public let loginDelay: LoginDelay?
    public let logger: Logger

    public init(
        authenticator: Authenticator, store: any MailboxStore, locks: MaildropLocks = MaildropLocks(),
        uidlFormat: UIDLFormat = .dovecotDefault, retrieveMarksSeen: Bool = true, loginDelay: LoginDelay? = nil,
        logger: Logger
    ) {
        self.authenticator = authenticator
        self.store = store
        self.locks = locks
        self.uidlFormat = uidlFormat
        self.retrieveMarksSeen = retrieveMarksSeen
        self.loginDelay = loginDelay
        self.logger = logger
    }
}

/// Maildrops open in a POP3 session: one session per maildrop at a time (RFC 1939 §8,
/// answered with `-ERR [IN-USE]`, RFC 2449 §8.1.1). In-process: one Tsubame serves a
/// data directory.
public final class MaildropLocks: Sendable {
    private let held = Mutex<Set<String>>([])

    public init() {}

    /// Takes the lock for `user`; false when another session holds it.
    public func acquire(_ user: String) -> Bool {
        held.withLock { $0.insert(user).inserted }
    }

    public func release(_ user: String) {
        _ = held.withLock { $0.remove(user) }
    }

    public func isHeld(_ user: String) -> Bool {
        held.withLock { $0.contains(user) }
    }
}

/// RFC 2449 §6.8 LOGIN-DELAY, enforced: a user's maildrop opens at most once per
/// `seconds`; sooner gets `-ERR [LOGIN-DELAY]`. Remembers the last login of each user
/// for `seconds` (entries older than that are dropped as the table grows).
public final class LoginDelay: Sendable {
    public let seconds: Int
    private let lastLogins = Mutex<[String: ContinuousClock.Instant]>([:])

    public init(seconds: Int) {
        self.seconds = seconds
    }

    /// Records a login of `user` now; false (and nothing recorded) when the previous one
    /// was less than `seconds` ago.
    public func admit(_ user: String, now: ContinuousClock.Instant = .now) -> Bool {
        let delay = Duration.seconds(seconds)
        return lastLogins.withLock { table in
            if let last = table[user], now - last < delay { return false }
            if table.count > 10_000 { table = table.filter { now - $0.value < delay } }
            table[user] = now
            return true
        }
    }
}

/// How a message's UIDL is made from the store's UIDVALIDITY and UID, in Dovecot's
/// `pop3_uidl_format` syntax: `%u` (UID), `%v` (UIDVALIDITY), with an optional
/// zero-padded width and `X`/`x` for hexadecimal (`%08Xu`); `%%` is `%`. The default
/// is Dovecot's own, `%08Xu%08Xv`, so clients keep their UIDLs across a move from
/// Dovecot whose Maildir (and `dovecot-uidlist`) came along.
public struct UIDLFormat: Sendable, Equatable, CustomStringConvertible {
    enum Piece: Sendable, Equatable {
        case text(String)
        case number(isUID: Bool, width: Int, hex: Bool, uppercase: Bool)
    }

    let pieces: [Piece]
    public let description: String

    public static let dovecotDefault = try! UIDLFormat(parsing: "%08Xu%08Xv")

    public init(parsing text: String) throws(UIDLFormatError) {
        var pieces: [Piece] = []
        var rest = Substring(text)
        var literal = ""
        var hasUID = false
        while let character = rest.first {
            rest = rest.dropFirst()
            guard character == "%" else {
                guard character.isASCII, let value = character.asciiValue, value > 0x20, value < 0x7F else {
                    throw UIDLFormatError("only printable ASCII without spaces is allowed in a UIDL (RFC 1939 §7)")
                }
                literal.append(character)
                continue
            }
            if rest.first == "%" {
                rest = rest.dropFirst()
                literal.append("%")
                continue
            }
            let digits = rest.prefix(while: { $0.isASCII && $0.isNumber })
            rest = rest.dropFirst(digits.count)
            var hex = false
            var uppercase = false
            if rest.first == "X" || rest.first == "x" {
                hex = true
                uppercase = rest.first == "X"
                rest = rest.dropFirst()
            }
            guard let variable = rest.first, variable == "u" || variable == "v", digits.count <= 2 else {
                throw UIDLFormatError("unknown variable in '\(text)': use %u (UID) and %v (UIDVALIDITY), e.g. %08Xu%08Xv")
            }
            rest = rest.dropFirst()
            if !literal.isEmpty { pieces.append(.text(literal)) }
            literal = ""
            hasUID = hasUID || variable == "u"
            pieces.append(.number(isUID: variable == "u", width: Int(digits) ?? 0, hex: hex, uppercase: uppercase))
        }
        if !literal.isEmpty { pieces.append(.text(literal)) }
        guard hasUID else { throw UIDLFormatError("the format must contain %u, or UIDLs would not be unique") }
        self.pieces = pieces
        self.description = text
    }

    public func uidl(uidValidity: UInt32, uid: UInt32) -> String {
        var result = ""
        for piece in pieces {
            switch piece {
            case .text(let text): result += text
            case .number(let isUID, let width, let hex, let uppercase):
                var digits = String(isUID ? uid : uidValidity, radix: hex ? 16 : 10, uppercase: uppercase)
                if digits.count < width { digits = String(repeating: "0", count: width - digits.count) + digits }
                result += digits
            }
        }
        // RFC 1939 §7: 1 to 70 characters.
        return String(result.prefix(70))
    }
}

public struct UIDLFormatError: Error, Sendable, CustomStringConvertible {
    public let description: String

    public init(_ description: String) { self.description = description }
}
