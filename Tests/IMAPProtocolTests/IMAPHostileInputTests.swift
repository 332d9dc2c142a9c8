import MailTestSupport
import NIOCore
import Testing

@testable import IMAPProtocol

/// Input meant to break the parser: deep nesting, huge numbers, long lists, binary junk,
/// and a seeded random run. Nothing may trap, recurse without a bound or buffer without
/// a bound; every refusal is one response line.
@Suite("IMAP hostile input")
struct IMAPHostileInputTests {
    /// 10,000 nested parentheses: refused by the line limit by default, and by the
    /// nesting limit when the line limit is raised, without deep recursion.
    @Test func deeplyNestedParentheses() {
        let nested =
            "A1 SEARCH " + String(repeating: "(", count: 10_000) + "ALL" + String(repeating: ")", count: 10_000)
        #expect(response(nested) == "A1 BAD [TOOBIG] Command line too long")
        var limits = IMAPLimits()
        limits.maximumCommandLength = 100_000
        #expect(response(nested, limits: limits) == "A1 BAD [TOOBIG] Too deeply nested")
        let nots = "A1 SEARCH " + String(repeating: "NOT ", count: 10_000) + "ALL"
        #expect(response(nots, limits: limits) == "A1 BAD [TOOBIG] Too deeply nested")
        let ors = "A1 SEARCH " + String(repeating: "OR ALL ", count: 10_000) + "ALL"
        #expect(response(ors, limits: limits) == "A1 BAD [TOOBIG] Too deeply nested")
        let unclosed = "A1 SEARCH " + String(repeating: "(", count: 10_000)
        #expect(response(unclosed, limits: limits) == "A1 BAD [TOOBIG] Too deeply nested")
    }

    @Test func nestingUpToTheLimitIsFine() throws {
        let depth = IMAPLimits().maximumNestingDepth
        let nested = "A1 SEARCH " + String(repeating: "(", count: depth) + "ALL" + String(repeating: ")", count: depth)
        let command = try IMAPCommandParser.parse(bytes(nested)).get()
        var key = SearchKey.all
        for _ in 0..<depth { key = .and([key]) }
        #expect(command.kind == .search(IMAPCommand.SearchArguments(key: key)))
        let deeper =
            "A1 SEARCH " + String(repeating: "(", count: depth + 1) + "ALL" + String(repeating: ")", count: depth + 1)
        #expect(response(deeper) == "A1 BAD [TOOBIG] Too deeply nested")
    }

    @Test func unbalancedParentheses() {
        #expect(response("A1 SEARCH (ALL") == "A1 BAD Expected ) after the search keys")
        #expect(response("A1 SEARCH ALL)") == "A1 BAD Unexpected data after the command")
        #expect(response("A1 SEARCH )") == "A1 BAD Unknown search key")
        #expect(response("A1 FETCH 1 ((FLAGS)") == "A1 BAD Unknown fetch item")
        #expect(response("A1 FETCH 1 (FLAGS))") == "A1 BAD Unexpected data after the command")
        #expect(response("A1 STORE 1 FLAGS ((\\Seen)") == "A1 BAD Invalid flag")
        #expect(response("A1 LIST ((SUBSCRIBED) \"\" %") == "A1 BAD Expected an atom")
        #expect(response("A1 STATUS INBOX (MESSAGES") == "A1 BAD Expected ) after the status items")
    }

    @Test func tooManyRanges() {
        let ranges = (1...1001).map(String.init).joined(separator: ",")
        #expect(response("A1 FETCH \(ranges) FLAGS") == "A1 BAD [TOOBIG] Too many ranges in sequence set")
        let allowed = (1...1000).map(String.init).joined(separator: ",")
        #expect(response("A1 FETCH \(allowed) FLAGS") == nil)
    }

    @Test func tooManySearchKeys() {
        let keys = String(repeating: "ALL ", count: 1000) + "ALL"
        #expect(response("A1 SEARCH \(keys)") == "A1 BAD [TOOBIG] Too many search keys")
        let allowed = String(repeating: "ALL ", count: 999) + "ALL"
        #expect(response("A1 SEARCH \(allowed)") == nil)
    }

