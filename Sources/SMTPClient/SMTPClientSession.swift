import MailQueue
import NIOCore
import NIOSSL
import SASL
import SMTPProtocol

/// An SMTP session ready for mail: greeted, EHLO said, and STARTTLS and AUTH done as
/// the next hop asks. `establish` gets there; `send` runs one transaction; `reset`
/// readies a cached session for the next one.
///
/// Establishing a session is a straight line — each step either goes on or ends the
/// attempt on this address — so it is written as one async function rather than a
/// state machine; the part with real branching, the transaction with pipelined
/// replies, is `SMTPClientTransactionStateMachine` (SMTPProtocol), which `send`
/// drives.
///
/// - SeeAlso: RFC 5321 §3.1 (session initiation), §4.1.1.1 (EHLO, HELO fallback),
///   RFC 3207 §4, §4.2 (STARTTLS; EHLO again after it), RFC 4954 §4 (AUTH)
struct SMTPClientSession: Sendable {
    /// What every session of one delivery agent shares.
    struct Settings: Sendable {
        var heloName: String
        var timeouts: SMTPClientTimeouts
        var limits: SMTPClientLimits
    }

    let connection: SMTPClientConnection
    private(set) var capabilities: SMTPServerCapabilities
    private(set) var isTLS: Bool
    /// Transactions started on this connection.
    private(set) var transactionCount = 0

    // MARK: - Establishing

    /// Reads the greeting, says EHLO, and does STARTTLS and AUTH as `nextHop` asks.
    ///
    /// - Parameters:
    ///   - destination: the domain or host the mail is for, for the loop diagnostic.
    ///   - serverHostname: SNI and the name to verify (nil for IP literals).
    ///   - tlsContext: makes the client TLS context (with or without verification).
    static func establish(
        on connection: SMTPClientConnection, nextHop: NextHop, destination: String, serverHostname: String?,
        isImplicitTLS: Bool, settings: Settings,
        tlsContext: (_ verify: Bool) throws(DeliveryFailure) -> NIOSSLContext
    ) async throws(DeliveryFailure) -> SMTPClientSession {
        let host = connection.remoteMTA
        let timeouts = settings.timeouts

        // RFC 5321 §3.1, §4.3.2: 220, or 554 ("no SMTP service here").
        let greeting = try await transport(connection, .greeting) { () async throws(SMTPClientError) in
            try await connection.readReply(timeout: timeouts.greeting)
        }
        guard greeting.code == 220 else {
            throw failure(
                "host \(host) refused to talk to me: \(DeliveryStatus.text(of: greeting, limit: settings.limits.maximumDiagnosticLength))",
                status: DeliveryStatus.deferredStatus(of: greeting, default: "4.4.1"), connection: connection)
        }
        // Postfix: a server that greets with our own name is us (an MX record, route
        // or smarthost that points back here): bounce rather than loop.
        try checkLoop(
            name: SMTPServerCapabilities.firstWord(of: greeting.lines.first ?? ""), settings, destination, connection)

        var capabilities = try await hello(connection, settings: settings, destination: destination)
        var isTLS = isImplicitTLS

        switch nextHop.tls {
        case .none, .implicit:
            break
        case .opportunistic:
            // Postfix `may`: STARTTLS when offered, without certificate checks; a
            // refused STARTTLS (454) leaves the session in plaintext (RFC 3207 §4),
            // but a failed handshake ends this attempt: no silent downgrade after it.
            if capabilities.supportsStartTLS && !isTLS {
                let context = try tlsContext(false)
                let reply = try await transport(connection, .startTLS) { () async throws(SMTPClientError) in
                    try await connection.startTLS(
                        tlsContext: context, serverHostname: serverHostname, timeout: timeouts.tlsHandshake)
                }
                if reply.code == 220 {
                    isTLS = true
                    capabilities = try await hello(connection, settings: settings, destination: destination)
                }
            }
        case .starttls:
            guard isTLS || capabilities.supportsStartTLS else {
                throw failure(
                    "TLS is required, but was not offered by host \(host)", status: "4.7.0", connection: connection)
            }
            if !isTLS {
                let context = try tlsContext(nextHop.verifyCertificate)
                let reply = try await transport(connection, .startTLS) { () async throws(SMTPClientError) in
                    try await connection.startTLS(
                        tlsContext: context, serverHostname: serverHostname, timeout: timeouts.tlsHandshake)
                }
                guard reply.code == 220 else {
                    let text = DeliveryStatus.text(of: reply, limit: settings.limits.maximumDiagnosticLength)
                    throw failure(
                        "TLS is required, but host \(host) refused to start TLS: \(text)", status: "4.7.0",
                        connection: connection)
                }
                isTLS = true
                // RFC 3207 §4.2: forget what the server said before TLS; ask again.
                capabilities = try await hello(connection, settings: settings, destination: destination)
            }
        }

        if let credentials = nextHop.credentials {
            // RFC 4954 §4, RFC 4616 §5: never send a password in the clear.
            guard isTLS else {
                throw failure(
                    "SASL authentication to host \(host) needs TLS, but the connection is not encrypted",
                    status: "4.7.0", connection: connection)
            }
            try await authenticate(connection, capabilities: capabilities, credentials: credentials, settings: settings)
        }
        return SMTPClientSession(connection: connection, capabilities: capabilities, isTLS: isTLS)
    }

