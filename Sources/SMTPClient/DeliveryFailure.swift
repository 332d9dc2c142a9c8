import MailQueue

/// Why a delivery could not go ahead on a host, with what to do about it: try the next
/// address, or give every recipient this result at once.
struct DeliveryFailure: Error, Sendable, Equatable {
    enum Disposition: Sendable, Equatable {
        /// This address or host is no good; RFC 5321 §5.1 has the client try the next
        /// one. If none is left, every recipient is deferred with the last failure.
        case tryNextAddress
        /// Every recipient gets `outcome` now (null MX, mail loop, DNS trouble).
        case final(RecipientResult.Outcome)
    }

    var disposition: Disposition
    /// RFC 3463 status.
    var status: String
    /// Plain words, or `smtp; <reply>`.
    var diagnostic: String
    var remoteMTA: String?
    /// `host[address]:port` when a connection was tried.
    var relay: String?

    /// The outcome when this is the last failure: deferred unless said otherwise.
    var outcome: RecipientResult.Outcome {
        if case .final(let outcome) = disposition { return outcome }
        return .deferred
    }
}
