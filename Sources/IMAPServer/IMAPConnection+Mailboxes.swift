import IMAPProtocol
import MailCore
import MailStore
import NIOCore

/// The authenticated-state commands on mailboxes: CREATE, DELETE, RENAME, SUBSCRIBE,
/// LIST, LSUB, STATUS, APPEND.
///
/// - SeeAlso: RFC 9051 §6.3, RFC 5258 (LIST-EXTENDED), RFC 5819 (LIST-STATUS), RFC 6154
///   (SPECIAL-USE), RFC 4315 (APPENDUID), RFC 3502 (MULTIAPPEND)
extension IMAPConnection {
    func create(_ tag: String, _ name: MailboxName, specialUse: [SpecialUse], account: MailAddress) async -> IMAPStep {
        let storeName: String
        switch self.storeName(name) {
        case .success(let value): storeName = value
        case .failure(let error): return badName(tag, error)
        }
        if MailboxNaming.isInbox(storeName) { return finish(tag, .no, .alreadyExists, "Mailbox already exists") }
        guard specialUse.count <= 1 else {
            return finish(tag, .no, .useAttribute, "Only one special use per mailbox")
        }
        if let use = specialUse.first, !MailboxNaming.supportedSpecialUses.contains(use.name) {
            return finish(tag, .no, .useAttribute, "Unsupported special use \(use.name)")
        }
        do {
            try await services.store.create(account: account, mailbox: storeName, specialUse: specialUse.first?.name)
        } catch {
            return storeFailure(tag, error, "CREATE")
        }
        return finish(tag, .ok, nil, "CREATE completed")
    }

    func delete(_ tag: String, _ name: MailboxName, account: MailAddress) async -> IMAPStep {
        let storeName: String
        switch self.storeName(name) {
        case .success(let value): storeName = value
        case .failure(let error): return badName(tag, error)
        }
        if MailboxNaming.isInbox(storeName) { return finish(tag, .no, .cannot, "INBOX cannot be deleted") }
        if let selected, selected.name == storeName {
            self.selected = nil
            await selected.handle.close()
        }
        do {
            try await services.store.delete(account: account, mailbox: storeName)
        } catch where error.kind == .inUse {
            return finish(tag, .no, .hasChildren, "Mailbox has children, delete them first")
        } catch {
            return storeFailure(tag, error, "DELETE")
        }
        return finish(tag, .ok, nil, "DELETE completed")
    }

    func rename(_ tag: String, _ from: MailboxName, _ to: MailboxName, account: MailAddress) async -> IMAPStep {
        let source: String
        let target: String
        switch (storeName(from), storeName(to)) {
        case (.success(let a), .success(let b)): (source, target) = (a, b)
        case (.failure(let error), _), (_, .failure(let error)): return badName(tag, error)
        }
        if MailboxNaming.isInbox(target) { return finish(tag, .no, .alreadyExists, "Mailbox already exists") }
        do {
            try await services.store.rename(account: account, from: source, to: target)
        } catch {
            return storeFailure(tag, error, "RENAME")
        }
        // The selected mailbox keeps its messages under the new name (INBOX's move to
        // a new mailbox, leaving INBOX empty, is seen at the next update).
        if var mailbox = selected, !MailboxNaming.isInbox(source) {
            if mailbox.name == source {
                mailbox.name = target
            } else if mailbox.name.hasPrefix(source + String(MailboxNaming.separator)) {
                mailbox.name = target + mailbox.name.dropFirst(source.count)
            }
            selected = mailbox
        }
        return finish(tag, .ok, nil, "RENAME completed")
    }

    func subscribe(_ tag: String, _ name: MailboxName, subscribed: Bool, account: MailAddress) async -> IMAPStep {
        let storeName: String
        switch self.storeName(name) {
        case .success(let value): storeName = value
        case .failure(let error): return badName(tag, error)
        }
        do {
            try await services.store.setSubscribed(account: account, mailbox: storeName, subscribed: subscribed)
        } catch {
            return storeFailure(tag, error, subscribed ? "SUBSCRIBE" : "UNSUBSCRIBE")
        }
        return finish(tag, .ok, nil, subscribed ? "SUBSCRIBE completed" : "UNSUBSCRIBE completed")
    }

    // MARK: - LIST

