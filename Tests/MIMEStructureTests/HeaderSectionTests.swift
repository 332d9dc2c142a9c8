import Testing

@testable import MIMEStructure

@Suite("Header sections")
struct HeaderSectionTests {
    @Test func fieldsUnfoldingAndLookup() {
        let raw = crlf([
            "Subject: Saying",
            " Hello",
            "\tagain",
            "from : obsolete@example.test",
            "X-Empty:",
            "X-Eight-Bit: gr\u{00FC}\u{00DF}e",
            "",
            "body: not a field",
        ])
        let header = HeaderSection(parsing: raw)
        #expect(header.fields.map(\.name) == ["Subject", "from", "X-Empty", "X-Eight-Bit"])
        #expect(header.hasBlankLine)
        #expect(text(header.value(named: "SUBJECT")) == "Saying Hello\tagain")
        #expect(text(header.first(named: "subject")?.rawValue) == " Saying\r\n Hello\r\n\tagain")
        #expect(text(header.value(named: "From")) == "obsolete@example.test")
        #expect(header.value(named: "x-empty") == [])
        #expect(header.value(named: "Absent") == nil)
        #expect(text(header.value(named: "x-eight-bit")) == "grüße")
        let end = raw.count - bytes("body: not a field\r\n").count
        #expect(header.range == 0..<end)
        // Each field's range covers its lines and their line ends.
        let subject = header.fields[0]
        #expect(text(raw[subject.range]) == "Subject: Saying\r\n Hello\r\n\tagain\r\n")
    }

    @Test func bareLineFeedsAndMissingBlankLine() {
        let header = HeaderSection(parsing: bytes("A: 1\nB: 2\n folded\nC: 3"))
        #expect(header.fields.map(\.name) == ["A", "B", "C"])
        #expect(!header.hasBlankLine)
        #expect(text(header.value(named: "b")) == "2 folded")
        #expect(text(header.value(named: "c")) == "3")
    }

    @Test func oddLinesAreIgnored() {
        let header = HeaderSection(
            parsing: crlf([" orphan continuation", "no colon here", ": empty name", "Good: yes", "Bad Name: no", ""]))
        #expect(header.fields.map(\.name) == ["Good"])
    }

    @Test func fieldLimit() {
        let lines = (0..<50).map { "X-\($0): v" } + [""]
        let header = HeaderSection(parsing: crlf(lines), limits: MIMELimits(maximumHeaderFields: 10))
        #expect(header.fields.count == 10)
        #expect(header.isTruncated)
    }

    @Test func sizeLimit() {
        let lines = (0..<1000).map { "X-\($0): value" } + [""]
        let header = HeaderSection(parsing: crlf(lines), limits: MIMELimits(maximumHeaderSize: 1000))
        #expect(header.range.count <= 1000)
        #expect(header.isTruncated)
        #expect(!header.hasBlankLine)
    }

    @Test func rangesInsideALargerMessage() {
        let raw = bytes("junk\r\nA: 1\r\n\r\nbody")
        let header = HeaderSection(parsing: raw, in: 6..<raw.count)
        #expect(header.fields.map(\.name) == ["A"])
        #expect(header.range == 6..<14)
        #expect(header.fields.first?.range == 6..<12)
        let outside = HeaderSection(parsing: raw, in: 100..<200)
        #expect(outside.fields.isEmpty)
        #expect(outside.range == raw.count..<raw.count)
    }
}
