import Foundation
import Logging
import Synchronization
import Testing
@testable import MailQueue

/// A clock the test moves.
final class TestClock: Sendable {
    private let current: Mutex<Date>

    init(_ start: Date = Date(timeIntervalSince1970: 1_900_000_000)) {
        current = Mutex(start)
    }

    var now: Date { current.withLock { $0 } }

    func advance(_ seconds: TimeInterval) {
        current.withLock { $0 = $0.addingTimeInterval(seconds) }
    }
}

/// An `OutboundTransport` that answers from a table: address → outcome, and records
/// every request.
final class ScriptedTransport: OutboundTransport {
    private struct State {
        var outcomes: [String: RecipientResult.Outcome] = [:]
        var requests: [OutboundRequest] = []
        var isNotificationPassedOn = false
    }

    private let state = Mutex(State())

    func set(_ address: String, _ outcome: RecipientResult.Outcome) {
        state.withLock { $0.outcomes[address] = outcome }
    }

    var requests: [OutboundRequest] { state.withLock { $0.requests } }

    /// The next hop takes NOTIFY itself (it offered DSN).
    func passNotificationsOn() { state.withLock { $0.isNotificationPassedOn = true } }

    func deliver(_ request: OutboundRequest) async -> [RecipientResult] {
        let (outcomes, isPassedOn) = state.withLock { state in
            state.requests.append(request)
            return (state.outcomes, state.isNotificationPassedOn)
        }
        return request.recipients.map { recipient in
            switch outcomes[recipient.address] ?? .delivered {
            case .delivered:
                return RecipientResult(
                    address: recipient.address, outcome: .delivered, status: "2.0.0", diagnostic: "smtp; 250 2.0.0 Ok",
                    remoteMTA: "mx.remote.test[127.0.0.2]", isNotificationPassedOn: isPassedOn)
            case .deferred:
                return RecipientResult(
                    address: recipient.address, outcome: .deferred, status: "4.4.1",
                    diagnostic: "connect to mx.remote.test[127.0.0.2]:25: Connection refused")
            case .bounced:
                return RecipientResult(
                    address: recipient.address, outcome: .bounced, status: "5.1.1",
                    diagnostic: "smtp; 550 5.1.1 <\(recipient.address)>: Recipient address rejected",
                    remoteMTA: "mx.remote.test[127.0.0.2]")
            }
        }
    }
}

/// Local mailboxes: what the runner delivered to whom.
final class LocalMailboxes: Sendable {
    private let delivered = Mutex<[(String, [UInt8])]>([])
    private let isFailing = Mutex(false)

    var messages: [(address: String, message: [UInt8])] { delivered.withLock { $0 } }

    func failFromNowOn() { isFailing.withLock { $0 = true } }

    var delivery: QueueRunner.LocalDelivery {
        QueueRunner.LocalDelivery(deliver: { message, address in
            guard address.hasSuffix("@local.test") else { return [address] }
            if self.isFailing.withLock({ $0 }) { throw SpoolError(.temporary, "disk full") }
            self.delivered.withLock { $0.append((address, message)) }
            return []
        })
    }
}

/// A spool, a runner on a test clock, and its fakes.
struct QueueFixture {
    let directory: TemporarySpoolDirectory
    let spool: Spool
    let clock = TestClock()
    let transport = ScriptedTransport()
    let mailboxes = LocalMailboxes()
    let runner: QueueRunner
    var policy: QueuePolicy

    /// - Parameter outbound: another transport than the scripted one.
    init(
        policy: QueuePolicy = QueuePolicy(), route: (@Sendable (String) -> NextHop)? = nil,
        outbound: (any OutboundTransport)? = nil
    ) throws {
        directory = try TemporarySpoolDirectory()
        spool = Spool(directory: directory.path)
        self.policy = policy
        let clock = clock
        runner = QueueRunner(
            spool: spool, transport: outbound ?? transport,
            route: route ?? { NextHop(target: .mailExchangers(domain: $0, port: 25)) },
            policy: policy, reportingMTA: "mail.local.test", local: mailboxes.delivery,
            logger: Logger(label: "test.queue"), now: { clock.now })
    }

