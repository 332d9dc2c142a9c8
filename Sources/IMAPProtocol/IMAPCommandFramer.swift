import SASL
public import NIOCore

/// Cuts a client's byte stream into IMAP commands. The session gives it every line
/// (without CRLF) and, while `wantsRawBytes` is set, the raw bytes of a literal; it
/// answers with what to do.
///
/// A command is one line, unless a line ends with a literal announcement: then exactly
/// n octets of literal data follow, and the command goes on with the next line.
///
///     literal  = "{" number64 ["+"] "}" CRLF *CHAR8     ; "+": LITERAL+ / LITERAL-
///     literal8 = "~{" number64 ["+"] "}" CRLF *OCTET    ; RFC 3516: NUL allowed
///
///     C: A003 APPEND saved-messages (\Seen) {326}    → .continuationRequest
///     S: + Ready for literal data                      (wantsRawBytes == 326)
///     C: <326 octets>                                → receive(raw:)
///     C:                                             → .command(APPEND …)
///
/// The session's side of the contract (`LineSession` in ServerSupport):
/// - `wantsRawInput` is `wantsRawBytes != nil`; `receive(raw:)` passes the buffer to
///   `receive(raw:)` here, which takes at most the literal's remaining octets and leaves
///   the rest in the buffer, to be framed into lines again;
/// - `.continuationRequest`: send `IMAPResponse.readyForLiteral` at once, before reading
///   further (the client waits for it);
/// - `.error`: send `error.response`; close the connection when `closesConnection`;
/// - `lineTooLong()` when a line exceeded the connection's line limit: the framer cannot
///   know whether that line announced a literal, so the answer is always fatal. The
///   connection's line limit must be above `maximumCommandLength` so that the framer
///   itself sees, and refuses cleanly, lines between the two;
/// - before IDLE's "+ idling" and each AUTHENTICATE challenge, set `mode` to `.idle` or
///   `.authenticate`: it applies to the next line only.
///
/// Limits (`IMAPLimits`) are checked when a literal is *announced*, before any of its
/// data is read, and the announced size is never allocated up front: the literal grows
/// as its data arrives. A refused synchronising literal gets the error instead of "+"
/// (RFC 9051 §7.5: the client then sends nothing more of the command). A refused
/// non-synchronising literal is already on its way, so its octets are read and thrown
/// away without being kept (as is the rest of the command, with any further literals),
/// and the error comes when the command ends — or, when the literal is over
/// `maximumDiscardedLiteralSize` (or its size does not even fit 63 bits), the answer is
/// `* BYE` and the connection closes (RFC 7888 §4 allows either).
///
/// - SeeAlso: RFC 9051 §4.3 (literals), §7.5 (continuation requests), §2.2.1; RFC 7888
///   (LITERAL+, LITERAL-); RFC 3516 §4.2 (literal8); RFC 2177 (IDLE/DONE); RFC 9051
///   §6.2.2 (AUTHENTICATE responses, "*" to cancel)
public struct IMAPCommandFramer: Sendable {
    /// What the next line is, when no command is in progress.
    public enum Mode: Hashable, Sendable {
        /// A command.
        case command
        /// IDLE is running (RFC 2177): the next line must be DONE. The tag is IDLE's,
        /// for the BAD when it is not.
        case idle(tag: String)
        /// AUTHENTICATE waits for the client's response to a challenge: base64, or "*"
        /// to cancel (RFC 9051 §6.2.2).
        case authenticate(tag: String)
    }

    /// What the session must do after a line.
    public enum Output: Hashable, Sendable {
        /// A complete command.
        case command(IMAPCommand)
        /// A synchronising literal was announced and accepted: send
        /// `IMAPResponse.readyForLiteral`, then deliver its data (`wantsRawBytes`).
        case continuationRequest
        /// DONE, ending IDLE (in `.idle` mode).
        case idleDone
        /// The client's base64-decoded response to an AUTHENTICATE challenge (an empty
        /// line is an empty response).
        case authenticationResponse([UInt8])
        /// "*": the client cancelled AUTHENTICATE; answer with a tagged BAD (RFC 9051
        /// §6.2.2).
        case authenticationCancelled
        /// The command (or IDLE/AUTHENTICATE line) is refused: send `error.response`.
        case error(IMAPParseError)
    }

