import FuzzDriver
import IMAPProtocol

/// Any input, fed to the IMAP framer the way LineSessionHandler does (lines, and raw
/// bytes while a literal is wanted), with the parser behind it: no crash, no hang, and
/// the framer never holds more than its limits allow.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    guard let data else { return 0 }
    var input = Array(UnsafeBufferPointer(start: data, count: size))[...]
    var limits = IMAPLimits()
    limits.maximumCommandLength = 512
    var framer = IMAPCommandFramer(limits: limits)
    var steps = 0
    while !input.isEmpty && steps < 100_000 {
        steps += 1
        if framer.wantsRawBytes != nil {
            framer.receive(raw: &input)
            continue
        }
        guard let newline = input.firstIndex(of: UInt8(ascii: "\n")) else { break }
        var line = Array(input[..<newline])
        input = input[(newline + 1)...]
        if line.last == UInt8(ascii: "\r") { line.removeLast() }
        let output = line.count > 8192 ? framer.lineTooLong() : framer.receive(line: line)
        if case .command(let command)? = output {
            _ = command.description  // redaction paths run too
        }
        // Bounded buffering: a command in progress never exceeds the total limit.
        precondition(framer.bufferedByteCount <= limits.maximumCommandSize + limits.maximumAppendSize + 65_536)
    }
    // Whole-command parsing of the same bytes (the test entry point).
    _ = IMAPCommandParser.parse(Array(UnsafeBufferPointer(start: data, count: size)))
    return 0
}

runFuzzer { data, size in fuzz(data, size) }