    func enqueue(from sender: String = "alice@local.test", to recipients: [String], notify: [String]? = nil) async throws
        -> String
    {
        let envelope = Envelope(
            sender: sender, recipients: recipients.map { Envelope.Recipient(address: $0, notify: notify) },
            receivedAt: clock.now)
        let message = Array("From: <\(sender)>\r\nSubject: hello\r\nMessage-ID: <m1@local.test>\r\n\r\nBody\r\n".utf8)
        return try await spool.enqueue(envelope, message: message)
    }

    func record(_ id: String) -> QueueRecord? { spool.readRecord(id: id) }
}

@Suite struct QueueRunnerTests {
    @Test func deliveredMessageLeavesTheQueueWithoutAStatusFile() async throws {
        let fixture = try QueueFixture()
        defer { fixture.directory.remove() }
        let id = try await fixture.enqueue(to: ["bob@remote.test"])

        await fixture.runner.runOnce()

        #expect(fixture.transport.requests.count == 1)
        #expect(!fixture.spool.contains(id: id))
        #expect(try fixture.spool.list().isEmpty)
        #expect(!FileManager.default.fileExists(atPath: "\(fixture.directory.path)/status/\(id)"))
        #expect(fixture.mailboxes.messages.isEmpty)
    }

    @Test func recipientsOfOneDomainShareATransactionAndDomainsDoNot() async throws {
        let fixture = try QueueFixture()
        defer { fixture.directory.remove() }
        _ = try await fixture.enqueue(to: ["a@remote.test", "b@other.test", "c@REMOTE.test"])

        await fixture.runner.runOnce()

        let requests = fixture.transport.requests.sorted { $0.recipients.count > $1.recipients.count }
        #expect(requests.count == 2)
        #expect(requests.first?.recipients.map(\.address) == ["a@remote.test", "c@REMOTE.test"])
        #expect(requests.first?.nextHop.target == .mailExchangers(domain: "remote.test", port: 25))
        #expect(requests.last?.recipients.map(\.address) == ["b@other.test"])
    }

    @Test func aSmarthostTakesEveryDomainInOneTransaction() async throws {
        let smarthost = NextHop(target: .host("smtp.relay.test", port: 587), tls: .starttls)
        let fixture = try QueueFixture(route: { _ in smarthost })
        defer { fixture.directory.remove() }
        _ = try await fixture.enqueue(to: ["a@remote.test", "b@other.test"])

        await fixture.runner.runOnce()

        #expect(fixture.transport.requests.count == 1)
        #expect(fixture.transport.requests.first?.nextHop == smarthost)
        #expect(fixture.transport.requests.first?.recipients.count == 2)
    }

    @Test func deferredRecipientWaitsForItsBackoffThenIsDelivered() async throws {
        var policy = QueuePolicy()
        policy.minimalBackoff = .seconds(300)
        let fixture = try QueueFixture(policy: policy)
        defer { fixture.directory.remove() }
        fixture.transport.set("bob@remote.test", .deferred)
        let id = try await fixture.enqueue(to: ["bob@remote.test"])

        await fixture.runner.runOnce()
        let record = try #require(fixture.record(id))
        #expect(record.recipients[0].state == .deferred)
        #expect(record.recipients[0].attempts == 1)
        #expect(record.recipients[0].lastError?.contains("Connection refused") == true)
        #expect(record.recipients[0].nextAttempt == fixture.clock.now.addingTimeInterval(300))

        // Not due yet: nothing is tried.
        fixture.clock.advance(299)
        await fixture.runner.runOnce()
        #expect(fixture.transport.requests.count == 1)

        fixture.clock.advance(1)
        fixture.transport.set("bob@remote.test", .delivered)
        await fixture.runner.runOnce()
        #expect(fixture.transport.requests.count == 2)
        #expect(!fixture.spool.contains(id: id))
    }

