import Logging
import MailTestSupport
import NIOCore
import NIOPosix
import ServerSupport
import ServiceLifecycle
import Testing

@Suite("Listener over loopback")
struct ListenerTests {
    /// A listener that is already serving (its `run()` in a task of its own); tests
    /// that drive shutdown through a ServiceGroup use `bindListener` instead.
    static func makeListener(
        tlsMode: TLSMode = .startTLS, limits: ListenerLimits = ListenerLimits(), grace: Duration = .seconds(5)
    ) async throws -> Listener<EchoSession> {
        let listener = try await bindListener(tlsMode: tlsMode, limits: limits, grace: grace)
        Task { try await listener.run() }
        return listener
    }

    static func bindListener(
        tlsMode: TLSMode = .startTLS, limits: ListenerLimits = ListenerLimits(), grace: Duration = .seconds(5)
    ) async throws -> Listener<EchoSession> {
        try await Listener<EchoSession>.bind(
            name: "test", address: try SocketAddress(ipAddress: "127.0.0.1", port: 0), tlsMode: tlsMode,
            tlsContext: TestTLS.context, limits: limits, shutdownGracePeriod: grace,
            logger: Logger(label: "test"), refusal: { refusal in "REFUSED \(refusal)\r\n" },
            makeSession: { EchoSession(context: $0) })
    }

    static func port(_ listener: Listener<EchoSession>) -> Int { listener.localAddress.port ?? 0 }

    @Test func greetsAndEchoes() async throws {
        let listener = try await Self.makeListener()
        defer { Task { await listener.close() } }
        let client = try await TestLineClient.connect(port: Self.port(listener))
        #expect(try await client.readLine() == "HELLO tls=false starttls=true")
        try await client.send("hello\r\n")
        #expect(try await client.readLine() == "ECHO hello")
        try await client.send("bare lf\n")
        #expect(try await client.readLine() == "ECHO bare lf")
        try await client.send("QUIT\r\n")
        #expect(try await client.readLine() == "BYE")
        #expect(try await client.waitForClose())
    }

    @Test func linesSplitAcrossPacketsAreReassembled() async throws {
        let listener = try await Self.makeListener()
        defer { Task { await listener.close() } }
        let client = try await TestLineClient.connect(port: Self.port(listener))
        _ = try await client.readLine()
        for byte in Array("split line\r\n".utf8) {
            try await client.send(bytes: [byte])
        }
        #expect(try await client.readLine() == "ECHO split line")
    }

    /// CVE-2011-0411: "STARTTLS\r\nINJECTED\r\n" in one packet must not run INJECTED.
    @Test func startTLSDiscardsPipelinedPlaintext() async throws {
        let listener = try await Self.makeListener()
        defer { Task { await listener.close() } }
        let client = try await TestLineClient.connect(port: Self.port(listener))
        _ = try await client.readLine()
        try await client.send("before\r\n")
        #expect(try await client.readLine() == "ECHO before")
        try await client.send("STARTTLS\r\nINJECTED\r\nMORE\r\n")
        #expect(try await client.readLine() == "GO")
        try await client.startTLS()
        let tlsLine = try await client.readLine()
        #expect(tlsLine.hasPrefix("TLS TLSv1."))
        try await client.send("LINES\r\n")
        // Nothing from the plaintext phase survives, and INJECTED/MORE never ran.
        #expect(try await client.readLine() == "LINES ")
        try await client.send("after\r\n")
        #expect(try await client.readLine() == "ECHO after")
    }

    @Test func implicitTLSGreetsAfterHandshake() async throws {
        let listener = try await Self.makeListener(tlsMode: .implicit)
        defer { Task { await listener.close() } }
        let client = try await TestLineClient.connect(port: Self.port(listener), implicitTLS: true)
        #expect(try await client.readLine() == "HELLO tls=true starttls=false")
        try await client.send("secure\r\n")
        #expect(try await client.readLine() == "ECHO secure")
    }

    @Test func plaintextClientOnImplicitTLSPortIsClosed() async throws {
        let listener = try await Self.makeListener(tlsMode: .implicit)
        defer { Task { await listener.close() } }
        let client = try await TestLineClient.connect(port: Self.port(listener))
        try await client.send("EHLO plaintext\r\n")
        #expect(try await client.waitForClose())
    }

    @Test func overlongLineIsRefusedAndSessionContinues() async throws {
        var limits = ListenerLimits()
        limits.maximumLineLength = 100
        let listener = try await Self.makeListener(limits: limits)
        defer { Task { await listener.close() } }
        let client = try await TestLineClient.connect(port: Self.port(listener))
        _ = try await client.readLine()
        try await client.send(String(repeating: "x", count: 5000) + "\r\n")
        #expect(try await client.readLine() == "TOOLONG")
        try await client.send(String(repeating: "y", count: 101) + "\r\nshort\r\n")
        #expect(try await client.readLine() == "TOOLONG")
        #expect(try await client.readLine() == "ECHO short")
        try await client.send(String(repeating: "z", count: 100) + "\r\n")
        #expect(try await client.readLine() == "ECHO " + String(repeating: "z", count: 100))
    }

