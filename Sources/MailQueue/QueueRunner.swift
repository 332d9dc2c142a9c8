import Dispatch
public import Foundation
public import Logging
import Synchronization

/// The queue manager: Postfix's `qmgr` for Tsubame. It watches the spool, hands each
/// due message to the `OutboundTransport` grouped by next hop, records the outcome per
/// recipient, schedules retries with exponential back-off, and tells senders about
/// failures (and, when asked, delays and successes) with RFC 3464 reports.
///
/// Durability (DESIGN §3): the message file is written once by `Spool.enqueue`; what
/// changes is its status file, replaced atomically under the queue lock after every
/// attempt that leaves something to do. A crash at any moment loses no recipient: one
/// whose result was not yet recorded is tried again (SMTP's at-least-once). A report
/// is made durable (delivered locally, or spooled) before the recipients it reports
/// are marked bounced.
///
/// Wake-ups: `enqueued(_:)` (a new message, named by the spool's observer, so no
/// directory listing per message), the earliest due retry, every second a look for
/// the run request `tsubame queue flush` leaves behind, and at `rescanInterval` a
/// listing of `incoming/` as a safety net.
///
/// - SeeAlso: RFC 5321 §4.5.4 (retry strategy), §6.1 (reliable delivery), RFC 3461,
///   RFC 3464; Postfix `qmgr(8)`
public final class QueueRunner: Sendable {
    /// Reports for local senders go straight into their mailbox, as Postfix's
    /// `bounce` daemon hands them to `local`.
    public struct LocalDelivery: Sendable {
        /// Delivers `message` durably to the local mailboxes `address` leads to
        /// (aliases followed) and returns the addresses it leads to elsewhere, which
        /// the runner queues; `[address]` when `address` is not in a local domain.
        /// Throws when a local copy cannot be stored.
        public var deliver: @Sendable (_ message: [UInt8], _ address: String) async throws -> [String]

        public init(deliver: @escaping @Sendable ([UInt8], String) async throws -> [String]) {
            self.deliver = deliver
        }
    }

    public let spool: Spool
    private let transport: any OutboundTransport
    private let route: @Sendable (String) -> NextHop
    private let policy: QueuePolicy
    private let reportingMTA: String
    private let local: LocalDelivery
    private let logger: Logger
    private let now: @Sendable () -> Date
    private let signal = QueueWakeSignal()
    /// Transactions at once per next hop (`destinationConcurrency`).
    private let hopLimiter: ConcurrencyLimiter<NextHop>
    /// Transactions at once in all (`maximumConcurrentDeliveries`, Postfix's smtp
    /// process limit): bounds connections and descriptors whatever the fan-out.
    private let connectionLimiter: ConcurrencyLimiter<Int>
    private let io = DispatchQueue(label: "tsubame.queue.runner", qos: .utility, attributes: .concurrent)

    private struct State {
        /// Message ID → when it is next due (`distantPast`: now).
        var schedule: [String: Date] = [:]
        var running: Set<String> = []
        /// The delivery task of each running message, to cancel at shutdown.
        var tasks: [String: Task<Void, Never>] = [:]
        var isStopping = false
    }

    private let state = Mutex(State())

    /// - Parameters:
    ///   - route: the next hop for a recipient domain (lowercased): a `[routes]`
    ///     entry, the `[relay]` smarthost, or the domain's MXes.
    ///   - reportingMTA: this host's name, for reports (`Reporting-MTA`, `From:`).
    ///   - now: the clock (tests move it).
    public init(
        spool: Spool, transport: any OutboundTransport, route: @escaping @Sendable (String) -> NextHop,
        policy: QueuePolicy, reportingMTA: String, local: LocalDelivery, logger: Logger,
        now: @escaping @Sendable () -> Date = { Date() }
    ) {
        self.spool = spool
        self.transport = transport
        self.route = route
        self.policy = policy
        self.reportingMTA = reportingMTA
        self.local = local
        self.logger = logger
        self.now = now
        self.hopLimiter = ConcurrencyLimiter(limit: policy.destinationConcurrency)
        self.connectionLimiter = ConcurrencyLimiter(limit: policy.maximumConcurrentDeliveries)
    }

    /// Message `id` was just spooled: due now.
    public func enqueued(_ id: String) {
        state.withLock { state in
            if !state.running.contains(id) { state.schedule[id] = .distantPast }
        }
        signal.signal()
    }

