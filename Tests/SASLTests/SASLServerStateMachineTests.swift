import MailTestSupport
import Foundation
import Testing

@testable import SASL

@Suite struct SASLServerStateMachineTests {
    // MARK: - Wrong state

    @Test(arguments: SASLMechanism.allCases)
    func receiveBeforeStartIsWrongState(mechanism: SASLMechanism) {
        var machine = SASLServerStateMachine(mechanism: mechanism)
        #expect(machine.receive(bytes("\0tim\0tanstaafl")) == failure(.wrongState))
        #expect(machine.isFinished)
        #expect(machine.start(initialResponse: nil) == failure(.wrongState))
    }

    @Test(arguments: SASLMechanism.allCases)
    func cancelBeforeStartIsWrongState(mechanism: SASLMechanism) {
        var machine = SASLServerStateMachine(mechanism: mechanism)
        #expect(machine.cancel() == failure(.wrongState))
    }

    @Test(arguments: SASLMechanism.allCases)
    func startTwiceIsWrongState(mechanism: SASLMechanism) {
        var machine = SASLServerStateMachine(mechanism: mechanism)
        _ = machine.start(initialResponse: nil)
        #expect(machine.start(initialResponse: nil) == failure(.wrongState))
        #expect(machine.isFinished)
    }

    @Test(arguments: [SASLMechanism.plain, SASLMechanism.login])
    func credentialsForPasswordMechanismsAreWrongState(mechanism: SASLMechanism) throws {
        let keys = try RFC7677Example.keys()
        var machine = SASLServerStateMachine(mechanism: mechanism)
        _ = machine.start(initialResponse: nil)
        #expect(machine.scramCredentialsFetched(keys) == failure(.wrongState))
    }

    @Test func credentialsBeforeClientFirstAreWrongState() {
        var machine = SASLServerStateMachine(mechanism: .scramSHA256)
        #expect(machine.start(initialResponse: nil) == .challenge([]))
        #expect(machine.scramCredentialsFetched(nil) == failure(.wrongState))
    }

    @Test func credentialsTwiceAreWrongState() {
        var machine = SASLServerStateMachine(mechanism: .scramSHA256)
        _ = machine.start(initialResponse: bytes("n,,n=user,r=abc"))
        guard case .challenge = machine.scramCredentialsFetched(nil) else {
            Issue.record("expected a server-first-message")
            return
        }
        #expect(machine.scramCredentialsFetched(nil) == failure(.wrongState))
    }

