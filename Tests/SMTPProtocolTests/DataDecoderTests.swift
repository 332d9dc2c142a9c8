import Foundation
import NIOCore
import Testing

@testable import SMTPProtocol

// MARK: - Helpers

/// What a `DataDecoder` made of some input.
struct DecodeOutcome: Equatable, CustomStringConvertible {
    var result: DataDecoder.Result
    var messageBytes: [UInt8]
    var leftoverBytes: [UInt8]
    var sawBare: Bool
    var tooBig: Bool
    var size: Int

    var message: String { String(decoding: messageBytes, as: UTF8.self) }
    var leftover: String { String(decoding: leftoverBytes, as: UTF8.self) }

    var description: String {
        "\(result) message: \(escaped(messageBytes)) leftover: \(escaped(leftoverBytes)) "
            + "sawBare: \(sawBare) tooBig: \(tooBig) size: \(size)"
    }
}

/// Feeds `chunks` one after the other into one buffer, as bytes arrive from the network.
/// Once the decoder reports `.complete` it is not called again; later chunks stay in
/// the buffer (they are the pipelined commands after the message).
func decode(
    _ chunks: [[UInt8]], maximumSize: Int = 1 << 20, bareLineEndings: DataDecoder.BareLineEndings = .reject
) -> DecodeOutcome {
    var decoder = DataDecoder(maximumSize: maximumSize, bareLineEndings: bareLineEndings)
    var buffer = ByteBuffer()
    var result = DataDecoder.Result.needMoreData
    for chunk in chunks {
        buffer.writeBytes(chunk)
        if result == .needMoreData { result = decoder.decode(&buffer) }
    }
    return DecodeOutcome(
        result: result, messageBytes: Array(decoder.message.readableBytesView),
        leftoverBytes: Array(buffer.readableBytesView), sawBare: decoder.sawBareLineEnding, tooBig: decoder.isTooBig,
        size: decoder.size)
}

func decode(
    _ chunks: [String], maximumSize: Int = 1 << 20, bareLineEndings: DataDecoder.BareLineEndings = .reject
) -> DecodeOutcome {
    decode(chunks.map { Array($0.utf8) }, maximumSize: maximumSize, bareLineEndings: bareLineEndings)
}

/// STYLE.md §8: the input byte by byte, and split in two at every boundary.
func everySplit(_ input: [UInt8]) -> [[[UInt8]]] {
    var splits: [[[UInt8]]] = [input.map { [$0] }]
    for cut in 0...input.count {
        splits.append([Array(input[..<cut]), Array(input[cut...])])
    }
    return splits
}

/// Decodes `input` whole and in every split; every split must give the same outcome.
func decodeEverySplit(
    _ input: [UInt8], maximumSize: Int = 1 << 20, bareLineEndings: DataDecoder.BareLineEndings = .reject,
    sourceLocation: SourceLocation = #_sourceLocation
) -> DecodeOutcome {
    let whole = decode([input], maximumSize: maximumSize, bareLineEndings: bareLineEndings)
    for chunks in everySplit(input) {
        let split = decode(chunks, maximumSize: maximumSize, bareLineEndings: bareLineEndings)
        if split != whole {
            Issue.record(
                "split \(chunks.map(\.count)) gave \(split), whole input gave \(whole)", sourceLocation: sourceLocation)
            break
        }
    }
    return whole
}

// MARK: - Fixtures

/// Input without bare line endings, and what it decodes to under either policy.
struct DataFixture: Sendable, CustomTestStringConvertible {
    let name: String
    let input: [UInt8]
    let isComplete: Bool
    let message: [UInt8]
    let leftover: [UInt8]

    init(_ name: String, _ input: String, complete: Bool = true, message: String, leftover: String = "") {
        self.init(name, bytes(input), complete: complete, message: bytes(message), leftover: bytes(leftover))
    }

    init(_ name: String, _ input: [UInt8], complete: Bool = true, message: [UInt8], leftover: [UInt8] = []) {
        self.name = name
        self.input = input
        self.isComplete = complete
        self.message = message
        self.leftover = leftover
    }

    var testDescription: String { name }
}

/// Every octet 0x80–0xFF, NUL, a control character, DEL and some UTF-8.
private let eightBitContent: [UInt8] = {
    var content: [UInt8] = (0x80...0xFF).map { UInt8($0) }
    content += [0x00, 0x01, 0x7F]
    content += bytes(" Grüße, 日本語 🚀")
    return content
}()

