import Foundation
import MailCore
import MailStore
import Synchronization

/// A `MailboxFolders` in memory, for IMAP session tests.
///
/// Every handle of a mailbox reads and writes the same state, so two sessions see each
/// other's changes at once (as two sessions of one Tsubame process do through the
/// index). UIDs ascend and are never reused; every mailbox has its own UIDVALIDITY.
/// Sizes are the stored byte counts, so tests store messages with CRLF line ends.
/// Errors follow the table in `Mailbox.swift`.
final class InMemoryMailStore: MailboxFolders {
    /// Message contents read so far (tests of what is answered without reading).
    let contentReads = Mutex(0)
    /// What `keepRecentBoundary` kept, by mailbox identity (none until a session kept one).
    let recentBoundaries = Mutex<[UInt64: UInt32]>([:])
    /// What `keepDerivedFields` kept, by mailbox identity, UID and field name.
    let derived = Mutex<[UInt64: [UInt32: [String: [UInt8]]]]>([:])
    /// `takingNewMessages` of every open so far (plain `open(account:mailbox:)`: false).
    let opensTakingNewMessages = Mutex<[Bool]>([])

    struct StoredMessage {
        var summary: MessageSummary
        var bytes: [UInt8]
    }

    struct MailboxState {
        var uidValidity: UInt32
        var uidNext: UInt32 = 1
        var highestModificationSequence: UInt64 = 1
        var messages: [StoredMessage] = []
        var specialUse: String?

        var snapshot: MailboxSnapshot {
            MailboxSnapshot(
                uidValidity: uidValidity, uidNext: uidNext, highestModificationSequence: highestModificationSequence,
                messages: messages.map(\.summary))
        }
    }

    struct AccountState {
        /// Mailbox name → mailbox identity (kept across RENAME, so open handles follow).
        var names: [String: UInt64] = [:]
        var subscriptions: Set<String> = ["INBOX"]
        var hasDefaults = false
    }

    struct State {
        var accounts: [String: AccountState] = [:]
        var mailboxes: [UInt64: MailboxState] = [:]
        var nextID: UInt64 = 1
        var nextUIDValidity: UInt32 = 1_700_000_000
        var openHandles = 0
    }

    let state = Mutex(State())
    let notifier: MailboxChangeNotifier?
    /// Seconds since 1970 for messages appended without a date.
    let now: @Sendable () -> Int64

    init(notifier: MailboxChangeNotifier? = nil, now: @escaping @Sendable () -> Int64 = { 1_700_000_000 }) {
        self.notifier = notifier
        self.now = now
    }

    // MARK: - Test set-up and inspection

    /// Stores a message directly (a delivery), creating the mailbox if needed.
    @discardableResult
    func deliver(
        _ text: String, to account: String, mailbox: String = "INBOX", flags: SystemFlags = [], keywords: [String] = [],
        internalDate: Int64? = nil
    ) -> UInt32 {
        let uid = state.withLock { state -> UInt32 in
            let id = Self.mailboxID(&state, account: account, name: mailbox, create: true)!
            return Self.add(
                &state, id, NewMessage(bytes: Array(text.utf8), flags: flags, keywords: keywords, internalDate: internalDate),
                now: now())
        }
        notifier?.post(account: account)
        return uid
    }

    /// The mailbox's current state, nil when it does not exist.
    func contents(of mailbox: String, account: String) -> MailboxSnapshot? {
        state.withLock { state in
            guard let id = Self.mailboxID(&state, account: account, name: mailbox, create: false) else { return nil }
            return state.mailboxes[id]?.snapshot
        }
    }

    func messageBytes(_ mailbox: String, account: String, uid: UInt32) -> [UInt8]? {
        state.withLock { state in
            guard let id = Self.mailboxID(&state, account: account, name: mailbox, create: false) else { return nil }
            return state.mailboxes[id]?.messages.first { $0.summary.uid == uid }?.bytes
        }
    }

