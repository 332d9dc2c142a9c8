import Testing

@testable import SASL

/// LOGIN responses are held to PLAIN's field rules: 1*SAFE, at most 255 octets.
let loginInvalidResponses: [InvalidInput] = {
    var fixtures: [InvalidInput] = []
    fixtures.append(InvalidInput("empty", [], .malformed))
    fixtures.append(InvalidInput("NUL inside", bytes("ti\0m"), .malformed))
    fixtures.append(InvalidInput("only NUL", [0], .malformed))
    fixtures.append(InvalidInput("invalid UTF-8", [0x74, 0xFF, 0x6D], .malformed))
    fixtures.append(InvalidInput("lone continuation byte", [0x80], .malformed))
    fixtures.append(InvalidInput("256 octets", [UInt8](repeating: 0x61, count: 256), .tooLong))
    return fixtures
}()

@Suite struct SASLServerStateMachineLOGINTests {
    @Test func runsTheFullExchange() {
        var machine = SASLServerStateMachine(mechanism: .login)
        #expect(machine.start(initialResponse: nil) == .challenge(bytes("Username:")))
        #expect(machine.receive(bytes("tim")) == .challenge(bytes("Password:")))
        #expect(
            machine.receive(bytes("tanstaafl"))
                == .verifyPassword(authorizationID: nil, authenticationID: "tim", password: "tanstaafl"))
        #expect(machine.isFinished)
    }

    // RFC 4954 §4 allows an initial response with any mechanism; for LOGIN it is the user name.
    @Test func takesInitialResponseAsUsername() {
        var machine = SASLServerStateMachine(mechanism: .login)
        #expect(machine.start(initialResponse: bytes("tim@example.test")) == .challenge(bytes("Password:")))
        #expect(
            machine.receive(bytes("pässwörd"))
                == .verifyPassword(authorizationID: nil, authenticationID: "tim@example.test", password: "pässwörd"))
    }

    @Test func accepts255OctetFields() {
        let long = String(repeating: "x", count: 255)
        var machine = SASLServerStateMachine(mechanism: .login)
        #expect(machine.start(initialResponse: bytes(long)) == .challenge(bytes("Password:")))
        #expect(
            machine.receive(bytes(long))
                == .verifyPassword(authorizationID: nil, authenticationID: long, password: long))
    }

    @Test(arguments: loginInvalidResponses)
    func rejectsInvalidUsername(_ fixture: InvalidInput) {
        var machine = SASLServerStateMachine(mechanism: .login)
        #expect(machine.start(initialResponse: nil) == .challenge(bytes("Username:")))
        #expect(machine.receive(fixture.input) == failure(fixture.kind))
        #expect(machine.isFinished)
    }

    @Test(arguments: loginInvalidResponses)
    func rejectsInvalidUsernameAsInitialResponse(_ fixture: InvalidInput) {
        var machine = SASLServerStateMachine(mechanism: .login)
        #expect(machine.start(initialResponse: fixture.input) == failure(fixture.kind))
    }

    @Test(arguments: loginInvalidResponses)
    func rejectsInvalidPassword(_ fixture: InvalidInput) {
        var machine = SASLServerStateMachine(mechanism: .login)
        #expect(machine.start(initialResponse: bytes("tim")) == .challenge(bytes("Password:")))
        #expect(machine.receive(fixture.input) == failure(fixture.kind))
        #expect(machine.isFinished)
    }

    @Test func cancelAtPasswordPromptFailsTheExchange() {
        var machine = SASLServerStateMachine(mechanism: .login)
        _ = machine.start(initialResponse: nil)
        _ = machine.receive(bytes("tim"))
        #expect(machine.cancel() == failure(.cancelled))
        #expect(machine.receive(bytes("tanstaafl")) == failure(.wrongState))
    }
}