    @Test func onlyTheRecipientsStillWaitingAreTriedAgain() async throws {
        let fixture = try QueueFixture()
        defer { fixture.directory.remove() }
        fixture.transport.set("slow@remote.test", .deferred)
        let id = try await fixture.enqueue(to: ["fast@remote.test", "slow@remote.test"])

        await fixture.runner.runOnce()
        let record = try #require(fixture.record(id))
        #expect(record.recipients.map(\.state) == [.delivered, .deferred])

        fixture.clock.advance(3600)
        fixture.transport.set("slow@remote.test", .delivered)
        await fixture.runner.runOnce()
        #expect(fixture.transport.requests.last?.recipients.map(\.address) == ["slow@remote.test"])
        #expect(!fixture.spool.contains(id: id))
    }

    @Test func permanentFailureSendsOneReportToALocalSender() async throws {
        let fixture = try QueueFixture()
        defer { fixture.directory.remove() }
        fixture.transport.set("nobody@remote.test", .bounced)
        let id = try await fixture.enqueue(to: ["nobody@remote.test", "bob@remote.test"])

        await fixture.runner.runOnce()

        #expect(!fixture.spool.contains(id: id))
        let reports = fixture.mailboxes.messages
        #expect(reports.count == 1)
        #expect(reports.first?.address == "alice@local.test")
        let text = String(decoding: reports.first?.message ?? [], as: UTF8.self)
        #expect(text.hasPrefix("Return-Path: <>\r\n"))
        #expect(text.contains("multipart/report"))
        #expect(text.contains("Status: 5.1.1"))
        #expect(text.contains("nobody@remote.test"))
        #expect(!text.contains("Final-Recipient: rfc822; bob@remote.test"))
    }