    public let limits: IMAPLimits

    /// How the next line is read when no command is in progress; back to `.command`
    /// after that line.
    public var mode: Mode = .command

    private enum State: Sendable {
        /// No command in progress.
        case ready
        /// Within a command, after a literal: the rest of it comes as the next line.
        case awaitingLine
        /// Within a literal: this many octets still to come.
        case readingLiteral(remaining: Int)
        /// Throwing away a refused non-synchronising literal.
        case discardingLiteral(remaining: Int, error: IMAPParseError)
        /// Throwing away the rest of a refused command; `error` is reported at its end.
        case discardingCommand(error: IMAPParseError)
    }

    private var state = State.ready
    /// The command so far.
    private var frame = IMAPCommandFrame()
    /// The literal being read.
    private var literal = IMAPCommandFrame.Literal(offset: 0, bytes: [], isBinary: false)
    /// From the command's first line.
    private var header: IMAPCommandHeader?
    /// Command text so far, announcements included (bounded by `maximumCommandLength`).
    private var textLength = 0
    /// Text and announced literal octets so far (bounded by `maximumCommandSize` or
    /// `maximumAppendSize`).
    private var commandSize = 0
    /// APPEND messages so far (bounded by `maximumAppendMessages`).
    private var appendMessageCount = 0

    public init(limits: IMAPLimits = IMAPLimits()) {
        self.limits = limits
    }

    /// While set, the next input must be raw bytes for `receive(raw:)`, at most this
    /// many of them: literal data, or data being thrown away. Never 0.
    public var wantsRawBytes: Int? {
        switch state {
        case .readingLiteral(let remaining), .discardingLiteral(let remaining, _):
            return remaining
        case .ready, .awaitingLine, .discardingCommand:
            return nil
        }
    }

    /// Part of a command has been received (for shutdown and idle decisions).
    public var isInCommand: Bool {
        if case .ready = state { return false }
        return true
    }

    /// Octets held for the command in progress: text and literal data. Bounded by
    /// `maximumCommandLength` plus `maximumAppendSize` (or `maximumCommandSize`).
    public var bufferedByteCount: Int { frame.byteCount + literal.bytes.count }

    // MARK: - Input

    /// One line without its CRLF.
    public mutating func receive(line: ByteBuffer) -> Output? {
        receive(line: Array(line.readableBytesView))
    }

    /// One line without its CRLF. `nil`: nothing to do but read on (raw bytes if
    /// `wantsRawBytes` is set, else the next line).
    public mutating func receive(line: [UInt8]) -> Output? {
        switch state {
        case .readingLiteral, .discardingLiteral:
            // The session must deliver raw bytes while `wantsRawBytes` is set; a line now
            // means the stream is out of step, and nothing can put it right.
            resetCommand()
            return .error(IMAPParseError(.fatal, tag: nil, "Framing error"))
        case .discardingCommand(let error):
            return discard(line: line, error: error)
        case .awaitingLine:
            return continueCommand(line, LiteralAnnouncement(line))
        case .ready:
            switch mode {
            case .command:
                return beginCommand(line)
            case .idle(let tag):
                mode = .command
                return idleLine(line, tag: tag)
            case .authenticate(let tag):
                mode = .command
                return authenticationLine(line, tag: tag)
            }
        }
    }

    /// Raw bytes while `wantsRawBytes` is set: takes at most that many from the front of
    /// `buffer` and leaves the rest there.
    public mutating func receive(raw buffer: inout ByteBuffer) {
        let count = rawCount(available: buffer.readableBytes)
        guard count > 0 else { return }
        if case .readingLiteral = state {
            literal.bytes.append(contentsOf: buffer.readableBytesView.prefix(count))
        }
        buffer.moveReaderIndex(forwardBy: count)
        consumedRaw(count)
    }