    /// Handles opened and not closed yet.
    var openHandles: Int { state.withLock { $0.openHandles } }

    // MARK: - MailboxStore

    func open(account: MailAddress, mailbox: String, takingNewMessages: Bool) async throws(StoreError)
        -> any OpenMailbox
    {
        opensTakingNewMessages.withLock { $0.append(takingNewMessages) }
        return try await openHandle(account: account, mailbox: mailbox)
    }

    func open(account: MailAddress, mailbox: String) async throws(StoreError) -> any OpenMailbox {
        opensTakingNewMessages.withLock { $0.append(false) }
        return try await openHandle(account: account, mailbox: mailbox)
    }

    private func openHandle(account: MailAddress, mailbox: String) async throws(StoreError) -> any OpenMailbox {
        if let problem = MailboxNaming.problem(with: mailbox) { throw StoreError(.notFound, problem) }
        let key = account.canonical
        let id = state.withLock { state -> UInt64? in
            guard let id = Self.mailboxID(&state, account: key, name: mailbox, create: false) else { return nil }
            state.openHandles += 1
            return id
        }
        guard let id else { throw StoreError(.notFound, "no mailbox \(mailbox)") }
        return InMemoryMailbox(store: self, account: key, id: id)
    }

    // MARK: - MailboxFolders

    func mailboxes(account: MailAddress) async throws(StoreError) -> [MailboxInfo] {
        let key = account.canonical
        return state.withLock { state in
            _ = Self.mailboxID(&state, account: key, name: "INBOX", create: false)
            if state.accounts[key]?.hasDefaults == false {
                state.accounts[key]?.hasDefaults = true
                for (name, use) in MailboxNaming.defaultMailboxes {
                    guard state.accounts[key]?.names[name] == nil else { continue }
                    let id = Self.mailboxID(&state, account: key, name: name, create: true)!
                    state.mailboxes[id]?.specialUse = use
                    state.accounts[key]?.subscriptions.insert(name)
                }
            }
            let account = state.accounts[key]!
            let names = account.names.keys.sorted { a, b in
                if a == "INBOX" { return b != "INBOX" }
                if b == "INBOX" { return false }
                return a < b
            }
            var result = names.map { name in
                MailboxInfo(
                    name: name, specialUse: state.mailboxes[account.names[name]!]?.specialUse,
                    isSubscribed: account.subscriptions.contains(name))
            }
            // Like the Maildir store: subscriptions without a mailbox, and missing parents.
            var listed = Set(names)
            var extra: [MailboxInfo] = []
            for name in names {
                var parent = MailboxNaming.parent(of: name)
                while let current = parent, !listed.contains(current) {
                    listed.insert(current)
                    extra.append(MailboxInfo(name: current, isSubscribed: account.subscriptions.contains(current), exists: false))
                    parent = MailboxNaming.parent(of: current)
                }
            }
            for name in account.subscriptions.sorted() where !listed.contains(name) {
                extra.append(MailboxInfo(name: name, isSubscribed: true, exists: false))
            }
            result += extra
            result.sort { a, b in
                if a.name == "INBOX" { return b.name != "INBOX" }
                if b.name == "INBOX" { return false }
                return a.name < b.name
            }
            return result
        }
    }

    func create(account: MailAddress, mailbox: String, specialUse: String?) async throws(StoreError) {
        if let problem = MailboxNaming.problem(with: mailbox) { throw StoreError(.notFound, problem) }
        if let specialUse, !MailboxNaming.supportedSpecialUses.contains(specialUse) {
            throw StoreError(.permissionDenied, "special use \(specialUse)")
        }
        let key = account.canonical
        try state.withLock { state throws(StoreError) in
            if Self.mailboxID(&state, account: key, name: mailbox, create: false) != nil || MailboxNaming.isInbox(mailbox) {
                throw StoreError(.alreadyExists, mailbox)
            }
            let id = Self.mailboxID(&state, account: key, name: mailbox, create: true)!
            state.mailboxes[id]?.specialUse = specialUse
        }
    }