    /// EHLO, or HELO when EHLO is refused with 5xx (RFC 5321 §4.1.1.1: "the client
    /// SHOULD fall back to HELO"), and the loop check on the name in the reply.
    private static func hello(
        _ connection: SMTPClientConnection, settings: Settings, destination: String
    ) async throws(DeliveryFailure) -> SMTPServerCapabilities {
        let timeout = settings.timeouts.hello
        let limit = settings.limits.maximumDiagnosticLength
        let ehlo = try await transport(connection, .hello) { () async throws(SMTPClientError) in
            try await connection.send([.ehlo(settings.heloName)], timeout: timeout)
            return try await connection.readReply(timeout: timeout)
        }
        let capabilities: SMTPServerCapabilities
        if ehlo.code / 100 == 2 {
            capabilities = SMTPServerCapabilities(ehloReply: ehlo)
        } else if ehlo.code / 100 == 5 {
            let helo = try await transport(connection, .hello) { () async throws(SMTPClientError) in
                try await connection.send([.helo(settings.heloName)], timeout: timeout)
                return try await connection.readReply(timeout: timeout)
            }
            guard helo.code / 100 == 2 else {
                throw failure(
                    "host \(connection.remoteMTA) said: \(DeliveryStatus.text(of: helo, limit: limit)) (in reply to HELO command)",
                    status: DeliveryStatus.deferredStatus(of: helo, default: "4.4.1"), connection: connection)
            }
            capabilities = SMTPServerCapabilities(heloReply: helo)
        } else {
            throw failure(
                "host \(connection.remoteMTA) said: \(DeliveryStatus.text(of: ehlo, limit: limit)) (in reply to EHLO command)",
                status: DeliveryStatus.deferredStatus(of: ehlo, default: "4.4.1"), connection: connection)
        }
        try checkLoop(name: capabilities.serverName, settings, destination, connection)
        return capabilities
    }

    /// RFC 5321 §5.1 leaves loop detection to the client; Postfix compares the name the
    /// server gives itself with its own and bounces with 5.4.6 (RFC 3463 §3.5
    /// "Routing loop detected").
    private static func checkLoop(
        name: String, _ settings: Settings, _ destination: String, _ connection: SMTPClientConnection
    ) throws(DeliveryFailure) {
        guard !name.isEmpty, name.lowercased() == settings.heloName.lowercased() else { return }
        throw DeliveryFailure(
            disposition: .final(.bounced), status: "5.4.6", diagnostic: "mail for \(destination) loops back to myself",
            remoteMTA: connection.remoteMTA, relay: connection.relay)
    }

