import IMAPProtocol
import Logging
import MailCore
import MailStore
public import NIOCore
import ServerSupport

/// A command's answer: the response lines, and what the session does next.
public struct IMAPStep: Sendable {
    public var output: ByteBuffer
    /// The command is not finished (a large FETCH): call `continueCommand` once this
    /// output is on its way.
    public var hasMore = false
    /// Close the connection after the output.
    public var close = false
    /// The command was refused with BAD (counted toward the error limit).
    public var isError = false

    public init(output: ByteBuffer, hasMore: Bool = false, close: Bool = false, isError: Bool = false) {
        self.output = output
        self.hasMore = hasMore
        self.close = close
        self.isError = isError
    }
}

/// A mailbox the session has selected: the session's own view of it, whose message
/// numbers change only when the session has been told (RFC 9051 §7.5.1).
struct SelectedMailbox {
    /// Follows RENAME by this session.
    var name: String
    let handle: any IMAPMailbox
    let isReadOnly: Bool
    let uidValidity: UInt32
    var uidNext: UInt32
    var highestModificationSequence: UInt64
    /// In message-number order (number = index + 1), ascending UIDs.
    var messages: [MessageSummary]
    /// The UIDs that are \Recent in this session (IMAP4rev1): the ones this session
    /// was the first to be told about.
    var recentUIDs: [ClosedRange<UInt32>]
    /// The key of the mailbox for the \Recent tracker.
    let recentKey: String

    /// The index of `uid` in `messages`.
    func index(of uid: UInt32) -> Int? {
        var low = 0
        var high = messages.count
        while low < high {
            let middle = (low + high) / 2
            if messages[middle].uid < uid { low = middle + 1 } else { high = middle }
        }
        return low < messages.count && messages[low].uid == uid ? low : nil
    }

    /// The first index whose UID is at least `uid`.
    func lowerBound(_ uid: UInt32) -> Int {
        var low = 0
        var high = messages.count
        while low < high {
            let middle = (low + high) / 2
            if messages[middle].uid < uid { low = middle + 1 } else { high = middle }
        }
        return low
    }

    func isRecent(_ message: MessageSummary) -> Bool { recentUIDs.contains { $0.contains(message.uid) } }

    /// Claims the messages below `uidNext` that no session was told about yet; the
    /// store keeps the new boundary for after a restart. The first claim in a mailbox
    /// since the start begins where the store's boundary is.
    mutating func claimRecent(_ tracker: RecentTracker, uidNext: UInt32) async {
        guard !isReadOnly else { return }
        let kept = tracker.knows(recentKey) ? nil : await handle.recentBoundary()
        let first = tracker.claim(recentKey, uidNext: uidNext, kept: kept)
        guard first < uidNext else { return }
        recentUIDs.append(first...(uidNext - 1))
        handle.keepRecentBoundary(uidNext)
    }
}

/// A connection's state after login and the commands that use it. Runs only inside the
/// session's `.run` work, which the handler runs one at a time, so it needs no lock.
///
/// - SeeAlso: RFC 9051 §6.3 (authenticated state), §6.4 (selected state)
final class IMAPConnection: @unchecked Sendable {
    let services: IMAPServices
    let context: ConnectionContext
    var user: MailAddress?
    /// ENABLE IMAP4rev2 (RFC 9051 §6.3.1).
    var isRev2 = false
    /// ENABLE UTF8=ACCEPT (RFC 6855), or implied by IMAP4rev2.
    var acceptsUTF8 = false
    var selected: SelectedMailbox?
    /// SEARCH RETURN (SAVE) result, as UIDs (RFC 5182).
    var savedSearch: [UInt32] = []
    /// A FETCH that goes on in the next step.
    var pendingFetch: PendingFetch?
    var output = ByteBuffer()
    /// The account's default mailboxes (Sent, Drafts, …) exist: the store creates them
    /// the first time it lists an account's mailboxes.
    var hasDefaultMailboxes = false

