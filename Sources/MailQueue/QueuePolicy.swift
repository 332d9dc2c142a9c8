public import Foundation

/// When to try again and when to give up: Postfix's queue manager parameters, with
/// its defaults.
///
/// - SeeAlso: RFC 5321 §4.5.4.1 (retry at least 30 minutes apart, give up after 4–5
///   days), Postfix `minimal_backoff_time`, `maximal_backoff_time`,
///   `maximal_queue_lifetime`, `delay_warning_time`, `default_process_limit`,
///   `default_destination_concurrency_limit`
public struct QueuePolicy: Sendable, Equatable {
    /// The wait after the first failure; each further failure doubles it.
    public var minimalBackoff: Duration = .seconds(300)
    /// The longest wait between two attempts.
    public var maximalBackoff: Duration = .seconds(4000)
    /// After this long in the queue, a recipient that fails again is bounced.
    public var maximalLifetime: Duration = .seconds(5 * 86400)
    /// After this long, one "still trying" DSN for deferred recipients whose NOTIFY
    /// allows it; `nil`: never (Postfix's default is 0, off; we warn after 4 hours as
    /// Sendmail does and as RFC 3461 allows).
    public var delayWarning: Duration? = .seconds(4 * 3600)
    /// Messages being delivered at once.
    public var maximumConcurrentDeliveries = 20
    /// Connections at once to one next hop (a domain's MXes, or one relay host).
    public var destinationConcurrency = 5

    public init() {}

    /// The wait after the `attempts`-th failed attempt (1 = the first failure):
    /// `minimalBackoff × 2^(attempts−1)`, at most `maximalBackoff`.
    public func backoff(afterAttempts attempts: Int) -> Duration {
        let doublings = max(0, min(attempts - 1, 30))
        let seconds = minimalBackoff.timeInterval * Double(1 << doublings)
        return min(.seconds(seconds), maximalBackoff)
    }
}

extension Duration {
    /// Seconds as a `TimeInterval`, for `Date` arithmetic.
    public var timeInterval: TimeInterval {
        let parts = components
        return TimeInterval(parts.seconds) + TimeInterval(parts.attoseconds) / 1e18
    }
}
