import MailTestSupport
import NIOCore
import Testing

@testable import IMAPProtocol

// Helpers shared by the IMAPProtocol test suites.

/// The UTF-8 bytes of `text`.
func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

/// `bytes` shown with escapes, cut short, for test names.
func escaped(_ bytes: [UInt8]) -> String {
    let shown = bytes.count > 120 ? Array(bytes.prefix(120)) : bytes
    return String(reflecting: String(decoding: shown, as: UTF8.self)) + (bytes.count > 120 ? "…" : "")
}

/// A synchronising literal of `text`, as a client sends it after "+": `{n}` CRLF text.
func literal(_ text: String) -> String { "{\(text.utf8.count)}\r\n" + text }

/// A non-synchronising literal (LITERAL+ / LITERAL-): `{n+}` CRLF text.
func literalPlus(_ text: String) -> String { "{\(text.utf8.count)+}\r\n" + text }

/// A command with `tag` and `kind`.
func command(_ tag: String, _ kind: IMAPCommand.Kind) -> IMAPCommand { IMAPCommand(tag: tag, kind: kind) }

/// A sequence set of `ranges`.
func set(_ ranges: SequenceRange...) -> SequenceSet { .ranges(ranges) }

/// `first:*`
func toLargest(_ first: UInt32) -> SequenceRange { SequenceRange(.number(first), .largest) }

/// A date that exists.
func date(_ year: Int, _ month: Int, _ day: Int) -> IMAPDate {
    guard let value = IMAPDate(year: year, month: month, day: day) else {
        preconditionFailure("test date \(year)-\(month)-\(day) does not exist")
    }
    return value
}


/// Feeds an `IMAPCommandFramer` the way `LineSessionHandler` feeds a session: bytes are
/// cut into lines (CRLF or bare LF) unless the framer wants raw bytes, and a line longer
/// than `maximumLineLength` is dropped up to its LF with `lineTooLong()`.
struct FramerDriver {
    var framer: IMAPCommandFramer
    var maximumLineLength: Int
    private(set) var pending: [UInt8] = []
    private(set) var outputs: [IMAPCommandFramer.Output] = []
    /// The most the framer held at any point.
    private(set) var maximumBuffered = 0
    private var isDroppingLongLine = false

    init(limits: IMAPLimits = IMAPLimits(), maximumLineLength: Int = 65_536) {
        self.framer = IMAPCommandFramer(limits: limits)
        self.maximumLineLength = maximumLineLength
    }

    mutating func feed(_ text: String) { feed(Array(text.utf8)) }

    mutating func feed(_ chunk: [UInt8]) {
        pending += chunk
        process()
    }

    /// Feeds `input` in pieces cut at `boundaries` (offsets into `input`).
    mutating func feed(_ input: [UInt8], splitAt boundaries: [Int]) {
        var start = 0
        for boundary in boundaries.sorted() where boundary > start && boundary < input.count {
            feed(Array(input[start..<boundary]))
            start = boundary
        }
        feed(Array(input[start...]))
    }

    /// Feeds `input` one byte at a time.
    mutating func feedBytewise(_ input: [UInt8]) {
        for byte in input { feed([byte]) }
    }

    private mutating func process() {
        while true {
            maximumBuffered = max(maximumBuffered, framer.bufferedByteCount)
            if framer.wantsRawBytes != nil {
                guard !pending.isEmpty else { return }
                var slice = pending[...]
                framer.receive(raw: &slice)
                pending = Array(slice)
                continue
            }
            guard let newline = pending.firstIndex(of: 10) else {
                if pending.count > maximumLineLength {
                    if !isDroppingLongLine { outputs.append(framer.lineTooLong()) }
                    isDroppingLongLine = true
                    pending.removeAll()
                }
                return
            }
            var line = Array(pending[..<newline])
            pending.removeFirst(newline + 1)
            if isDroppingLongLine {
                isDroppingLongLine = false
                continue
            }
            if line.count > maximumLineLength {
                outputs.append(framer.lineTooLong())
                continue
            }
            if line.last == 13 { line.removeLast() }
            if let output = framer.receive(line: line) { outputs.append(output) }
        }
    }

    /// The outputs other than continuation requests.
    var results: [IMAPCommandFramer.Output] {
        outputs.filter { $0 != .continuationRequest }
    }

    var continuationCount: Int { outputs.filter { $0 == .continuationRequest }.count }

    var commands: [IMAPCommand] {
        outputs.compactMap { output -> IMAPCommand? in
            if case .command(let command) = output { return command }
            return nil
        }
    }

    /// Each error's response line, without CRLF.
    var errorLines: [String] {
        outputs.compactMap { output -> String? in
            if case .error(let error) = output { return error.response.description }
            return nil
        }
    }
}

/// The response line (without CRLF) a parse failure answers with, or the command.
func parseOutcome(_ input: [UInt8], limits: IMAPLimits = IMAPLimits()) -> Result<IMAPCommand, IMAPParseError> {
    IMAPCommandParser.parse(input, limits: limits)
}