    @Test func numbersAtAndBeyondTheirBounds() {
        #expect(response("A1 FETCH 4294967295 FLAGS") == nil)
        #expect(response("A1 FETCH 4294967296 FLAGS") == "A1 BAD Number too large")
        #expect(response("A1 FETCH 18446744073709551616 FLAGS") == "A1 BAD Number too large")
        #expect(response("A1 FETCH " + String(repeating: "9", count: 5000) + " FLAGS") == "A1 BAD Number too large")
        #expect(response("A1 FETCH " + String(repeating: "0", count: 5000) + "1 FLAGS") == nil)
        #expect(response("A1 SEARCH LARGER 9223372036854775807") == nil)
        #expect(response("A1 SEARCH LARGER 9223372036854775808") == "A1 BAD Number too large")
        #expect(response("A1 UID FETCH 1 FLAGS (CHANGEDSINCE 18446744073709551615)") == "A1 BAD Number too large")
        #expect(response("A1 FETCH 1 BODY[]<0.9223372036854775808>") == "A1 BAD Number too large")
        #expect(response("A1 FETCH 1 BODY[4294967296]") == "A1 BAD Number too large")
        #expect(response("A1 SELECT INBOX (QRESYNC (4294967296 1))") == "A1 BAD Number too large")
        #expect(response("A1 FETCH 0 FLAGS") == "A1 BAD Invalid sequence number 0")
        #expect(response("A1 FETCH 1:*:3 FLAGS") == "A1 BAD Expected a space")
    }