    /// Output per step of a large FETCH: the next batch is produced when the socket
    /// has taken this one.
    static let batchBytes = 256 * 1024

    init(services: IMAPServices, context: ConnectionContext) {
        self.services = services
        self.context = context
    }

    var logger: Logger { services.logger }

    func loggedIn(user: String) async {
        self.user = MailAddress(user)
    }

    /// Closes the selected mailbox (the connection is gone or logging out).
    func release() async {
        pendingFetch = nil
        if let selected {
            self.selected = nil
            await selected.handle.close()
        }
    }

    // MARK: - Dispatch

    func execute(_ command: IMAPCommand) async -> IMAPStep {
        output.clear()
        let tag = command.tag
        guard let user else { return finish(tag, .bad, nil, "Please log in first", isError: true) }
        if !hasDefaultMailboxes && Self.namesAnotherMailbox(command.kind) {
            hasDefaultMailboxes = (try? await services.store.mailboxes(account: user)) != nil
        }
        switch command.kind {
        case .capability, .logout, .startTLS, .authenticate, .login, .idle:
            return finish(tag, .bad, nil, "Unexpected command", isError: true)
        case .noop, .check:
            await sendUpdates(allowExpunge: true, fromDisk: true)
            return finish(tag, .ok, nil, "\(command.name) completed")
        case .enable(let capabilities):
            return enable(tag, capabilities)
        case .namespace:
            output.writeString("* NAMESPACE ((\"\" \"/\")) NIL NIL\r\n")
            return finish(tag, .ok, nil, "NAMESPACE completed")
        case .select(let name, _):
            return await select(tag, name, readOnly: false, account: user)
        case .examine(let name, _):
            return await select(tag, name, readOnly: true, account: user)
        case .create(let name, let specialUse):
            return await create(tag, name, specialUse: specialUse, account: user)
        case .delete(let name):
            return await delete(tag, name, account: user)
        case .rename(let from, let to):
            return await rename(tag, from, to, account: user)
        case .subscribe(let name):
            return await subscribe(tag, name, subscribed: true, account: user)
        case .unsubscribe(let name):
            return await subscribe(tag, name, subscribed: false, account: user)
        case .list(let arguments):
            return await list(tag, arguments, account: user)
        case .lsub(let reference, let pattern):
            return await lsub(tag, reference: reference, pattern: pattern, account: user)
        case .status(let name, let items):
            return await status(tag, name, items, account: user)
        case .append(let name, let messages):
            return await append(tag, name, messages, account: user)
        case .close, .unselect:
            guard let selected else { return finish(tag, .bad, nil, "No mailbox selected", isError: true) }
            if case .close = command.kind, !selected.isReadOnly {
                // Only what is \Deleted now, not what this session last saw as such.
                do {
                    _ = try await selected.handle.expungeDeleted(among: nil)
                } catch {
                    return storeFailure(tag, error, "CLOSE")
                }
            }
            self.selected = nil
            await selected.handle.close()
            return finish(tag, .ok, nil, "\(command.name) completed")
        case .expunge:
            return await expunge(tag, uids: nil)
        case .uidExpunge(let set):
            return await expunge(tag, uids: set)
        case .search(let arguments):
            return await search(tag, arguments, byUID: false)
        case .uidSearch(let arguments):
            return await search(tag, arguments, byUID: true)
        case .fetch(let set, let attributes, let modifiers):
            return await fetch(tag, set, attributes, modifiers, byUID: false)
        case .uidFetch(let set, let attributes, let modifiers):
            return await fetch(tag, set, attributes, modifiers, byUID: true)
        case .store(let set, let flags, let unchangedSince):
            return await store(tag, set, flags, unchangedSince: unchangedSince, byUID: false)
        case .uidStore(let set, let flags, let unchangedSince):
            return await store(tag, set, flags, unchangedSince: unchangedSince, byUID: true)
        case .copy(let set, let name):
            return await copy(tag, set, name, byUID: false, move: false, account: user)
        case .uidCopy(let set, let name):
            return await copy(tag, set, name, byUID: true, move: false, account: user)
        case .move(let set, let name):
            return await copy(tag, set, name, byUID: false, move: true, account: user)
        case .uidMove(let set, let name):
            return await copy(tag, set, name, byUID: true, move: true, account: user)
        }
    }

