import NIOCore
import Testing

@testable import IMAPProtocol

@Suite("IMAP command framer")
struct IMAPCommandFramerTests {
    // MARK: - Literals

    /// RFC 3501 §6.2.3 / RFC 9051 §4.3: each synchronising literal is announced, "+"
    /// requested, and exactly n octets read before the line goes on.
    @Test func synchronizingLiteralsAskForContinuation() {
        var framer = IMAPCommandFramer()
        #expect(framer.receive(line: bytes("a001 LOGIN {11}")) == .continuationRequest)
        #expect(framer.wantsRawBytes == 11)
        #expect(framer.isInCommand)
        var data = bytes("FRED FOOBAR")[...]
        framer.receive(raw: &data)
        #expect(data.isEmpty)
        #expect(framer.wantsRawBytes == nil)
        #expect(framer.receive(line: bytes(" {7}")) == .continuationRequest)
        #expect(framer.wantsRawBytes == 7)
        var password = bytes("fat man")[...]
        framer.receive(raw: &password)
        #expect(
            framer.receive(line: []) == .command(command("a001", .login(username: "FRED FOOBAR", password: "fat man"))))
        #expect(!framer.isInCommand)
        #expect(framer.bufferedByteCount == 0)
    }

    /// LITERAL+ / LITERAL- (RFC 7888): no "+", the data follows at once.
    @Test func nonSynchronizingLiteralsDoNotAskForContinuation() {
        var driver = FramerDriver()
        driver.feed("a001 LOGIN {11+}\r\nFRED FOOBAR {7+}\r\nfat man\r\n")
        #expect(driver.outputs == [.command(command("a001", .login(username: "FRED FOOBAR", password: "fat man")))])
        #expect(driver.continuationCount == 0)
    }

    /// `receive(raw:)` takes only what the literal needs and leaves the rest, whatever the
    /// chunking: here the literal, the rest of its line and the next command come in one
    /// buffer.
    @Test func rawInputLeavesTheRestInTheBuffer() {
        var framer = IMAPCommandFramer()
        #expect(framer.receive(line: bytes("A1 LOGIN {5+}")) == nil)
        var buffer = ByteBuffer(string: "alice secret\r\nA2 NOOP\r\n")
        framer.receive(raw: &buffer)
        #expect(String(buffer: buffer) == " secret\r\nA2 NOOP\r\n")
        #expect(framer.wantsRawBytes == nil)
        #expect(
            framer.receive(line: ByteBuffer(string: " secret"))
                == .command(command("A1", .login(username: "alice", password: "secret"))))
        #expect(framer.receive(line: ByteBuffer(string: "A2 NOOP")) == .command(command("A2", .noop)))
    }

    @Test func rawInputArrivingInPieces() {
        var framer = IMAPCommandFramer()
        #expect(framer.receive(line: bytes("A1 APPEND INBOX {10}")) == .continuationRequest)
        for (index, chunk) in ["abc", "", "defg", "hij"].enumerated() {
            var buffer = ByteBuffer(string: chunk)
            framer.receive(raw: &buffer)
            #expect(buffer.readableBytes == 0, "chunk \(index)")
        }
        #expect(framer.wantsRawBytes == nil)
        #expect(framer.bufferedByteCount > 10)
        #expect(
            framer.receive(line: [])
                == .command(command("A1", .append(.inbox, [IMAPCommand.AppendMessage(data: bytes("abcdefghij"))]))))
    }

    /// A command with several literals, including CRLF and command-like text inside
    /// them, split at every byte boundary and at every pair of boundaries.
    @Test func literalsSplitAtArbitraryBoundaries() {
        let input = bytes(
            "A1 SEARCH SUBJECT \(literal("a\r\nA2 LOGOUT\r\n")) BODY \(literalPlus("x{3}")) TEXT {0}\r\n\r\nA3 NOOP\r\n"
        )
        let expected: [IMAPCommandFramer.Output] = [
            .command(
                command(
                    "A1",
                    .search(
                        IMAPCommand.SearchArguments(
                            key: .and([.subject("a\r\nA2 LOGOUT\r\n"), .body("x{3}"), .text("")]))))),
            .command(command("A3", .noop)),
        ]
        for first in 0...input.count {
            for second in stride(from: first, through: input.count, by: 7) {
                var driver = FramerDriver()
                driver.feed(input, splitAt: [first, second])
                #expect(driver.results == expected, "split at \(first), \(second)")
                #expect(driver.continuationCount == 2)
            }
        }
        var driver = FramerDriver()
        driver.feedBytewise(input)
        #expect(driver.results == expected)
    }

    @Test func literalInLoginPasswordMayHoldAnything() {
        let password = "\"p a\\ss\r\nA2 LOGOUT\r\n{5}"
        var driver = FramerDriver()
        driver.feed("A1 LOGIN fred \(literal(password))\r\nA3 NOOP\r\n")
        #expect(
            driver.results == [
                .command(command("A1", .login(username: "fred", password: password))), .command(command("A3", .noop)),
            ])
    }

    /// RFC 3516: NUL only inside `~{n}`.
    @Test func binaryLiteralCarriesNUL() {
        var driver = FramerDriver()
        driver.feed(bytes("A1 APPEND INBOX (\\Seen) ~{4}\r\n") + [0, 1, 0, 0xFF] + bytes("\r\n"))
        #expect(
            driver.results == [
                .command(
                    command(
                        "A1",
                        .append(
                            .inbox, [IMAPCommand.AppendMessage(flags: [.seen], data: [0, 1, 0, 0xFF], isBinary: true)]))
                )
            ])
        #expect(driver.continuationCount == 1)
    }

    @Test func binaryLiteralOutsideAppendIsRefusedBeforeReading() {
        var driver = FramerDriver()
        driver.feed("A1 LOGIN ~{5}\r\n")
        #expect(driver.errorLines == ["A1 BAD Binary literal not allowed here"])
        #expect(driver.continuationCount == 0)
        #expect(driver.framer.wantsRawBytes == nil)
        driver.feed("A2 NOOP\r\n")
        #expect(driver.commands == [command("A2", .noop)])
    }

    /// APPEND's first literal is the mailbox name: it is held to the ordinary literal
    /// limit, not the message size.
    @Test func appendMailboxLiteralIsNotAMessage() {
        var limits = IMAPLimits()
        limits.maximumMessageSize = 4
        var driver = FramerDriver(limits: limits)
        driver.feed("A1 APPEND {7}\r\nArchive {4}\r\nabcd\r\n")
        #expect(
            driver.results == [
                .command(
                    command("A1", .append(MailboxName("Archive"), [IMAPCommand.AppendMessage(data: bytes("abcd"))])))
            ])
        driver.feed("A2 APPEND Archive {5}\r\n")
        #expect(driver.errorLines == ["A2 NO [TOOBIG] Message too large"])
    }

    // MARK: - Limits

    /// RFC 7888 §5 (LITERAL-): a non-synchronising literal over 4096 octets is refused;
    /// its data is read and thrown away, never kept, and never taken for commands.
    @Test func literalMinusRefusesLargeNonSynchronizingLiterals() {
        let payload = "\r\nA9 LOGOUT\r\n" + String(repeating: "x", count: 4097 - 13)
        #expect(payload.utf8.count == 4097)
        var driver = FramerDriver()
        driver.feed("A1 LOGIN {4097+}\r\n" + payload + " x\r\nA2 NOOP\r\n")
        #expect(driver.errorLines == ["A1 BAD [TOOBIG] Non-synchronizing literal too large"])
        #expect(driver.commands == [command("A2", .noop)])
        #expect(driver.maximumBuffered == 0)
        #expect(driver.continuationCount == 0)
        // Exactly 4096 is fine.
        var accepted = FramerDriver()
        accepted.feed("A1 LOGIN {4096+}\r\n" + String(repeating: "y", count: 4096) + " x\r\n")
        #expect(
            accepted.commands == [command("A1", .login(username: String(repeating: "y", count: 4096), password: "x"))])
    }

    /// LITERAL- applies to APPEND too (RFC 7888 §5): the client must synchronise.
    @Test func literalMinusAppliesToAppend() {
        var driver = FramerDriver()
        driver.feed("A1 APPEND INBOX {5000+}\r\n" + String(repeating: "m", count: 5000) + "\r\nA2 NOOP\r\n")
        #expect(driver.errorLines == ["A1 BAD [TOOBIG] Non-synchronizing literal too large"])
        #expect(driver.commands == [command("A2", .noop)])
        #expect(driver.maximumBuffered == 0)
    }

    /// RFC 7889 §4 / RFC 9051 §6.3.12: an APPEND over the size limit gets NO [TOOBIG]
    /// instead of "+", before any data is read, and nothing of the announced size is
    /// allocated.
    @Test func tooBigMessageIsRefusedWithoutReading() {
        var framer = IMAPCommandFramer()
        let output = framer.receive(line: bytes("A1 APPEND INBOX (\\Seen) {52428801}"))
        guard case .error(let error) = output else {
            Issue.record("expected an error, got \(String(describing: output))")
            return
        }
        #expect(error.response.description == "A1 NO [TOOBIG] Message too large")
        #expect(!error.closesConnection)
        #expect(framer.wantsRawBytes == nil)
        #expect(!framer.isInCommand)
        #expect(framer.bufferedByteCount == 0)
        // The client sent nothing more of that command; the next one parses.
        #expect(framer.receive(line: bytes("A2 NOOP")) == .command(command("A2", .noop)))
        // Exactly the limit is accepted.
        #expect(framer.receive(line: bytes("A3 APPEND INBOX {52428800}")) == .continuationRequest)
        #expect(framer.wantsRawBytes == 52_428_800)
        #expect(framer.bufferedByteCount < 100)
    }

    @Test func tooBigLiteralsOutsideAppend() {
        var driver = FramerDriver()
        driver.feed("A1 LOGIN {65537}\r\n")
        driver.feed("A2 LOGIN {99999999999999999999}\r\n")
        driver.feed("A3 SEARCH TEXT {18446744073709551616}\r\n")
        driver.feed("A4 APPEND INBOX {99999999999999999999}\r\n")
        driver.feed("A5 LOGIN {65536}\r\n")
        #expect(
            driver.errorLines == [
                "A1 BAD [TOOBIG] Literal too large", "A2 BAD [TOOBIG] Literal too large",
                "A3 BAD [TOOBIG] Literal too large", "A4 NO [TOOBIG] Literal too large",
            ])
        #expect(driver.continuationCount == 1)
        #expect(driver.framer.wantsRawBytes == 65536)
        #expect(driver.maximumBuffered < 100)
    }

    /// A non-synchronising literal whose size cannot be skipped (or not even parsed)
    /// ends the connection: nothing else keeps the stream in step.
    @Test func hugeNonSynchronizingLiteralClosesTheConnection() {
        for line in ["A1 LOGIN {99999999999999999999+}", "A1 APPEND INBOX {9999999999+}", "* FOO {9999999999+}"] {
            var framer = IMAPCommandFramer()
            guard case .error(let error)? = framer.receive(line: bytes(line)) else {
                Issue.record("\(line): no error")
                continue
            }
            #expect(error.closesConnection, "\(line)")
            #expect(error.response.description == "* BYE Literal too large")
            #expect(framer.wantsRawBytes == nil)
        }
    }

    /// With LITERAL+ (no 4096 bound), an oversized non-synchronising APPEND literal is
    /// skipped byte for byte without being kept, the rest of the command too (with its
    /// further literals), and the error comes when the command ends.
    @Test func oversizedNonSynchronizingLiteralIsSkipped() {
        var limits = IMAPLimits()
        limits.maximumNonSynchronizingLiteralSize = nil
        limits.maximumMessageSize = 100
        let message = String(repeating: "m", count: 5000)
        let input = bytes("A1 APPEND INBOX {5000+}\r\n" + message + " (\\Seen) {3+}\r\nabc\r\nA2 NOOP\r\n")
        for boundary in stride(from: 0, through: input.count, by: 97) {
            var driver = FramerDriver(limits: limits)
            driver.feed(input, splitAt: [boundary])
            #expect(driver.errorLines == ["A1 NO [TOOBIG] Message too large"], "split at \(boundary)")
            #expect(driver.commands == [command("A2", .noop)])
            #expect(driver.maximumBuffered < 100)
        }
        var driver = FramerDriver(limits: limits)
        driver.feedBytewise(input)
        #expect(driver.errorLines == ["A1 NO [TOOBIG] Message too large"])
        #expect(driver.commands == [command("A2", .noop)])
        #expect(driver.maximumBuffered < 100)
    }

    /// While a refused command is skipped, a synchronising literal ends it: the client
    /// waits for "+", gets the error instead, and sends nothing more of it.
    @Test func skippingEndsAtASynchronizingLiteral() {
        var limits = IMAPLimits()
        limits.maximumNonSynchronizingLiteralSize = nil
        limits.maximumMessageSize = 10
        var driver = FramerDriver(limits: limits)
        driver.feed("A1 APPEND INBOX {20+}\r\n" + String(repeating: "z", count: 20) + " {5}\r\n")
        #expect(driver.errorLines == ["A1 NO [TOOBIG] Message too large"])
        #expect(driver.continuationCount == 0)
        driver.feed("A2 NOOP\r\n")
        #expect(driver.commands == [command("A2", .noop)])
    }

    @Test func commandLineLengthIsBounded() {
        var driver = FramerDriver()
        let name = String(repeating: "a", count: 8192 - "A1 SELECT ".utf8.count)
        driver.feed("A1 SELECT \(name)\r\n")
        #expect(driver.commands == [command("A1", .select(MailboxName(name), .init()))])
        driver.feed("A2 SELECT \(name)a\r\n")
        #expect(driver.errorLines == ["A2 BAD [TOOBIG] Command line too long"])
        // Across lines: the text of all lines counts, literal data does not.
        var split = FramerDriver()
        split.feed(
            "A3 LOGIN {5000}\r\n" + String(repeating: "u", count: 5000) + " " + String(repeating: "p", count: 8180)
                + "\r\n")
        #expect(split.errorLines == ["A3 BAD [TOOBIG] Command line too long"])
        var fine = FramerDriver()
        fine.feed(
            "A4 LOGIN {5000}\r\n" + String(repeating: "u", count: 5000) + " " + String(repeating: "p", count: 8000)
                + "\r\n")
        #expect(fine.commands.count == 1)
    }

    /// A too-long line ending in a non-synchronising literal: its data is skipped too.
    @Test func tooLongLineWithLiteralIsSkipped() {
        var driver = FramerDriver()
        driver.feed(
            "A1 LOGIN " + String(repeating: "a", count: 9000) + " {20+}\r\n" + "\r\nA9 LOGOUT\r\nxxxxxxx"
                + "\r\nA2 NOOP\r\n")
        #expect(driver.errorLines == ["A1 BAD [TOOBIG] Command line too long"])
        #expect(driver.commands == [command("A2", .noop)])
    }

    @Test func commandSizeIsBoundedAcrossLiterals() {
        var limits = IMAPLimits()
        limits.maximumCommandSize = 100
        var driver = FramerDriver(limits: limits)
        driver.feed("A1 LOGIN {60}\r\n" + String(repeating: "u", count: 60) + " {60}\r\n")
        #expect(driver.errorLines == ["A1 BAD [TOOBIG] Command too large"])
        #expect(driver.continuationCount == 1)
        #expect(driver.framer.wantsRawBytes == nil)
        driver.feed("A2 NOOP\r\n")
        #expect(driver.commands == [command("A2", .noop)])
    }

    @Test func appendSizeAndMessageCountAreBounded() {
        var limits = IMAPLimits()
        limits.maximumAppendMessages = 2
        var driver = FramerDriver(limits: limits)
        driver.feed("A1 APPEND INBOX {1}\r\na {1}\r\nb {1}\r\n")
        #expect(driver.errorLines == ["A1 BAD [TOOBIG] Too many messages"])
        #expect(driver.continuationCount == 2)

        var sizeLimits = IMAPLimits()
        sizeLimits.maximumMessageSize = 50
        sizeLimits.maximumAppendSize = 80
        var sized = FramerDriver(limits: sizeLimits)
        sized.feed("A2 APPEND INBOX {40}\r\n" + String(repeating: "a", count: 40) + " {40}\r\n")
        #expect(sized.errorLines == ["A2 NO [TOOBIG] Messages too large"])
        // MULTIAPPEND within the limits.
        var fine = FramerDriver(limits: limits)
        fine.feed("A3 APPEND INBOX {1}\r\na (\\Seen) {1}\r\nb\r\n")
        #expect(
            fine.commands == [
                command(
                    "A3",
                    .append(
                        .inbox,
                        [
                            IMAPCommand.AppendMessage(data: bytes("a")),
                            IMAPCommand.AppendMessage(flags: [.seen], data: bytes("b")),
                        ]))
            ])
    }

    /// Errors on a line that announces a synchronising literal come instead of "+".
    @Test func errorsBeforeALiteralComeInsteadOfContinuation() {
        for (line, response) in [
            ("* LOGIN {5}", "* BAD Invalid tag"),
            ("A1 FOO {5}", "A1 BAD Unknown command"),
            ("A1 {5}", "A1 BAD Missing command"),
            ("A1 LOGIN\0 {5}", "A1 BAD Invalid character in command"),
        ] {
            var framer = IMAPCommandFramer()
            guard case .error(let error)? = framer.receive(line: bytes(line)) else {
                Issue.record("\(line): no error")
                continue
            }
            #expect(error.response.description == response)
            #expect(framer.wantsRawBytes == nil)
        }
    }

    /// The same errors before a non-synchronising literal: the literal is skipped first.
    @Test func errorsBeforeANonSynchronizingLiteralSkipIt() {
        var driver = FramerDriver()
        driver.feed("* LOGIN {12+}\r\nA9 LOGOUT\r\nx\r\nA2 NOOP\r\n")
        #expect(driver.errorLines == ["* BAD Invalid tag"])
        #expect(driver.commands == [command("A2", .noop)])
    }

    // MARK: - IDLE and AUTHENTICATE

    @Test func idleEndsWithDone() {
        var framer = IMAPCommandFramer()
        #expect(framer.receive(line: bytes("A1 IDLE")) == .command(command("A1", .idle)))
        framer.mode = .idle(tag: "A1")
        #expect(framer.receive(line: bytes("DONE")) == .idleDone)
        #expect(framer.mode == .command)
        framer.mode = .idle(tag: "A2")
        #expect(framer.receive(line: bytes("done")) == .idleDone)
        framer.mode = .idle(tag: "A3")
        guard case .error(let error)? = framer.receive(line: bytes("A4 NOOP")) else {
            Issue.record("no error")
            return
        }
        #expect(error.response.description == "A3 BAD Expected DONE")
        #expect(framer.mode == .command)
        // DONE outside IDLE is no command.
        guard case .error(let outside)? = framer.receive(line: bytes("DONE")) else {
            Issue.record("no error")
            return
        }
        #expect(outside.response.description == "DONE BAD Missing command")
    }

    @Test func authenticateResponses() {
        var framer = IMAPCommandFramer()
        framer.mode = .authenticate(tag: "A1")
        #expect(
            framer.receive(line: bytes("dGVzdAB0ZXN0AHRlc3Q=")) == .authenticationResponse(bytes("test\0test\0test")))
        #expect(framer.mode == .command)
        framer.mode = .authenticate(tag: "A1")
        #expect(framer.receive(line: []) == .authenticationResponse([]))
        framer.mode = .authenticate(tag: "A1")
        #expect(framer.receive(line: bytes("*")) == .authenticationCancelled)
        framer.mode = .authenticate(tag: "A1")
        guard case .error(let error)? = framer.receive(line: bytes("not base64!")) else {
            Issue.record("no error")
            return
        }
        #expect(error.response.description == "A1 BAD Invalid base64 data")
        // Back in command mode.
        #expect(framer.receive(line: bytes("A2 NOOP")) == .command(command("A2", .noop)))
    }

    // MARK: - Misuse and fatal errors

    @Test func lineTooLongIsFatal() {
        var framer = IMAPCommandFramer()
        #expect(framer.receive(line: bytes("A1 LOGIN {3}")) == .continuationRequest)
        var data = bytes("abc")[...]
        framer.receive(raw: &data)
        let output = framer.lineTooLong()
        guard case .error(let error) = output else {
            Issue.record("no error")
            return
        }
        #expect(error.closesConnection)
        #expect(String(buffer: error.response.encoded) == "* BYE Line too long\r\n")
        #expect(!framer.isInCommand)
        #expect(framer.bufferedByteCount == 0)

        var driver = FramerDriver(maximumLineLength: 100)
        driver.feed("A1 LOGIN " + String(repeating: "a", count: 200) + " {5+}\r\n")
        #expect(driver.errorLines == ["* BYE Line too long"])
    }

    @Test func aLineWhileRawBytesAreWantedIsAFramingError() {
        var framer = IMAPCommandFramer()
        _ = framer.receive(line: bytes("A1 LOGIN {3}"))
        guard case .error(let error)? = framer.receive(line: bytes("abc")) else {
            Issue.record("no error")
            return
        }
        #expect(error.closesConnection)
        #expect(framer.wantsRawBytes == nil)
    }

    @Test func resetForgetsTheCommandInProgress() {
        var framer = IMAPCommandFramer()
        _ = framer.receive(line: bytes("A1 LOGIN {3}"))
        framer.mode = .idle(tag: "x")
        framer.reset()
        #expect(framer.wantsRawBytes == nil)
        #expect(!framer.isInCommand)
        #expect(framer.mode == .command)
        #expect(framer.receive(line: bytes("A2 NOOP")) == .command(command("A2", .noop)))
    }

    /// `receive(raw:)` with nothing wanted takes nothing.
    @Test func rawInputWithoutALiteralIsLeftAlone() {
        var framer = IMAPCommandFramer()
        var buffer = ByteBuffer(string: "A1 NOOP\r\n")
        framer.receive(raw: &buffer)
        #expect(buffer.readableBytes == 9)
    }
}