let dataFixtures: [DataFixture] = [
    DataFixture(
        "simple message, pipelined QUIT stays", "Subject: x\r\n\r\nbody\r\n.\r\nQUIT\r\n",
        message: "Subject: x\r\n\r\nbody\r\n", leftover: "QUIT\r\n"),
    DataFixture("empty message", ".\r\n", message: ""),
    DataFixture("empty message, pipelined QUIT stays", ".\r\nQUIT\r\n", message: "", leftover: "QUIT\r\n"),
    DataFixture("RFC 5321 §4.5.2: ..hidden", "..hidden\r\n.\r\n", message: ".hidden\r\n"),
    DataFixture("three dots", "...\r\n.\r\n", message: "..\r\n"),
    DataFixture("stuffed lone dot is content", "a\r\n..\r\n.\r\n", message: "a\r\n.\r\n"),
    DataFixture("leading dot removed", ".x\r\n.\r\n", message: "x\r\n"),
    DataFixture("dot not at line start", "a.\r\n.\r\n", message: "a.\r\n"),
    DataFixture("dot line after dot-stuffed line", "a\r\n.b\r\n.\r\n", message: "a\r\nb\r\n"),
    DataFixture("second end marker is leftover", "x\r\n.\r\n.\r\n", message: "x\r\n", leftover: ".\r\n"),
    DataFixture("empty lines", "\r\n\r\n.\r\n", message: "\r\n\r\n"),
    DataFixture("bytes after the end marker stay", "a\r\n.\r\nb", message: "a\r\n", leftover: "b"),
    DataFixture("incomplete line", "line\r\n", complete: false, message: "line\r\n"),
    DataFixture("incomplete: dot at line start", "line\r\n.", complete: false, message: "line\r\n"),
    DataFixture("incomplete: dot CR at line start", "line\r\n.\r", complete: false, message: "line\r\n"),
    DataFixture("incomplete: no line end yet", "line", complete: false, message: "line"),
    DataFixture("incomplete: nothing", "", complete: false, message: ""),
    DataFixture(
        "8-bit bytes pass through", eightBitContent + bytes("\r\n.\r\n"), message: eightBitContent + bytes("\r\n")),
]

/// A sloppy end marker followed by a smuggled transaction: none of them ends the data
/// (RFC 5321 §4.1.1.4, CVE-2023-51764 class).
struct SmugglingFixture: Sendable, CustomTestStringConvertible {
    let sequence: String
    /// What `sequence` becomes in the stored message with `.reject` (kept as sent, but
    /// the dot that follows a real CRLF is unstuffed) and with `.normalize`.
    let rejectForm: String
    let normalizeForm: String

    var testDescription: String { String(reflecting: sequence) }
}

let smugglingFixtures: [SmugglingFixture] = [
    SmugglingFixture(sequence: "\n.\n", rejectForm: "\n.\n", normalizeForm: "\r\n.\r\n"),
    SmugglingFixture(sequence: "\r\n.\n", rejectForm: "\r\n\n", normalizeForm: "\r\n\r\n"),
    SmugglingFixture(sequence: "\n.\r\n", rejectForm: "\n.\r\n", normalizeForm: "\r\n.\r\n"),
    SmugglingFixture(sequence: "\r.\r", rejectForm: "\r.\r", normalizeForm: "\r\n.\r\n"),
    SmugglingFixture(sequence: "\r\n.\r", rejectForm: "\r\n\r", normalizeForm: "\r\n\r\n"),
    SmugglingFixture(sequence: "\r.\r\n", rejectForm: "\r.\r\n", normalizeForm: "\r\n.\r\n"),
    SmugglingFixture(sequence: "\r\n.\r\r\n", rejectForm: "\r\n\r\r\n", normalizeForm: "\r\n\r\n\r\n"),
]

private let smuggledPrefix = "Subject: x\r\n\r\nbody"
private let smuggledPayload = "MAIL FROM:<evil@x>\r\nRCPT TO:<victim@x>\r\nDATA\r\nevil"

// MARK: - Suites

@Suite("DATA decoder")
struct DataDecoderTests {
    @Test(arguments: dataFixtures, [DataDecoder.BareLineEndings.reject, .normalize])
    func decodes(_ fixture: DataFixture, _ policy: DataDecoder.BareLineEndings) {
        let outcome = decodeEverySplit(fixture.input, bareLineEndings: policy)
        let expected: DataDecoder.Result = fixture.isComplete ? .complete : .needMoreData
        #expect(outcome.result == expected)
        #expect(outcome.messageBytes == fixture.message)
        #expect(outcome.leftoverBytes == fixture.leftover)
        #expect(!outcome.sawBare)
        #expect(!outcome.tooBig)
        #expect(outcome.size == fixture.message.count)
    }

    @Test func simpleMessageEndsWithCRLFAndLeavesPipelinedCommands() {
        let outcome = decode(["Subject: x\r\n\r\nbody\r\n.\r\nQUIT\r\n"])
        #expect(outcome.result == .complete)
        #expect(outcome.message == "Subject: x\r\n\r\nbody\r\n")
        #expect(outcome.message.hasSuffix("\r\n"))
        #expect(outcome.leftover == "QUIT\r\n")
        #expect(!outcome.sawBare)
        #expect(!outcome.tooBig)
    }