    /// Whether the command may name a mailbox other than INBOX (which always exists).
    static func namesAnotherMailbox(_ kind: IMAPCommand.Kind) -> Bool {
        switch kind {
        case .select(let name, _), .examine(let name, _), .status(let name, _), .append(let name, _),
            .copy(_, let name), .uidCopy(_, let name), .move(_, let name), .uidMove(_, let name):
            return !name.isInbox
        case .create, .delete, .rename, .subscribe, .unsubscribe:
            return true
        default:
            return false
        }
    }

    /// The next batch of a command that returned `hasMore`.
    func continueCommand() async -> IMAPStep {
        output.clear()
        guard pendingFetch != nil else { return IMAPStep(output: output) }
        return await continueFetch()
    }

    /// Changes to report while idling (RFC 2177), read from disk.
    func updates() async -> ByteBuffer {
        output.clear()
        await sendUpdates(allowExpunge: true, fromDisk: true)
        return output
    }

    func finishIdle(tag: String) async -> IMAPStep {
        output.clear()
        await sendUpdates(allowExpunge: true, fromDisk: true)
        return finish(tag, .ok, nil, "IDLE terminated")
    }

    // MARK: - Replies

    func finish(
        _ tag: String, _ status: IMAPResponse.Status, _ code: IMAPResponseCode?, _ text: String, isError: Bool = false
    ) -> IMAPStep {
        IMAPResponse.tagged(tag: tag, status: status, code: code, text: text).encode(into: &output)
        let step = IMAPStep(output: output, isError: isError || status == .bad)
        output = ByteBuffer()
        return step
    }

    /// The one mapping of store failures to IMAP (StoreError's table).
    func storeFailure(_ tag: String, _ error: StoreError, _ what: String) -> IMAPStep {
        let (code, text): (IMAPResponseCode, String)
        switch error.kind {
        case .notFound: (code, text) = (.nonexistent, "Mailbox does not exist")
        case .alreadyExists: (code, text) = (.alreadyExists, "Mailbox already exists")
        case .permissionDenied: (code, text) = (.cannot, "Not allowed")
        case .overQuota: (code, text) = (.overQuota, "Quota exceeded")
        case .expunged: (code, text) = (.expungeIssued, "Some messages were expunged")
        case .inUse: (code, text) = (.inUse, "Mailbox in use")
        case .limitExceeded: (code, text) = (.limit, "Limit exceeded")
        case .temporary: (code, text) = (.unavailable, "Temporary failure, try again later")
        case .internal: (code, text) = (.serverBug, "Internal error")
        }
        if error.kind == .temporary || error.kind == .internal {
            logger.error(
                "imap store failure",
                metadata: ["session": "\(context.sessionID)", "command": "\(what)", "error": "\(error)"])
        }
        return finish(tag, .no, code, text)
    }

    /// Untagged `* …` line.
    func untagged(_ text: String) {
        output.writeString("* ")
        output.writeString(text)
        output.writeString("\r\n")
    }

    // MARK: - Names

