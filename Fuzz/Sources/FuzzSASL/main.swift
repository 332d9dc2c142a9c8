import FuzzDriver
import SASL

/// Each mechanism fed the input as an initial response and then as responses.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    guard let data else { return 0 }
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    let pieces = bytes.split(separator: 0xFF, omittingEmptySubsequences: false).map(Array.init)
    for mechanism in SASLMechanism.allCases {
        var machine = SASLServerStateMachine(mechanism: mechanism)
        var action = machine.start(initialResponse: pieces.first)
        for piece in pieces.dropFirst() {
            switch action {
            case .fetchSCRAMCredentials:
                let keys = SCRAMServerKeys(
                    iterations: 1, salt: [1, 2, 3], storedKey: Array(repeating: 7, count: 32),
                    serverKey: Array(repeating: 9, count: 32))
                action = machine.scramCredentialsFetched(piece.count % 2 == 0 ? keys : nil)
            default:
                action = machine.receive(piece)
            }
        }
    }
    return 0
}

runFuzzer { data, size in fuzz(data, size) }
