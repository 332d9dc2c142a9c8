import Synchronization

/// A bounded cache of positive answers, each kept for the smallest TTL of the records
/// it was built from (CNAMEs included), at most `maximumTTL`.
///
/// Shared by every copy of a `DNSResolver`. At capacity, expired entries go first, then
/// the one that would expire soonest. Negative answers are not cached: a domain that
/// was just created must not wait for a negative TTL.
///
/// - SeeAlso: RFC 1035 §3.2.1 (TTL), RFC 2181 §5.2 (the set's TTL), §8 (TTL range)
final class DNSCache: Sendable {
    /// Longest time any answer is kept, whatever its TTL: a day-long TTL must not pin a
    /// stale MX for a day inside a long-running server.
    static let maximumTTL: Duration = .seconds(3600)

    struct Key: Hashable {
        var name: String
        var type: DNSRecordType
    }

    private struct Entry {
        var answer: DNSAnswer
        var expiry: ContinuousClock.Instant
    }

    private let capacity: Int
    private let entries = Mutex<[Key: Entry]>([:])

    init(capacity: Int) {
        self.capacity = capacity
    }

    /// The cached answer for `key` if it has not expired.
    func answer(for key: Key, now: ContinuousClock.Instant = .now) -> DNSAnswer? {
        entries.withLock { entries in
            guard let entry = entries[key] else { return nil }
            guard entry.expiry > now else {
                entries[key] = nil
                return nil
            }
            return entry.answer
        }
    }

    /// Keeps `answer` for `ttl` seconds (at most `maximumTTL`); a TTL of 0 keeps nothing.
    func store(_ answer: DNSAnswer, ttl: UInt32, for key: Key, now: ContinuousClock.Instant = .now) {
        guard capacity > 0, ttl > 0 else { return }
        let expiry = now + min(.seconds(Int64(ttl)), Self.maximumTTL)
        entries.withLock { entries in
            if entries[key] == nil && entries.count >= capacity {
                entries = entries.filter { $0.value.expiry > now }
                if entries.count >= capacity,
                    let soonest = entries.min(by: { $0.value.expiry < $1.value.expiry })?.key
                {
                    entries[soonest] = nil
                }
            }
            entries[key] = Entry(answer: answer, expiry: expiry)
        }
    }

    var count: Int { entries.withLock { $0.count } }
}
