public import Foundation

/// What `tsubame queue` does: Postfix's `postqueue -p/-f/-i` and `postsuper -d`, on
/// the spool of a running or stopped server.
///
/// Changes are made to the status files under the queue lock, then a run request is
/// left for the server, which picks it up within a second. Blocking: this is for the
/// command line.
public struct QueueAdministration: Sendable {
    public let spool: Spool

    public init(spool: Spool) {
        self.spool = spool
    }

    /// One queued message as the administrator sees it.
    public struct Entry: Sendable {
        public var envelope: Envelope
        public var size: Int
        public var record: QueueRecord
    }

    public enum Failure: Error, CustomStringConvertible {
        case notFound(String)
        case unreadable(String, String)

        public var description: String {
            switch self {
            case .notFound(let id): return "no message \(id) in the queue"
            case .unreadable(let id, let detail): return "message \(id) cannot be read: \(detail)"
            }
        }
    }

    /// Every message, oldest first. Damaged files are moved to `corrupt/` and left out.
    public func entries() throws -> [Entry] {
        try spool.list().compactMap { id in try? entry(id) }
    }

    public func entry(_ id: String) throws(Failure) -> Entry {
        do throws(SpoolError) {
            let (envelope, message) = try spool.read(id: id)
            return Entry(envelope: envelope, size: message.count, record: spool.readRecord(id: id) ?? QueueRecord(fresh: envelope))
        } catch {
            if error.kind == .notFound { throw .notFound(id) }
            throw .unreadable(id, error.detail)
        }
    }

    // MARK: - Changes

    /// Makes every waiting recipient due now (`postqueue -f`). Returns how many
    /// messages have waiting recipients.
    @discardableResult
    public func flush(now: Date = Date()) throws -> Int {
        var count = 0
        try spool.withLock {
            for id in try spool.list() {
                if try makeDue(id, now: now) { count += 1 }
            }
        }
        spool.requestRun()
        return count
    }

    /// Makes the waiting recipients of one message due now (`postqueue -i`).
    public func retry(_ id: String, now: Date = Date()) throws {
        try spool.withLock {
            guard spool.contains(id: id) else { throw Failure.notFound(id) }
            _ = try makeDue(id, now: now)
        }
        spool.requestRun()
    }

    /// Removes a message without telling anyone (`postsuper -d`).
    public func delete(_ id: String) throws {
        try spool.withLock {
            guard spool.contains(id: id) else { throw Failure.notFound(id) }
            spool.removeMessage(id: id)
        }
        spool.requestRun()
    }

    /// Fails every recipient not yet delivered, with a report to the sender, at the
    /// server's next look at the queue.
    public func bounce(_ id: String) throws {
        try spool.withLock {
            guard spool.contains(id: id) else { throw Failure.notFound(id) }
            var record = try entry(id).record
            record.isBounceRequested = true
            try spool.writeRecord(record)
        }
        spool.requestRun()
    }

    /// Under the lock: deferred recipients of `id` due at `now`; whether it has any
    /// recipient waiting.
    private func makeDue(_ id: String, now: Date) throws -> Bool {
        guard var record = spool.readRecord(id: id) else {
            // Never tried: already due.
            return spool.contains(id: id)
        }
        var isWaiting = false
        for index in record.recipients.indices where record.recipients[index].state == .deferred {
            record.recipients[index].nextAttempt = now
            isWaiting = true
        }
        if isWaiting { try spool.writeRecord(record) }
        return isWaiting || record.recipients.contains { $0.state == .pending }
    }

    // MARK: - Text

    /// `postqueue -p`-like listing: a line per message, then one per recipient with
    /// its state and last error.
    public static func listing(_ entries: [Entry]) -> String {
        guard !entries.isEmpty else { return "Mail queue is empty\n" }
        var text = ""
        for entry in entries {
            let sender = entry.envelope.sender.isEmpty ? "<>" : entry.envelope.sender
            text += "\(entry.envelope.id) \(entry.size) \(Self.date(entry.envelope.receivedAt)) \(sender)\n"
            for recipient in entry.record.recipients {
                text += "  \(recipient.address) \(recipient.state.rawValue)"
                if !recipient.state.isFinal, let error = recipient.lastError { text += ": \(error)" }
                text += "\n"
            }
        }
        let kilobytes = (entries.reduce(0) { $0 + $1.size } + 1023) / 1024
        text += "-- \(kilobytes) Kbytes in \(entries.count) Request\(entries.count == 1 ? "" : "s").\n"
        return text
    }

    /// Everything about one message.
    public static func details(_ entry: Entry) -> String {
        let envelope = entry.envelope
        var lines = [
            "Queue ID:     \(envelope.id)",
            "Arrived:      \(date(envelope.receivedAt))",
            "Sender:       \(envelope.sender.isEmpty ? "<>" : "<\(envelope.sender)>")",
            "Size:         \(entry.size) bytes",
        ]
        if let user = envelope.authenticatedUser { lines.append("Submitted by: \(user)") }
        if let id = envelope.envelopeID { lines.append("ENVID:        \(id)") }
        if let ret = envelope.ret { lines.append("RET:          \(ret)") }
        if let body = envelope.bodyType { lines.append("BODY:         \(body)") }
        if envelope.smtpUTF8 { lines.append("SMTPUTF8:     yes") }
        if entry.record.isBounceRequested { lines.append("Bounce requested: at the next queue run") }
        if entry.record.isDelayWarningSent { lines.append("Delay warning: sent") }
        lines.append("Recipients:")
        for (index, recipient) in entry.record.recipients.enumerated() {
            lines.append("  <\(recipient.address)>")
            lines.append("    state:        \(recipient.state.rawValue)")
            lines.append("    attempts:     \(recipient.attempts)")
            if let last = recipient.lastAttempt { lines.append("    last attempt: \(date(last))") }
            if recipient.state == .deferred, let next = recipient.nextAttempt {
                lines.append("    next attempt: \(date(next))")
            }
            if let status = recipient.status { lines.append("    status:       \(status)") }
            if let relay = recipient.remoteMTA { lines.append("    relay:        \(relay)") }
            if let error = recipient.lastError { lines.append("    last error:   \(error)") }
            if index < envelope.recipients.count {
                let original = envelope.recipients[index]
                if let notify = original.notify { lines.append("    notify:       \(notify.joined(separator: ","))") }
                if let orcpt = original.originalRecipient { lines.append("    ORCPT:        \(orcpt)") }
            }
        }
        return lines.joined(separator: "\n") + "\n"
    }

    static func date(_ date: Date) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        return formatter.string(from: date)
    }
}