    /// AUTH with the best mechanism both sides have: SCRAM-SHA-256 (the password never
    /// crosses the wire, and the server proves it knows it), else PLAIN, else LOGIN.
    ///
    ///     C: AUTH PLAIN AHVzZXIAcGFzcw==
    ///     S: 235 2.7.0 Authentication successful
    ///
    /// A refusal defers (4.7.8): a wrong smarthost password is the operator's to fix,
    /// and the mail must not bounce meanwhile (Postfix `smtp_sasl_auth_soft_bounce`).
    private static func authenticate(
        _ connection: SMTPClientConnection, capabilities: SMTPServerCapabilities, credentials: NextHop.Credentials,
        settings: Settings
    ) async throws(DeliveryFailure) {
        let host = connection.remoteMTA
        let timeout = settings.timeouts.authentication
        let limit = settings.limits.maximumDiagnosticLength
        let offered = capabilities.authMechanisms
        let preference: [SASLMechanism] = [.scramSHA256, .plain, .login]
        guard let mechanism = preference.first(where: { offered.contains($0.name) }) else {
            let list = offered.isEmpty ? "none" : offered.joined(separator: " ")
            throw failure(
                "SASL authentication to host \(host) is not possible: no mechanism in common (offered: \(list))",
                status: "4.7.0", connection: connection)
        }
        var sasl = SASLClientStateMachine(
            mechanism: mechanism, username: credentials.username, password: credentials.password)
        let command: SMTPClientCommand
        switch sasl.start() {
        case .respond(let bytes): command = .auth(mechanism, initialResponse: bytes)
        case .awaitChallenge, .succeeded, .failed: command = .auth(mechanism, initialResponse: nil)
        }
        try await transport(connection, .authentication) { () async throws(SMTPClientError) in
            try await connection.send([command], timeout: timeout)
        }
        // PLAIN takes one round, LOGIN three, SCRAM three; more is a confused server.
        for _ in 0..<6 {
            let reply = try await transport(connection, .authentication) { () async throws(SMTPClientError) in
                try await connection.readReply(timeout: timeout)
            }
            switch reply.code {
            case 235:
                guard case .succeeded = sasl.successReceived() else {
                    throw failure(
                        "SASL authentication with host \(host) failed: the server did not prove that it knows the password",
                        status: "4.7.8", connection: connection)
                }
                return
            case 334:
                let action: SASLClientStateMachine.Action
                if let challenge = Base64.decode((reply.lines.first ?? "").utf8) {
                    action = sasl.receive(challenge: challenge)
                } else {
                    action = .failed(SASLError(.malformed, hint: "challenge is not base64"))
                }
                switch action {
                case .respond(let bytes):
                    try await transport(connection, .authentication) { () async throws(SMTPClientError) in
                        try await connection.send([.authResponse(bytes)], timeout: timeout)
                    }
                case .failed(let error):
                    // RFC 4954 §4: "*" cancels; the server answers 501.
                    try await transport(connection, .authentication) { () async throws(SMTPClientError) in
                        try await connection.send([.authCancel], timeout: timeout)
                        _ = try await connection.readReply(timeout: timeout)
                    }
                    throw failure(
                        "SASL authentication with host \(host) failed: unusable \(mechanism.name) challenge (\(error.kind))",
                        status: "4.7.0", connection: connection)
                case .awaitChallenge, .succeeded:
                    throw failure(
                        "SASL authentication with host \(host) failed: unexpected challenge", status: "4.7.0",
                        connection: connection)
                }
            default:
                throw failure(
                    "SASL authentication failed; server \(host) said: \(DeliveryStatus.text(of: reply, limit: limit))",
                    status: DeliveryStatus.deferredStatus(of: reply, default: "4.7.8"), connection: connection)
            }
        }
        throw failure(
            "SASL authentication with host \(host) failed: too many challenges", status: "4.7.0", connection: connection
        )
    }

    // MARK: - Transactions

    /// What became of a transaction.
    struct TransactionOutcome: Sendable {
        var recipients: [SMTPClientTransactionStateMachine.RecipientOutcome]
        var isSessionReusable: Bool
        /// For `.interrupted` recipients: what went wrong, in plain words.
        var interruption: String
    }

    /// RFC 3461 §4: DSN parameters go only to a server that offers DSN.
    private var passesOnDSN: Bool { capabilities.isExtended && capabilities.supportsDSN }