    func list(_ tag: String, _ arguments: IMAPCommand.ListArguments, account: MailAddress) async -> IMAPStep {
        // LIST "" "": the hierarchy separator and root (RFC 9051 §6.3.9).
        if arguments.patterns == [""] && arguments.selectionOptions.isEmpty {
            untagged("LIST (\\Noselect) \"/\" \"\"")
            return finish(tag, .ok, nil, "LIST completed")
        }
        let all: [MailboxInfo]
        do {
            all = try await services.store.mailboxes(account: account)
        } catch {
            return storeFailure(tag, error, "LIST")
        }
        let selection = Set(arguments.selectionOptions)
        let subscribedOnly = selection.contains(.subscribed)
        let specialUseOnly = selection.contains(.specialUse)
        var returnSubscribed = subscribedOnly
        var returnSpecialUse = true
        var statusItems: [StatusAttribute]?
        for option in arguments.returnOptions {
            switch option {
            case .subscribed: returnSubscribed = true
            case .children: break
            case .specialUse: returnSpecialUse = true
            case .status(let items): statusItems = items
            }
        }
        let matchers = arguments.patterns.compactMap { pattern in
            patternMatcher(reference: arguments.reference.name, pattern: pattern)
        }
        // Every name that has an existing mailbox below it: one pass, not one per mailbox.
        var parents = Set<String>()
        for mailbox in all where mailbox.exists {
            var parent = MailboxNaming.parent(of: mailbox.name)
            while let name = parent, parents.insert(name).inserted { parent = MailboxNaming.parent(of: name) }
        }
        var entries: [(name: String, attributes: [String], selectable: Bool)] = []
        for mailbox in all where matchers.contains(where: { $0.matches(mailbox.name) }) {
            let hasChildren = parents.contains(mailbox.name)
            if subscribedOnly && !mailbox.isSubscribed { continue }
            if specialUseOnly && mailbox.specialUse == nil { continue }
            // A name without a mailbox: listed as the parent of one that exists, or
            // when subscriptions are asked for (RFC 5258 §3.4, RFC 9051 §6.3.9).
            if !mailbox.exists && !subscribedOnly && !hasChildren { continue }
            var attributes: [String] = []
            if !mailbox.exists { attributes.append(isRev2 || !arguments.selectionOptions.isEmpty ? "\\NonExistent" : "\\Noselect") }
            attributes.append(hasChildren ? "\\HasChildren" : "\\HasNoChildren")
            if returnSubscribed && mailbox.isSubscribed { attributes.append("\\Subscribed") }
            if returnSpecialUse, mailbox.exists, let use = mailbox.specialUse { attributes.append(use) }
            entries.append((mailbox.name, attributes, mailbox.exists))
        }
        for entry in entries {
            untagged("LIST (\(entry.attributes.joined(separator: " "))) \"/\" \(wireName(entry.name))")
            if let statusItems, entry.selectable {
                await statusLine(entry.name, statusItems, account: account, quiet: true)
            }
        }
        return finish(tag, .ok, nil, "LIST completed")
    }

    func lsub(_ tag: String, reference: MailboxName, pattern: String, account: MailAddress) async -> IMAPStep {
        let all: [MailboxInfo]
        do {
            all = try await services.store.mailboxes(account: account)
        } catch {
            return storeFailure(tag, error, "LSUB")
        }
        if let matcher = patternMatcher(reference: reference.name, pattern: pattern) {
            for mailbox in all where mailbox.isSubscribed && matcher.matches(mailbox.name) {
                untagged("LSUB (\(mailbox.exists ? "" : "\\Noselect")) \"/\" \(wireName(mailbox.name))")
            }
        }
        return finish(tag, .ok, nil, "LSUB completed")
    }

    /// `*` matches anything, `%` anything but the separator; INBOX in any case.
    ///
    /// Matched as a set of pattern positions advanced one name character at a time:
    /// at most pattern length × name length steps, whatever the wildcards (a
    /// backtracking matcher is exponential in the number of `*`).
    struct PatternMatcher {
        let pattern: [Character]

        /// Patterns longer than this match nothing (no mailbox name is that long).
        static let maximumLength = 2048

        init(pattern: [Character]) {
            // "**", "*%" and "%*" match what "*" does.
            var collapsed: [Character] = []
            for character in pattern {
                if character == "*" || character == "%", let last = collapsed.last, last == "*" || last == "%" {
                    if character == "*" { collapsed[collapsed.count - 1] = "*" }
                    continue
                }
                collapsed.append(character)
            }
            self.pattern = collapsed
        }

        func matches(_ name: String) -> Bool {
            guard pattern.count <= Self.maximumLength else { return false }
            var states = [Bool](repeating: false, count: pattern.count + 1)
            states[0] = true
            close(&states)
            var next = states
            for character in name {
                for index in next.indices { next[index] = false }
                var any = false
                for index in 0..<pattern.count where states[index] {
                    switch pattern[index] {
                    case "*":
                        next[index] = true
                        any = true
                    case "%":
                        if character != MailboxNaming.separator {
                            next[index] = true
                            any = true
                        }
                    case character:
                        next[index + 1] = true
                        any = true
                    default:
                        break
                    }
                }
                guard any else { return false }
                close(&next)
                swap(&states, &next)
            }
            return states[pattern.count]
        }

