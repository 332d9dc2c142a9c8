public import Foundation

/// Where one queued message stands, recipient by recipient: the mutable half of a
/// queue entry (the message file itself never changes after `Spool.enqueue`).
///
/// Kept as `status/<id>` beside the message, written whole and atomically (temporary
/// file, fsync, rename, fsync of the directory). A message without a status file has
/// never been tried: every recipient is pending. Postfix keeps the same facts as
/// records inside its queue file (`src/global/rec_type.h`); a separate small file lets
/// the message stay write-once.
///
/// - SeeAlso: RFC 5321 §4.5.4.1 (retry), RFC 3464 (what a DSN reports)
public struct QueueRecord: Codable, Sendable, Equatable {
    public var id: String
    /// One per `Envelope.recipients`, same order.
    public var recipients: [RecipientState]
    /// A delay warning DSN has gone out for this message (at most one, like Postfix).
    public var isDelayWarningSent: Bool
    /// `tsubame queue bounce`: fail every recipient that is not final at the next run.
    public var isBounceRequested: Bool

    public init(id: String, recipients: [RecipientState], isDelayWarningSent: Bool = false, isBounceRequested: Bool = false) {
        self.id = id
        self.recipients = recipients
        self.isDelayWarningSent = isDelayWarningSent
        self.isBounceRequested = isBounceRequested
    }

    /// The record of a message that has not been tried yet.
    public init(fresh envelope: Envelope) {
        self.init(id: envelope.id, recipients: envelope.recipients.map { RecipientState(address: $0.address) })
    }

    /// Every recipient is delivered or bounced: the message can go.
    public var isFinished: Bool { recipients.allSatisfy(\.state.isFinal) }

    /// When the next recipient is due, `nil` when none is waiting.
    public var nextAttempt: Date? {
        if isBounceRequested && !isFinished { return .distantPast }
        return recipients.filter { !$0.state.isFinal }.map { $0.nextAttempt ?? .distantPast }.min()
    }
}

/// One recipient of a queued message.
public struct RecipientState: Codable, Sendable, Equatable {
    public enum State: String, Codable, Sendable {
        /// Not tried yet.
        case pending
        /// Tried and failed temporarily; `nextAttempt` says when again.
        case deferred
        /// Accepted by the next hop.
        case delivered
        /// Failed for good; the sender was told (when a DSN was allowed).
        case bounced

        public var isFinal: Bool { self == .delivered || self == .bounced }
    }

    public var address: String
    public var state: State
    public var attempts: Int
    public var lastAttempt: Date?
    public var nextAttempt: Date?
    /// RFC 3463 status of the last attempt.
    public var status: String?
    /// The last error (or the final reply) in plain words.
    public var lastError: String?
    public var remoteMTA: String?

    public init(
        address: String, state: State = .pending, attempts: Int = 0, lastAttempt: Date? = nil, nextAttempt: Date? = nil,
        status: String? = nil, lastError: String? = nil, remoteMTA: String? = nil
    ) {
        self.address = address
        self.state = state
        self.attempts = attempts
        self.lastAttempt = lastAttempt
        self.nextAttempt = nextAttempt
        self.status = status
        self.lastError = lastError
        self.remoteMTA = remoteMTA
    }

    /// Whether an attempt is due at `now`.
    public func isDue(at now: Date) -> Bool {
        switch state {
        case .pending: return true
        case .deferred: return (nextAttempt ?? .distantPast) <= now
        case .delivered, .bounced: return false
        }
    }
}