    /// Whether `recipient`'s RCPT carries its NOTIFY/ORCPT on this session: the server
    /// offered DSN, so once it accepts the message, it is the one to report on this
    /// recipient and no "relayed" DSN is due from us (RFC 3461 §5.2.2).
    func passesOnNotification(for recipient: PreparedEnvelope.Recipient) -> Bool {
        passesOnDSN && recipient.transactionRecipient.parameters != RecipientParameters()
    }

    /// Why this session cannot carry `envelope` at all (RFC 6531 §3.4, RFC 6152,
    /// RFC 3030 §3, RFC 1870 §6): every recipient bounces, and the session stays usable.
    func refusal(of envelope: PreparedEnvelope, limits: SMTPClientLimits) -> DeliveryFailure? {
        let host = connection.remoteMTA
        func bounce(_ status: String, _ text: String) -> DeliveryFailure {
            DeliveryFailure(
                disposition: .final(.bounced), status: status, diagnostic: text, remoteMTA: host,
                relay: connection.relay)
        }
        if envelope.needsSMTPUTF8 && !capabilities.supportsSMTPUTF8 {
            return bounce("5.6.7", "SMTPUTF8 is required, but was not offered by host \(host)")
        }
        if envelope.body == .binaryMIME && !(capabilities.supportsBinaryMIME && capabilities.supportsChunking) {
            return bounce("5.6.3", "BINARYMIME is required, but was not offered by host \(host)")
        }
        if envelope.has8BitContent && envelope.body != .binaryMIME && !capabilities.supports8BITMIME {
            return bounce("5.6.3", "message has 8-bit content, but host \(host) does not offer 8BITMIME")
        }
        if let maximum = capabilities.maximumMessageSize, envelope.message.count > maximum {
            return bounce(
                "5.3.4", "message size \(envelope.message.count) exceeds size limit \(maximum) of server \(host)")
        }
        return nil
    }

    /// Runs one mail transaction for `envelope` (after `refusal(of:)` found nothing).
    mutating func send(_ envelope: PreparedEnvelope, settings: Settings) async -> TransactionOutcome {
        transactionCount += 1
        let isExtended = capabilities.isExtended
        var parameters = MailParameters()
        if isExtended {
            // RFC 1870 §6: the size of the message as sent (an estimate for DATA).
            if capabilities.supportsSize { parameters.size = envelope.message.count }
            if envelope.body == .binaryMIME {
                parameters.body = .binaryMIME
            } else if (envelope.body == .eightBitMIME || envelope.has8BitContent) && capabilities.supports8BITMIME {
                parameters.body = .eightBitMIME
            }
            parameters.smtpUTF8 = envelope.needsSMTPUTF8
            // RFC 3461 §4: DSN parameters only to a server that offers DSN.
            if passesOnDSN {
                parameters.ret = envelope.ret
                parameters.envelopeID = envelope.envelopeID
            }
        }
        let recipients = envelope.recipients.map { recipient in
            passesOnDSN
                ? recipient.transactionRecipient
                : SMTPClientTransactionStateMachine.Recipient(path: recipient.transactionRecipient.path)
        }
        let chunkSize = max(settings.limits.maximumChunkSize, 1)
        let bodyTransfer: SMTPClientTransactionStateMachine.BodyTransfer =
            isExtended && capabilities.supportsChunking
            ? .chunking(chunks: max(1, (envelope.message.count + chunkSize - 1) / chunkSize)) : .data
        var machine = SMTPClientTransactionStateMachine(
            sender: envelope.sender, mailParameters: parameters, recipients: recipients,
            isPipelining: isExtended && capabilities.supportsPipelining, bodyTransfer: bodyTransfer)

        var phase = SessionPhase.mail
        var action = machine.start()
        do throws(SMTPClientError) {
            while true {
                switch action {
                case .send(let commands):
                    phase = SessionPhase(machine.expectedReply)
                    try await connection.send(commands, timeout: timeout(for: machine.expectedReply, settings))
                case .awaitReply:
                    break
                case .sendMessage:
                    phase = .message
                    try await writeBlocks(DataEncoder.encode(envelope.message), settings: settings)
                case .sendEmptyMessage:
                    phase = .message
                    try await connection.write(ByteBuffer(string: ".\r\n"), timeout: settings.timeouts.dataBlock)
                case .sendChunk(let index, let isLast):
                    phase = .message
                    let start = min(index * chunkSize, envelope.message.count)
                    let end = min(start + chunkSize, envelope.message.count)
                    var chunk = ByteBuffer()
                    SMTPClientCommand.bdat(size: end - start, isLast: isLast).encode(into: &chunk)
                    chunk.writeBytes(envelope.message[start..<end])
                    try await writeBlocks(chunk, settings: settings)
                case .finished(let result):
                    return TransactionOutcome(
                        recipients: result.recipients, isSessionReusable: result.isSessionReusable, interruption: "")
                }
                let expected = machine.expectedReply
                phase = SessionPhase(expected)
                let reply = try await connection.readReply(timeout: timeout(for: expected, settings))
                action = machine.receive(reply)
            }
        } catch {
            let result = machine.connectionFailed()
            return TransactionOutcome(
                recipients: result.recipients, isSessionReusable: false,
                interruption: DeliveryStatus.words(for: error, host: connection.remoteMTA, phase: phase))
        }
    }