        /// Wildcards also match nothing: a state at a wildcard reaches the next one.
        private func close(_ states: inout [Bool]) {
            for index in 0..<pattern.count where states[index] && (pattern[index] == "*" || pattern[index] == "%") {
                states[index + 1] = true
            }
        }
    }

    /// The matcher for a LIST reference and pattern in the client's encoding, or nil
    /// when the pattern is not valid modified UTF-7.
    func patternMatcher(reference: String, pattern: String) -> PatternMatcher? {
        var text = reference + pattern
        if !acceptsUTF8 {
            guard let decoded = MailboxName.decodeModifiedUTF7(text) else { return nil }
            text = decoded
        }
        // INBOX is case-insensitive, also as the first level of a pattern.
        let first = text.prefix { $0 != MailboxNaming.separator }
        if first.uppercased() == "INBOX" { text = "INBOX" + text.dropFirst(first.count) }
        return PatternMatcher(pattern: Array(text))
    }

    // MARK: - STATUS

    func status(_ tag: String, _ name: MailboxName, _ items: [StatusAttribute], account: MailAddress) async -> IMAPStep {
        let storeName: String
        switch self.storeName(name) {
        case .success(let value): storeName = value
        case .failure(let error): return badName(tag, error)
        }
        if let error = await statusLine(storeName, items, account: account, quiet: false) {
            return storeFailure(tag, error, "STATUS")
        }
        return finish(tag, .ok, nil, "STATUS completed")
    }

    /// Writes `* STATUS name (…)`; returns the error when the mailbox cannot be opened
    /// (written nowhere when `quiet`, as LIST-STATUS leaves such mailboxes out).
    @discardableResult
    func statusLine(_ name: String, _ items: [StatusAttribute], account: MailAddress, quiet: Bool) async -> StoreError? {
        let snapshot: MailboxSnapshot
        if let selected, selected.name == name {
            snapshot = await selected.handle.snapshot()
        } else {
            do {
                let handle = try await services.store.open(account: account, mailbox: name)
                snapshot = await handle.snapshot()
                await handle.close()
            } catch {
                return quiet ? nil : error
            }
        }
        var values: [String] = []
        for item in items {
            switch item {
            case .messages: values.append("MESSAGES \(snapshot.messages.count)")
            case .uidNext: values.append("UIDNEXT \(snapshot.uidNext)")
            case .uidValidity: values.append("UIDVALIDITY \(snapshot.uidValidity)")
            case .unseen: values.append("UNSEEN \(snapshot.messages.filter { !$0.flags.contains(.seen) }.count)")
            case .deleted: values.append("DELETED \(snapshot.messages.filter { $0.flags.contains(.deleted) }.count)")
            case .size: values.append("SIZE \(snapshot.messages.reduce(0) { $0 + $1.size })")
            case .recent: values.append("RECENT 0")
            case .highestModSeq: values.append("HIGHESTMODSEQ \(snapshot.highestModificationSequence)")
            }
        }
        untagged("STATUS \(wireName(name)) (\(values.joined(separator: " ")))")
        return nil
    }

    // MARK: - APPEND

    func append(
        _ tag: String, _ name: MailboxName, _ messages: [IMAPCommand.AppendMessage], account: MailAddress
    ) async -> IMAPStep {
        let storeName: String
        switch self.storeName(name) {
        case .success(let value): storeName = value
        case .failure(let error): return badName(tag, error)
        }
        var newMessages: [NewMessage] = []
        for message in messages {
            guard let (flags, keywords) = IMAPWire.split(message.flags) else {
                return finish(tag, .bad, nil, "\\Recent and unknown system flags cannot be set", isError: true)
            }
            guard !message.data.isEmpty else { return finish(tag, .no, nil, "Cannot save an empty message") }
            if message.isBinary && message.data.contains(0) {
                // RFC 3516 §4.4: the store keeps messages as they are; NUL has no
                // place in an RFC 5322 message.
                return finish(tag, .no, .unknownCTE, "Messages with NUL octets cannot be stored")
            }
            newMessages.append(
                NewMessage(
                    bytes: message.data, flags: flags, keywords: keywords,
                    internalDate: message.internalDate?.secondsSince1970))
        }
        let stored: StoredUIDs
        do {
            stored = try await services.store.append(account: account, mailbox: storeName, messages: newMessages)
        } catch where error.kind == .notFound {
            return finish(tag, .no, .tryCreate, "Mailbox does not exist")
        } catch {
            return storeFailure(tag, error, "APPEND")
        }
        if selected?.name == storeName { await sendUpdates(allowExpunge: true, fromDisk: false) }
        let code = IMAPResponseCode.appendUID(uidValidity: stored.uidValidity, uids: IMAPWire.sequenceSet(stored.uids))
        return finish(tag, .ok, code, "APPEND completed")
    }
}
