public import MailCore
import Synchronization

/// The IMAP system flags (RFC 9051 §2.3.2) a stored message can carry. `\Recent` is
/// not stored: it is a property of a session (RFC 3501), not of a message.
public struct SystemFlags: OptionSet, Sendable, Hashable {
    public let rawValue: Int

    public init(rawValue: Int) { self.rawValue = rawValue }

    public static let seen = SystemFlags(rawValue: 1 << 0)
    public static let answered = SystemFlags(rawValue: 1 << 1)
    public static let flagged = SystemFlags(rawValue: 1 << 2)
    public static let deleted = SystemFlags(rawValue: 1 << 3)
    public static let draft = SystemFlags(rawValue: 1 << 4)
}

/// What the index knows about one message, without reading its file.
public struct MessageSummary: Sendable, Equatable {
    /// Unique within the mailbox for its UIDVALIDITY, ascending in arrival order, never
    /// reused (RFC 9051 §2.3.1.1).
    public var uid: UInt32
    /// Octets of the message with CRLF line ends (IMAP RFC822.SIZE, POP3 LIST).
    public var size: Int
    /// Arrival time, seconds since 1970 (IMAP INTERNALDATE).
    public var internalDate: Int64
    public var flags: SystemFlags
    /// User-defined flags (IMAP keywords).
    public var keywords: [String]
    /// The change number of this message's last change (RFC 7162 MODSEQ).
    public var modificationSequence: UInt64

    public init(
        uid: UInt32, size: Int, internalDate: Int64, flags: SystemFlags = [], keywords: [String] = [],
        modificationSequence: UInt64 = 1
    ) {
        self.uid = uid
        self.size = size
        self.internalDate = internalDate
        self.flags = flags
        self.keywords = keywords
        self.modificationSequence = modificationSequence
    }
}

/// A mailbox's state at one moment: what a POP3 session lists, what IMAP SELECT reports.
public struct MailboxSnapshot: Sendable, Equatable {
    public var uidValidity: UInt32
    public var uidNext: UInt32
    public var highestModificationSequence: UInt64
    /// In UID order.
    public var messages: [MessageSummary]

    public init(uidValidity: UInt32, uidNext: UInt32, highestModificationSequence: UInt64, messages: [MessageSummary]) {
        self.uidValidity = uidValidity
        self.uidNext = uidNext
        self.highestModificationSequence = highestModificationSequence
        self.messages = messages
    }
}

/// The read side of the store, which IMAP and POP3 log into: an account's mailboxes.
///
/// - SeeAlso: DESIGN.md §4 (the index is the truth for UID, flags and sizes)
public protocol MailboxStore: Sendable {
    /// Opens a mailbox of `account` (`"INBOX"` for POP3), bringing its index up to date
    /// with messages delivered since (or dropped into `new/` by another program).
    /// Throws `.notFound` for a mailbox that does not exist; an account that never
    /// received mail has an empty INBOX.
    func open(account: MailAddress, mailbox: String) async throws(StoreError) -> any OpenMailbox
    /// Opens a mailbox as `open(account:mailbox:)` does; with `takingNewMessages` the
    /// session takes the messages that arrived since anyone did as its own — IMAP SELECT
    /// (not EXAMINE or STATUS), POP3 unless it leaves flags alone — and the store may
    /// then stop keeping them as new: Maildir moves them from `new/` to `cur/`, as
    /// Dovecot does for a session that drops `\Recent` (`MAILBOX_FLAG_DROP_RECENT`).
    /// UIDs, flags and what `snapshot()` returns are the same either way; `\Recent`
    /// stays the protocol's business.
    func open(account: MailAddress, mailbox: String, takingNewMessages: Bool) async throws(StoreError)
        -> any OpenMailbox
}

extension MailboxStore {
    /// Stores without a notion of new messages open the mailbox as usual.
    public func open(account: MailAddress, mailbox: String, takingNewMessages: Bool) async throws(StoreError)
        -> any OpenMailbox
    {
        try await open(account: account, mailbox: mailbox)
    }
}

