/// The contract between the queue runner (which decides *what* to send and *when*) and
/// the SMTP client (which decides *how*: DNS, TLS, AUTH, the SMTP dialogue). The
/// runner hands over one message for the recipients of one next hop and gets one
/// result per recipient back; it never sees a socket.
///
/// - SeeAlso: RFC 5321 §4.5.4 (retry strategy is the queue's), §5 (the client's)
public protocol OutboundTransport: Sendable {
    /// Tries to deliver `request` now. Never throws: every failure becomes a
    /// `RecipientResult` (deferred or bounced) with a diagnostic for the DSN and for
    /// `tsubame queue show`. Returns one result per recipient of the request, in order.
    func deliver(_ request: OutboundRequest) async -> [RecipientResult]
}

/// How to leave: to the recipient domain's mail exchangers, or to a fixed host (a
/// smarthost, or a `[routes]` entry), with the TLS and authentication to use.
public struct NextHop: Sendable, Hashable, CustomStringConvertible {
    public enum Target: Sendable, Hashable {
        /// Look up the MX records of this domain (RFC 5321 §5.1) and connect to `port`.
        case mailExchangers(domain: String, port: Int)
        /// Connect to this host (name or IP literal) and port; no MX lookup
        /// (Postfix's `[host]:port`).
        case host(String, port: Int)
    }

    public enum TLSPolicy: String, Sendable, Hashable, CaseIterable {
        /// Never STARTTLS.
        case none
        /// STARTTLS when offered, without certificate checks; plaintext otherwise
        /// (Postfix `smtp_tls_security_level = may`). The default towards MXes.
        case opportunistic
        /// STARTTLS must succeed (and the certificate verify, if `verifyCertificate`),
        /// or the delivery is deferred (Postfix `encrypt` / `verify`).
        case starttls
        /// TLS from the first byte (port 465, RFC 8314).
        case implicit
    }

    public var target: Target
    public var tls: TLSPolicy
    /// Check the server certificate against the system roots (or `caFile`) and the
    /// host name. Ignored for `.opportunistic`.
    public var verifyCertificate: Bool
    /// A PEM file of trusted roots instead of the system's.
    public var caFile: String?
    /// AUTH after TLS (never over plaintext): SCRAM-SHA-256, PLAIN or LOGIN, the best
    /// the server offers.
    public var credentials: Credentials?

    public struct Credentials: Sendable, Hashable, CustomStringConvertible {
        public var username: String
        public var password: String

        public init(username: String, password: String) {
            self.username = username
            self.password = password
        }

        /// Never shows the password.
        public var description: String { "\(username) (password hidden)" }
    }

    public init(
        target: Target, tls: TLSPolicy = .opportunistic, verifyCertificate: Bool = false, caFile: String? = nil,
        credentials: Credentials? = nil
    ) {
        self.target = target
        self.tls = tls
        self.verifyCertificate = verifyCertificate
        self.caFile = caFile
        self.credentials = credentials
    }

    public var description: String {
        switch target {
        case .mailExchangers(let domain, let port): return port == 25 ? "MX of \(domain)" : "MX of \(domain) port \(port)"
        case .host(let host, let port): return "[\(host)]:\(port)"
        }
    }
}

/// One message for some recipients that share a next hop.
public struct OutboundRequest: Sendable {
    public var queueID: String
    /// The reverse-path, `""` for `<>`.
    public var sender: String
    public var recipients: [Envelope.Recipient]
    public var envelopeID: String?
    public var ret: String?
    /// `7BIT`, `8BITMIME`, `BINARYMIME` or nil (as received).
    public var bodyType: String?
    public var smtpUTF8: Bool
    /// The whole message, CRLF line ends, not dot-stuffed.
    public var message: [UInt8]
    public var nextHop: NextHop

    public init(
        queueID: String, sender: String, recipients: [Envelope.Recipient], envelopeID: String?, ret: String?,
        bodyType: String?, smtpUTF8: Bool, message: [UInt8], nextHop: NextHop
    ) {
        self.queueID = queueID
        self.sender = sender
        self.recipients = recipients
        self.envelopeID = envelopeID
        self.ret = ret
        self.bodyType = bodyType
        self.smtpUTF8 = smtpUTF8
        self.message = message
        self.nextHop = nextHop
    }
}

/// What became of one recipient in one attempt.
public struct RecipientResult: Sendable, Equatable {
    public enum Outcome: String, Sendable, Codable, Equatable {
        /// The next hop answered 2xx after end-of-data: no longer ours.
        case delivered
        /// Try again later (4xx, timeouts, connection failures, DNS trouble).
        case deferred
        /// Permanent failure (5xx, null MX, no such domain): send a DSN.
        case bounced
    }

    public var address: String
    public var outcome: Outcome
    /// RFC 3463 status, `2.0.0`, `4.4.1`, `5.1.1`.
    public var status: String
    /// For the DSN's Diagnostic-Code and for `tsubame queue show`: the remote reply
    /// (`smtp; 550 5.1.1 <x@y>: Recipient address rejected`) or what went wrong in
    /// plain words (`connect to mx.example.org[192.0.2.1]:25: Connection refused`).
    public var diagnostic: String
    /// The host that answered, `mx.example.org[192.0.2.1]`, when one did.
    public var remoteMTA: String?
    /// The next hop offered DSN and was given this recipient's NOTIFY/ORCPT: it reports
    /// success itself, so no "relayed" report is due from us (RFC 3461 §5.2.2).
    public var isNotificationPassedOn: Bool

    public init(
        address: String, outcome: Outcome, status: String, diagnostic: String, remoteMTA: String? = nil,
        isNotificationPassedOn: Bool = false
    ) {
        self.address = address
        self.outcome = outcome
        self.status = status
        self.diagnostic = diagnostic
        self.remoteMTA = remoteMTA
        self.isNotificationPassedOn = isNotificationPassedOn
    }
}