    func delete(account: MailAddress, mailbox: String) async throws(StoreError) {
        if MailboxNaming.isInbox(mailbox) { throw StoreError(.permissionDenied, "INBOX") }
        let key = account.canonical
        try state.withLock { state throws(StoreError) in
            guard let id = Self.mailboxID(&state, account: key, name: mailbox, create: false) else {
                throw StoreError(.notFound, mailbox)
            }
            let prefix = mailbox + String(MailboxNaming.separator)
            if state.accounts[key]!.names.keys.contains(where: { $0.hasPrefix(prefix) }) {
                throw StoreError(.inUse, "\(mailbox) has children")
            }
            state.accounts[key]!.names[mailbox] = nil
            state.mailboxes[id] = nil
        }
        notifier?.post(account: key)
    }

    func rename(account: MailAddress, from: String, to: String) async throws(StoreError) {
        for name in [from, to] {
            if let problem = MailboxNaming.problem(with: name) { throw StoreError(.notFound, problem) }
        }
        let key = account.canonical
        try state.withLock { state throws(StoreError) in
            guard let sourceID = Self.mailboxID(&state, account: key, name: from, create: false) else {
                throw StoreError(.notFound, from)
            }
            if Self.mailboxID(&state, account: key, name: to, create: false) != nil || MailboxNaming.isInbox(to) {
                throw StoreError(.alreadyExists, to)
            }
            if to.hasPrefix(from + String(MailboxNaming.separator)) {
                throw StoreError(.permissionDenied, "cannot move \(from) under itself")
            }
            if MailboxNaming.isInbox(from) {
                // RFC 9051 §6.3.6: INBOX's messages move, INBOX stays (empty).
                let targetID = Self.mailboxID(&state, account: key, name: to, create: true)!
                var inbox = state.mailboxes[sourceID]!
                for message in inbox.messages {
                    _ = Self.add(
                        &state, targetID,
                        NewMessage(
                            bytes: message.bytes, flags: message.summary.flags, keywords: message.summary.keywords,
                            internalDate: message.summary.internalDate), now: 0)
                }
                inbox.messages = []
                inbox.highestModificationSequence += 1
                state.mailboxes[sourceID] = inbox
                return
            }
            let prefix = from + String(MailboxNaming.separator)
            var account = state.accounts[key]!
            for (name, id) in account.names where name == from || name.hasPrefix(prefix) {
                let newName = to + name.dropFirst(from.count)
                account.names[name] = nil
                account.names[newName] = id
            }
            state.accounts[key] = account
            // Missing parents of the new name.
            var parent = MailboxNaming.parent(of: to)
            while let name = parent, state.accounts[key]!.names[name] == nil {
                _ = Self.mailboxID(&state, account: key, name: name, create: true)
                parent = MailboxNaming.parent(of: name)
            }
        }
        notifier?.post(account: key)
    }

    func setSubscribed(account: MailAddress, mailbox: String, subscribed: Bool) async throws(StoreError) {
        if let problem = MailboxNaming.problem(with: mailbox) { throw StoreError(.notFound, problem) }
        let key = account.canonical
        state.withLock { state in
            _ = Self.mailboxID(&state, account: key, name: "INBOX", create: false)
            if subscribed {
                state.accounts[key]!.subscriptions.insert(mailbox)
            } else {
                state.accounts[key]!.subscriptions.remove(mailbox)
            }
        }
    }

    func append(account: MailAddress, mailbox: String, messages: [NewMessage]) async throws(StoreError) -> StoredUIDs {
        if let problem = MailboxNaming.problem(with: mailbox) { throw StoreError(.notFound, problem) }
        let key = account.canonical
        let time = now()
        let stored = try state.withLock { state throws(StoreError) -> StoredUIDs in
            guard let id = Self.mailboxID(&state, account: key, name: mailbox, create: false) else {
                throw StoreError(.notFound, mailbox)
            }
            let uids = messages.map { Self.add(&state, id, $0, now: time) }
            return StoredUIDs(uidValidity: state.mailboxes[id]!.uidValidity, uids: uids)
        }
        notifier?.post(account: key)
        return stored
    }