    /// Raw bytes while `wantsRawBytes` is set: takes at most that many from the front of
    /// `bytes` and leaves the rest there.
    public mutating func receive(raw bytes: inout ArraySlice<UInt8>) {
        let count = rawCount(available: bytes.count)
        guard count > 0 else { return }
        if case .readingLiteral = state {
            literal.bytes.append(contentsOf: bytes.prefix(count))
        }
        bytes = bytes.dropFirst(count)
        consumedRaw(count)
    }

    /// The connection dropped a line over its own limit (`LineSession.lineTooLong`).
    /// Whether that line announced a literal is unknown, so its data could be taken for
    /// commands: the only safe answer is `* BYE` and closing.
    public mutating func lineTooLong() -> Output {
        resetCommand()
        mode = .command
        return .error(IMAPParseError(.fatal, tag: nil, "Line too long"))
    }

    /// Forgets the command in progress and the mode (after STARTTLS, RFC 9051 §6.2.1:
    /// nothing received before the handshake counts).
    public mutating func reset() {
        resetCommand()
        mode = .command
    }

    // MARK: - Commands

    private mutating func beginCommand(_ line: [UInt8]) -> Output? {
        let announcement = LiteralAnnouncement(line)
        switch IMAPCommandParser.parseHeader(line[..<(announcement?.start ?? line.count)]) {
        case .success(let header):
            self.header = header
        case .failure(let error):
            // An unknown command or a bad tag: refused before any "+", so that junk
            // never gets the server to read literal data.
            return refuse(error, announcement)
        }
        return continueCommand(line, announcement)
    }

    private mutating func continueCommand(_ line: [UInt8], _ announcement: LiteralAnnouncement?) -> Output? {
        let tag = header?.tag
        let text = line[..<(announcement?.start ?? line.count)]
        // RFC 9051 §9: command text is CHAR8 without NUL, and CR only in CRLF.
        if text.contains(0) || text.contains(13) {
            return refuse(IMAPParseError(.syntax, tag: tag, "Invalid character in command"), announcement)
        }
        let textAllowance = limits.maximumCommandLength > textLength ? limits.maximumCommandLength - textLength : 0
        guard line.count <= textAllowance else {
            return refuse(IMAPParseError(.tooBig, tag: tag, "Command line too long"), announcement)
        }
        textLength += line.count
        commandSize += line.count
        frame.text.append(contentsOf: text)
        guard let announcement else { return finishCommand() }
        return beginLiteral(announcement)
    }