    /// The store name for a client's mailbox name: modified UTF-7 decoded for IMAP4rev1
    /// clients, checked against `MailboxNaming`. A trailing separator is dropped.
    func storeName(_ name: MailboxName) -> Result<String, StoreNameError> {
        if name.isInbox { return .success("INBOX") }
        var text = name.name
        if !acceptsUTF8 {
            guard let decoded = MailboxName.decodeModifiedUTF7(text) else {
                return .failure(StoreNameError(text: "Mailbox name is not valid modified UTF-7"))
            }
            text = decoded
        }
        while text.count > 1, text.last == MailboxNaming.separator { text.removeLast() }
        // "inbox/x" is INBOX's child.
        if let slash = text.firstIndex(of: MailboxNaming.separator), MailboxNaming.isInbox(String(text[..<slash])) {
            text = "INBOX" + text[slash...]
        }
        if let problem = MailboxNaming.problem(with: text) {
            return .failure(StoreNameError(text: "Invalid mailbox name: \(problem)"))
        }
        return .success(text)
    }

    struct StoreNameError: Error {
        let text: String
    }

    /// A store name as this client reads it: UTF-8 or modified UTF-7, as an astring.
    func wireName(_ name: String) -> String {
        let text = acceptsUTF8 ? name : MailboxName.encodeModifiedUTF7(name)
        return String(decoding: IMAPEncoding.astring(text, allowUTF8: acceptsUTF8), as: UTF8.self)
    }

    func badName(_ tag: String, _ error: StoreNameError) -> IMAPStep {
        finish(tag, .no, .cannot, error.text)
    }

    // MARK: - ENABLE

    private func enable(_ tag: String, _ capabilities: [String]) -> IMAPStep {
        guard selected == nil else {
            return finish(tag, .bad, .clientBug, "ENABLE is only allowed before a mailbox is selected", isError: true)
        }
        var enabled: [String] = []
        for capability in capabilities {
            switch capability {
            case "IMAP4REV2":
                if !isRev2 { enabled.append("IMAP4rev2") }
                isRev2 = true
                acceptsUTF8 = true
            case "UTF8=ACCEPT":
                if !acceptsUTF8 { enabled.append("UTF8=ACCEPT") }
                acceptsUTF8 = true
            default:
                continue
            }
        }
        untagged("ENABLED" + enabled.map { " " + $0 }.joined())
        return finish(tag, .ok, nil, "ENABLE completed")
    }

    // MARK: - SELECT, EXAMINE

    private func select(_ tag: String, _ name: MailboxName, readOnly: Bool, account: MailAddress) async -> IMAPStep {
        // RFC 9051 §6.3.2: the previous mailbox is closed, whether or not this SELECT
        // succeeds. Its handle is let go only after the new one is open, so that
        // re-selecting the same mailbox keeps the store's shared state of it (nothing
        // to park and load again).
        let previous = selected
        if previous != nil {
            selected = nil
            pendingFetch = nil
            untagged("OK [CLOSED] Previous mailbox closed")
        }
        savedSearch = []
        let step = await open(tag, name, readOnly: readOnly, account: account)
        await previous?.handle.close()
        return step
    }

