import Foundation
import NIOCore
import NIOSSL
import ServerSupport

/// A small line protocol that exercises every action the listener layer performs.
///
///     STARTTLS → "GO", then TLS;   LINES → the lines received since (re)start
///     SLOW     → async work, "DONE"; QUIT → "BYE" and close; else "ECHO <line>"
struct EchoSession: LineSession {
    enum Event: Sendable { case slowDone }

    let context: ConnectionContext
    var received: [String] = []
    var isBusy = false
    var isShutdownPending = false

    init(context: ConnectionContext) { self.context = context }

    mutating func start() -> [SessionAction<Event>] {
        [.send(line("HELLO tls=\(context.isImplicitTLS) starttls=\(context.canStartTLS)"))]
    }

    mutating func receive(line input: ByteBuffer) -> [SessionAction<Event>] {
        let text = String(decoding: input.readableBytesView, as: UTF8.self)
        received.append(text)
        switch text {
        case "STARTTLS": return [.send(line("GO")), .startTLS]
        case "LINES": return [.send(line("LINES " + received.dropLast().joined(separator: ",")))]
        case "SLOW":
            isBusy = true
            return [.run {
                try? await Task.sleep(for: .milliseconds(300))
                return .slowDone
            }]
        case "QUIT": return [.send(line("BYE")), .close]
        default: return [.send(line("ECHO " + text))]
        }
    }

    mutating func lineTooLong() -> [SessionAction<Event>] { [.send(line("TOOLONG"))] }

    mutating func complete(_ event: Event) -> [SessionAction<Event>] {
        isBusy = false
        var actions: [SessionAction<Event>] = [.send(line("DONE"))]
        if isShutdownPending { actions += [.send(line("SHUTDOWN")), .close] }
        return actions
    }

    mutating func tlsEstablished(_ info: TLSInfo) -> [SessionAction<Event>] {
        received = []  // RFC 3207 §4.2: forget the plaintext part
        return [.send(line("TLS \(info.version)"))]
    }

    mutating func idleTimeout() -> [SessionAction<Event>] { [.send(line("IDLE")), .close] }

    mutating func shutdown() -> [SessionAction<Event>] {
        if isBusy {
            isShutdownPending = true
            return []
        }
        return [.send(line("SHUTDOWN")), .close]
    }

    private func line(_ text: String) -> ByteBuffer { ByteBuffer(string: text + "\r\n") }
}

/// A throw-away self-signed certificate and its server context.
enum TestTLS {
    static let context: NIOSSLContext = {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("tsubame-tls-\(UUID().uuidString)").path
        let certificate = directory + "/cert.pem"
        let key = directory + "/key.pem"
        do {
            try TLSCertificates.ensureSelfSigned(hostname: "mail.example.test", certificatePath: certificate, keyPath: key)
            return try TLSCertificates.serverContext(certificatePath: certificate, keyPath: key)
        } catch {
            fatalError("test TLS setup failed: \(error)")  // test fixture, not server code
        }
    }()
}
