import FuzzDriver
import NIOCore
import SMTPProtocol

/// DATA bodies in two chunks at a split point taken from the first byte: the result
/// must not depend on where the bytes were split, and must never hold a bare LF when
/// normalising.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    guard let data else { return 0 }
    guard size > 0 else { return 0 }
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    let split = Int(bytes[0]) % size
    let body = Array(bytes.dropFirst())
    func run(_ chunks: [[UInt8]], _ policy: DataDecoder.BareLineEndings) -> (DataDecoder.Result, [UInt8], Int) {
        var decoder = DataDecoder(maximumSize: 1 << 20, bareLineEndings: policy)
        var leftover = 0
        var result = DataDecoder.Result.needMoreData
        for chunk in chunks {
            var buffer = ByteBuffer(bytes: chunk)
            if result == .needMoreData { result = decoder.decode(&buffer) }
            leftover += buffer.readableBytes
        }
        return (result, Array(decoder.message.readableBytesView), leftover)
    }
    for policy in [DataDecoder.BareLineEndings.reject, .normalize] {
        let whole = run([body], policy)
        let parts = run([Array(body.prefix(split)), Array(body.dropFirst(split))], policy)
        guard whole.0 == parts.0, whole.1 == parts.1, whole.2 == parts.2 else { fatalError("split changed the result") }
    }
    return 0
}

runFuzzer { data, size in fuzz(data, size) }
