import FuzzDriver
import NIOCore
import SMTPProtocol

/// What a remote SMTP server can send the outbound client: any bytes, in two reads
/// split at a point taken from the first byte. No crash, no hang; the replies (or the
/// error) must not depend on the split; every reply's code is 200–599 (the decoder
/// refuses the rest) and EHLO capabilities can be read from each.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    guard let data, size > 0 else { return 0 }
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    let split = Int(bytes[0]) % size
    let stream = Array(bytes.dropFirst())
    func run(_ chunks: [[UInt8]]) -> ([SMTPReply], Bool) {
        var decoder = SMTPReplyDecoder()
        var replies: [SMTPReply] = []
        // One cumulative buffer, as the channel handler keeps: the decoder leaves an
        // incomplete line in it for the next read.
        var buffer = ByteBuffer()
        for chunk in chunks {
            buffer.writeBytes(chunk)
            do {
                while let reply = try decoder.decode(&buffer) { replies.append(reply) }
            } catch {
                return (replies, true)
            }
        }
        return (replies, false)
    }
    let whole = run([stream])
    let halves = run([Array(stream.prefix(split)), Array(stream.dropFirst(split))])
    guard whole.0 == halves.0, whole.1 == halves.1 else {
        fatalError("the replies depend on where the bytes were split")  // a finding, in a fuzz target
    }
    for reply in whole.0 {
        guard (200...599).contains(reply.code) || (100...199).contains(reply.code) else {
            fatalError("reply code \(reply.code) accepted")
        }
        _ = SMTPServerCapabilities(ehloReply: reply)
    }
    return 0
}

runFuzzer { data, size in fuzz(data, size) }