    // MARK: - Shared state

    /// The identity of `name` in `account` (INBOX always exists), creating it and its
    /// missing parents when `create` is set.
    static func mailboxID(_ state: inout State, account: String, name: String, create: Bool) -> UInt64? {
        if state.accounts[account] == nil {
            state.accounts[account] = AccountState()
            let id = newMailbox(&state)
            state.accounts[account]!.names["INBOX"] = id
        }
        let name = MailboxNaming.isInbox(name) ? "INBOX" : name
        if let id = state.accounts[account]!.names[name] { return id }
        guard create else { return nil }
        if let parent = MailboxNaming.parent(of: name) {
            _ = mailboxID(&state, account: account, name: parent, create: true)
        }
        let id = newMailbox(&state)
        state.accounts[account]!.names[name] = id
        return id
    }

    private static func newMailbox(_ state: inout State) -> UInt64 {
        let id = state.nextID
        state.nextID += 1
        state.mailboxes[id] = MailboxState(uidValidity: state.nextUIDValidity)
        state.nextUIDValidity += 1
        return id
    }

    static func add(_ state: inout State, _ id: UInt64, _ message: NewMessage, now: Int64) -> UInt32 {
        var mailbox = state.mailboxes[id]!
        let uid = mailbox.uidNext
        mailbox.uidNext += 1
        mailbox.highestModificationSequence += 1
        let summary = MessageSummary(
            uid: uid, size: message.bytes.count, internalDate: message.internalDate ?? now, flags: message.flags,
            keywords: FlagChange(.replace, flags: [], keywords: message.keywords).applied(to: [], keywords: []).1,
            modificationSequence: mailbox.highestModificationSequence)
        mailbox.messages.append(StoredMessage(summary: summary, bytes: message.bytes))
        state.mailboxes[id] = mailbox
        return uid
    }
}

/// One open mailbox of `InMemoryMailStore`: a reference to the shared state.
struct InMemoryMailbox: IMAPMailbox {
    let store: InMemoryMailStore
    let account: String
    let id: UInt64

    private func withMailbox<T>(
        _ body: (inout InMemoryMailStore.MailboxState) throws(StoreError) -> T
    ) throws(StoreError) -> T {
        try store.state.withLock { state throws(StoreError) -> T in
            guard var mailbox = state.mailboxes[id] else { throw StoreError(.notFound, "mailbox deleted") }
            let result = try body(&mailbox)
            state.mailboxes[id] = mailbox
            return result
        }
    }

    func snapshot() async -> MailboxSnapshot {
        store.state.withLock { state in
            state.mailboxes[id]?.snapshot
                ?? MailboxSnapshot(uidValidity: 0, uidNext: 1, highestModificationSequence: 0, messages: [])
        }
    }

    func refresh() async throws(StoreError) -> MailboxSnapshot {
        try withMailbox { mailbox throws(StoreError) in mailbox.snapshot }
    }

    func derivedFields(uids: [UInt32]) async -> [UInt32: [String: [UInt8]]] {
        let kept = store.derived.withLock { $0[id] ?? [:] }
        return kept.filter { uids.contains($0.key) }
    }

    func recentBoundary() async -> UInt32? {
        store.recentBoundaries.withLock { $0[id] }
    }

    func keepRecentBoundary(_ uid: UInt32) {
        store.recentBoundaries.withLock { $0[id] = max($0[id] ?? 0, uid) }
    }

    func keepDerivedFields(_ fields: [UInt32: [String: [UInt8]]]) {
        store.derived.withLock { derived in
            for (uid, named) in fields { derived[id, default: [:]][uid, default: [:]].merge(named) { $1 } }
        }
    }

