import Directory
import Foundation
import Logging
import MailCore
import MailQueue
import MailStore
public import NIOCore
public import SASL
public import SMTPProtocol
public import ServerSupport

/// One SMTP connection: the state machine plus the services it asks for.
public struct SMTPSession: LineSession {
    public enum Event: Sendable {
        case recipient(RecipientLookup)
        case sender(allowed: Bool)
        case authentication(SMTPServerStateMachine.AuthenticationOutcome)
        case scram(SCRAMServerKeys?, throttled: Bool)
        case stored(SMTPServerStateMachine.StoreOutcome)
        case nothing
    }

    private var machine: SMTPServerStateMachine
    private let services: SMTPServices
    private let context: ConnectionContext

    public init(configuration: SMTPServerStateMachine.Configuration, context: ConnectionContext, services: SMTPServices) {
        self.machine = SMTPServerStateMachine(
            configuration: configuration,
            connection: .init(
                sessionID: context.sessionID, remoteAddress: context.remoteAddress, isTLS: context.isImplicitTLS,
                canStartTLS: context.canStartTLS))
        self.services = services
        self.context = context
    }

    public var wantsRawInput: Bool { machine.wantsRawInput }

    public mutating func start() -> [SessionAction<Event>] { perform(machine.greeting()) }

    public mutating func receive(line: ByteBuffer) -> [SessionAction<Event>] {
        perform(machine.receive(line: Array(line.readableBytesView)))
    }

    public mutating func receive(raw buffer: inout ByteBuffer) -> [SessionAction<Event>] {
        perform(machine.receive(raw: &buffer))
    }

    public mutating func lineTooLong() -> [SessionAction<Event>] { perform(machine.lineTooLong()) }

    public mutating func tlsEstablished(_ info: TLSInfo) -> [SessionAction<Event>] {
        perform(machine.tlsEstablished(version: info.version))
    }

    public mutating func idleTimeout() -> [SessionAction<Event>] { perform(machine.idleTimeout()) }

    public mutating func shutdown() -> [SessionAction<Event>] { perform(machine.shutdown()) }

    public mutating func complete(_ event: Event) -> [SessionAction<Event>] {
        switch event {
        case .recipient(let lookup): return perform(machine.recipientResolved(lookup))
        case .sender(let allowed): return perform(machine.senderChecked(allowed: allowed))
        case .authentication(let outcome): return perform(machine.authenticationFinished(outcome))
        case .scram(let keys, let throttled): return perform(machine.scramCredentialsFetched(keys, throttled: throttled))
        case .stored(let outcome): return perform(machine.stored(outcome))
        case .nothing: return []
        }
    }

    // MARK: - Actions

    private func perform(_ actions: [SMTPServerStateMachine.Action]) -> [SessionAction<Event>] {
        actions.map { action in
            switch action {
            case .send(let reply): return .send(reply.encoded)
            case .startTLS: return .startTLS
            case .close: return .close
            case .resolveRecipient(let mailbox):
                let directory = services.directory
                return .run { .recipient(await Self.resolve(mailbox, directory)) }
            case .resolvePostmaster:
                let directory = services.directory
                let hostname = machine.configuration.hostname
                return .run { .recipient(await Self.resolvePostmaster(hostname: hostname, directory)) }
            case .checkSender(let login, let sender):
                let directory = services.directory
                let allowances = services.senderAllowances
                return .run {
                    .sender(allowed: await Self.owns(login: login, sender: sender, allowances: allowances, directory))
                }
            case .verifyPassword(let login, let password):
                let attempt = loginAttempt(login, password: password)
                let authenticator = services.authenticator
                return .run {
                    .authentication(await authenticator.authenticate(attempt).loginOutcome)
                }
            case .fetchSCRAMCredentials(let login):
                let attempt = loginAttempt(login, password: "")
                let authenticator = services.authenticator
                return .run {
                    switch await authenticator.scramCredentials(attempt) {
                    case .credentials(let keys):
                        return .scram(keys, throttled: false)
                    case .throttled, .temporaryFailure:
                        return .scram(nil, throttled: true)
                    }
                }
            case .recordSCRAMOutcome(let login, let success):
                let attempt = loginAttempt(login, password: "")
                let authenticator = services.authenticator
                return .run {
                    await authenticator.recordSCRAMOutcome(attempt, success: success)
                    return .nothing
                }
            case .store(let transaction, let message, let trace, let number):
                let services = self.services
                let queueID = number == 1 ? context.sessionID : "\(context.sessionID).\(number)"
                let user = machine.login
                return .run {
                    .stored(await Self.store(transaction, message: message, trace: trace, services: services, queueID: queueID, user: user))
                }
            }
        }
    }

    private func loginAttempt(_ login: String, password: String) -> LoginAttempt {
        LoginAttempt(
            login: login, password: password, remoteAddress: context.remoteAddress, service: context.service,
            session: context.sessionID)
    }

    // MARK: - Directory questions