    @Test func responseWhileAwaitingCredentialsIsWrongState() {
        var machine = SASLServerStateMachine(mechanism: .scramSHA256)
        #expect(
            machine.start(initialResponse: bytes("n,,n=user,r=abc")) == .fetchSCRAMCredentials(authenticationID: "user")
        )
        #expect(!machine.isFinished)
        #expect(machine.receive(bytes("c=biws,r=abc,p=AAAA")) == failure(.wrongState))
        #expect(machine.isFinished)
    }

    @Test func cancelWhileAwaitingCredentialsIsCancelled() {
        var machine = SASLServerStateMachine(mechanism: .scramSHA256)
        _ = machine.start(initialResponse: bytes("n,,n=user,r=abc"))
        #expect(machine.cancel() == failure(.cancelled))
    }

    @Test func everythingAfterSuccessIsWrongState() throws {
        let keys = try RFC7677Example.keys()
        var machine = RFC7677Example.machineAwaitingClientFinal(keys: keys)
        guard case .success = machine.receive(bytes(RFC7677Example.clientFinal)) else {
            Issue.record("expected success")
            return
        }
        #expect(machine.receive([]) == failure(.wrongState))
        #expect(machine.cancel() == failure(.wrongState))
        #expect(machine.scramCredentialsFetched(nil) == failure(.wrongState))
        #expect(machine.start(initialResponse: nil) == failure(.wrongState))
    }

    // MARK: - Limits

    @Test(arguments: SASLMechanism.allCases)
    func overlongInitialResponseIsTooLong(mechanism: SASLMechanism) {
        var machine = SASLServerStateMachine(mechanism: mechanism)
        let response = [UInt8](repeating: UInt8(ascii: "a"), count: 8193)
        #expect(machine.start(initialResponse: response) == failure(.tooLong))
        #expect(machine.isFinished)
    }

    @Test(arguments: SASLMechanism.allCases)
    func overlongResponseIsTooLong(mechanism: SASLMechanism) {
        var machine = SASLServerStateMachine(mechanism: mechanism)
        _ = machine.start(initialResponse: nil)
        let response = [UInt8](repeating: UInt8(ascii: "a"), count: 8193)
        #expect(machine.receive(response) == failure(.tooLong))
    }

    @Test func overlongClientFinalIsTooLong() throws {
        let keys = try RFC7677Example.keys()
        var machine = RFC7677Example.machineAwaitingClientFinal(keys: keys)
        let padding = String(repeating: "x", count: 8192)
        #expect(machine.receive(bytes(RFC7677Example.clientFinal + padding)) == failure(.tooLong))
    }

    @Test func responseAtTheLimitIsParsed() {
        var machine = SASLServerStateMachine(mechanism: .scramSHA256)
        let response = [UInt8](repeating: UInt8(ascii: "a"), count: 8192)
        #expect(machine.start(initialResponse: response) == failure(.malformed))
    }

    @Test func limitIsConfigurable() {
        var limits = SASLLimits()
        limits.maximumResponseLength = 10
        var machine = SASLServerStateMachine(mechanism: .plain, limits: limits)
        #expect(machine.start(initialResponse: bytes("\0tim\0tanstaafl")) == failure(.tooLong))
    }

    // MARK: - Secrets stay out of descriptions (STYLE.md §4)

    @Test func actionDescriptionsRedactThePassword() {
        var machine = SASLServerStateMachine(mechanism: .plain)
        let action = machine.start(initialResponse: bytes("Ursel\0Kurt\0xipj3plmq"))
        for text in [action.description, String(describing: action), String(reflecting: action), dumped(action)] {
            #expect(!text.contains("xipj3plmq"))
        }
        #expect(action.description.contains("Kurt"))
        #expect(action.description.contains("Ursel"))
    }

    @Test func identitiesInDescriptionsAreEscaped() {
        let action = Action.fetchSCRAMCredentials(authenticationID: "evil\nINFO: forged log line")
        #expect(!action.description.contains("\n"))
    }

    @Test func keysAndStateNeverShowSecrets() throws {
        let keys = try RFC7677Example.keys()
        var machine = RFC7677Example.machineAwaitingClientFinal(keys: keys)
        let secrets = [
            Data(keys.storedKey).base64EncodedString(), Data(keys.serverKey).base64EncodedString(),
            RFC7677Example.saltBase64,
        ]
        let texts = [
            String(describing: keys), String(reflecting: keys), dumped(keys),
            String(describing: machine), String(reflecting: machine), dumped(machine),
        ]
        for text in texts {
            for secret in secrets {
                #expect(!text.contains(secret))
            }
        }
        let action = machine.receive(bytes("c=biws,r=wrong-nonce-secret,p=\(RFC7677Example.proof)"))
        #expect(action == failure(.authenticationFailed))
        #expect(!action.description.contains("wrong-nonce-secret"))
        #expect(!action.description.contains(RFC7677Example.proof))
    }

    @Test func errorDescriptionNamesKindAndPlace() {
        var machine = SASLServerStateMachine(mechanism: .plain)
        guard case .failure(let error) = machine.start(initialResponse: bytes("\0tim\0")) else {
            Issue.record("expected failure")
            return
        }
        #expect(error.kind == .malformed)
        #expect(error.description.contains("malformed"))
        #expect(error.description.contains(".swift:"))
        #expect(!error.description.contains("tim"))
    }

    // MARK: - Hostile input

    /// Random, token-soup and mutated inputs at every step of every mechanism: nothing
    /// may trap, every step answers, and an ended exchange refuses everything.
    @Test(arguments: SASLMechanism.allCases)
    func hostileInputNeverTraps(mechanism: SASLMechanism) {
        let seed: UInt64
        switch mechanism {
        case .plain: seed = 0x5EED_0001
        case .login: seed = 0x5EED_0002
        case .scramSHA256: seed = 0x5EED_0003
        }
        var source = HostileInputSource(seed: seed, samples: HostileInputSource.samples(for: mechanism))
        var seen: Set<String> = []
        for _ in 0..<2000 {
            var machine = SASLServerStateMachine(mechanism: mechanism)
            var action =
                source.chance(3) ? machine.start(initialResponse: nil) : machine.start(initialResponse: source.next())
            seen.insert(Self.name(of: action))
            for _ in 0..<8 where !machine.isFinished {
                switch action {
                case .challenge(let challenge):
                    if source.chance(12) {
                        action = machine.cancel()
                    } else if mechanism == .scramSHA256, challenge.starts(with: bytes("r=")), source.chance(2) {
                        action = machine.receive(source.clientFinal(after: challenge))
                    } else {
                        action = machine.receive(source.next())
                    }
                case .fetchSCRAMCredentials:
                    action =
                        source.chance(8)
                        ? machine.receive(source.next()) : machine.scramCredentialsFetched(source.keys())
                case .verifyPassword, .success, .failure:
                    Issue.record("a terminal action left the exchange open")
                }
                seen.insert(Self.name(of: action))
            }
            #expect(machine.isFinished)
            #expect(machine.receive(source.next()) == failure(.wrongState))
            #expect(machine.cancel() == failure(.wrongState))
            #expect(machine.scramCredentialsFetched(source.keys()) == failure(.wrongState))
        }
        // The inputs reach past the first parser.
        switch mechanism {
        case .plain, .login: #expect(seen.contains("verifyPassword"))
        case .scramSHA256: #expect(seen.contains("fetchSCRAMCredentials"))
        }
        #expect(seen.contains("failure"))
    }

    static func name(of action: Action) -> String {
        switch action {
        case .challenge: return "challenge"
        case .verifyPassword: return "verifyPassword"
        case .fetchSCRAMCredentials: return "fetchSCRAMCredentials"
        case .success: return "success"
        case .failure: return "failure"
        }
    }
}