    private func open(_ tag: String, _ name: MailboxName, readOnly: Bool, account: MailAddress) async -> IMAPStep {
        let storeName: String
        switch self.storeName(name) {
        case .success(let value): storeName = value
        case .failure(let error): return badName(tag, error)
        }
        let handle: any IMAPMailbox
        let snapshot: MailboxSnapshot
        do {
            // SELECT takes the mailbox's new messages (the store may move them out of
            // Maildir's new/, as Dovecot does); EXAMINE leaves them. \Recent is ours,
            // per session (`claimRecent`), whatever the store does.
            let opened = try await services.store.open(
                account: account, mailbox: storeName, takingNewMessages: !readOnly)
            guard let opened = opened as? any IMAPMailbox else {
                return finish(tag, .no, .cannot, "Mailbox cannot be selected")
            }
            handle = opened
            snapshot = await opened.snapshot()
        } catch {
            return storeFailure(tag, error, "SELECT")
        }
        // With UIDVALIDITY: a mailbox made again under the same name starts afresh.
        let recentKey = account.canonical + "\u{0}" + storeName + "\u{0}" + String(snapshot.uidValidity)
        var mailbox = SelectedMailbox(
            name: storeName, handle: handle, isReadOnly: readOnly, uidValidity: snapshot.uidValidity,
            uidNext: snapshot.uidNext, highestModificationSequence: snapshot.highestModificationSequence,
            messages: snapshot.messages, recentUIDs: [], recentKey: recentKey)
        await mailbox.claimRecent(services.recent, uidNext: snapshot.uidNext)
        selected = mailbox
        var keywords: [String] = []
        var seenKeywords = Set<String>()
        for message in snapshot.messages {
            for keyword in message.keywords where seenKeywords.insert(keyword.lowercased()).inserted {
                keywords.append(keyword)
            }
        }
        let flags = IMAPWire.flagList([.answered, .flagged, .deleted, .seen, .draft], keywords: keywords)
        untagged("\(snapshot.messages.count) EXISTS")
        if !isRev2 {
            untagged("\(snapshot.messages.filter { mailbox.isRecent($0) }.count) RECENT")
        }
        untagged("FLAGS \(flags)")
        if readOnly {
            untagged("OK [PERMANENTFLAGS ()] Read-only mailbox")
        } else {
            let permanent = IMAPWire.flagList([.answered, .flagged, .deleted, .seen, .draft], keywords: keywords + ["\\*"])
            untagged("OK [PERMANENTFLAGS \(permanent)] Flags permitted")
        }
        untagged("OK [UIDVALIDITY \(snapshot.uidValidity)] UIDs valid")
        untagged("OK [UIDNEXT \(snapshot.uidNext)] Predicted next UID")
        if !isRev2, let first = snapshot.messages.firstIndex(where: { !$0.flags.contains(.seen) }) {
            untagged("OK [UNSEEN \(first + 1)] First unseen")
        }
        if isRev2 {
            untagged("LIST () \"/\" \(wireName(storeName))")
        }
        return finish(tag, .ok, readOnly ? .readOnly : .readWrite, readOnly ? "EXAMINE completed" : "SELECT completed")
    }

    // MARK: - Updates

    /// Tells the client what changed in the selected mailbox since it last heard:
    /// EXPUNGE (only when `allowExpunge`: never during FETCH, STORE and SEARCH, RFC 9051
    /// §7.5.1), EXISTS, RECENT (IMAP4rev1) and FETCH FLAGS. `fromDisk` also looks for
    /// deliveries and other programs' changes; otherwise only this process's changes
    /// (other sessions', through the store's shared state) are seen.
    func sendUpdates(allowExpunge: Bool, fromDisk: Bool) async {
        guard var mailbox = selected else { return }
        let snapshot: MailboxSnapshot
        if fromDisk {
            guard let refreshed = try? await mailbox.handle.refresh() else { return }
            snapshot = refreshed
        } else {
            snapshot = await mailbox.handle.snapshot()
        }
        guard snapshot.highestModificationSequence != mailbox.highestModificationSequence
            || snapshot.messages.count != mailbox.messages.count || snapshot.uidNext != mailbox.uidNext
        else { return }
        // Merge the two UID-ordered lists.
        var expunged: [Int] = []
        var changed: [(index: Int, MessageSummary)] = []
        var oldIndex = 0
        var newIndex = 0
        var kept: [MessageSummary] = []
        kept.reserveCapacity(snapshot.messages.count)
        let old = mailbox.messages
        let new = snapshot.messages
        while oldIndex < old.count || newIndex < new.count {
            if newIndex >= new.count || (oldIndex < old.count && old[oldIndex].uid < new[newIndex].uid) {
                expunged.append(oldIndex)
                oldIndex += 1
            } else if oldIndex >= old.count || new[newIndex].uid < old[oldIndex].uid {
                // Arrived since; only UIDs above the ones known are new (the store never
                // reuses UIDs).
                if new[newIndex].uid > (old.last?.uid ?? 0) { kept.append(new[newIndex]) }
                newIndex += 1
            } else {
                if new[newIndex].flags != old[oldIndex].flags || new[newIndex].keywords != old[oldIndex].keywords {
                    changed.append((kept.count, new[newIndex]))
                }
                kept.append(new[newIndex])
                oldIndex += 1
                newIndex += 1
            }
        }
        if !expunged.isEmpty && !allowExpunge {
            // Keep the numbers as the client knows them; report flag changes and new
            // messages later, together with the expunges.
            return
        }
        // Highest first: each number is still right when the client reads it.
        for index in expunged.reversed() { untagged("\(index + 1) EXPUNGE") }
        for (index, message) in changed {
            let flags = IMAPWire.flagList(
                message.flags, keywords: message.keywords, recent: !isRev2 && mailbox.isRecent(message))
            untagged("\(index + 1) FETCH (FLAGS \(flags))")
        }
        let arrived = kept.count - (old.count - expunged.count)
        if arrived > 0 { await mailbox.claimRecent(services.recent, uidNext: snapshot.uidNext) }
        // After EXPUNGE the client knows the new count (RFC 9051 §7.5.1); EXISTS only
        // for arrivals.
        if arrived > 0 {
            untagged("\(kept.count) EXISTS")
            if !isRev2 && arrived > 0 {
                untagged("\(kept.filter { mailbox.isRecent($0) }.count) RECENT")
            }
        }
        mailbox.messages = kept
        mailbox.uidNext = snapshot.uidNext
        mailbox.highestModificationSequence = snapshot.highestModificationSequence
        selected = mailbox
    }

