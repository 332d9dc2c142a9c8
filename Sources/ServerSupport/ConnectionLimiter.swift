import NIOConcurrencyHelpers

/// Counts open connections, in total and per client IP, for one listener.
///
/// Shared by the accept path of every event loop, so the counts sit behind a lock;
/// the lock is held only for the arithmetic.
public final class ConnectionLimiter: Sendable {
    public enum Refusal: Sendable, Equatable {
        case total
        case perAddress
    }

    private struct Counts {
        var total = 0
        var byAddress: [String: Int] = [:]
    }

    private let maximumTotal: Int
    private let maximumPerAddress: Int
    private let counts = NIOLockedValueBox(Counts())

    public init(maximumTotal: Int, maximumPerAddress: Int) {
        self.maximumTotal = maximumTotal
        self.maximumPerAddress = maximumPerAddress
    }

    /// Takes a slot for `address`, or says which limit refuses it.
    public func acquire(_ address: String) -> Refusal? {
        counts.withLockedValue { counts in
            if counts.total >= maximumTotal { return .total }
            let current = counts.byAddress[address, default: 0]
            if current >= maximumPerAddress { return .perAddress }
            counts.total += 1
            counts.byAddress[address] = current + 1
            return nil
        }
    }

    public func release(_ address: String) {
        counts.withLockedValue { counts in
            counts.total -= 1
            let remaining = counts.byAddress[address, default: 1] - 1
            counts.byAddress[address] = remaining > 0 ? remaining : nil
        }
    }

    public var openConnections: Int { counts.withLockedValue { $0.total } }
}
