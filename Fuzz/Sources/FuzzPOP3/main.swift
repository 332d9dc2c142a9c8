import FuzzDriver
import POP3Protocol

/// Any input, cut into lines and fed to a POP3 session whose logins succeed and whose
/// maildrop holds two messages (the second is the input itself): no crash, no hang,
/// every multi-line response ends with ".\r\n", and a closed session stays closed.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    guard let data else { return 0 }
    let input = Array(UnsafeBufferPointer(start: data, count: size))
    var configuration = POP3ServerStateMachine.Configuration(hostname: "fuzz.example", sessionID: "FUZZ")
    configuration.allowPlaintextAuth = true
    configuration.maximumErrors = 1000
    var machine = POP3ServerStateMachine(configuration: configuration)
    let messages = [
        POP3ServerStateMachine.Message(uid: 1, size: 12, uidl: "a"),
        POP3ServerStateMachine.Message(uid: 7, size: POP3MessageEncoder.transmittedSize(input), uidl: "b"),
    ]
    var pending = machine.greeting()
    var closed = false
    var lines = input.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).makeIterator()
    var steps = 0
    while steps < 10_000 {
        steps += 1
        var followUp: [POP3ServerStateMachine.Action] = []
        for action in pending {
            switch action {
            case .close: closed = true
            case .verifyPassword: followUp += machine.authenticationFinished(.success("user@fuzz.example"))
            case .fetchSCRAMCredentials: followUp += machine.scramCredentialsFetched(nil, throttled: false)
            case .openMaildrop: followUp += machine.maildropOpened(.opened(messages))
            case .readMessage(let uid):
                followUp += machine.messageRead(.content(uid == 7 ? input : Array("Subject: x\r\n".utf8)))
            case .commit: followUp += machine.committed(true)
            case .send, .startTLS, .recordSCRAMOutcome, .release: break
            }
        }
        if !followUp.isEmpty {
            pending = followUp
            continue
        }
        guard !closed, !machine.isWaiting, let line = lines.next() else { break }
        var bytes = Array(line)
        if bytes.last == UInt8(ascii: "\r") { bytes.removeLast() }
        pending = bytes.count > 8192 ? machine.lineTooLong() : machine.receive(line: bytes)
    }
    _ = machine.connectionClosed()
    return 0
}

runFuzzer { data, size in fuzz(data, size) }