    func content(uid: UInt32) async throws(StoreError) -> [UInt8] {
        store.contentReads.withLock { $0 += 1 }
        return try withMailbox { mailbox throws(StoreError) in
            guard let message = mailbox.messages.first(where: { $0.summary.uid == uid }) else {
                throw StoreError(.expunged, "uid \(uid)")
            }
            return message.bytes
        }
    }

    @discardableResult
    func setFlags(uids: [UInt32], add: SystemFlags, remove: SystemFlags) async throws(StoreError) -> [MessageSummary] {
        var result = try await changeFlags(uids: uids, FlagChange(.add, flags: add))
        if !remove.isEmpty { result = try await changeFlags(uids: uids, FlagChange(.remove, flags: remove)) }
        return result
    }

    func changeFlags(uids: [UInt32], _ change: FlagChange) async throws(StoreError) -> [MessageSummary] {
        let wanted = Set(uids)
        let result = try withMailbox { mailbox throws(StoreError) -> [MessageSummary] in
            var changed: [MessageSummary] = []
            for index in mailbox.messages.indices where wanted.contains(mailbox.messages[index].summary.uid) {
                var summary = mailbox.messages[index].summary
                let (flags, keywords) = change.applied(to: summary.flags, keywords: summary.keywords)
                if flags != summary.flags || keywords != summary.keywords {
                    mailbox.highestModificationSequence += 1
                    summary.flags = flags
                    summary.keywords = keywords
                    summary.modificationSequence = mailbox.highestModificationSequence
                    mailbox.messages[index].summary = summary
                }
                changed.append(summary)
            }
            return changed
        }
        store.notifier?.post(account: account)
        return result
    }

    func expunge(uids: [UInt32]) async throws(StoreError) {
        let gone = Set(uids)
        try withMailbox { mailbox throws(StoreError) in
            let before = mailbox.messages.count
            mailbox.messages.removeAll { gone.contains($0.summary.uid) }
            if mailbox.messages.count != before { mailbox.highestModificationSequence += 1 }
        }
        store.notifier?.post(account: account)
    }

    func expungeDeleted(among uids: [UInt32]?) async throws(StoreError) -> [UInt32] {
        let wanted = uids.map(Set.init)
        let removed = try withMailbox { mailbox throws(StoreError) -> [UInt32] in
            let deleted = mailbox.messages.map(\.summary).filter { summary in
                summary.flags.contains(.deleted) && (wanted?.contains(summary.uid) ?? true)
            }.map(\.uid)
            let gone = Set(deleted)
            mailbox.messages.removeAll { gone.contains($0.summary.uid) }
            if !gone.isEmpty { mailbox.highestModificationSequence += 1 }
            return deleted
        }
        if !removed.isEmpty { store.notifier?.post(account: account) }
        return removed
    }

    func copy(uids: [UInt32], to target: String) async throws(StoreError) -> StoredUIDs {
        let account = self.account
        let id = self.id
        let result = try store.state.withLock { state throws(StoreError) -> StoredUIDs in
            guard let source = state.mailboxes[id] else { throw StoreError(.notFound, "mailbox deleted") }
            guard let targetID = InMemoryMailStore.mailboxID(&state, account: account, name: target, create: false) else {
                throw StoreError(.notFound, target)
            }
            var copied: [UInt32] = []
            var sources: [UInt32] = []
            for uid in uids {
                guard let message = source.messages.first(where: { $0.summary.uid == uid }) else { continue }
                let new = NewMessage(
                    bytes: message.bytes, flags: message.summary.flags, keywords: message.summary.keywords,
                    internalDate: message.summary.internalDate)
                copied.append(InMemoryMailStore.add(&state, targetID, new, now: 0))
                sources.append(uid)
            }
            return StoredUIDs(uidValidity: state.mailboxes[targetID]!.uidValidity, uids: copied, sourceUIDs: sources)
        }
        store.notifier?.post(account: account)
        return result
    }

    func close() async {
        store.state.withLock { $0.openHandles -= 1 }
    }
}