    /// RSET (RFC 5321 §4.1.1.5) before a cached session carries another message;
    /// also proves that the connection still works.
    func reset(settings: Settings) async -> Bool {
        guard await connection.isIdleAndHealthy() else { return false }
        do {
            try await connection.send([.rset], timeout: settings.timeouts.reset)
            let reply = try await connection.readReply(timeout: settings.timeouts.reset)
            return reply.code / 100 == 2
        } catch {
            return false
        }
    }

    func quit(settings: Settings) async {
        await connection.quit(timeout: settings.timeouts.quit)
    }

    // MARK: - Helpers

    /// RFC 5321 §4.5.3.2: the timeout for the reply the machine waits for.
    private func timeout(
        for expected: SMTPClientTransactionStateMachine.ExpectedReply?, _ settings: Settings
    ) -> Duration {
        switch expected {
        case .mail: return settings.timeouts.mail
        case .recipient: return settings.timeouts.rcpt
        case .data: return settings.timeouts.data
        case .chunk, nil: return settings.timeouts.dataBlock
        case .endOfData: return settings.timeouts.endOfData
        case .reset: return settings.timeouts.reset
        }
    }

    /// Writes `buffer` in blocks, each within the data-block timeout (§4.5.3.2.5).
    private func writeBlocks(_ buffer: ByteBuffer, settings: Settings) async throws(SMTPClientError) {
        var remaining = buffer
        let blockSize = max(settings.limits.dataBlockSize, 512)
        while remaining.readableBytes > 0 {
            let length = min(blockSize, remaining.readableBytes)
            guard let block = remaining.readSlice(length: length) else { break }
            try await connection.write(block, timeout: settings.timeouts.dataBlock)
        }
    }

    /// Runs transport steps, turning their errors into a failure of this address.
    private static func transport<T>(
        _ connection: SMTPClientConnection, _ phase: SessionPhase,
        _ body: () async throws(SMTPClientError) -> T
    ) async throws(DeliveryFailure) -> T {
        do {
            return try await body()
        } catch {
            let status: String
            switch error.kind {
            case .tls, .injectedAfterStartTLS: status = "4.7.5"
            case .connect: status = "4.4.1"
            case .badReply: status = "4.5.0"
            case .timeout, .connectionClosed, .io: status = "4.4.2"
            case .cancelled:
                // Not this address's fault, and no other address is tried.
                throw DeliveryStatus.interruption(remoteMTA: connection.remoteMTA, relay: connection.relay)
            }
            throw DeliveryFailure(
                disposition: .tryNextAddress, status: status,
                diagnostic: DeliveryStatus.words(for: error, host: connection.remoteMTA, phase: phase),
                remoteMTA: connection.remoteMTA, relay: connection.relay)
        }
    }

    private static func failure(_ text: String, status: String, connection: SMTPClientConnection) -> DeliveryFailure {
        DeliveryFailure(
            disposition: .tryNextAddress, status: status, diagnostic: text, remoteMTA: connection.remoteMTA,
            relay: connection.relay)
    }
}