    private mutating func beginLiteral(_ announcement: LiteralAnnouncement) -> Output? {
        let tag = header?.tag
        let isAppend = header?.isAppend ?? false
        // APPEND's literals are messages, except a first one that is the mailbox name.
        let isMailboxPosition = frame.literals.isEmpty && frame.text.count == (header?.argumentsStart ?? -1)
        let isMessage = isAppend && !isMailboxPosition
        guard let size = announcement.size else {
            return refuse(
                IMAPParseError(isMessage ? .messageTooBig : .tooBig, tag: tag, "Literal too large"), announcement)
        }
        // RFC 7888 §5: LITERAL- allows non-synchronising literals up to 4096 octets only.
        if !announcement.isSynchronizing, let maximum = limits.maximumNonSynchronizingLiteralSize,
            size > UInt64(clamping: maximum)
        {
            return refuse(IMAPParseError(.tooBig, tag: tag, "Non-synchronizing literal too large"), announcement)
        }
        // RFC 3516 §4.2: literal8 is for APPEND data (and CATENATE, not supported).
        if announcement.isBinary && !isMessage {
            return refuse(IMAPParseError(.syntax, tag: tag, "Binary literal not allowed here"), announcement)
        }
        let sizeSoFar = UInt64(clamping: commandSize)
        if isMessage {
            guard appendMessageCount < limits.maximumAppendMessages else {
                return refuse(IMAPParseError(.tooBig, tag: tag, "Too many messages"), announcement)
            }
            // RFC 7889 §4, RFC 9051 §6.3.12: NO [TOOBIG].
            guard size <= UInt64(clamping: limits.maximumMessageSize) else {
                return refuse(IMAPParseError(.messageTooBig, tag: tag, "Message too large"), announcement)
            }
            guard
                size <= UInt64(clamping: limits.maximumAppendSize)
                    &- min(sizeSoFar, UInt64(clamping: limits.maximumAppendSize))
            else {
                return refuse(IMAPParseError(.messageTooBig, tag: tag, "Messages too large"), announcement)
            }
            appendMessageCount += 1
        } else {
            guard size <= UInt64(clamping: limits.maximumLiteralSize) else {
                return refuse(IMAPParseError(.tooBig, tag: tag, "Literal too large"), announcement)
            }
            let maximum = UInt64(clamping: isAppend ? limits.maximumAppendSize : limits.maximumCommandSize)
            guard size <= maximum &- min(sizeSoFar, maximum) else {
                return refuse(IMAPParseError(.tooBig, tag: tag, "Command too large"), announcement)
            }
        }
        // `size` is at most one of the Int limits, so it fits an Int.
        let count = Int(clamping: size)
        commandSize += count
        literal = IMAPCommandFrame.Literal(offset: frame.text.count, bytes: [], isBinary: announcement.isBinary)
        if count > 0 {
            state = .readingLiteral(remaining: count)
        } else {
            completeLiteral()
        }
        return announcement.isSynchronizing ? .continuationRequest : nil
    }

    private func rawCount(available: Int) -> Int {
        guard let wanted = wantsRawBytes else { return 0 }
        return min(wanted, max(available, 0))
    }

    /// `count` raw bytes were taken (kept or thrown away).
    private mutating func consumedRaw(_ count: Int) {
        switch state {
        case .readingLiteral(let remaining):
            if remaining > count {
                state = .readingLiteral(remaining: remaining - count)
            } else {
                completeLiteral()
            }
        case .discardingLiteral(let remaining, let error):
            state =
                remaining > count
                ? .discardingLiteral(remaining: remaining - count, error: error) : .discardingCommand(error: error)
        case .ready, .awaitingLine, .discardingCommand:
            break
        }
    }

    private mutating func completeLiteral() {
        frame.literals.append(literal)
        literal = IMAPCommandFrame.Literal(offset: 0, bytes: [], isBinary: false)
        state = .awaitingLine
    }

    private mutating func finishCommand() -> Output {
        let result = IMAPCommandParser.parse(frame: frame, limits: limits)
        resetCommand()
        switch result {
        case .success(let command): return .command(command)
        case .failure(let error): return .error(error)
        }
    }

    /// Refuses the command in progress. After a synchronising announcement (or none)
    /// the error goes out now; after a non-synchronising one the literal data is on its
    /// way and is thrown away first.
    private mutating func refuse(_ error: IMAPParseError, _ announcement: LiteralAnnouncement?) -> Output? {
        resetCommand()
        guard let announcement, !announcement.isSynchronizing else { return .error(error) }
        return startDiscarding(announcement, error: error)
    }

    private mutating func startDiscarding(_ announcement: LiteralAnnouncement, error: IMAPParseError) -> Output? {
        guard let size = announcement.size, size <= UInt64(clamping: limits.maximumDiscardedLiteralSize) else {
            resetCommand()
            return .error(IMAPParseError(.fatal, tag: error.tag, "Literal too large"))
        }
        let count = Int(clamping: size)
        state = count > 0 ? .discardingLiteral(remaining: count, error: error) : .discardingCommand(error: error)
        return nil
    }

    /// A line of a refused command: thrown away, and its literal too if it announces a
    /// non-synchronising one. A line that ends the command ends the discarding.
    private mutating func discard(line: [UInt8], error: IMAPParseError) -> Output? {
        guard let announcement = LiteralAnnouncement(line), !announcement.isSynchronizing else {
            resetCommand()
            return .error(error)
        }
        return startDiscarding(announcement, error: error)
    }