    @Test func reportForARemoteSenderIsQueuedFromTheNullSender() async throws {
        let fixture = try QueueFixture()
        defer { fixture.directory.remove() }
        fixture.transport.set("nobody@remote.test", .bounced)
        let id = try await fixture.enqueue(from: "carol@elsewhere.test", to: ["nobody@remote.test"])

        await fixture.runner.runOnce()

        let queued = try fixture.spool.list()
        #expect(queued.count == 1 && queued.first != id)
        let (envelope, message) = try fixture.spool.read(id: try #require(queued.first))
        #expect(envelope.sender == "")
        #expect(envelope.recipients.map(\.address) == ["carol@elsewhere.test"])
        #expect(String(decoding: message, as: UTF8.self).contains("Status: 5.1.1"))
    }

    @Test func noReportAboutAMessageFromTheNullSender() async throws {
        let fixture = try QueueFixture()
        defer { fixture.directory.remove() }
        fixture.transport.set("carol@elsewhere.test", .bounced)
        let id = try await fixture.enqueue(from: "", to: ["carol@elsewhere.test"])

        await fixture.runner.runOnce()

        #expect(!fixture.spool.contains(id: id))
        #expect(try fixture.spool.list().isEmpty)
        #expect(fixture.mailboxes.messages.isEmpty)
    }

    @Test func notifyNeverSuppressesTheReport() async throws {
        let fixture = try QueueFixture()
        defer { fixture.directory.remove() }
        fixture.transport.set("nobody@remote.test", .bounced)
        _ = try await fixture.enqueue(to: ["nobody@remote.test"], notify: ["NEVER"])

        await fixture.runner.runOnce()

        #expect(fixture.mailboxes.messages.isEmpty)
        #expect(try fixture.spool.list().isEmpty)
    }

    @Test func aReportThatCannotBeStoredKeepsTheRecipientWaiting() async throws {
        let fixture = try QueueFixture()
        defer { fixture.directory.remove() }
        fixture.transport.set("nobody@remote.test", .bounced)
        fixture.mailboxes.failFromNowOn()
        let id = try await fixture.enqueue(to: ["nobody@remote.test"])

        await fixture.runner.runOnce()

        let record = try #require(fixture.record(id))
        #expect(record.recipients[0].state == .deferred)
        #expect(fixture.spool.contains(id: id))
    }

    @Test func expiredRecipientIsBouncedWithItsLastError() async throws {
        var policy = QueuePolicy()
        policy.maximalLifetime = .seconds(3600)
        policy.delayWarning = nil
        let fixture = try QueueFixture(policy: policy)
        defer { fixture.directory.remove() }
        fixture.transport.set("bob@remote.test", .deferred)
        let id = try await fixture.enqueue(to: ["bob@remote.test"])
        await fixture.runner.runOnce()
        #expect(fixture.mailboxes.messages.isEmpty)

        fixture.clock.advance(3601)
        await fixture.runner.runOnce()

        #expect(!fixture.spool.contains(id: id))
        let text = String(decoding: fixture.mailboxes.messages.first?.message ?? [], as: UTF8.self)
        #expect(text.contains("Action: failed"))
        #expect(text.contains("Connection refused"))
        #expect(text.contains("expired"))
    }

    @Test func oneDelayWarningAfterTheConfiguredTime() async throws {
        var policy = QueuePolicy()
        policy.delayWarning = .seconds(4 * 3600)
        policy.maximalBackoff = .seconds(4000)
        let fixture = try QueueFixture(policy: policy)
        defer { fixture.directory.remove() }
        fixture.transport.set("bob@remote.test", .deferred)
        let id = try await fixture.enqueue(to: ["bob@remote.test"])

        await fixture.runner.runOnce()
        #expect(fixture.mailboxes.messages.isEmpty)
        for _ in 0..<6 {
            fixture.clock.advance(4000)
            await fixture.runner.runOnce()
        }

        #expect(fixture.mailboxes.messages.count == 1)
        let text = String(decoding: fixture.mailboxes.messages.first?.message ?? [], as: UTF8.self)
        #expect(text.contains("Action: delayed"))
        #expect(fixture.record(id)?.isDelayWarningSent == true)
        #expect(fixture.spool.contains(id: id))
    }

    @Test func successReportOnlyWhenAsked() async throws {
        let fixture = try QueueFixture()
        defer { fixture.directory.remove() }
        _ = try await fixture.enqueue(to: ["bob@remote.test"], notify: ["SUCCESS"])
        _ = try await fixture.enqueue(to: ["carl@remote.test"])

        await fixture.runner.runOnce()

        #expect(fixture.mailboxes.messages.count == 1)
        let text = String(decoding: fixture.mailboxes.messages.first?.message ?? [], as: UTF8.self)
        #expect(text.contains("bob@remote.test"))
        #expect(!text.contains("carl@remote.test"))
    }

    @Test func backoffDoublesUpToTheMaximum() {
        var policy = QueuePolicy()
        policy.minimalBackoff = .seconds(300)
        policy.maximalBackoff = .seconds(4000)
        #expect(policy.backoff(afterAttempts: 1) == .seconds(300))
        #expect(policy.backoff(afterAttempts: 2) == .seconds(600))
        #expect(policy.backoff(afterAttempts: 4) == .seconds(2400))
        #expect(policy.backoff(afterAttempts: 5) == .seconds(4000))
        #expect(policy.backoff(afterAttempts: 1000) == .seconds(4000))
        #expect(policy.backoff(afterAttempts: 0) == .seconds(300))
    }

    @Test func unreadableStatusMeansEveryRecipientIsTriedAgain() async throws {
        let fixture = try QueueFixture()
        defer { fixture.directory.remove() }
        fixture.transport.set("bob@remote.test", .deferred)
        let id = try await fixture.enqueue(to: ["bob@remote.test"])
        await fixture.runner.runOnce()
        try Data("{ not json".utf8).write(to: URL(fileURLWithPath: "\(fixture.directory.path)/status/\(id)"))

        await fixture.runner.runOnce()

        #expect(fixture.transport.requests.count == 2)
    }

    @Test func orphanedStatusFilesAreRemoved() async throws {
        let fixture = try QueueFixture()
        defer { fixture.directory.remove() }
        fixture.transport.set("bob@remote.test", .deferred)
        let id = try await fixture.enqueue(to: ["bob@remote.test"])
        await fixture.runner.runOnce()
        // A crash between removing the message and its status.
        try FileManager.default.removeItem(atPath: "\(fixture.directory.path)/incoming/\(id)")

        await fixture.runner.runOnce()

        #expect(!FileManager.default.fileExists(atPath: "\(fixture.directory.path)/status/\(id)"))
    }

    // MARK: - Administration

    @Test func flushMakesDeferredRecipientsDueNow() async throws {
        let fixture = try QueueFixture()
        defer { fixture.directory.remove() }
        fixture.transport.set("bob@remote.test", .deferred)
        let id = try await fixture.enqueue(to: ["bob@remote.test"])
        await fixture.runner.runOnce()
        fixture.transport.set("bob@remote.test", .delivered)

        let administration = QueueAdministration(spool: fixture.spool)
        #expect(try administration.flush(now: fixture.clock.now) == 1)
        await fixture.runner.runOnce()

        #expect(!fixture.spool.contains(id: id))
        #expect(fixture.transport.requests.count == 2)
    }

    @Test func retryUnknownIDFails() throws {
        let fixture = try QueueFixture()
        defer { fixture.directory.remove() }
        let administration = QueueAdministration(spool: fixture.spool)
        #expect(throws: QueueAdministration.Failure.self) { try administration.retry("0123456789ABCDEFGHI") }
        #expect(throws: QueueAdministration.Failure.self) { try administration.delete("../../etc/passwd") }
        #expect(throws: QueueAdministration.Failure.self) { try administration.entry("nonsense") }
    }

    @Test func deleteRemovesWithoutAReport() async throws {
        let fixture = try QueueFixture()
        defer { fixture.directory.remove() }
        fixture.transport.set("bob@remote.test", .deferred)
        let id = try await fixture.enqueue(to: ["bob@remote.test"])
        await fixture.runner.runOnce()

        try QueueAdministration(spool: fixture.spool).delete(id)
        fixture.clock.advance(86400)
        await fixture.runner.runOnce()

        #expect(try fixture.spool.list().isEmpty)
        #expect(fixture.transport.requests.count == 1)
        #expect(fixture.mailboxes.messages.isEmpty)
    }

    @Test func bounceFailsWaitingRecipientsWithAReport() async throws {
        let fixture = try QueueFixture()
        defer { fixture.directory.remove() }
        fixture.transport.set("bob@remote.test", .deferred)
        let id = try await fixture.enqueue(to: ["bob@remote.test"])
        await fixture.runner.runOnce()

        try QueueAdministration(spool: fixture.spool).bounce(id)
        #expect(fixture.record(id)?.isBounceRequested == true)
        await fixture.runner.runOnce()

        #expect(!fixture.spool.contains(id: id))
        #expect(fixture.transport.requests.count == 1)
        let text = String(decoding: fixture.mailboxes.messages.first?.message ?? [], as: UTF8.self)
        #expect(text.contains("administrator"))
        #expect(text.contains("Action: failed"))
    }

    @Test func listingShowsEachRecipientWithItsLastError() async throws {
        let fixture = try QueueFixture()
        defer { fixture.directory.remove() }
        let administration = QueueAdministration(spool: fixture.spool)
        #expect(QueueAdministration.listing(try administration.entries()) == "Mail queue is empty\n")
        fixture.transport.set("slow@remote.test", .deferred)
        let id = try await fixture.enqueue(to: ["fast@remote.test", "slow@remote.test"])
        await fixture.runner.runOnce()

        let listing = QueueAdministration.listing(try administration.entries())
        let lines = listing.split(separator: "\n").map(String.init)
        #expect(lines.first?.hasPrefix("\(id) ") == true)
        #expect(lines.first?.hasSuffix(" alice@local.test") == true)
        #expect(lines.contains("  fast@remote.test delivered"))
        #expect(
            lines.contains("  slow@remote.test deferred: connect to mx.remote.test[127.0.0.2]:25: Connection refused"))
        #expect(lines.last == "-- 1 Kbytes in 1 Request.")

        let details = QueueAdministration.details(try administration.entry(id))
        #expect(details.contains("attempts:     1"))
        #expect(details.contains("next attempt:"))
    }