    /// Maps an SMTP mailbox to the directory's answer. Anything the directory cannot
    /// name — an address literal, a quoted or otherwise unusual local part — is local
    /// only if its domain is, and then unknown; it is never routed elsewhere by a
    /// reading of `%`, `!` or `@` inside the local part.
    static func resolve(_ mailbox: SMTPMailbox, _ directory: any AccountDirectory) async -> RecipientLookup {
        guard let domain = mailbox.domainName else { return .notLocalDomain }
        do {
            guard let address = MailAddress(localPart: mailbox.localPart, domain: domain),
                address.localPart == mailbox.localPart
            else {
                return try await directory.isLocalDomain(domain) ? .unknownUser : .notLocalDomain
            }
            switch try await directory.resolve(recipient: address) {
            case .notLocalDomain: return .notLocalDomain
            case .unknownUser: return .unknownUser
            case .deliver(let local, let forward):
                return .deliver(local: local.map(\.canonical), forward: forward.map(\.description))
            }
        } catch {
            return .temporaryFailure
        }
    }

    /// `<Postmaster>` goes to `postmaster@` the host name, or else of its parent
    /// domains (`mail.example.com` → `example.com`), whichever is local first —
    /// Postfix appends `$myorigin` the same way.
    static func resolvePostmaster(hostname: String, _ directory: any AccountDirectory) async -> RecipientLookup {
        var labels = hostname.split(separator: ".").map(String.init)
        while labels.count >= 1 {
            let domain = labels.joined(separator: ".")
            let lookup = await resolve(SMTPMailbox(localPart: "postmaster", domain: .name(domain)), directory)
            if lookup != .notLocalDomain { return lookup }
            labels.removeFirst()
            if labels.count < 2 { break }
        }
        return .unknownUser
    }

    /// Whether `login` may send as `sender`: its own address, an alias (or `+tag`)
    /// that delivers to it, or an address its `[smtp.sender_allowances]` entry names.
    static func owns(
        login: String, sender: SMTPMailbox, allowances: [String: [String]], _ directory: any AccountDirectory
    ) async -> Bool {
        guard let domain = sender.domainName, let address = MailAddress(localPart: sender.localPart, domain: domain),
            let account = MailAddress(login)
        else { return false }
        if address.canonical == account.canonical { return true }
        if let patterns = allowances[account.canonical],
            patterns.contains(where: { $0 == address.canonical || $0 == "@" + address.domain })
        {
            return true
        }
        guard case .deliver(let local, _) = try? await directory.resolve(recipient: address) else { return false }
        return local.contains { $0.canonical == account.canonical }
    }

    // MARK: - Storage

    /// Makes every copy durable — mailboxes for local recipients, the spool for the
    /// rest — before the 250 goes out (DESIGN.md §3).
    static func store(
        _ transaction: SMTPTransaction, message: ByteBuffer, trace: ReceivedTrace, services: SMTPServices,
        queueID localID: String, user: String?
    ) async -> SMTPServerStateMachine.StoreOutcome {
        let received = Array(trace.header(date: RFC5322Date.format(secondsSince1970: services.now())).utf8)
        let sender = Self.envelopeSender(transaction.sender)
        let local = transaction.localTargets.compactMap(MailAddress.init)
        let remote = transaction.remoteTargets
        var queueID = localID
        var spooled: String?
        do {
            if !remote.isEmpty {
                let envelope = Envelope(
                    sender: sender,
                    recipients: transaction.recipients.flatMap { recipient in
                        recipient.remote.map {
                            Envelope.Recipient(
                                address: $0, notify: recipient.parameters.notify?.map(\.rawValue),
                                originalRecipient: recipient.parameters.originalRecipient)
                        }
                    },
                    envelopeID: transaction.parameters.envelopeID, ret: transaction.parameters.ret?.rawValue,
                    bodyType: transaction.parameters.body?.rawValue, smtpUTF8: transaction.parameters.smtpUTF8,
                    authenticatedUser: user, receivedAt: Date())
                // Prepared, not yet visible to the queue runner: committed only once
                // the local copies are stored too.
                let id = try await services.spool.prepare(envelope, message: Self.join([received], message))
                spooled = id
                queueID = id
            }
            if !local.isEmpty {
                // RFC 5321 §4.4: the delivering server adds Return-Path.
                let returnPath = Array("Return-Path: <\(sender)>\r\n".utf8)
                try await services.delivery.deliver(Self.join([returnPath, received], message), to: local)
            }
            if let spooled { try await services.spool.commit(id: spooled) }
        } catch {
            // The client will send the whole message again: take back what was spooled
            // for the remote recipients, or they would get it twice.
            if let spooled { services.spool.discard(id: spooled) }
            services.logger.error("delivery failed", metadata: ["session": "\(localID)", "error": "\(error)"])
            guard let storeError = error as? StoreError else { return .temporaryFailure }
            switch storeError.kind {
            case .overQuota: return .mailboxFull
            case .limitExceeded: return .messageTooBig
            case .notFound, .alreadyExists, .permissionDenied, .expunged, .inUse, .temporary, .internal:
                return .temporaryFailure
            }
        }
        services.logger.info(
            "delivered",
            metadata: [
                "queue_id": "\(queueID)", "from": "\(transaction.sender)", "local": "\(local.count)",
                "queued": "\(remote.count)", "size": "\(message.readableBytes)",
            ])
        return .stored(queueID: queueID)
    }

    /// Header lines and the message in one buffer, copied once.
    static func join(_ headers: [[UInt8]], _ message: ByteBuffer) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(headers.reduce(0) { $0 + $1.count } + message.readableBytes)
        for header in headers { bytes.append(contentsOf: header) }
        bytes.append(contentsOf: message.readableBytesView)
        return bytes
    }

    static func envelopeSender(_ path: ReversePath) -> String {
        switch path {
        case .null: return ""
        case .mailbox(let mailbox): return mailbox.description
        }
    }
}
