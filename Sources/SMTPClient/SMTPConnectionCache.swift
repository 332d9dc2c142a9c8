import MailQueue
import NIOCore
import Synchronization

/// Idle sessions kept for the next message to the same next hop (Postfix's
/// connection cache, `smtp_connection_cache_on_demand`): a queue run with many
/// messages for one destination opens one connection instead of one per message.
///
/// A session is checked in after a transaction that ended cleanly and checked out by
/// the next delivery to the same `NextHop` (same target, TLS policy and credentials),
/// which sends RSET before using it. Each entry expires after
/// `SMTPClientTimeouts.connectionCacheTime`; the cache holds at most
/// `SMTPClientLimits.maximumCachedConnections` (the oldest goes first); `shutdown()`
/// closes everything. Expired and evicted sessions say QUIT (RFC 5321 §4.1.1.10).
///
/// Thread-safe behind a `Mutex`, which is never held across I/O.
final class SMTPConnectionCache: Sendable {
    private struct Entry: Sendable {
        let id: UInt64
        let nextHop: NextHop
        let session: SMTPClientSession
    }

    private struct State: Sendable {
        var entries: [Entry] = []
        var nextID: UInt64 = 0
        var isShutDown = false
    }

    private let state = Mutex(State())
    private let settings: SMTPClientSession.Settings

    init(settings: SMTPClientSession.Settings) {
        self.settings = settings
    }

    /// The most recently cached session for `nextHop`, removed from the cache.
    func checkOut(_ nextHop: NextHop) -> SMTPClientSession? {
        state.withLock { state in
            guard let position = state.entries.lastIndex(where: { $0.nextHop == nextHop }) else { return nil }
            return state.entries.remove(at: position).session
        }
    }

    /// Keeps `session` for `connectionCacheTime`, or closes it when the cache is shut
    /// down, the session has carried its share of transactions, or the delivery's task
    /// was cancelled (the server is shutting down: nothing is kept for later).
    func checkIn(_ session: SMTPClientSession, for nextHop: NextHop) async {
        guard !Task.isCancelled,
            session.transactionCount < settings.limits.maximumTransactionsPerConnection,
            settings.limits.maximumCachedConnections > 0
        else {
            await session.quit(settings: settings)
            return
        }
        let (id, evicted, accepted) = state.withLock { state -> (UInt64, [SMTPClientSession], Bool) in
            guard !state.isShutDown else { return (0, [], false) }
            var evicted: [SMTPClientSession] = []
            while state.entries.count >= settings.limits.maximumCachedConnections, !state.entries.isEmpty {
                evicted.append(state.entries.removeFirst().session)
            }
            state.nextID += 1
            state.entries.append(Entry(id: state.nextID, nextHop: nextHop, session: session))
            return (state.nextID, evicted, true)
        }
        for old in evicted { await old.quit(settings: settings) }
        guard accepted else {
            await session.quit(settings: settings)
            return
        }
        let eventLoop = session.connection.channel.eventLoop
        eventLoop.scheduleTask(in: TimeAmount(settings.timeouts.connectionCacheTime)) { [self] in
            self.expire(id)
        }
        // Closed by the server meanwhile (idle timeout, shutdown): forget it at once.
        session.connection.channel.closeFuture.whenComplete { [self] _ in
            _ = self.remove(id)
        }
    }

    /// Sessions cached right now (for tests and metrics).
    var count: Int { state.withLock { $0.entries.count } }

    /// Closes every cached session; later check-ins are closed at once. The QUITs run
    /// side by side, so this takes at most one quit timeout, however many are cached.
    func shutdown() async {
        let sessions = state.withLock { state -> [SMTPClientSession] in
            state.isShutDown = true
            defer { state.entries.removeAll() }
            return state.entries.map(\.session)
        }
        let settings = self.settings
        await withDiscardingTaskGroup { group in
            for session in sessions {
                group.addTask { await session.quit(settings: settings) }
            }
        }
    }

    private func expire(_ id: UInt64) {
        guard let session = remove(id) else { return }
        let settings = self.settings
        // Runs on the event loop: the QUIT exchange goes on in a task of its own, the
        // documented boundary between a timer and async code.
        Task { await session.quit(settings: settings) }
    }

    private func remove(_ id: UInt64) -> SMTPClientSession? {
        state.withLock { state in
            guard let position = state.entries.firstIndex(where: { $0.id == id }) else { return nil }
            return state.entries.remove(at: position).session
        }
    }
}