    // MARK: - The running loop

    @Test func runningRunnerDeliversWhatIsEnqueuedAndStopsWhenCancelled() async throws {
        let fixture = try QueueFixture()
        defer { fixture.directory.remove() }
        let runner = fixture.runner
        fixture.spool.observeEnqueues { id in runner.enqueued(id) }
        // The first is found by the start-up listing; once it is gone, that listing is
        // over, and only the spool's announcement can bring the second (the next
        // listing is a minute away).
        let first = try await fixture.enqueue(to: ["bob@remote.test"])
        let task = Task { await runner.run() }
        for _ in 0..<500 where fixture.spool.contains(id: first) {
            try await Task.sleep(for: .milliseconds(10))
        }
        let id = try await fixture.enqueue(to: ["bob@remote.test"])

        for _ in 0..<500 where fixture.spool.contains(id: id) {
            try await Task.sleep(for: .milliseconds(10))
        }
        #expect(!fixture.spool.contains(id: first))
        #expect(!fixture.spool.contains(id: id))
        task.cancel()
        await task.value
    }

    @Test func aMessageNobodyAnnouncedIsFoundByTheNextListing() async throws {
        let fixture = try QueueFixture()
        defer { fixture.directory.remove() }
        let runner = fixture.runner
        let task = Task { await runner.run(rescanInterval: .milliseconds(50)) }
        // Another writer of the same spool, with no observer.
        let other = Spool(directory: fixture.directory.path)
        let id = try await other.enqueue(
            Envelope(sender: "alice@local.test", recipients: [.init(address: "bob@remote.test")], receivedAt: fixture.clock.now),
            message: Array("Subject: x\r\n\r\nx\r\n".utf8))

        for _ in 0..<500 where fixture.spool.contains(id: id) {
            try await Task.sleep(for: .milliseconds(10))
        }
        #expect(!fixture.spool.contains(id: id))
        task.cancel()
        await task.value
    }