/// Seeded hostile inputs: random bytes, soups of grammar tokens, and valid messages
/// with a few bytes changed.
struct HostileInputSource {
    private var generator: Xorshift64
    private let samples: [[UInt8]]

    init(seed: UInt64, samples: [[UInt8]]) {
        self.generator = Xorshift64(seed: seed)
        self.samples = samples
    }

    static func samples(for mechanism: SASLMechanism) -> [[UInt8]] {
        switch mechanism {
        case .plain:
            return [bytes("\0tim\0tanstaafl"), bytes("Ursel\0Kurt\0xipj3plmq")]
        case .login:
            return [bytes("tim"), bytes("tanstaafl")]
        case .scramSHA256:
            return [
                bytes(RFC7677Example.clientFirst), bytes("y,a=admin,n=us=2Cer,r=abc,x=1"),
                bytes(RFC7677Example.clientFinal),
            ]
        }
    }

    static let textTokens: [String] = [
        "n", "y", "p=tls-unique", ",", ",,", "=", "=2C", "=3D", "=2", "=3d", "a=", "n=", "r=", "c=", "p=", "m=",
        "s=", "i=", "x=", "biws", "eSws", "user", "tim", "\0", "\r\n", "*", "AAAA", "====", "Username:", "r=abc",
    ]
    /// Ill-formed UTF-8: stray bytes, a surrogate, beyond U+10FFFF, an overlong "/".
    static let rawTokens: [[UInt8]] = [
        [0xFF], [0xC3], [0x80], [0xED, 0xA0, 0x80], [0xF4, 0x90, 0x80, 0x80], [0xC0, 0xAF],
    ]
    static let tokens: [[UInt8]] = textTokens.map { Array($0.utf8) } + rawTokens

    mutating func int(_ range: Range<Int>) -> Int {
        Int.random(in: range, using: &generator)
    }

    mutating func chance(_ oneIn: Int) -> Bool {
        int(0..<oneIn) == 0
    }

    mutating func randomBytes(count: Int) -> [UInt8] {
        var output: [UInt8] = []
        output.reserveCapacity(count)
        for _ in 0..<count { output.append(UInt8.random(in: .min ... .max, using: &generator)) }
        return output
    }

    mutating func soup(count: Int) -> [UInt8] {
        var output: [UInt8] = []
        for _ in 0..<count { output += Self.tokens[int(0..<Self.tokens.count)] }
        return output
    }

    mutating func sample() -> [UInt8] {
        samples.isEmpty ? [] : samples[int(0..<samples.count)]
    }

    mutating func mutated(_ input: [UInt8]) -> [UInt8] {
        var output = input
        for _ in 0..<int(0..<4) {
            switch int(0..<3) {
            case 0 where !output.isEmpty:
                output[int(0..<output.count)] = UInt8.random(in: .min ... .max, using: &generator)
            case 1:
                output.insert(UInt8.random(in: .min ... .max, using: &generator), at: int(0..<(output.count + 1)))
            case 2 where !output.isEmpty:
                output.remove(at: int(0..<output.count))
            default:
                break
            }
        }
        return output
    }

    /// The next hostile response.
    mutating func next() -> [UInt8] {
        switch int(0..<6) {
        case 0: return randomBytes(count: int(0..<64))
        case 1: return soup(count: int(1..<24))
        case 2: return mutated(sample())
        case 3: return sample() + soup(count: int(1..<4))
        case 4: return sample()
        default: return randomBytes(count: int(8150..<8250))
        }
    }

    /// A client-final-message that gets past the nonce check of `serverFirst` (so the
    /// proof is computed), sometimes with extensions and a few bytes changed.
    mutating func clientFinal(after serverFirst: [UInt8]) -> [UInt8] {
        let nonceField = serverFirst.split(separator: UInt8(ascii: ","), omittingEmptySubsequences: false).first ?? []
        var message = Array("c=biws,".utf8)
        message += nonceField
        if chance(3) {
            message.append(UInt8(ascii: ","))
            message += soup(count: int(1..<4))
        }
        message += ",p=".utf8
        message += Data(randomBytes(count: int(30..<34))).base64EncodedString().utf8
        return chance(2) ? message : mutated(message)
    }

    /// Keys of every shape: none, usable random ones, and nonsense.
    mutating func keys() -> SCRAMServerKeys? {
        switch int(0..<4) {
        case 0:
            return nil
        case 1:
            return SCRAMServerKeys(
                iterations: 4096, salt: randomBytes(count: 16), storedKey: randomBytes(count: 32),
                serverKey: randomBytes(count: 32))
        default:
            let iterations: UInt64 = generator.next()
            return SCRAMServerKeys(
                iterations: Int(truncatingIfNeeded: iterations), salt: randomBytes(count: int(0..<40)),
                storedKey: randomBytes(count: int(0..<40)), serverKey: randomBytes(count: int(0..<40)))
        }
    }
}