    /// Stops starting deliveries; `run` then gives those in progress the grace
    /// period and returns (a graceful shutdown).
    public func stop() {
        state.withLock { $0.isStopping = true }
        signal.signal()
    }

    /// Runs until `stop()` or cancellation. Then deliveries in progress get up to
    /// `shutdownGrace` to finish (their results are recorded); the rest are cancelled
    /// (their recipients stay due, to be tried after the restart) and `run` returns
    /// once they have recorded that. Cancellation skips the grace.
    ///
    /// - Parameter rescanInterval: how often `incoming/` is listed for messages nobody
    ///   announced (none are expected: the spool names each one; a file put there by
    ///   hand is found).
    public func run(shutdownGrace: Duration = .seconds(30), rescanInterval: Duration = .seconds(60)) async {
        await rescan()
        let clock = ContinuousClock()
        var lastListing = clock.now
        while !Task.isCancelled && !state.withLock({ $0.isStopping }) {
            startDueDeliveries()
            let earliest = state.withLock { state in
                state.schedule.filter { !state.running.contains($0.key) }.values.min()
            }
            // At most a second, to notice run requests. A message already due here
            // found no free slot: the end of a delivery signals.
            var timeout = Duration.seconds(1)
            if let earliest {
                let wait = earliest.timeIntervalSince(now())
                if wait > 0 { timeout = .milliseconds(Int64(min(wait, 1) * 1000) + 1) }
            }
            await signal.wait(timeout: timeout)
            if await blocking({ self.spool.takeRunRequest() }) {
                await rescan()
                lastListing = clock.now
            } else if clock.now - lastListing >= rescanInterval {
                await pickUpNewMessages()
                lastListing = clock.now
            }
        }
        await drain(grace: Task.isCancelled ? .zero : shutdownGrace)
    }

    /// Waits for running deliveries, up to `grace`, then cancels the rest and waits
    /// (bounded) for them to record their state.
    private func drain(grace: Duration) async {
        let clock = ContinuousClock()
        let deadline = clock.now.advanced(by: grace)
        while state.withLock({ !$0.running.isEmpty }) && clock.now < deadline {
            await Self.pause(milliseconds: 50)
        }
        let unfinished = state.withLock { Array($0.tasks.values) }
        guard !unfinished.isEmpty else { return }
        logger.notice("shutting down: interrupting deliveries", metadata: ["count": "\(unfinished.count)"])
        for task in unfinished { task.cancel() }
        let hardDeadline = clock.now.advanced(by: .seconds(10))
        while state.withLock({ !$0.running.isEmpty }) && clock.now < hardDeadline {
            await Self.pause(milliseconds: 50)
        }
    }

    /// A sleep that cancellation does not cut short (the drain runs after it).
    private static func pause(milliseconds: Int) async {
        await withCheckedContinuation { continuation in
            DispatchQueue.global().asyncAfter(deadline: .now() + .milliseconds(milliseconds)) { continuation.resume() }
        }
    }

    /// Runs every due message once and returns when they are done (tests drive the
    /// runner with it, step by step on their clock).
    public func runOnce() async {
        await rescan()
        let due = dueMessages()
        await withTaskGroup(of: Void.self) { group in
            for id in due {
                group.addTask { await self.attempt(id) }
            }
        }
    }

    // MARK: - Scheduling

    /// Reads the whole queue again: every message with its next due time.
    private func rescan() async {
        let entries: [(String, Date)] = await blocking {
            self.spool.removeOrphanedRecords()
            let ids = (try? self.spool.list()) ?? []
            return ids.map { id in (id, self.spool.readRecord(id: id)?.nextAttempt ?? .distantPast) }
        }
        state.withLock { state in
            var schedule: [String: Date] = [:]
            for (id, due) in entries { schedule[id] = due }
            state.schedule = schedule
        }
    }

    /// Adds messages that appeared since the last look (new mail, or another
    /// process's spool) without rereading the status of known ones.
    private func pickUpNewMessages() async {
        let ids = await blocking { (try? self.spool.list()) ?? [] }
        let known = state.withLock { Set($0.schedule.keys).union($0.running) }
        let fresh = ids.filter { !known.contains($0) }
        guard !fresh.isEmpty else { return }
        let entries: [(String, Date)] = await blocking {
            fresh.map { id in (id, self.spool.readRecord(id: id)?.nextAttempt ?? .distantPast) }
        }
        state.withLock { state in
            for (id, due) in entries where !state.running.contains(id) { state.schedule[id] = due }
        }
    }