/// One opened mailbox. Each call is atomic; an `OK`/`+OK` may be sent once it returns.
public protocol OpenMailbox: Sendable {
    /// The state when opened, or at the last `refresh`.
    func snapshot() async -> MailboxSnapshot
    /// Picks up deliveries and changes by others.
    func refresh() async throws(StoreError) -> MailboxSnapshot
    /// The message as stored (RFC 5322 octets; line ends as the file has them).
    /// Throws `.expunged` when it is gone.
    func content(uid: UInt32) async throws(StoreError) -> [UInt8]
    /// Several messages in one go, in the order asked, stopping once `byteLimit` octets
    /// are read (the first message is always returned whole): read-ahead for sequential
    /// readers such as POP3 clients. Messages expunged meanwhile are left out.
    func contents(uids: [UInt32], byteLimit: Int) async throws(StoreError) -> [(uid: UInt32, bytes: [UInt8])]
    /// Adds and removes flags; returns the messages' new summaries (expunged ones are
    /// left out). Durable when it returns.
    @discardableResult
    func setFlags(uids: [UInt32], add: SystemFlags, remove: SystemFlags) async throws(StoreError) -> [MessageSummary]
    /// Removes the messages for good. Durable when it returns; UIDs already gone are
    /// ignored.
    func expunge(uids: [UInt32]) async throws(StoreError)
    /// Releases what the mailbox holds (the index connection).
    func close() async
}

extension OpenMailbox {
    public func contents(uids: [UInt32], byteLimit: Int) async throws(StoreError) -> [(uid: UInt32, bytes: [UInt8])] {
        var result: [(uid: UInt32, bytes: [UInt8])] = []
        var total = 0
        for uid in uids {
            guard result.isEmpty || total < byteLimit else { break }
            do {
                let bytes = try await content(uid: uid)
                total += bytes.count
                result.append((uid, bytes))
            } catch where error.kind == .expunged && !result.isEmpty {
                continue
            }
        }
        return result
    }
}

// MARK: - Mailboxes of an account (IMAP)

/// One mailbox of an account, as LIST shows it.
public struct MailboxInfo: Sendable, Equatable {
    /// The name with `MailboxNaming.separator` between levels; `"INBOX"` for the inbox.
    public var name: String
    /// RFC 6154 special use (`\Sent`, `\Drafts`, `\Trash`, `\Junk`, `\Archive`, …), or nil.
    public var specialUse: String?
    public var isSubscribed: Bool
    /// False for a name that is listed although no mailbox has it: a subscription of a
    /// mailbox that does not exist (IMAP `\NonExistent`, RFC 9051 §6.3.9), or the missing
    /// parent of one that does (`a` of `a/b`, which Maildir++ allows; IMAP `\NonExistent`
    /// or `\Noselect`). Such a name cannot be opened; its special use is nil.
    public var exists: Bool

    public init(name: String, specialUse: String? = nil, isSubscribed: Bool = false, exists: Bool = true) {
        self.name = name
        self.specialUse = specialUse
        self.isSubscribed = isSubscribed
        self.exists = exists
    }
}

/// The store's mailbox naming rules, shared by every backend and the IMAP server.
public enum MailboxNaming {
    /// The hierarchy separator IMAP shows (Dovecot's `separator = /`).
    public static let separator: Character = "/"

    /// The special-use mailboxes every new account gets (RFC 6154), as Dovecot's
    /// `mailbox` blocks with `auto = subscribe` set them up.
    public static let defaultMailboxes: [(name: String, specialUse: String)] = [
        ("Drafts", "\\Drafts"), ("Sent", "\\Sent"), ("Trash", "\\Trash"), ("Junk", "\\Junk"), ("Archive", "\\Archive"),
    ]

    /// The special uses the store accepts for CREATE … (USE (…)).
    public static let supportedSpecialUses: Set<String> = ["\\Drafts", "\\Sent", "\\Trash", "\\Junk", "\\Archive",
        "\\Flagged", "\\All"]