    @Test func runningRunnerPicksUpARunRequest() async throws {
        let fixture = try QueueFixture()
        defer { fixture.directory.remove() }
        fixture.transport.set("bob@remote.test", .deferred)
        let id = try await fixture.enqueue(to: ["bob@remote.test"])
        let runner = fixture.runner
        let task = Task { await runner.run() }
        for _ in 0..<500 where fixture.record(id) == nil {
            try await Task.sleep(for: .milliseconds(10))
        }
        #expect(fixture.record(id)?.recipients.first?.state == .deferred)

        fixture.transport.set("bob@remote.test", .delivered)
        try QueueAdministration(spool: fixture.spool).flush(now: fixture.clock.now)
        for _ in 0..<500 where fixture.spool.contains(id: id) {
            try await Task.sleep(for: .milliseconds(10))
        }
        #expect(!fixture.spool.contains(id: id))
        task.cancel()
        await task.value
    }

    @Test func noSuccessReportWhenTheNextHopTookNotify() async throws {
        let fixture = try QueueFixture()
        defer { fixture.directory.remove() }
        fixture.transport.passNotificationsOn()
        _ = try await fixture.enqueue(to: ["bob@remote.test"], notify: ["SUCCESS"])

        await fixture.runner.runOnce()

        #expect(fixture.mailboxes.messages.isEmpty)
        #expect(try fixture.spool.list().isEmpty)
    }