    /// The messages due now, oldest first (IDs sort by time), no more than there is
    /// room for.
    private func dueMessages() -> [String] {
        let moment = now()
        return state.withLock { state in
            // Messages in delivery at once: twice the connections, so a message waiting
            // for a busy next hop does not keep the others from theirs.
            let room = 2 * policy.maximumConcurrentDeliveries - state.running.count
            guard room > 0 else { return [] }
            let due = state.schedule.filter { $0.value <= moment && !state.running.contains($0.key) }.keys.sorted()
            let chosen = Array(due.prefix(room))
            for id in chosen {
                state.running.insert(id)
                state.schedule[id] = nil
            }
            return chosen
        }
    }

    private func startDueDeliveries() {
        for id in dueMessages() {
            let task = Task {
                await self.attempt(id)
                self.signal.signal()
            }
            // Kept for `drain` while it runs; a task that already finished is not kept.
            state.withLock { state in
                if state.running.contains(id) { state.tasks[id] = task }
            }
        }
    }

    // MARK: - One attempt

    /// Tries every due recipient of message `id` once, records the results, sends
    /// the reports they call for, and schedules the next attempt.
    private func attempt(_ id: String) async {
        var nextDue: Date?
        defer {
            state.withLock { state in
                state.running.remove(id)
                state.tasks[id] = nil
                if let nextDue { state.schedule[id] = nextDue }
            }
        }
        let loaded: Result<(Envelope, [UInt8], QueueRecord), SpoolError> = await blocking {
            Result { () throws(SpoolError) in
                let (envelope, message) = try self.spool.read(id: id)
                let record = self.spool.readRecord(id: id) ?? QueueRecord(fresh: envelope)
                return (envelope, message, record)
            }
        }
        guard case .success(let (envelope, message, loadedRecord)) = loaded else {
            if case .failure(let error) = loaded, error.kind == .temporary {
                logger.error("cannot read queued message", metadata: ["queue_id": "\(id)", "error": "\(error)"])
                nextDue = now().addingTimeInterval(policy.minimalBackoff.timeInterval)
            }
            return
        }
        var record = loadedRecord
        if record.recipients.count != envelope.recipients.count {
            logger.error("status does not match the envelope; trying every recipient again", metadata: ["queue_id": "\(id)"])
            record = QueueRecord(fresh: envelope)
        }
        let start = now()
        var results: [Int: RecipientResult] = [:]
        if record.isBounceRequested {
            for index in record.recipients.indices where !record.recipients[index].state.isFinal {
                results[index] = RecipientResult(
                    address: record.recipients[index].address, outcome: .bounced, status: "5.0.0",
                    diagnostic: "bounced by the administrator (tsubame queue bounce)"
                        + (record.recipients[index].lastError.map { "; last error: \($0)" } ?? ""))
            }
        } else {
            let due = record.recipients.indices.filter { record.recipients[$0].isDue(at: start) }
            results = await deliver(envelope: envelope, message: message, indices: due)
        }
        nextDue = await apply(results, to: envelope, message: message, record: record, at: start)
    }

    /// Sends the recipients at `indices` to their next hops, one transaction per next
    /// hop, all next hops at once.
    private func deliver(envelope: Envelope, message: [UInt8], indices: [Int]) async -> [Int: RecipientResult] {
        var groups: [NextHop: [Int]] = [:]
        var order: [NextHop] = []
        for index in indices {
            let address = envelope.recipients[index].address
            let domain = Self.domain(of: address)
            let hop = route(domain)
            if groups[hop] == nil { order.append(hop) }
            groups[hop, default: []].append(index)
        }
        return await withTaskGroup(of: [Int: RecipientResult].self) { group in
            for hop in order {
                let members = groups[hop] ?? []
                group.addTask {
                    await self.hopLimiter.acquire(hop)
                    await self.connectionLimiter.acquire(0)
                    let request = OutboundRequest(
                        queueID: envelope.id, sender: envelope.sender, recipients: members.map { envelope.recipients[$0] },
                        envelopeID: envelope.envelopeID, ret: envelope.ret, bodyType: envelope.bodyType,
                        smtpUTF8: envelope.smtpUTF8, message: message, nextHop: hop)
                    let results = await self.transport.deliver(request)
                    await self.connectionLimiter.release(0)
                    await self.hopLimiter.release(hop)
                    var byIndex: [Int: RecipientResult] = [:]
                    for (position, index) in members.enumerated() {
                        byIndex[index] =
                            position < results.count
                            ? results[position]
                            : RecipientResult(
                                address: envelope.recipients[index].address, outcome: .deferred, status: "4.3.0",
                                diagnostic: "the SMTP client returned no result for this recipient")
                    }
                    return byIndex
                }
            }
            var all: [Int: RecipientResult] = [:]
            for await part in group { all.merge(part) { first, _ in first } }
            return all
        }
    }