    /// Why `name` cannot be a mailbox name, or nil when it can. The rules every backend
    /// keeps, so that no name can become a path outside the account: no empty level
    /// (`a//b`, a leading or trailing separator), no `.` or `..` level, no control
    /// characters, no level starting with `~`, at most 255 octets per level and 16 levels.
    public static func problem(with name: String) -> String? {
        guard !name.isEmpty else { return "the name is empty" }
        guard name.utf8.count <= 1024 else { return "the name is too long" }
        let levels = name.split(separator: separator, omittingEmptySubsequences: false)
        guard levels.count <= 16 else { return "too many levels" }
        for level in levels {
            guard !level.isEmpty else { return "empty level in the name" }
            guard level != ".", level != ".." else { return "'.' and '..' are not mailbox names" }
            guard !level.hasPrefix("~") else { return "a level cannot start with '~'" }
            guard level.utf8.count <= 200 else { return "a level is too long" }
            for scalar in level.unicodeScalars where scalar.value < 0x20 || scalar.value == 0x7F || (0x80...0x9F).contains(scalar.value) {
                return "control characters are not allowed"
            }
        }
        return nil
    }

    /// Whether `name` is INBOX or inside it (`INBOX/x`): names compare case-insensitively
    /// for INBOX only (RFC 9051 §5.1).
    public static func isInbox(_ name: String) -> Bool { name.uppercased() == "INBOX" }

    /// The parent of `name` (`a/b/c` → `a/b`), nil at the top level.
    public static func parent(of name: String) -> String? {
        guard let index = name.lastIndex(of: separator) else { return nil }
        return String(name[..<index])
    }
}

/// A flag change, as STORE and APPEND ask for it.
public struct FlagChange: Sendable, Equatable {
    public enum Operation: Sendable, Equatable {
        /// `+FLAGS`
        case add
        /// `-FLAGS`
        case remove
        /// `FLAGS`: exactly these.
        case replace
    }

    public var operation: Operation
    public var flags: SystemFlags
    /// Keywords as the client wrote them; they compare case-insensitively (RFC 9051
    /// §2.3.2) and a message keeps the first spelling it was given.
    public var keywords: [String]

    public init(_ operation: Operation, flags: SystemFlags, keywords: [String] = []) {
        self.operation = operation
        self.flags = flags
        self.keywords = keywords
    }

    /// The system flags and keywords of a message after this change.
    public func applied(to flags: SystemFlags, keywords: [String]) -> (SystemFlags, [String]) {
        switch operation {
        case .replace:
            return (self.flags, Self.unique(self.keywords))
        case .add:
            var result = keywords
            for keyword in self.keywords where !result.contains(where: { $0.lowercased() == keyword.lowercased() }) {
                result.append(keyword)
            }
            return (flags.union(self.flags), result)
        case .remove:
            let removed = Set(self.keywords.map { $0.lowercased() })
            return (flags.subtracting(self.flags), keywords.filter { !removed.contains($0.lowercased()) })
        }
    }

    static func unique(_ keywords: [String]) -> [String] {
        var seen = Set<String>()
        return keywords.filter { seen.insert($0.lowercased()).inserted }
    }
}

/// A message to add to a mailbox (IMAP APPEND).
public struct NewMessage: Sendable {
    /// RFC 5322 octets, CRLF line ends as the client sent them.
    public var bytes: [UInt8]
    public var flags: SystemFlags
    public var keywords: [String]
    /// Seconds since 1970; nil for now.
    public var internalDate: Int64?

    public init(bytes: [UInt8], flags: SystemFlags = [], keywords: [String] = [], internalDate: Int64? = nil) {
        self.bytes = bytes
        self.flags = flags
        self.keywords = keywords
        self.internalDate = internalDate
    }
}

/// Where messages went: `APPENDUID` / `COPYUID` (RFC 4315).
public struct StoredUIDs: Sendable, Equatable {
    public var uidValidity: UInt32
    /// The new UIDs, in the order of the messages given (for COPY: of `sourceUIDs`).
    public var uids: [UInt32]
    /// COPY: the source UIDs that were copied (expunged ones are left out), in the same
    /// order as `uids`.
    public var sourceUIDs: [UInt32]

    public init(uidValidity: UInt32, uids: [UInt32], sourceUIDs: [UInt32] = []) {
        self.uidValidity = uidValidity
        self.uids = uids
        self.sourceUIDs = sourceUIDs
    }
}