    @Test func endMarkerSplitAcrossChunks() {
        let outcome = decode(["body\r", "\n", ".", "\r", "\nQU", "IT\r\n"])
        #expect(outcome.result == .complete)
        #expect(outcome.message == "body\r\n")
        #expect(outcome.leftover == "QUIT\r\n")
    }

    @Test func bareLineEndingsAreRecorded() {
        let rejected = decode(["a\nb\rc\r\n.\r\n"], bareLineEndings: .reject)
        #expect(rejected.result == .complete)
        #expect(rejected.sawBare)
        #expect(rejected.message == "a\nb\rc\r\n")
        let normalized = decode(["a\nb\rc\r\n.\r\n"], bareLineEndings: .normalize)
        #expect(normalized.result == .complete)
        #expect(normalized.sawBare)
        #expect(normalized.message == "a\r\nb\r\nc\r\n")
    }

    @Test func eightBitBytesPassThroughUnchanged() {
        let outcome = decodeEverySplit(eightBitContent + bytes("\r\n.\r\n"))
        #expect(outcome.result == .complete)
        #expect(outcome.messageBytes == eightBitContent + bytes("\r\n"))
        #expect(!outcome.sawBare)
    }
}

@Suite("DATA decoder against SMTP smuggling")
struct DataDecoderSmugglingTests {
    @Test(arguments: smugglingFixtures, [DataDecoder.BareLineEndings.reject, .normalize])
    func sloppyEndMarkerIsContent(_ fixture: SmugglingFixture, _ policy: DataDecoder.BareLineEndings) {
        let smuggled = bytes(smuggledPrefix + fixture.sequence + smuggledPayload)
        // Nothing so far ends the data, however the bytes arrive.
        let pending = decodeEverySplit(smuggled, bareLineEndings: policy)
        #expect(pending.result == .needMoreData)
        #expect(pending.leftoverBytes.isEmpty)

        // Only the real CRLF.CRLF does, and the smuggled transaction is message content.
        let input = smuggled + bytes("\r\n.\r\nQUIT\r\n")
        let outcome = decodeEverySplit(input, bareLineEndings: policy)
        #expect(outcome.result == .complete)
        #expect(outcome.leftover == "QUIT\r\n")
        #expect(outcome.sawBare)
        #expect(outcome.message.contains("MAIL FROM:<evil@x>\r\nRCPT TO:<victim@x>\r\nDATA\r\nevil"))
        let form = policy == .reject ? fixture.rejectForm : fixture.normalizeForm
        #expect(outcome.message == smuggledPrefix + form + smuggledPayload + "\r\n")
        if policy == .normalize {
            #expect(hasOnlyCRLFLineEnds(outcome.messageBytes), "\(escaped(outcome.messageBytes))")
        }
    }

    /// After a bare line ending the next "line" is never at a line start, so the usual
    /// sloppy terminator of real-world smuggling (`<LF>.<CR><LF>`) stays content even
    /// when a genuine CRLF follows the dot.
    @Test func bareLFBeforeDotCRLFDoesNotEnd() {
        let outcome = decode(["a\n.\r\nMAIL FROM:<evil@x>\r\n"])
        #expect(outcome.result == .needMoreData)
        #expect(outcome.message == "a\n.\r\nMAIL FROM:<evil@x>\r\n")
    }
}

@Suite("DATA decoder size limit")
struct DataDecoderSizeLimitTests {
    @Test func oversizedMessageIsDroppedButStillFramed() {
        let input = bytes("0123456789abcdefXYZ\r\n.\r\nQUIT\r\n")
        let outcome = decodeEverySplit(input, maximumSize: 16)
        #expect(outcome.result == .complete)
        #expect(outcome.tooBig)
        #expect(outcome.messageBytes.isEmpty)
        #expect(outcome.leftover == "QUIT\r\n")
        #expect(outcome.size == 21)
    }

    @Test func messageOfExactlyTheLimitIsKept() {
        let outcome = decodeEverySplit(bytes("0123456789abcd\r\n.\r\n"), maximumSize: 16)
        #expect(outcome.result == .complete)
        #expect(!outcome.tooBig)
        #expect(outcome.message == "0123456789abcd\r\n")
    }

    @Test func oneOctetOverTheLimitIsTooBig() {
        let outcome = decodeEverySplit(bytes("0123456789abcde\r\n.\r\n"), maximumSize: 16)
        #expect(outcome.result == .complete)
        #expect(outcome.tooBig)
        #expect(outcome.messageBytes.isEmpty)
    }

    @Test func normalizedLineEndsCountTowardTheLimit() {
        // 10 octets as sent, 14 once each bare LF is stored as CRLF.
        let outcome = decode(["a\nb\nc\nd\n\r\n.\r\n"], maximumSize: 11, bareLineEndings: .normalize)
        #expect(outcome.result == .complete)
        #expect(outcome.tooBig)
    }
}