    /// Applies `results` to the record, sends reports, and writes (or removes) the
    /// queue entry. Returns when the message is next due, `nil` when it is gone.
    private func apply(
        _ results: [Int: RecipientResult], to envelope: Envelope, message: [UInt8], record loaded: QueueRecord,
        at start: Date
    ) async -> Date? {
        var record = loaded
        var bounced: [Int] = []
        var delivered: [Int] = []
        let expiry = envelope.receivedAt.addingTimeInterval(policy.maximalLifetime.timeInterval)
        for (index, result) in results.sorted(by: { $0.key < $1.key }) {
            var recipient = record.recipients[index]
            recipient.attempts += 1
            recipient.lastAttempt = start
            recipient.status = result.status
            recipient.lastError = result.outcome == .delivered ? nil : result.diagnostic
            recipient.remoteMTA = result.remoteMTA ?? recipient.remoteMTA
            switch result.outcome {
            case .delivered:
                recipient.state = .delivered
                recipient.nextAttempt = nil
                // RFC 3461 §5.2.2: when the next hop took NOTIFY, it reports success.
                if !result.isNotificationPassedOn { delivered.append(index) }
            case .bounced:
                recipient.state = .bounced
                recipient.nextAttempt = nil
                bounced.append(index)
            case .deferred:
                if start >= expiry {
                    // RFC 5321 §4.5.4.1: give up after the lifetime; the report names
                    // the last temporary error.
                    recipient.state = .bounced
                    recipient.nextAttempt = nil
                    recipient.lastError = "message expired after \(Self.words(policy.maximalLifetime)) in the queue; last error: \(result.diagnostic)"
                    bounced.append(index)
                } else {
                    recipient.state = .deferred
                    recipient.nextAttempt = start.addingTimeInterval(
                        policy.backoff(afterAttempts: recipient.attempts).timeInterval)
                }
            }
            record.recipients[index] = recipient
            logger.info(
                "\(result.outcome.rawValue)",
                metadata: [
                    "queue_id": "\(envelope.id)", "to": "\(result.address)", "status": "\(result.status)",
                    "relay": "\(result.remoteMTA ?? "none")", "attempts": "\(recipient.attempts)",
                    "detail": "\(recipient.lastError ?? result.diagnostic)",
                ])
        }
        // Reports, made durable before the record says "bounced".
        var isFailureReported = true
        if !bounced.isEmpty {
            let isSent = await report(.failure, for: bounced, envelope: envelope, record: record, message: message)
            isFailureReported = isSent
            if !isSent {
                // Keep the recipients waiting; the next attempt bounces them again and
                // tries the report again.
                for index in bounced {
                    record.recipients[index].state = .deferred
                    record.recipients[index].nextAttempt = start.addingTimeInterval(policy.minimalBackoff.timeInterval)
                }
            }
        }
        // An administrator's bounce is done once its report is out; until then it
        // stays asked for, and the next attempt bounces again.
        if record.isBounceRequested && isFailureReported { record.isBounceRequested = false }
        if !delivered.isEmpty {
            _ = await report(.success, for: delivered, envelope: envelope, record: record, message: message)
        }
        if !record.isDelayWarningSent, let warning = policy.delayWarning,
            start >= envelope.receivedAt.addingTimeInterval(warning.timeInterval)
        {
            let waiting = record.recipients.indices.filter { record.recipients[$0].state == .deferred }
            if !waiting.isEmpty {
                record.isDelayWarningSent = await report(
                    .delay, for: waiting, envelope: envelope, record: record, message: message)
            }
        }

        let finished = record.isFinished
        let toWrite = record
        // The record as written: nil when the message is gone (finished, or deleted).
        let outcome: Result<QueueRecord?, any Error> = await blocking {
            Result {
                try self.spool.withLock {
                    // Deleted by `tsubame queue delete` while we were busy: leave it gone.
                    guard self.spool.contains(id: toWrite.id) else { return nil }
                    if finished {
                        self.spool.removeMessage(id: toWrite.id)
                        return nil
                    }
                    // An administrator may have asked for a bounce meanwhile.
                    var merged = toWrite
                    if self.spool.readRecord(id: toWrite.id)?.isBounceRequested == true {
                        merged.isBounceRequested = true
                    }
                    try self.spool.writeRecord(merged)
                    return merged
                }
            }
        }
        switch outcome {
        case .failure(let error):
            logger.error("cannot record delivery results", metadata: ["queue_id": "\(envelope.id)", "error": "\(error)"])
            return start.addingTimeInterval(policy.minimalBackoff.timeInterval)
        case .success(let written?):
            return written.nextAttempt
        case .success(nil):
            if finished { logger.info("removed", metadata: ["queue_id": "\(envelope.id)"]) }
            return nil
        }
    }

