import Synchronization

/// Wakes the queue runner: a new message, an administrator's request, or a timer,
/// whichever comes first. A signal sent while nobody waits is kept for the next wait,
/// so none is lost between two runs.
final class QueueWakeSignal: Sendable {
    private struct State {
        var isSignalled = false
        var waiter: CheckedContinuation<Void, Never>?
        var generation: UInt64 = 0
    }

    private let state = Mutex(State())

    func signal() {
        let waiter: CheckedContinuation<Void, Never>? = state.withLock { state in
            guard let waiter = state.waiter else {
                state.isSignalled = true
                return nil
            }
            state.waiter = nil
            return waiter
        }
        waiter?.resume()
    }

    /// Returns at the next signal (at once if one is pending), after `timeout`, or
    /// when the task is cancelled.
    func wait(timeout: Duration) async {
        let generation: UInt64? = state.withLock { state in
            if state.isSignalled {
                state.isSignalled = false
                return nil
            }
            state.generation &+= 1
            return state.generation
        }
        guard let generation else { return }
        let timer = Task { [weak self] in
            try? await Task.sleep(for: timeout)
            self?.expire(generation)
        }
        defer { timer.cancel() }
        await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                let isCurrent = state.withLock { state in
                    guard state.generation == generation, !state.isSignalled else {
                        state.isSignalled = false
                        return false
                    }
                    state.waiter = continuation
                    return true
                }
                if !isCurrent { continuation.resume() }
            }
        } onCancel: {
            expire(generation)
        }
    }

    /// Ends the wait of `generation` if it is still the one waiting.
    private func expire(_ generation: UInt64) {
        let waiter: CheckedContinuation<Void, Never>? = state.withLock { state in
            guard state.generation == generation, let waiter = state.waiter else {
                // The timer or cancellation came before the waiter was installed:
                // make the coming wait return at once.
                if state.generation == generation && state.waiter == nil { state.generation &+= 1 }
                return nil
            }
            state.waiter = nil
            return waiter
        }
        waiter?.resume()
    }
}

/// At most `limit` holders at once per key — per next hop (Postfix's
/// `default_destination_concurrency_limit`), or one key for all connections (its
/// process limit); the rest wait their turn in order.
actor ConcurrencyLimiter<Key: Hashable & Sendable> {
    private let limit: Int
    private var active: [Key: Int] = [:]
    private var waiting: [Key: [CheckedContinuation<Void, Never>]] = [:]

    init(limit: Int) {
        self.limit = max(1, limit)
    }

    func acquire(_ key: Key) async {
        if active[key, default: 0] < limit {
            active[key, default: 0] += 1
            return
        }
        await withCheckedContinuation { waiting[key, default: []].append($0) }
    }

    func release(_ key: Key) {
        if var queue = waiting[key], !queue.isEmpty {
            let next = queue.removeFirst()
            waiting[key] = queue.isEmpty ? nil : queue
            next.resume()  // the slot passes to it
            return
        }
        let count = active[key, default: 1] - 1
        active[key] = count > 0 ? count : nil
    }

    /// Holders of `key` now (tests).
    func holders(_ key: Key) -> Int { active[key, default: 0] }
}