/// The folder side of the store, which IMAP needs on top of `MailboxStore`.
///
/// Names use `MailboxNaming.separator`; `"INBOX"` is the inbox. Every name from a client
/// goes through `MailboxNaming.problem(with:)` here (`.notFound` with a reason otherwise)
/// before it comes anywhere near a path. Every call is durable when it returns.
public protocol MailboxFolders: MailboxStore {
    /// The account's mailboxes, INBOX first, then by name. The first call for an account
    /// creates `MailboxNaming.defaultMailboxes`, subscribed.
    func mailboxes(account: MailAddress) async throws(StoreError) -> [MailboxInfo]
    /// `.alreadyExists`; a missing parent is created too (RFC 9051 §6.3.4). A
    /// `specialUse` outside `MailboxNaming.supportedSpecialUses` is `.permissionDenied`.
    func create(account: MailAddress, mailbox: String, specialUse: String?) async throws(StoreError)
    /// `.notFound`; INBOX is `.permissionDenied`; a mailbox with children is `.inUse`
    /// (IMAP answers `NO [HASCHILDREN]`). Its messages are gone for good.
    func delete(account: MailAddress, mailbox: String) async throws(StoreError)
    /// Renames a mailbox and everything under it. `.notFound`, `.alreadyExists`.
    /// Renaming INBOX moves its messages into the new mailbox and leaves INBOX empty
    /// (RFC 9051 §6.3.6).
    func rename(account: MailAddress, from: String, to: String) async throws(StoreError)
    /// Subscriptions may name mailboxes that do not exist (RFC 9051 §6.3.7).
    func setSubscribed(account: MailAddress, mailbox: String, subscribed: Bool) async throws(StoreError)
    /// Adds messages to a mailbox (`.notFound`: IMAP `NO [TRYCREATE]`). All or none.
    func append(account: MailAddress, mailbox: String, messages: [NewMessage]) async throws(StoreError) -> StoredUIDs
}

/// The parts of an opened mailbox IMAP needs beyond POP3's.
public protocol IMAPMailbox: OpenMailbox {
    /// Changes flags and keywords; returns the new summaries of the messages that exist
    /// (changed or not), in UID order.
    func changeFlags(uids: [UInt32], _ change: FlagChange) async throws(StoreError) -> [MessageSummary]
    /// Removes the messages that are `\Deleted` at this moment — among `uids`, or all
    /// when nil — and returns their UIDs: IMAP EXPUNGE and CLOSE, which must not remove
    /// a message another session has just undeleted.
    func expungeDeleted(among uids: [UInt32]?) async throws(StoreError) -> [UInt32]
    /// Copies messages into `mailbox` of the same account (`.notFound` when it does not
    /// exist), keeping flags, keywords and INTERNALDATE. Expunged sources are skipped.
    func copy(uids: [UInt32], to mailbox: String) async throws(StoreError) -> StoredUIDs
    /// Fields the caller derived from messages' contents and gave to `keepDerivedFields`
    /// (IMAP: ENVELOPE, BODYSTRUCTURE, BODY as encoded), by UID, then by field name. A
    /// message never changes under its UID (RFC 9051 §2.3.1.1), so they never go stale;
    /// they go with the message. Best effort: what cannot be read is left out.
    func derivedFields(uids: [UInt32]) async -> [UInt32: [String: [UInt8]]]
    /// Keeps derived fields with the messages' index rows (Dovecot's `dovecot.index.cache`),
    /// so a later session — also after a restart — need not read and parse the messages
    /// again. A cache: written after the call returns, not made durable on its own,
    /// dropped for messages that are gone, and bounded per message (a store may keep
    /// only the first few names it is given).
    func keepDerivedFields(_ fields: [UInt32: [String: [UInt8]]])
    /// IMAP4rev1 `\Recent` across restarts: the lowest UID no session has been told
    /// about, as last kept (`keepRecentBoundary`); nil when the store keeps none (then
    /// nothing that is already there counts as recent).
    func recentBoundary() async -> UInt32?
    /// Keeps the new boundary once a session was told of everything below `uid` (not
    /// waited for; a crash may lose the last one, making a few messages recent again).
    func keepRecentBoundary(_ uid: UInt32)
}

