import DNS
import MailQueue
import SMTPClient
import SMTPProtocol
import Testing

/// Cancelling the task that runs `deliver` (the queue runner does, at shutdown) ends the
/// delivery at once rather than after the step's timeout: every recipient without a
/// final answer is deferred, and the connection is closed, not cached.
///
/// The timeouts here are ten minutes, so a delivery that ignored the cancellation would
/// run into the test's time limit; no test measures how long anything took.
@Suite("SMTP delivery agent: cancellation")
struct SMTPDeliveryAgentCancellationTests {
    static let patientTimeouts: SMTPClientTimeouts = {
        var timeouts = testTimeouts
        for path: WritableKeyPath<SMTPClientTimeouts, Duration> in [
            \.connect, \.greeting, \.hello, \.tlsHandshake, \.authentication, \.mail, \.rcpt, \.data, \.dataBlock,
            \.endOfData, \.reset, \.quit,
        ] {
            timeouts[keyPath: path] = .seconds(600)
        }
        return timeouts
    }()

    /// A server that accepts and never says a word; the delivery is cancelled while it
    /// waits for the greeting. The second MX is not tried: the cancellation is not the
    /// first MX's fault.
    @Test(.timeLimit(.minutes(1))) func cancellingWhileWaitingForTheGreetingDefers() async throws {
        let server = try await FakeSMTPServer.start { index in
            var script = FakeSMTPServer.Script()
            if index == 0 { script.greeting = nil }
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
        let agent = makeAgent(resolver, timeouts: Self.patientTimeouts)
        let request = makeRequest(
            recipients: ["bob@remote.test", "carol@remote.test"],
            nextHop: NextHop(target: .mailExchangers(domain: "remote.test", port: server.port)))
        let delivery = Task { await agent.deliver(request) }
        try await eventually { server.connections == 1 }
        delivery.cancel()
        let results = await delivery.value
        #expect(results.map(\.outcome) == [.deferred, .deferred])
        #expect(results.map(\.status) == ["4.4.2", "4.4.2"])
        #expect(results[0].diagnostic == "delivery interrupted: the server is shutting down")
        #expect(agent.cachedConnectionCount == 0)
        try await eventually { server.dialogue(0).isClosed }
        #expect(server.connections == 1)
        await agent.shutdown()
    }

    /// Cancelled while the server sits on DATA: the recipient it refused keeps its
    /// bounce; the one it accepted has no final answer yet and is deferred. Without
    /// PIPELINING, DATA goes out only after every RCPT reply has been read.
    @Test(.timeLimit(.minutes(1))) func cancellingMidTransactionDefersWhatIsNotFinal() async throws {
        var script = FakeSMTPServer.Script()
        script.ehlo = "250-mx.remote.test\r\n250-8BITMIME\r\n250 ENHANCEDSTATUSCODES"
        script.rcpt = { address in address == "bob@remote.test" ? "550 5.1.1 unknown" : "250 2.1.5 Ok" }
        script.data = ""  // never answers DATA
        let server = try await FakeSMTPServer.start(script)
        defer { Task { await server.stop() } }
        let agent = makeAgent(loopbackResolver(), timeouts: Self.patientTimeouts)
        let request = makeRequest(recipients: ["bob@remote.test", "carol@remote.test"], nextHop: server.host())
        let delivery = Task { await agent.deliver(request) }
        try await eventually { server.dialogue().lines.contains("DATA") }
        delivery.cancel()
        let results = await delivery.value
        #expect(results.map(\.outcome) == [.bounced, .deferred])
        #expect(results.map(\.status) == ["5.1.1", "4.4.2"])
        #expect(results[1].diagnostic == "delivery interrupted: the server is shutting down")
        #expect(results[1].remoteMTA == "mx.remote.test[127.0.0.1]")
        #expect(agent.cachedConnectionCount == 0)
        try await eventually { server.dialogue().isClosed }
        await agent.shutdown()
    }

    /// A delivery whose task is cancelled before it starts opens no connection.
    @Test(.timeLimit(.minutes(1))) func cancelledBeforeStartingConnectsNowhere() async throws {
        let server = try await FakeSMTPServer.start()
        defer { Task { await server.stop() } }
        let agent = makeAgent(loopbackResolver(), timeouts: Self.patientTimeouts)
        let request = makeRequest(nextHop: server.host())
        let delivery = Task {
            withUnsafeCurrentTask { $0?.cancel() }
            return await agent.deliver(request)
        }
        let results = await delivery.value
        #expect(results.map(\.outcome) == [.deferred])
        #expect(results.map(\.status) == ["4.4.2"])
        #expect(results[0].diagnostic == "delivery interrupted: the server is shutting down")
        #expect(server.connections == 0)
    }

    /// Waits until `condition` holds; the test's time limit ends a wait that never does.
    private func eventually(_ condition: () -> Bool) async throws {
        while !condition() { try await Task.sleep(for: .milliseconds(10)) }
    }
}