    private mutating func resetCommand() {
        state = .ready
        frame = IMAPCommandFrame()
        literal = IMAPCommandFrame.Literal(offset: 0, bytes: [], isBinary: false)
        header = nil
        textLength = 0
        commandSize = 0
        appendMessageCount = 0
    }

    // MARK: - IDLE and AUTHENTICATE

    ///     idle = "IDLE" CRLF "DONE"        ; RFC 2177 §3, RFC 9051 §6.3.13
    private mutating func idleLine(_ line: [UInt8], tag: String) -> Output? {
        if IMAPGrammar.matches(line, "DONE") { return .idleDone }
        return refuse(IMAPParseError(.syntax, tag: tag, "Expected DONE"), LiteralAnnouncement(line))
    }

    ///     authenticate = "AUTHENTICATE" SP auth-type [SP initial-resp] *(CRLF base64)
    ///
    /// RFC 9051 §6.2.2: "*" cancels; invalid BASE64 must be rejected with BAD.
    private mutating func authenticationLine(_ line: [UInt8], tag: String) -> Output? {
        if line == [UInt8(ascii: "*")] { return .authenticationCancelled }
        guard line.count <= limits.maximumCommandLength else {
            return refuse(IMAPParseError(.tooBig, tag: tag, "Response too long"), LiteralAnnouncement(line))
        }
        guard let decoded = Base64.decode(line) else {
            return refuse(IMAPParseError(.syntax, tag: tag, "Invalid base64 data"), LiteralAnnouncement(line))
        }
        return .authenticationResponse(decoded)
    }
}

/// A literal announcement at the end of a line.
///
///     literal  = "{" number64 ["+"] "}" CRLF *CHAR8
///     literal8 = "~{" number64 ["+"] "}" CRLF *OCTET
struct LiteralAnnouncement: Hashable, Sendable {
    /// Where the announcement ("{" or "~{") starts in the line.
    var start: Int
    /// The announced size; `nil` when it does not fit 63 bits.
    var size: UInt64?
    /// `{n}`, not `{n+}`: the client waits for "+".
    var isSynchronizing: Bool
    /// `~{n}` (RFC 3516).
    var isBinary: Bool

    /// The announcement ending `line`, if there is one outside a quoted string.
    init?(_ line: [UInt8]) {
        guard line.last == UInt8(ascii: "}") else { return nil }
        var index = line.count - 2
        var isSynchronizing = true
        if index >= 0, line[index] == UInt8(ascii: "+") {
            isSynchronizing = false
            index -= 1
        }
        let digitsEnd = index + 1
        while index >= 0, IMAPGrammar.isDigit(line[index]) { index -= 1 }
        guard index >= 0, index + 1 < digitsEnd, line[index] == UInt8(ascii: "{") else { return nil }
        let digits = line[(index + 1)..<digitsEnd]
        var start = index
        var isBinary = false
        if index > 0, line[index - 1] == UInt8(ascii: "~") {
            start = index - 1
            isBinary = true
        }
        // `A LOGIN "x {5}` is an unterminated quoted string, not an announcement.
        guard !LiteralAnnouncement.endsInsideQuotedString(line[..<start]) else { return nil }
        self.start = start
        self.size = IMAPGrammar.decimal(digits, maximum: IMAPLimits.maximumNumber64)
        self.isSynchronizing = isSynchronizing
        self.isBinary = isBinary
    }

    /// Whether `text` ends inside a quoted string (quotes toggle; backslash escapes
    /// the next octet inside one).
    static func endsInsideQuotedString(_ text: ArraySlice<UInt8>) -> Bool {
        var isQuoted = false
        var isEscaped = false
        for byte in text {
            if isEscaped {
                isEscaped = false
            } else if isQuoted && byte == UInt8(ascii: "\\") {
                isEscaped = true
            } else if byte == UInt8(ascii: "\"") {
                isQuoted.toggle()
            }
        }
        return isQuoted
    }
}
