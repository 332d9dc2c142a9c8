import DNS
import Foundation
import MailQueue
import SMTPClient
import SMTPProtocol
import Testing

/// The client against a scripted server: the exact dialogue, and every way a delivery
/// can go wrong on the network.
@Suite("SMTP delivery agent against a scripted server")
struct SMTPDeliveryAgentTests {
    // MARK: - The dialogue

    /// RFC 2920: MAIL, every RCPT and DATA in one group. The server answers nothing
    /// before DATA has arrived, so a client that waited for the MAIL reply would time out.
    @Test func pipelinesMailRecipientsAndData() async throws {
        var script = FakeSMTPServer.Script()
        script.holdRepliesUntilData = true
        let server = try await FakeSMTPServer.start(script)
        defer { Task { await server.stop() } }
        let agent = makeAgent(loopbackResolver())
        let results = await agent.deliver(
            makeRequest(recipients: ["bob@remote.test", "carol@remote.test"], nextHop: server.host()))
        await agent.shutdown()
        #expect(results.map(\.outcome) == [.delivered, .delivered])
        #expect(results.map(\.status) == ["2.0.0", "2.0.0"])
        #expect(results[0].diagnostic == "smtp; 250 2.0.0 Ok: queued as FAKE1")
        #expect(results[0].remoteMTA == "mx.remote.test[127.0.0.1]")
        #expect(
            server.dialogue().lines == [
                "EHLO tsubame.test", "MAIL FROM:<alice@example.test>", "RCPT TO:<bob@remote.test>",
                "RCPT TO:<carol@remote.test>", "DATA", "<message \(plainMessage.count) octets>", "QUIT",
            ])
        #expect(server.dialogue().messages == [plainMessage])
    }

    /// A large pipelined group: every reply comes back at once, after DATA.
    @Test func pipelinesManyRecipients() async throws {
        var script = FakeSMTPServer.Script()
        script.holdRepliesUntilData = true
        let server = try await FakeSMTPServer.start(script)
        defer { Task { await server.stop() } }
        let agent = makeAgent(loopbackResolver())
        let recipients = (0..<1500).map { "user\($0)@remote.test" }
        let results = await agent.deliver(makeRequest(recipients: recipients, nextHop: server.host()))
        await agent.shutdown()
        #expect(results.count == 1500)
        #expect(results.allSatisfy { $0.outcome == .delivered })
        #expect(results.map(\.address) == recipients)
    }

    /// Without PIPELINING every command waits for its reply (RFC 5321 §4.3.2): no
    /// command ever arrives together with the next one.
    @Test func lockstepWithoutPipelining() async throws {
        var script = FakeSMTPServer.Script()
        script.ehlo = "250-mx.remote.test\r\n250 8BITMIME"
        script.recordPipelinedInput = true
        let server = try await FakeSMTPServer.start(script)
        defer { Task { await server.stop() } }
        let agent = makeAgent(loopbackResolver())
        let results = await agent.deliver(
            makeRequest(
                recipients: ["bob@remote.test", "carol@remote.test", "dave@remote.test"], nextHop: server.host()))
        await agent.shutdown()
        #expect(results.map(\.outcome) == [.delivered, .delivered, .delivered])
        #expect(server.dialogue().violations == [])
        #expect(server.dialogue().lines.filter { $0.hasPrefix("RCPT") }.count == 3)
    }

    /// One recipient refused with 550: the other is delivered, that one bounces with
    /// the server's reply as diagnostic and its enhanced code as status.
    @Test func oneRecipientRefusedOneDelivered() async throws {
        var script = FakeSMTPServer.Script()
        script.rcpt = { address in
            address == "bob@remote.test"
                ? "550 5.1.1 <bob@remote.test>: Recipient address rejected: User unknown" : "250 2.1.5 Ok"
        }
        let server = try await FakeSMTPServer.start(script)
        defer { Task { await server.stop() } }
        let agent = makeAgent(loopbackResolver())
        let results = await agent.deliver(
            makeRequest(recipients: ["bob@remote.test", "carol@remote.test"], nextHop: server.host()))
        await agent.shutdown()
        #expect(results[0].address == "bob@remote.test")
        #expect(results[0].outcome == .bounced)
        #expect(results[0].status == "5.1.1")
        #expect(results[0].diagnostic == "smtp; 550 5.1.1 <bob@remote.test>: Recipient address rejected: User unknown")
        #expect(results[0].remoteMTA == "mx.remote.test[127.0.0.1]")
        #expect(results[1].outcome == .delivered)
        #expect(server.dialogue().messages.count == 1)
    }

    /// RFC 5321 §4.2.5: 452 is temporary. Without an enhanced code, the status is the
    /// reply's class (RFC 3463 §3.1).
    @Test func recipient452Defers() async throws {
        var script = FakeSMTPServer.Script()
        script.rcpt = { _ in "452 Too many recipients" }
        let server = try await FakeSMTPServer.start(script)
        defer { Task { await server.stop() } }
        let agent = makeAgent(loopbackResolver())
        let results = await agent.deliver(makeRequest(nextHop: server.host()))
        await agent.shutdown()
        #expect(
            results == [
                RecipientResult(
                    address: "bob@remote.test", outcome: .deferred, status: "4.0.0",
                    diagnostic: "smtp; 452 Too many recipients", remoteMTA: "mx.remote.test[127.0.0.1]")
            ])
        // No accepted recipient: RSET, no message.
        #expect(server.dialogue().lines.contains("RSET"))
        #expect(server.dialogue().messages.isEmpty)
    }

    /// RFC 2920 §3.1: a pipelined DATA that a broken server accepted although no
    /// recipient was is ended with an empty message, then RSET.
    @Test func endsAnUnneededDataWithAnEmptyMessage() async throws {
        var script = FakeSMTPServer.Script()
        script.rcpt = { _ in "550 5.1.1 unknown" }
        script.acceptDataWithoutRecipients = true
        let server = try await FakeSMTPServer.start(script)
        defer { Task { await server.stop() } }
        let agent = makeAgent(loopbackResolver())
        let results = await agent.deliver(makeRequest(nextHop: server.host()))
        await agent.shutdown()
        #expect(results.map(\.outcome) == [.bounced])
        #expect(server.dialogue().messages == [[]])
        #expect(Array(server.dialogue().lines.suffix(3)) == ["<message 0 octets>", "RSET", "QUIT"])
    }

    @Test func finalReply451Defers() async throws {
        var script = FakeSMTPServer.Script()
        script.endOfData = "451 4.3.0 Error: queue file write error"
        let server = try await FakeSMTPServer.start(script)
        defer { Task { await server.stop() } }
        let agent = makeAgent(loopbackResolver())
        let results = await agent.deliver(
            makeRequest(recipients: ["bob@remote.test", "carol@remote.test"], nextHop: server.host()))
        await agent.shutdown()
        #expect(results.map(\.outcome) == [.deferred, .deferred])
        #expect(results.map(\.status) == ["4.3.0", "4.3.0"])
        #expect(results[0].diagnostic == "smtp; 451 4.3.0 Error: queue file write error")
    }

    @Test func finalReply554Bounces() async throws {
        var script = FakeSMTPServer.Script()
        script.endOfData = "554 5.7.1 Message rejected as spam"
        let server = try await FakeSMTPServer.start(script)
        defer { Task { await server.stop() } }
        let agent = makeAgent(loopbackResolver())
        let results = await agent.deliver(makeRequest(nextHop: server.host()))
        await agent.shutdown()
        #expect(results.map(\.outcome) == [.bounced])
        #expect(results.map(\.status) == ["5.7.1"])
    }

    @Test(arguments: [
        ("550 5.7.1 Sender rejected", RecipientResult.Outcome.bounced, "5.7.1"),
        ("451 4.7.1 Try later", .deferred, "4.7.1"),
    ])
    func mailFromRefused(_ reply: String, _ outcome: RecipientResult.Outcome, _ status: String) async throws {
        var script = FakeSMTPServer.Script()
        script.mail = reply
        let server = try await FakeSMTPServer.start(script)
        defer { Task { await server.stop() } }
        let agent = makeAgent(loopbackResolver())
        let results = await agent.deliver(
            makeRequest(recipients: ["bob@remote.test", "carol@remote.test"], nextHop: server.host()))
        await agent.shutdown()
        #expect(results.map(\.outcome) == [outcome, outcome])
        #expect(results.map(\.status) == [status, status])
        #expect(results[0].diagnostic == "smtp; " + reply)
        #expect(server.dialogue().messages.isEmpty)
    }

    /// RFC 5321 §4.5.2: a line starting with "." goes out with one more.
    @Test func dotStuffsData() async throws {
        let server = try await FakeSMTPServer.start()
        defer { Task { await server.stop() } }
        let agent = makeAgent(loopbackResolver())
        let message = Array("Subject: dots\r\n\r\n.hidden\r\n..two\r\n.\r\nend\r\n".utf8)
        let results = await agent.deliver(makeRequest(nextHop: server.host(), message: message))
        await agent.shutdown()
        #expect(results.map(\.outcome) == [.delivered])
        #expect(
            server.dialogue().messages
                == [Array("Subject: dots\r\n\r\n..hidden\r\n...two\r\n..\r\nend\r\n".utf8)])
    }

    /// RFC 3030: with CHUNKING the message goes in BDAT … LAST, exactly as stored.
    @Test func usesBDATWhenChunkingIsOffered() async throws {
        var script = FakeSMTPServer.Script()
        script.ehlo = "250-mx.remote.test\r\n250-PIPELINING\r\n250-CHUNKING\r\n250 8BITMIME"
        let server = try await FakeSMTPServer.start(script)
        defer { Task { await server.stop() } }
        let agent = makeAgent(loopbackResolver())
        let message = Array("Subject: dots\r\n\r\n.hidden\r\n".utf8)
        let results = await agent.deliver(makeRequest(nextHop: server.host(), message: message))
        await agent.shutdown()
        #expect(results.map(\.outcome) == [.delivered])
        let lines = server.dialogue().lines
        #expect(lines.contains("BDAT \(message.count) LAST"))
        #expect(!lines.contains("DATA"))
        #expect(server.dialogue().messages == [message])
    }

    /// A message larger than one chunk goes in several (RFC 3030 §2).
    @Test func splitsLargeMessagesIntoChunks() async throws {
        var script = FakeSMTPServer.Script()
        script.ehlo = "250-mx.remote.test\r\n250-CHUNKING\r\n250 8BITMIME"
        let server = try await FakeSMTPServer.start(script)
        defer { Task { await server.stop() } }
        var limits = SMTPClientLimits()
        limits.maximumChunkSize = 1000
        let agent = makeAgent(loopbackResolver(), limits: limits)
        let message = Array(repeating: UInt8(ascii: "x"), count: 2500)
        let results = await agent.deliver(makeRequest(nextHop: server.host(), message: message))
        await agent.shutdown()
        #expect(results.map(\.outcome) == [.delivered])
        #expect(server.dialogue().lines.filter { $0.hasPrefix("BDAT") } == ["BDAT 1000", "BDAT 1000", "BDAT 500 LAST"])
        #expect(server.dialogue().messages == [message])
    }

    /// ESMTP parameters: SIZE, BODY, and the DSN ones only when DSN is offered.
    @Test func sendsParametersTheServerOffers() async throws {
        var script = FakeSMTPServer.Script()
        script.ehlo = "250-mx.remote.test\r\n250-PIPELINING\r\n250-SIZE 1000000\r\n250-8BITMIME\r\n250 DSN"
        let server = try await FakeSMTPServer.start(script)
        defer { Task { await server.stop() } }
        let agent = makeAgent(loopbackResolver())
        let request = makeRequest(
            nextHop: server.host(), bodyType: "8BITMIME", envelopeID: "QQ+314159", ret: "HDRS",
            notify: ["SUCCESS", "FAILURE"], withORCPT: true)
        _ = await agent.deliver(request)
        await agent.shutdown()
        let lines = server.dialogue().lines
        #expect(
            lines.contains(
                "MAIL FROM:<alice@example.test> SIZE=\(plainMessage.count) BODY=8BITMIME RET=HDRS ENVID=QQ+2B314159"))
        #expect(lines.contains("RCPT TO:<bob@remote.test> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;bob@remote.test"))
    }

    @Test func leavesOutDSNParametersWithoutDSN() async throws {
        let server = try await FakeSMTPServer.start()
        defer { Task { await server.stop() } }
        let agent = makeAgent(loopbackResolver())
        _ = await agent.deliver(
            makeRequest(nextHop: server.host(), envelopeID: "X", ret: "FULL", notify: ["NEVER"], withORCPT: true))
        await agent.shutdown()
        let lines = server.dialogue().lines
        #expect(lines.contains("MAIL FROM:<alice@example.test>"))
        #expect(lines.contains("RCPT TO:<bob@remote.test>"))
    }

    /// RFC 3461 §5.2.2: a server that offers DSN and is given the recipient's NOTIFY
    /// and ORCPT reports success itself, so the queue owes no "relayed" report for a
    /// delivered recipient; a server without DSN gets no DSN parameters and reports
    /// nothing. A bounced recipient is ours to report either way.
    @Test(arguments: [true, false])
    func marksNotificationsPassedOnToADSNServer(_ offersDSN: Bool) async throws {
        var script = FakeSMTPServer.Script()
        script.ehlo =
            "250-mx.remote.test\r\n250-PIPELINING\r\n250-ENHANCEDSTATUSCODES\r\n250 " + (offersDSN ? "DSN" : "8BITMIME")
        script.rcpt = { address in address == "bob@remote.test" ? "550 5.1.1 unknown" : "250 2.1.5 Ok" }
        let server = try await FakeSMTPServer.start(script)
        defer { Task { await server.stop() } }
        let agent = makeAgent(loopbackResolver())
        let results = await agent.deliver(
            makeRequest(
                recipients: ["carol@remote.test", "bob@remote.test"], nextHop: server.host(),
                notify: ["SUCCESS", "FAILURE"], withORCPT: true))
        await agent.shutdown()
        #expect(results.map(\.outcome) == [.delivered, .bounced])
        #expect(results.map(\.isNotificationPassedOn) == [offersDSN, false])
        #expect(
            server.dialogue().lines.contains { $0.hasPrefix("RCPT TO:<carol@remote.test> NOTIFY=") } == offersDSN)
    }

    /// RFC 5321 §4.1.1.1: a server that does not know EHLO gets HELO, and no ESMTP
    /// parameters.
    @Test func fallsBackToHELO() async throws {
        var script = FakeSMTPServer.Script()
        script.ehlo = "502 5.5.2 Error: command not recognized"
        let server = try await FakeSMTPServer.start(script)
        defer { Task { await server.stop() } }
        let agent = makeAgent(loopbackResolver())
        let results = await agent.deliver(makeRequest(nextHop: server.host(), envelopeID: "X", ret: "FULL"))
        await agent.shutdown()
        #expect(results.map(\.outcome) == [.delivered])
        #expect(
            Array(server.dialogue().lines.prefix(4)) == [
                "EHLO tsubame.test", "HELO tsubame.test", "MAIL FROM:<alice@example.test>", "RCPT TO:<bob@remote.test>",
            ])
    }

    /// The null sender of a bounce is `<>` (RFC 5321 §4.5.5).
    @Test func sendsTheNullSender() async throws {
        let server = try await FakeSMTPServer.start()
        defer { Task { await server.stop() } }
        let agent = makeAgent(loopbackResolver())
        _ = await agent.deliver(makeRequest(sender: "", nextHop: server.host()))
        await agent.shutdown()
        #expect(server.dialogue().lines.contains("MAIL FROM:<>"))
    }

    // MARK: - What the server cannot take

    /// RFC 6531 §3.4: SMTPUTF8 mail to a server without it bounces with 5.6.7; no
    /// transaction is started.
    @Test func bouncesSMTPUTF8WhenNotOffered() async throws {
        let server = try await FakeSMTPServer.start()
        defer { Task { await server.stop() } }
        let agent = makeAgent(loopbackResolver())
        let results = await agent.deliver(
            makeRequest(recipients: ["bob@remote.test"], nextHop: server.host(), smtpUTF8: true))
        await agent.shutdown()
        #expect(results.map(\.outcome) == [.bounced])
        #expect(results.map(\.status) == ["5.6.7"])
        #expect(results[0].diagnostic == "SMTPUTF8 is required, but was not offered by host mx.remote.test[127.0.0.1]")
        #expect(!server.dialogue().lines.contains { $0.hasPrefix("MAIL") })
    }

    @Test func sendsSMTPUTF8WhenOffered() async throws {
        var script = FakeSMTPServer.Script()
        script.ehlo = "250-mx.remote.test\r\n250-8BITMIME\r\n250 SMTPUTF8"
        let server = try await FakeSMTPServer.start(script)
        defer { Task { await server.stop() } }
        let agent = makeAgent(loopbackResolver())
        let results = await agent.deliver(makeRequest(recipients: ["jörg@remote.test"], nextHop: server.host()))
        await agent.shutdown()
        #expect(results.map(\.outcome) == [.delivered])
        #expect(server.dialogue().lines.contains("MAIL FROM:<alice@example.test> SMTPUTF8"))
        #expect(server.dialogue().lines.contains("RCPT TO:<jörg@remote.test>"))
    }

    /// RFC 6152: 8-bit octets need 8BITMIME; we do not convert, so the mail bounces.
    @Test func bounces8BitContentWithout8BITMIME() async throws {
        var script = FakeSMTPServer.Script()
        script.ehlo = "250-mx.remote.test\r\n250 PIPELINING"
        let server = try await FakeSMTPServer.start(script)
        defer { Task { await server.stop() } }
        let agent = makeAgent(loopbackResolver())
        let message = Array("Subject: x\r\n\r\nGrüße\r\n".utf8)
        let results = await agent.deliver(makeRequest(nextHop: server.host(), message: message, bodyType: "8BITMIME"))
        await agent.shutdown()
        #expect(results.map(\.outcome) == [.bounced])
        #expect(results.map(\.status) == ["5.6.3"])
    }

    /// RFC 1870 §6: larger than the announced SIZE bounces before MAIL.
    @Test func bouncesWhatExceedsTheAnnouncedSize() async throws {
        var script = FakeSMTPServer.Script()
        script.ehlo = "250-mx.remote.test\r\n250 SIZE 10"
        let server = try await FakeSMTPServer.start(script)
        defer { Task { await server.stop() } }
        let agent = makeAgent(loopbackResolver())
        let results = await agent.deliver(makeRequest(nextHop: server.host()))
        await agent.shutdown()
        #expect(results.map(\.outcome) == [.bounced])
        #expect(results.map(\.status) == ["5.3.4"])
    }

    /// Addresses that cannot be written as an SMTP path bounce; the others go.
    @Test func bouncesMalformedRecipientsAndSendsTheRest() async throws {
        let server = try await FakeSMTPServer.start()
        defer { Task { await server.stop() } }
        let agent = makeAgent(loopbackResolver())
        let results = await agent.deliver(
            makeRequest(recipients: ["x@remote.test>\r\nRSET", "bob@remote.test"], nextHop: server.host()))
        await agent.shutdown()
        #expect(results.map(\.outcome) == [.bounced, .delivered])
        #expect(results[0].status == "5.1.3")
        #expect(!server.dialogue().lines.contains("RSET"))
    }

    // MARK: - DNS and routing (RFC 5321 §5.1)

    @Test func nullMXBounces() async {
        var resolver = FakeResolver()
        resolver.exchangers["remote.test"] = .success(.nullMX)
        let agent = makeAgent(resolver)
        let results = await agent.deliver(
            makeRequest(
                recipients: ["bob@remote.test", "carol@remote.test"],
                nextHop: NextHop(target: .mailExchangers(domain: "remote.test", port: 25))))
        #expect(results.map(\.outcome) == [.bounced, .bounced])
        #expect(results.map(\.status) == ["5.1.10", "5.1.10"])
        #expect(results[0].diagnostic.contains("does not accept mail (null MX)"))
        #expect(results[0].remoteMTA == nil)
    }

    @Test func noSuchDomainBounces() async {
        let agent = makeAgent(FakeResolver())
        let results = await agent.deliver(
            makeRequest(nextHop: NextHop(target: .mailExchangers(domain: "nowhere.test", port: 25))))
        #expect(results.map(\.outcome) == [.bounced])
        #expect(results.map(\.status) == ["5.1.2"])
        #expect(results[0].diagnostic.hasPrefix("Host or domain name not found"))
    }

    @Test func temporaryDNSFailureDefers() async {
        var resolver = FakeResolver()
        resolver.exchangers["remote.test"] = .failure(DNSError(.temporary, "SERVFAIL from 192.0.2.53"))
        let agent = makeAgent(resolver)
        let results = await agent.deliver(
            makeRequest(nextHop: NextHop(target: .mailExchangers(domain: "remote.test", port: 25))))
        #expect(results.map(\.outcome) == [.deferred])
        #expect(results.map(\.status) == ["4.4.3"])
        #expect(results[0].diagnostic.contains("SERVFAIL from 192.0.2.53"))
    }

    /// The first MX's address refuses the connection: the second MX gets the mail.
    @Test func refusedConnectionMovesToTheNextMX() async throws {
        let server = try await FakeSMTPServer.start()
        defer { Task { await server.stop() } }
        var resolver = FakeResolver()
        resolver.exchangers["remote.test"] = .success(
            .exchangers([
                MailExchanger(preference: 10, host: "mx1.remote.test"),
                MailExchanger(preference: 20, host: "mx2.remote.test"),
            ]))
        // Nothing listens on 127.0.0.2 (the server is bound to 127.0.0.1 only).
        resolver.hosts["mx1.remote.test"] = .success(["127.0.0.2"])
        resolver.hosts["mx2.remote.test"] = .success(["127.0.0.1"])
        let agent = makeAgent(resolver)
        let results = await agent.deliver(
            makeRequest(nextHop: NextHop(target: .mailExchangers(domain: "remote.test", port: server.port))))
        await agent.shutdown()
        #expect(results.map(\.outcome) == [.delivered])
        #expect(results[0].remoteMTA == "mx2.remote.test[127.0.0.1]")
        #expect(server.connections == 1)
    }

    /// When every address fails, the recipients are deferred with the last error in
    /// plain words.
    @Test func everyAddressRefusedDefersWithTheLastError() async throws {
        let server = try await FakeSMTPServer.start()
        let port = server.port
        await server.stop()
        var resolver = FakeResolver()
        resolver.exchangers["remote.test"] = .success(
            .exchangers([MailExchanger(preference: 10, host: "mx.remote.test")]))
        resolver.hosts["mx.remote.test"] = .success(["127.0.0.2"])
        let agent = makeAgent(resolver)
        let results = await agent.deliver(
            makeRequest(nextHop: NextHop(target: .mailExchangers(domain: "remote.test", port: port))))
        #expect(
            results == [
                RecipientResult(
                    address: "bob@remote.test", outcome: .deferred, status: "4.4.1",
                    diagnostic: "connect to mx.remote.test[127.0.0.2]:\(port): Connection refused")
            ])
    }

    /// RFC 5321 §3.8, §5.1: a 421 greeting sends the client to the next MX.
    @Test func temporaryGreetingMovesToTheNextMX() async throws {
        let server = try await FakeSMTPServer.start { index in
            var script = FakeSMTPServer.Script()
            if index == 0 { script.greeting = "421 4.3.2 mx1.remote.test Service not available, try later" }
            return script
        }
        defer { Task { await server.stop() } }
        var resolver = FakeResolver()
        resolver.exchangers["remote.test"] = .success(
            .exchangers([
                MailExchanger(preference: 10, host: "mx1.remote.test"),
                MailExchanger(preference: 20, host: "mx2.remote.test"),
            ]))
        resolver.hosts["mx1.remote.test"] = .success(["127.0.0.1"])
        resolver.hosts["mx2.remote.test"] = .success(["127.0.0.1"])
        let agent = makeAgent(resolver)
        let results = await agent.deliver(
            makeRequest(nextHop: NextHop(target: .mailExchangers(domain: "remote.test", port: server.port))))
        await agent.shutdown()
        #expect(results.map(\.outcome) == [.delivered])
        #expect(results[0].remoteMTA == "mx2.remote.test[127.0.0.1]")
        #expect(server.connections == 2)
    }

    @Test func refusedGreetingOnTheOnlyHostDefers() async throws {
        var script = FakeSMTPServer.Script()
        script.greeting = "554 5.7.1 No SMTP service here"
        let server = try await FakeSMTPServer.start(script)
        defer { Task { await server.stop() } }
        let agent = makeAgent(loopbackResolver())
        let results = await agent.deliver(makeRequest(nextHop: server.host()))
        #expect(results.map(\.outcome) == [.deferred])
        #expect(results[0].status == "4.7.1")
        #expect(
            results[0].diagnostic
                == "host mx.remote.test[127.0.0.1] refused to talk to me: 554 5.7.1 No SMTP service here")
    }

    /// IP literals are used as they are, without DNS (RFC 5321 §4.1.3).
    @Test func connectsToIPLiterals() async throws {
        let server = try await FakeSMTPServer.start()
        defer { Task { await server.stop() } }
        let agent = makeAgent(FakeResolver())
        let results = await agent.deliver(
            makeRequest(nextHop: NextHop(target: .host("[127.0.0.1]", port: server.port), tls: .none)))
        await agent.shutdown()
        #expect(results.map(\.outcome) == [.delivered])
        #expect(results[0].remoteMTA == "127.0.0.1[127.0.0.1]")
    }

    /// Postfix: a server that greets with our own name is us — the mail would loop.
    @Test(arguments: [true, false])
    func detectsMailLoops(inGreeting: Bool) async throws {
        var script = FakeSMTPServer.Script()
        if inGreeting {
            script.greeting = "220 tsubame.test ESMTP"
        } else {
            script.ehlo = "250-TSUBAME.TEST\r\n250 PIPELINING"
        }
        let server = try await FakeSMTPServer.start(script)
        defer { Task { await server.stop() } }
        var resolver = FakeResolver()
        resolver.exchangers["remote.test"] = .success(
            .exchangers([MailExchanger(preference: 10, host: "mx.remote.test")]))
        resolver.hosts["mx.remote.test"] = .success(["127.0.0.1"])
        let agent = makeAgent(resolver)
        let results = await agent.deliver(
            makeRequest(nextHop: NextHop(target: .mailExchangers(domain: "remote.test", port: server.port))))
        #expect(results.map(\.outcome) == [.bounced])
        #expect(results.map(\.status) == ["5.4.6"])
        #expect(results[0].diagnostic == "mail for remote.test loops back to myself")
        #expect(!server.dialogue().lines.contains { $0.hasPrefix("MAIL") })
    }

    // MARK: - Failures on the wire

    /// RFC 5321 §4.5.3.2: a server that accepts the connection and says nothing.
    @Test func silentServerTimesOut() async throws {
        var script = FakeSMTPServer.Script()
        script.greeting = nil
        let server = try await FakeSMTPServer.start(script)
        defer { Task { await server.stop() } }
        var timeouts = testTimeouts
        timeouts.greeting = .milliseconds(200)
        let agent = makeAgent(loopbackResolver(), timeouts: timeouts)
        let results = await agent.deliver(makeRequest(nextHop: server.host()))
        #expect(results.map(\.outcome) == [.deferred])
        #expect(results[0].status == "4.4.2")
        #expect(
            results[0].diagnostic
                == "conversation with mx.remote.test[127.0.0.1] timed out while receiving the initial server greeting")
    }

    /// A server that stops answering in the middle of the transaction.
    @Test func silenceAfterDataTimesOut() async throws {
        var script = FakeSMTPServer.Script()
        script.data = ""  // the server never says 354
        let server = try await FakeSMTPServer.start(script)
        defer { Task { await server.stop() } }
        var timeouts = testTimeouts
        timeouts.data = .milliseconds(200)
        let agent = makeAgent(loopbackResolver(), timeouts: timeouts)
        let results = await agent.deliver(makeRequest(nextHop: server.host()))
        #expect(results.map(\.outcome) == [.deferred])
        #expect(results[0].status == "4.4.2")
    }

    /// The connection drops while the message is being sent: deferred, not lost.
    @Test func connectionDroppedMidDataDefers() async throws {
        var script = FakeSMTPServer.Script()
        script.dropAfterMessageBytes = 10
        let server = try await FakeSMTPServer.start(script)
        defer { Task { await server.stop() } }
        let agent = makeAgent(loopbackResolver())
        let message = Array(String(repeating: "a line of the message\r\n", count: 20_000).utf8)
        let results = await agent.deliver(
            makeRequest(recipients: ["bob@remote.test", "carol@remote.test"], nextHop: server.host(), message: message))
        await agent.shutdown()
        #expect(results.map(\.outcome) == [.deferred, .deferred])
        #expect(results.map(\.status) == ["4.4.2", "4.4.2"])
        #expect(results[0].diagnostic.hasPrefix("lost connection with mx.remote.test[127.0.0.1] while sending"))
        #expect(agent.cachedConnectionCount == 0)
    }

    struct HostileReply: Sendable, CustomStringConvertible {
        var name: String
        var greeting: String
        var description: String { name }
    }

    /// Replies no server should send: the client defers, it does not trap or hang.
    @Test(arguments: [
        HostileReply(name: "over-long line", greeting: "220 " + String(repeating: "x", count: 10_000)),
        HostileReply(name: "over-long line, no end", greeting: String(repeating: "2", count: 100_000)),
        HostileReply(name: "mismatched multi-line codes", greeting: "220-mx.remote.test\r\n250 ok"),
        HostileReply(name: "garbage", greeting: "hello there"),
        HostileReply(name: "binary", greeting: "\u{0}\u{1}\u{2}\u{FF}"),
        HostileReply(name: "endless multi-line", greeting: String(repeating: "220-more\r\n", count: 500)),
    ])
    func hostileGreetingDefers(_ hostile: HostileReply) async throws {
        var script = FakeSMTPServer.Script()
        script.greeting = hostile.greeting
        let server = try await FakeSMTPServer.start(script)
        defer { Task { await server.stop() } }
        let agent = makeAgent(loopbackResolver())
        let results = await agent.deliver(makeRequest(nextHop: server.host()))
        #expect(results.map(\.outcome) == [.deferred])
        #expect(results[0].diagnostic.contains("mx.remote.test[127.0.0.1]"))
    }

    @Test(arguments: [
        HostileReply(name: "mismatched codes", greeting: "250-ok\r\n550 no"),
        HostileReply(name: "garbage", greeting: "ok"),
        HostileReply(name: "over-long", greeting: "250 " + String(repeating: "x", count: 10_000)),
    ])
    func hostileRecipientReplyDefers(_ hostile: HostileReply) async throws {
        var script = FakeSMTPServer.Script()
        let reply = hostile.greeting
        script.rcpt = { _ in reply }
        let server = try await FakeSMTPServer.start(script)
        defer { Task { await server.stop() } }
        let agent = makeAgent(loopbackResolver())
        let results = await agent.deliver(makeRequest(nextHop: server.host()))
        #expect(results.map(\.outcome) == [.deferred])
        #expect(results[0].status == "4.4.2")
        #expect(agent.cachedConnectionCount == 0)
    }

    // MARK: - TLS and AUTH policy (against a server without TLS)

    @Test func requiredTLSNotOfferedDefers() async throws {
        let server = try await FakeSMTPServer.start()
        defer { Task { await server.stop() } }
        let agent = makeAgent(loopbackResolver())
        let results = await agent.deliver(makeRequest(nextHop: server.host(tls: .starttls)))
        #expect(results.map(\.outcome) == [.deferred])
        #expect(results[0].status == "4.7.0")
        #expect(results[0].diagnostic == "TLS is required, but was not offered by host mx.remote.test[127.0.0.1]")
    }

    /// Opportunistic TLS without STARTTLS on offer: plaintext, as Postfix `may` does.
    @Test func opportunisticTLSFallsBackToPlaintextWhenNotOffered() async throws {
        let server = try await FakeSMTPServer.start()
        defer { Task { await server.stop() } }
        let agent = makeAgent(loopbackResolver())
        let results = await agent.deliver(makeRequest(nextHop: server.host(tls: .opportunistic)))
        await agent.shutdown()
        #expect(results.map(\.outcome) == [.delivered])
        #expect(!server.dialogue().lines.contains("STARTTLS"))
    }

    /// RFC 3207 §4: a refused STARTTLS leaves the session in plaintext; opportunistic
    /// TLS goes on, required TLS does not.
    @Test(arguments: [(NextHop.TLSPolicy.opportunistic, RecipientResult.Outcome.delivered), (.starttls, .deferred)])
    func refusedSTARTTLS(_ policy: NextHop.TLSPolicy, _ outcome: RecipientResult.Outcome) async throws {
        var script = FakeSMTPServer.Script()
        script.ehlo = "250-mx.remote.test\r\n250-PIPELINING\r\n250 STARTTLS"
        let server = try await FakeSMTPServer.start(script)
        defer { Task { await server.stop() } }
        let agent = makeAgent(loopbackResolver())
        let results = await agent.deliver(makeRequest(nextHop: server.host(tls: policy)))
        await agent.shutdown()
        #expect(results.map(\.outcome) == [outcome])
        #expect(server.dialogue().lines.contains("STARTTLS"))
        if outcome == .deferred {
            #expect(results[0].status == "4.7.0")
            #expect(
                results[0].diagnostic
                    == "TLS is required, but host mx.remote.test[127.0.0.1] refused to start TLS: 454 4.7.0 TLS not available"
            )
        }
    }

    /// Bytes behind the 220 to STARTTLS would be read as if they came over TLS (the
    /// client side of CVE-2011-0411): the connection fails instead. The fake speaks no
    /// TLS, so this only shows the end to end result (the handshake would fail on the
    /// bytes anyway); `SMTPReplyHandlerTests` checks the injection check itself.
    @Test func refusesRepliesInjectedAfterSTARTTLS() async throws {
        var script = FakeSMTPServer.Script()
        script.ehlo = "250-mx.remote.test\r\n250-PIPELINING\r\n250 STARTTLS"
        script.startTLS = "220 2.0.0 Ready to start TLS\r\n250-mx.remote.test\r\n250 PIPELINING"
        let server = try await FakeSMTPServer.start(script)
        defer { Task { await server.stop() } }
        let agent = makeAgent(loopbackResolver())
        let results = await agent.deliver(makeRequest(nextHop: server.host(tls: .opportunistic)))
        #expect(results.map(\.outcome) == [.deferred])
        #expect(results[0].status == "4.7.5")
        // The reply and the injected lines arrive in one segment on loopback; were they
        // split, the TLS handshake would fail on them instead (also 4.7.5).
        #expect(
            results[0].diagnostic.contains("possible response injection")
                || results[0].diagnostic.hasPrefix("TLS handshake"))
        #expect(!server.dialogue().lines.contains { $0.hasPrefix("MAIL") })
    }

    /// Credentials are never sent over plaintext.
    @Test func authenticationNeedsTLS() async throws {
        var script = FakeSMTPServer.Script()
        script.ehlo = "250-mx.remote.test\r\n250 AUTH PLAIN LOGIN"
        let server = try await FakeSMTPServer.start(script)
        defer { Task { await server.stop() } }
        let agent = makeAgent(loopbackResolver())
        let results = await agent.deliver(
            makeRequest(nextHop: server.host(tls: .none, credentials: .init(username: "alice", password: "secret"))))
        #expect(results.map(\.outcome) == [.deferred])
        #expect(results[0].status == "4.7.0")
        #expect(!server.dialogue().lines.contains { $0.hasPrefix("AUTH") })
    }

    // MARK: - Connection reuse

    /// Two messages for the same next hop share one connection, with RSET between.
    @Test func reusesTheConnectionForTheSameNextHop() async throws {
        let server = try await FakeSMTPServer.start()
        defer { Task { await server.stop() } }
        let agent = makeAgent(loopbackResolver())
        let first = await agent.deliver(makeRequest(nextHop: server.host(), queueID: "Q1"))
        #expect(agent.cachedConnectionCount == 1)
        let second = await agent.deliver(
            makeRequest(recipients: ["carol@remote.test"], nextHop: server.host(), queueID: "Q2"))
        await agent.shutdown()
        #expect(first.map(\.outcome) == [.delivered])
        #expect(second.map(\.outcome) == [.delivered])
        #expect(server.connections == 1)
        let lines = server.dialogue().lines
        #expect(lines.filter { $0.hasPrefix("MAIL") }.count == 2)
        #expect(lines.filter { $0 == "EHLO tsubame.test" }.count == 1)
        guard let reset = lines.firstIndex(of: "RSET"),
            let secondMail = lines.lastIndex(where: { $0.hasPrefix("MAIL") })
        else {
            Issue.record("no RSET before the second message: \(lines)")
            return
        }
        #expect(reset < secondMail)
        #expect(agent.cachedConnectionCount == 0)
        #expect(lines.last == "QUIT")
    }

    /// A cached connection the server closed meanwhile is dropped; a new one is made.
    @Test func replacesACachedConnectionTheServerClosed() async throws {
        var script = FakeSMTPServer.Script()
        script.rset = "421 4.4.2 mx.remote.test Error: timeout exceeded"
        let server = try await FakeSMTPServer.start(script)
        defer { Task { await server.stop() } }
        let agent = makeAgent(loopbackResolver())
        _ = await agent.deliver(makeRequest(nextHop: server.host()))
        let second = await agent.deliver(makeRequest(nextHop: server.host()))
        await agent.shutdown()
        #expect(second.map(\.outcome) == [.delivered])
        #expect(server.connections == 2)
    }

    /// Another next hop (here: another TLS policy) never gets the cached connection.
    @Test func doesNotReuseAcrossNextHops() async throws {
        let server = try await FakeSMTPServer.start()
        defer { Task { await server.stop() } }
        let agent = makeAgent(loopbackResolver())
        _ = await agent.deliver(makeRequest(nextHop: server.host(tls: .none)))
        _ = await agent.deliver(makeRequest(nextHop: server.host(tls: .opportunistic)))
        await agent.shutdown()
        #expect(server.connections == 2)
    }

    /// `shutdown` says QUIT on every cached connection at once: the server answers no
    /// QUIT before all three have arrived, so quitting one connection after another
    /// would close the first ones on the quit timeout, unanswered.
    @Test(.timeLimit(.minutes(1))) func shutdownQuitsCachedConnectionsTogether() async throws {
        var script = FakeSMTPServer.Script()
        script.holdQuitUntil = 3
        let server = try await FakeSMTPServer.start(script)
        defer { Task { await server.stop() } }
        var resolver = FakeResolver()
        let hosts = ["mx1.remote.test", "mx2.remote.test", "mx3.remote.test"]
        for host in hosts { resolver.hosts[host] = .success(["127.0.0.1"]) }
        var timeouts = testTimeouts
        timeouts.quit = .seconds(10)
        let agent = makeAgent(resolver, timeouts: timeouts)
        for host in hosts {
            let results = await agent.deliver(
                makeRequest(nextHop: NextHop(target: .host(host, port: server.port), tls: .none)))
            #expect(results.map(\.outcome) == [.delivered])
        }
        #expect(agent.cachedConnectionCount == 3)
        await agent.shutdown()
        #expect(agent.cachedConnectionCount == 0)
        for index in 0..<3 {
            #expect(server.dialogue(index).lines.last == "QUIT")
            #expect(server.dialogue(index).violations == [])
        }
    }

    @Test func cachedConnectionsExpire() async throws {
        let server = try await FakeSMTPServer.start()
        defer { Task { await server.stop() } }
        var timeouts = testTimeouts
        timeouts.connectionCacheTime = .milliseconds(50)
        let agent = makeAgent(loopbackResolver(), timeouts: timeouts)
        _ = await agent.deliver(makeRequest(nextHop: server.host()))
        // Wait for the expiry to run (no timing threshold: poll until it did).
        for _ in 0..<500 where server.dialogue().lines.last != "QUIT" {
            try await Task.sleep(for: .milliseconds(10))
        }
        #expect(server.dialogue().lines.last == "QUIT")
        #expect(agent.cachedConnectionCount == 0)
    }

    /// One result per recipient, in the request's order, whatever happened.
    @Test func resultsFollowTheRequestOrder() async throws {
        var script = FakeSMTPServer.Script()
        script.rcpt = { address in
            address.hasPrefix("b") ? "550 5.1.1 no" : address.hasPrefix("d") ? "451 4.3.0 later" : "250 Ok"
        }
        let server = try await FakeSMTPServer.start(script)
        defer { Task { await server.stop() } }
        let agent = makeAgent(loopbackResolver())
        let addresses = ["a@remote.test", "b@remote.test", "bad address", "d@remote.test", "e@remote.test"]
        let results = await agent.deliver(makeRequest(recipients: addresses, nextHop: server.host()))
        await agent.shutdown()
        #expect(results.map(\.address) == addresses)
        #expect(results.map(\.outcome) == [.delivered, .bounced, .bounced, .deferred, .delivered])
    }
}