    // MARK: - Message sets

    /// Indices into the selected mailbox's messages for `set`, ascending, each once.
    /// Message numbers beyond the mailbox are an error (RFC 9051 §9: the client must
    /// only use numbers it knows); UIDs that do not exist are left out.
    func resolve(_ set: SequenceSet, byUID: Bool) -> [Int]? {
        guard let mailbox = selected else { return nil }
        let messages = mailbox.messages
        switch set {
        case .lastCommandResult:
            return savedSearch.compactMap { mailbox.index(of: $0) }.sorted()
        case .ranges(let ranges):
            // Merged before they are expanded: "1:*,1:*,…" costs one pass, not one per range.
            var bounds: [ClosedRange<UInt32>] = []
            if byUID {
                guard let largest = messages.last?.uid else { return [] }
                bounds = ranges.map { $0.resolved(largest: largest) }
            } else {
                let count = UInt32(messages.count)
                for range in ranges {
                    if count == 0 {
                        // "*" in an empty mailbox stands for no message.
                        if range.first == .largest || range.last == .largest { continue }
                        return nil
                    }
                    let resolved = range.resolved(largest: count)
                    guard resolved.upperBound <= count else { return nil }
                    bounds.append(resolved)
                }
            }
            var indices: [Int] = []
            for range in Self.merged(bounds) {
                if byUID {
                    var index = mailbox.lowerBound(range.lowerBound)
                    while index < messages.count, messages[index].uid <= range.upperBound {
                        indices.append(index)
                        index += 1
                    }
                } else {
                    indices += (Int(range.lowerBound) - 1)..<Int(range.upperBound)
                }
            }
            return indices
        }
    }

    /// Ranges sorted, overlapping and adjacent ones joined.
    static func merged(_ ranges: [ClosedRange<UInt32>]) -> [ClosedRange<UInt32>] {
        guard ranges.count > 1 else { return ranges }
        var result: [ClosedRange<UInt32>] = []
        for range in ranges.sorted(by: { $0.lowerBound < $1.lowerBound }) {
            if let last = result.last, range.lowerBound <= last.upperBound || (range.lowerBound > 0 && range.lowerBound - 1 == last.upperBound) {
                result[result.count - 1] = last.lowerBound...max(last.upperBound, range.upperBound)
            } else {
                result.append(range)
            }
        }
        return result
    }
}