extension IMAPMailbox {
    /// A store that keeps no derived fields.
    public func derivedFields(uids: [UInt32]) async -> [UInt32: [String: [UInt8]]] { [:] }
    public func keepDerivedFields(_ fields: [UInt32: [String: [UInt8]]]) {}
    /// A store that keeps no \Recent boundary.
    public func recentBoundary() async -> UInt32? { nil }
    public func keepRecentBoundary(_ uid: UInt32) {}
}

/// Wakes sessions waiting for changes to an account's mail (IMAP IDLE): deliveries and
/// other sessions' changes post here; waiters then refresh their mailbox.
public final class MailboxChangeNotifier: Sendable {
    private struct Waiter {
        let id: UInt64
        let continuation: CheckedContinuation<Void, Never>
    }

    private struct State {
        var nextID: UInt64 = 0
        var waiters: [String: [Waiter]] = [:]
        /// Waits not finished yet (registered or about to be).
        var pending: Set<UInt64> = []
        /// Waits whose time ran out before they were registered.
        var expired: Set<UInt64> = []
        /// Changes posted per account (one entry per account that ever changed).
        var generations: [String: UInt64] = [:]
    }

    private let state = Mutex(State())

    public init() {}

    /// Wakes everyone waiting on `account` (canonical address).
    public func post(account: String) {
        let woken = state.withLock { state -> [Waiter] in
            state.generations[account, default: 0] &+= 1
            let woken = state.waiters.removeValue(forKey: account) ?? []
            for waiter in woken { state.pending.remove(waiter.id) }
            return woken
        }
        for waiter in woken { waiter.continuation.resume() }
    }

    /// How many changes `account` has seen: read it before looking at the mailbox, and
    /// pass it to `wait(account:since:timeout:)`, so that a change posted while the
    /// caller was busy is not missed.
    public func generation(account: String) -> UInt64 {
        state.withLock { $0.generations[account] ?? 0 }
    }

    /// An identifier for a wait that `cancel(account:id:)` can end early — also before
    /// the wait has begun (IMAP DONE can arrive before the waiting task runs).
    public func makeWaitID() -> UInt64 {
        state.withLock { state -> UInt64 in
            state.nextID += 1
            state.pending.insert(state.nextID)
            return state.nextID
        }
    }

    /// Ends the wait `id` now (it returns as if its time ran out).
    public func cancel(account: String, id: UInt64) {
        expire(account: account, id: id)
    }

    /// Returns at the next `post` for `account` — at once when one came after
    /// `generation` was read — after `timeout`, or when cancelled (`id` from
    /// `makeWaitID()`), whichever is first.
    public func wait(account: String, since generation: UInt64? = nil, timeout: Duration, id given: UInt64? = nil) async {
        let id = state.withLock { state -> UInt64? in
            let id: UInt64
            if let given {
                id = given
            } else {
                state.nextID += 1
                id = state.nextID
                state.pending.insert(id)
            }
            if let generation, (state.generations[account] ?? 0) != generation {
                state.pending.remove(id)
                state.expired.remove(id)
                return nil
            }
            return id
        }
        guard let id else { return }
        let timer = Task {
            guard (try? await Task.sleep(for: timeout)) != nil else { return }
            self.expire(account: account, id: id)
        }
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let now = state.withLock { state -> Bool in
                if state.expired.remove(id) != nil { return true }
                guard state.pending.contains(id) else { return true }
                if let generation, (state.generations[account] ?? 0) != generation {
                    state.pending.remove(id)
                    return true
                }
                state.waiters[account, default: []].append(Waiter(id: id, continuation: continuation))
                return false
            }
            if now { continuation.resume() }
        }
        timer.cancel()
    }

    private func expire(account: String, id: UInt64) {
        let waiter = state.withLock { state -> Waiter? in
            guard state.pending.remove(id) != nil else { return nil }
            guard var list = state.waiters[account], let index = list.firstIndex(where: { $0.id == id }) else {
                state.expired.insert(id)
                return nil
            }
            let waiter = list.remove(at: index)
            state.waiters[account] = list.isEmpty ? nil : list
            return waiter
        }
        waiter?.continuation.resume()
    }

    /// Waiters right now (tests, metrics).
    public var waiterCount: Int { state.withLock { $0.waiters.values.reduce(0) { $0 + $1.count } } }
}
