public import MailCore

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