    @Test func hugeLiteralAnnouncements() {
        #expect(response("A1 LOGIN {99999999999999999999}") == "A1 BAD [TOOBIG] Literal too large")
        #expect(response("A1 LOGIN {99999999999999999999+}") == "* BYE Literal too large")
        #expect(
            response("A1 LOGIN {" + String(repeating: "9", count: 8000) + "}") == "A1 BAD [TOOBIG] Literal too large")
        #expect(response("A1 LOGIN {-1}") == "A1 BAD Expected a string")
        #expect(response("A1 LOGIN {+}") == "A1 BAD Expected a string")
        #expect(response("A1 LOGIN {1a}") == "A1 BAD Expected a string")
        #expect(response("A1 LOGIN { 5}") == "A1 BAD Expected a string")
    }

    @Test func tagsThatAreNotTags() {
        #expect(response("") == "* BAD Empty command line")
        #expect(response(" ") == "* BAD Missing tag")
        #expect(response(String(repeating: " ", count: 500)) == "* BAD Missing tag")
        #expect(response("* NOOP") == "* BAD Invalid tag")
        #expect(response("+ NOOP") == "* BAD Invalid tag")
        #expect(response("A+ NOOP") == "* BAD Invalid tag")
        #expect(response("{5}") == "* BAD Empty command line", "only a literal announcement: no \"+\"")
        #expect(response("%a NOOP") == "* BAD Invalid tag")
        #expect(response("\tA1 NOOP") == "* BAD Invalid tag")
    }

    @Test func bytesThatHaveNoPlaceInACommand() {
        #expect(response(bytes: bytes("A1 NOOP") + [0]) == "A1 BAD Invalid character in command")
        #expect(response(bytes: [0] + bytes("A1 NOOP")) == "* BAD Invalid tag")
        #expect(
            response(bytes: bytes("A1 SELECT \"") + [0xFF] + bytes("\"")) == "A1 BAD Invalid UTF-8 in quoted string")
        #expect(
            response(bytes: bytes("A1 SELECT \"") + [0xC0, 0x80] + bytes("\""))
                == "A1 BAD Invalid UTF-8 in quoted string")
        #expect(response(bytes: bytes("A1 SELECT \"a\rb\"")) == "A1 BAD Invalid character in command")
        #expect(response(bytes: bytes("A1 SELECT {3}\r\na\0b")) == "A1 BAD NUL in literal")
        #expect(response(bytes: bytes("A") + [0xC3, 0xA4] + bytes(" NOOP")) == "* BAD Invalid tag")
    }

    /// A literal's data is data, whatever it looks like: a command inside a literal is
    /// never run, and neither is one inside a skipped literal.
    @Test func commandsInsideLiteralsAreNeverRun() {
        var driver = FramerDriver()
        driver.feed("A1 SELECT {15}\r\nA2 DELETE INBOX\r\n")
        let payload = String(repeating: "A4 DELETE INBOX\r\n", count: 294) + "xx"
        #expect(payload.utf8.count == 5000)
        driver.feed("A3 LOGIN {5000+}\r\n" + payload + "\r\n")
        for command in driver.commands {
            if case .delete = command.kind { Issue.record("ran \(command)") }
        }
        #expect(driver.commands == [command("A1", .select(MailboxName("A2 DELETE INBOX"), .init()))])
        #expect(driver.errorLines == ["A3 BAD [TOOBIG] Non-synchronizing literal too large"])
    }

    /// A seeded run of a few thousand random inputs through the framer, in random chunks:
    /// no trap, buffering bounded by the limits at every step, one line per response.
    @Test func randomInputThroughTheFramer() {
        var generator = Xorshift64(seed: 0x494D_4150_3472_6576)
        var limits = IMAPLimits()
        limits.maximumCommandLength = 256
        limits.maximumLiteralSize = 64
        limits.maximumMessageSize = 128
        limits.maximumAppendSize = 256
        limits.maximumCommandSize = 256
        limits.maximumDiscardedLiteralSize = 512
        limits.maximumAppendMessages = 3
        let bound = limits.maximumCommandLength + limits.maximumAppendSize
        let pieces: [String] = [
            "A1 ", "a.2 ", "* ", "+ ", "UID ", "LOGIN ", "APPEND ", "FETCH ", "SEARCH ", "SELECT ", "STORE ", "LIST ",
            "STATUS ", "IDLE", "DONE", "NOT ", "OR ", "(", ")", "[", "]", "<", ">", "\"", "\\", "{", "}", "{5}",
            "{3+}", "~{2}", "{0}", "{64}", "{65}", "{129+}", "{999+}", "{99999999999999999999}", "\r\n", "\n", "\r",
            " ", "1", "0", "*", ":", ",", "$", "INBOX", "FLAGS", "BODY[", "HEADER.FIELDS", "\\Seen", "ALL",
            "CHANGEDSINCE", "-", "+", "ä", "é",
        ]
        let rawBytes: [UInt8] = [0, 0xFF, 0xC3, 0x80, 0x16, 0x7F, 0x09]
        var driver = FramerDriver(limits: limits, maximumLineLength: 1024)
        for round in 0..<3000 {
            var input: [UInt8] = []
            for _ in 0..<(1 + generator.index(below: 12)) {
                if generator.index(below: 8) == 0 {
                    input.append(rawBytes[generator.index(below: rawBytes.count)])
                } else {
                    input += bytes(pieces[generator.index(below: pieces.count)])
                }
            }
            if generator.index(below: 3) == 0 { input += bytes("\r\n") }
            // Random chunking, sometimes byte by byte.
            var start = 0
            while start < input.count {
                let size = generator.index(below: 3) == 0 ? 1 : 1 + generator.index(below: 16)
                let end = min(input.count, start + size)
                driver.feed(Array(input[start..<end]))
                start = end
                #expect(driver.framer.bufferedByteCount <= bound, "round \(round)")
                #expect(driver.pending.count <= 1024 + 16, "round \(round)")
            }
            // Now and then the session enters IDLE or AUTHENTICATE mode.
            if !driver.framer.isInCommand, generator.index(below: 20) == 0 {
                driver.framer.mode = generator.index(below: 2) == 0 ? .idle(tag: "I1") : .authenticate(tag: "S1")
            }
        }
        #expect(driver.maximumBuffered <= bound)
        for output in driver.outputs {
            switch output {
            case .command(let command):
                #expect(!command.tag.isEmpty)
                #expect(command.tag.utf8.allSatisfy(IMAPGrammar.isTagChar))
            case .error(let error):
                let line = String(buffer: error.response.encoded)
                #expect(line.utf8.filter { $0 == 10 }.count == 1)
                #expect(line.hasSuffix("\r\n"))
                #expect(!line.utf8.contains(0))
            case .continuationRequest, .idleDone, .authenticationResponse, .authenticationCancelled:
                break
            }
        }
        #expect(driver.outputs.count > 100)
    }

    /// Random single lines through `IMAPCommandParser.parse`: commands or errors, no trap.
    @Test func randomLinesThroughTheParser() {
        var generator = Xorshift64(seed: 0x5041_5253_4552)
        let alphabet =
            bytes("A1 UIDFETCHSEARCHSTORELISTLOGINAPPENDSELECT()[]<>{}\"\\*%$:,.+-~0123456789") + [
                0, 13, 10, 0x80, 0xFF,
            ]
        for _ in 0..<5000 {
            let count = generator.index(below: 60)
            let line = (0..<count).map { _ in alphabet[generator.index(below: alphabet.count)] }
            switch IMAPCommandParser.parse(line) {
            case .success(let command):
                #expect(!command.tag.isEmpty)
            case .failure(let error):
                #expect(!String(buffer: error.response.encoded).dropLast(2).contains("\n"))
            }
        }
    }

    // MARK: - Helpers

    /// The response line a command gets, or nil when it parses.
    private func response(_ text: String, limits: IMAPLimits = IMAPLimits()) -> String? {
        response(bytes: bytes(text), limits: limits)
    }

    private func response(bytes input: [UInt8], limits: IMAPLimits = IMAPLimits()) -> String? {
        switch IMAPCommandParser.parse(input, limits: limits) {
        case .success: return nil
        case .failure(let error): return error.response.description
        }
    }
}