    @Test func asyncWorkKeepsPipelinedRepliesInOrder() async throws {
        let listener = try await Self.makeListener()
        defer { Task { await listener.close() } }
        let client = try await TestLineClient.connect(port: Self.port(listener))
        _ = try await client.readLine()
        try await client.send("SLOW\r\none\r\ntwo\r\n")
        #expect(try await client.readLine() == "DONE")
        #expect(try await client.readLine() == "ECHO one")
        #expect(try await client.readLine() == "ECHO two")
    }

    @Test func perAddressLimitRefusesOnlyTheExtraConnection() async throws {
        var limits = ListenerLimits()
        limits.maximumConnectionsPerAddress = 2
        let listener = try await Self.makeListener(limits: limits)
        defer { Task { await listener.close() } }
        let port = Self.port(listener)
        let first = try await TestLineClient.connect(port: port)
        let second = try await TestLineClient.connect(port: port)
        _ = try await first.readLine()
        _ = try await second.readLine()
        let third = try await TestLineClient.connect(port: port)
        #expect(try await third.readLine() == "REFUSED perAddress")
        #expect(try await third.waitForClose())
        try await first.send("still\r\n")
        #expect(try await first.readLine() == "ECHO still")
        await second.close()
        // The slot is freed when the server sees the close.
        var greeting = ""
        for _ in 0..<50 {
            let again = try await TestLineClient.connect(port: port)
            greeting = try await again.readLine()
            if greeting.hasPrefix("HELLO") { break }
            try await Task.sleep(for: .milliseconds(20))
        }
        #expect(greeting.hasPrefix("HELLO"))
    }

    @Test func totalLimitRefuses() async throws {
        var limits = ListenerLimits()
        limits.maximumConnections = 1
        let listener = try await Self.makeListener(limits: limits)
        defer { Task { await listener.close() } }
        let first = try await TestLineClient.connect(port: Self.port(listener))
        _ = try await first.readLine()
        let second = try await TestLineClient.connect(port: Self.port(listener))
        #expect(try await second.readLine() == "REFUSED total")
    }

    @Test func idleTimeoutEndsTheSession() async throws {
        var limits = ListenerLimits()
        limits.idleTimeout = .milliseconds(200)
        let listener = try await Self.makeListener(limits: limits)
        defer { Task { await listener.close() } }
        let client = try await TestLineClient.connect(port: Self.port(listener))
        _ = try await client.readLine()
        #expect(try await client.readLine() == "IDLE")
        #expect(try await client.waitForClose())
    }

    @Test func gracefulShutdownTellsIdleSessionsAndFinishesBusyOnes() async throws {
        let listener = try await Self.bindListener()
        let port = Self.port(listener)
        let group = ServiceGroup(
            configuration: .init(services: [.init(service: listener)], logger: Logger(label: "test")))
        let running = Task { try await group.run() }

        let idle = try await TestLineClient.connect(port: port)
        let busy = try await TestLineClient.connect(port: port)
        _ = try await idle.readLine()
        _ = try await busy.readLine()
        try await busy.send("SLOW\r\n")
        try await Task.sleep(for: .milliseconds(50))
        await group.triggerGracefulShutdown()

        #expect(try await idle.readLine() == "SHUTDOWN")
        #expect(try await idle.waitForClose())
        #expect(try await busy.readLine() == "DONE")
        #expect(try await busy.readLine() == "SHUTDOWN")
        #expect(try await busy.waitForClose())
        try await running.value
        // No longer accepting.
        await #expect(throws: (any Error).self) { _ = try await TestLineClient.connect(port: port) }
    }

    @Test func boundListenerGreetsNobodyBeforeRun() async throws {
        let listener = try await Self.bindListener()
        defer { Task { await listener.close() } }
        let client = try await TestLineClient.connect(port: Self.port(listener))
        try await Task.sleep(for: .milliseconds(200))
        #expect(listener.openConnections == 0)  // queued in the kernel, not accepted
        Task { try await listener.run() }
        #expect(try await client.readLine() == "HELLO tls=false starttls=true")
    }

    @Test func shutdownGraceBoundsAStuckSession() async throws {
        let listener = try await Self.bindListener(grace: .milliseconds(200))
        let group = ServiceGroup(
            configuration: .init(services: [.init(service: listener)], logger: Logger(label: "test")))
        let running = Task { try await group.run() }
        let client = try await TestLineClient.connect(port: Self.port(listener))
        _ = try await client.readLine()
        try await client.send("SLOW\r\n")
        try await Task.sleep(for: .milliseconds(20))
        await group.triggerGracefulShutdown()
        try await running.value
        #expect(listener.openConnections == 0)
    }
}