    // MARK: - Reports

    /// Sends a report of `kind` about the recipients at `indices` to the envelope
    /// sender, when the sender and their NOTIFY allow one. Returns false only when a
    /// report was due and could not be made durable.
    private func report(
        _ kind: DeliveryStatusNotification.Kind, for indices: [Int], envelope: Envelope, record: QueueRecord,
        message: [UInt8]
    ) async -> Bool {
        guard !envelope.sender.isEmpty else { return true }  // never a report about a report
        let expiry = envelope.receivedAt.addingTimeInterval(policy.maximalLifetime.timeInterval)
        let entries: [DeliveryStatusNotification.RecipientEntry] = indices.compactMap { index in
            let recipient = envelope.recipients[index]
            guard DeliveryStatusNotification.shouldNotify(recipient, of: kind) else { return nil }
            let state = record.recipients[index]
            let action: DeliveryStatusNotification.Action
            switch kind {
            case .failure: action = .failed
            case .delay: action = .delayed
            case .success: action = .relayed
            }
            return DeliveryStatusNotification.RecipientEntry(
                address: recipient.address, originalRecipient: recipient.originalRecipient, action: action,
                status: state.status ?? (kind == .failure ? "5.0.0" : kind == .delay ? "4.0.0" : "2.0.0"),
                diagnostic: state.lastError, remoteMTA: state.remoteMTA, lastAttempt: state.lastAttempt,
                willRetryUntil: kind == .delay ? expiry : nil)
        }
        guard !entries.isEmpty else { return true }
        let moment = now()
        guard
            let report = DeliveryStatusNotification.make(
                kind: kind, reportingMTA: reportingMTA, envelope: envelope, entries: entries, originalMessage: message,
                now: moment, messageID: "\(envelope.id).\(kind).\(Int(moment.timeIntervalSince1970))@\(reportingMTA)")
        else { return true }
        let sender = envelope.sender
        do {
            let remote = try await local.deliver(Array("Return-Path: <>\r\n".utf8) + report, sender)
            if !remote.isEmpty {
                let bounce = Envelope(
                    sender: "", recipients: remote.map { Envelope.Recipient(address: $0) }, bodyType: "8BITMIME",
                    // RFC 6533: a report about an SMTPUTF8 message carries UTF-8 itself.
                    smtpUTF8: envelope.smtpUTF8 || !sender.allSatisfy(\.isASCII), receivedAt: moment)
                let id = try await spool.enqueue(bounce, message: report)
                logger.info("report queued", metadata: ["queue_id": "\(envelope.id)", "report_id": "\(id)"])
                enqueued(id)
            }
            logger.info("\(kind) report sent", metadata: ["queue_id": "\(envelope.id)", "to": "\(sender)"])
            return true
        } catch {
            logger.error(
                "cannot send a delivery report", metadata: ["queue_id": "\(envelope.id)", "error": "\(error)"])
            return false
        }
    }

    // MARK: - Helpers

    static func domain(of address: String) -> String {
        guard let at = address.lastIndex(of: "@") else { return "" }
        return address[address.index(after: at)...].lowercased()
    }

    /// "5 days", "4 hours", "90 seconds".
    static func words(_ duration: Duration) -> String {
        let seconds = Int(duration.components.seconds)
        for (unit, size) in [("day", 86400), ("hour", 3600), ("minute", 60)] where seconds >= size && seconds % size == 0 {
            let count = seconds / size
            return "\(count) \(unit)\(count == 1 ? "" : "s")"
        }
        return "\(seconds) seconds"
    }

    /// Runs blocking file work off the caller's thread.
    private func blocking<T: Sendable>(_ work: @escaping @Sendable () -> T) async -> T {
        await withCheckedContinuation { continuation in
            io.async { continuation.resume(returning: work()) }
        }
    }
}