    @Test func anAdministratorsBounceSurvivesAReportThatCouldNotBeStored() async throws {
        let fixture = try QueueFixture()
        defer { fixture.directory.remove() }
        fixture.transport.set("bob@remote.test", .deferred)
        let id = try await fixture.enqueue(to: ["bob@remote.test"])
        await fixture.runner.runOnce()
        try QueueAdministration(spool: fixture.spool).bounce(id)
        fixture.mailboxes.failFromNowOn()
        fixture.transport.set("bob@remote.test", .delivered)

        await fixture.runner.runOnce()
        #expect(fixture.record(id)?.isBounceRequested == true)
        #expect(fixture.record(id)?.nextAttempt == .distantPast)

        // Still a bounce on the next run, not a delivery.
        await fixture.runner.runOnce()
        #expect(fixture.transport.requests.count == 1)
    }

    @Test func stopLetsADeliveryInProgressRecordItsStateThenReturns() async throws {
        let transport = HangingTransport()
        let fixture = try QueueFixture(outbound: transport)
        defer { fixture.directory.remove() }
        let (spool, runner) = (fixture.spool, fixture.runner)
        let id = try await fixture.enqueue(to: ["bob@remote.test"])
        let task = Task { await runner.run(shutdownGrace: .milliseconds(100)) }
        await transport.waitUntilCalled()

        runner.stop()
        await task.value

        // Interrupted, not lost: deferred and still queued.
        #expect(spool.contains(id: id))
        #expect(spool.readRecord(id: id)?.recipients.first?.state == .deferred)
    }

    // MARK: - Parts

    @Test(.timeLimit(.minutes(1))) func wakeSignalEndsAWaitAtOnce() async {
        let signal = QueueWakeSignal()
        // Kept for the next wait when nobody waits.
        signal.signal()
        await signal.wait(timeout: .seconds(3600))
        // And ends a wait in progress.
        let waiter = Task { await signal.wait(timeout: .seconds(3600)) }
        try? await Task.sleep(for: .milliseconds(50))
        signal.signal()
        await waiter.value
    }

    @Test func limiterHandsSlotsOnInOrder() async {
        let limiter = ConcurrencyLimiter<String>(limit: 2)
        await limiter.acquire("a")
        await limiter.acquire("a")
        await limiter.acquire("b")
        #expect(await limiter.holders("a") == 2)
        #expect(await limiter.holders("b") == 1)
        let third = Task { await limiter.acquire("a") }
        try? await Task.sleep(for: .milliseconds(20))
        #expect(await limiter.holders("a") == 2)
        await limiter.release("a")
        await third.value
        #expect(await limiter.holders("a") == 2)
        await limiter.release("a")
        await limiter.release("a")
        #expect(await limiter.holders("a") == 0)
    }
}

/// A next hop that never answers: `deliver` returns (deferred) only when cancelled,
/// as the SMTP client does.
final class HangingTransport: OutboundTransport {
    private let called = Mutex<[CheckedContinuation<Void, Never>]?>([])

    func waitUntilCalled() async {
        await withCheckedContinuation { continuation in
            let isDone = called.withLock { waiters -> Bool in
                guard waiters != nil else { return true }
                waiters?.append(continuation)
                return false
            }
            if isDone { continuation.resume() }
        }
    }

    func deliver(_ request: OutboundRequest) async -> [RecipientResult] {
        let waiters = called.withLock { waiters in
            defer { waiters = nil }
            return waiters ?? []
        }
        for waiter in waiters { waiter.resume() }
        while !Task.isCancelled { try? await Task.sleep(for: .milliseconds(10)) }
        return request.recipients.map {
            RecipientResult(address: $0.address, outcome: .deferred, status: "4.4.2", diagnostic: "delivery interrupted")
        }
    }
}
