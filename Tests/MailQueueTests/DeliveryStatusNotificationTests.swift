import Foundation
import Testing

// Scoped: MIMEStructure has an `Envelope` of its own (IMAP's), MailQueue the SMTP one.
import struct MIMEStructure.BodyPart
import struct MIMEStructure.MessageStructure

@testable import MailQueue

private typealias DSN = DeliveryStatusNotification

/// RFC 3464 Appendix A.1: the message arrived Sat, 2 Jul 1994 17:10:28 -0400 and was
/// last tried Thu, 7 Jul 1994 17:15:49 -0400; the report is dated 17:16:05.
private let arrival = Date(timeIntervalSince1970: 773_183_428)
private let lastAttempt = Date(timeIntervalSince1970: 773_615_749)
private let reportDate = Date(timeIntervalSince1970: 773_615_765)

private let originalMessage = Array(
    """
    From: owner-ups-mib@CS.UTK.EDU\r
    To: louisl@larry.slip.umd.edu\r
    Subject: ups-mib\r
    Message-ID: <199407021710.RAA0001@CS.UTK.EDU>\r
    \r
    original message\r

    """.utf8)

private func reportEnvelope(
    sender: String = "owner-ups-mib@cs.utk.edu", recipients: [Envelope.Recipient]? = nil, envelopeID: String? = nil,
    ret: String? = nil, smtpUTF8: Bool = false
) -> Envelope {
    Envelope(
        sender: sender,
        recipients: recipients ?? [
            Envelope.Recipient(
                address: "louisl@larry.slip.umd.edu", originalRecipient: "rfc822;louisl@larry.slip.umd.edu")
        ],
        envelopeID: envelopeID, ret: ret, smtpUTF8: smtpUTF8, receivedAt: arrival, id: "RAA14128")
}

private let appendixEntry = DSN.RecipientEntry(
    address: "louisl@larry.slip.umd.edu", originalRecipient: "rfc822;louisl@larry.slip.umd.edu", action: .failed,
    status: "4.0.0", diagnostic: "smtp; 426 connection timed out", lastAttempt: lastAttempt)

private func makeReport(
    _ kind: DSN.Kind = .failure, envelope: Envelope = reportEnvelope(), entries: [DSN.RecipientEntry] = [appendixEntry],
    message: [UInt8] = originalMessage, maximumReturnedSize: Int = 1 << 20
) throws -> [UInt8] {
    try #require(
        DSN.make(
            kind: kind, reportingMTA: "cs.utk.edu", envelope: envelope, entries: entries, originalMessage: message,
            now: reportDate, messageID: "RAA14128.773615765@cs.utk.edu", maximumReturnedSize: maximumReturnedSize))
}

/// A report taken apart with the IMAP server's MIME parser.
private struct ParsedReport {
    let structure: MessageStructure

    init(_ bytes: [UInt8]) { structure = MessageStructure(parsing: bytes) }

    var parts: [BodyPart] { structure.root.children }
    var types: [String] { parts.map { "\($0.contentType.type)/\($0.contentType.subtype)" } }

    func body(_ index: Int) -> String {
        guard parts.indices.contains(index) else { return "" }
        return String(decoding: structure.octets(in: parts[index].bodyRange), as: UTF8.self)
    }

    func bodyBytes(_ index: Int) -> [UInt8] {
        guard parts.indices.contains(index) else { return [] }
        return Array(structure.octets(in: parts[index].bodyRange))
    }

    func header(_ name: String) -> String? {
        structure.header.value(named: name).map { String(decoding: $0, as: UTF8.self) }
    }

    /// The delivery-status part as groups of (name, value) fields: the per-message
    /// group first, then one per recipient (RFC 3464 §2.1).
    var statusGroups: [[(name: String, value: String)]] {
        let text = body(1).replacingOccurrences(of: "\r\n ", with: " ")
        return text.components(separatedBy: "\r\n\r\n").map { group in
            group.components(separatedBy: "\r\n").filter { !$0.isEmpty }.map { line in
                guard let colon = line.firstIndex(of: ":") else { return (line, "") }
                return (
                    String(line[..<colon]),
                    String(line[line.index(after: colon)...]).trimmingCharacters(in: .whitespaces)
                )
            }
        }
    }
}

/// Every line ends in CRLF, no CR or LF stands alone, and no line exceeds 998 octets
/// (RFC 5322 §2.1.1, §2.3).
private func expectWellFormedLines(_ bytes: [UInt8], sourceLocation: SourceLocation = #_sourceLocation) {
    var lineLength = 0
    var longest = 0
    var strayLineEnds = 0
    var index = 0
    while index < bytes.count {
        let byte = bytes[index]
        if byte == 0x0D {
            if index + 1 < bytes.count, bytes[index + 1] == 0x0A {
                longest = max(longest, lineLength)
                lineLength = 0
                index += 2
                continue
            }
            strayLineEnds += 1
        } else if byte == 0x0A {
            strayLineEnds += 1
        } else {
            lineLength += 1
        }
        index += 1
    }
    #expect(strayLineEnds == 0, "bare CR or LF", sourceLocation: sourceLocation)
    #expect(longest <= 998, "a line of \(longest) octets", sourceLocation: sourceLocation)
    #expect(bytes.suffix(2) == [0x0D, 0x0A], "the last line has no CRLF", sourceLocation: sourceLocation)
}

private func lines(_ bytes: [UInt8]) -> [String] {
    String(decoding: bytes, as: UTF8.self).components(separatedBy: "\r\n")
}

@Suite struct DeliveryStatusNotificationTests {
    // MARK: - Structure

    /// RFC 3464 Appendix A.1, "Simple DSN": the same per-recipient fields in the same
    /// order; dates in UTC; `Final-Recipient` with a space after the type, as Postfix
    /// writes it.
    @Test func matchesAppendixA1() throws {
        let report = try makeReport()
        let parsed = ParsedReport(report)
        #expect(
            parsed.body(1) == """
                Reporting-MTA: dns; cs.utk.edu\r
                Arrival-Date: Sat, 2 Jul 1994 21:10:28 +0000\r
                X-Tsubame-Queue-ID: RAA14128\r
                X-Tsubame-Sender: rfc822; owner-ups-mib@cs.utk.edu\r
                \r
                Original-Recipient: rfc822;louisl@larry.slip.umd.edu\r
                Final-Recipient: rfc822; louisl@larry.slip.umd.edu\r
                Action: failed\r
                Status: 4.0.0\r
                Diagnostic-Code: smtp; 426 connection timed out\r
                Last-Attempt-Date: Thu, 7 Jul 1994 21:15:49 +0000\r

                """)
        expectWellFormedLines(report)
    }

    /// The message header of Appendix A.1, with Postfix's words and RFC 3834's
    /// Auto-Submitted.
    @Test func messageHeader() throws {
        let parsed = ParsedReport(try makeReport())
        #expect(parsed.header("From") == "Mail Delivery System <MAILER-DAEMON@cs.utk.edu>")
        #expect(parsed.header("To") == "<owner-ups-mib@cs.utk.edu>")
        #expect(parsed.header("Subject") == "Undelivered Mail Returned to Sender")
        #expect(parsed.header("Date") == "Thu, 7 Jul 1994 21:16:05 +0000")
        #expect(parsed.header("Message-ID") == "<RAA14128.773615765@cs.utk.edu>")
        #expect(parsed.header("Auto-Submitted") == "auto-replied")
        #expect(parsed.header("MIME-Version") == "1.0")
        let root = parsed.structure.root.contentType
        #expect(root.type == "multipart" && root.subtype == "report")
        #expect(root.parameter(named: "report-type")?.value == "delivery-status")
        #expect(root.boundary?.isEmpty == false)
    }

    /// RFC 6522 §3: three parts, text/plain first; the original whole for a failure
    /// without RET (as Postfix does), byte for byte.
    @Test func parsesAsThreePartReport() throws {
        let report = try makeReport()
        let parsed = ParsedReport(report)
        #expect(parsed.types == ["text/plain", "message/delivery-status", "message/rfc822"])
        #expect(parsed.bodyBytes(2) == originalMessage)
        #expect(parsed.parts.first?.contentType.charset?.lowercased() == "us-ascii")
        #expect(!parsed.structure.isTruncated)
        #expect(!report.contains { $0 >= 0x80 })
    }

    /// RFC 3464 Appendix A.2/A.3-like: several recipients, Remote-MTA, ENVID; each
    /// group's fields in the order of the §2.2 and §2.3 grammar.
    @Test func fieldOrderFollowsTheGrammar() throws {
        let envelope = reportEnvelope(envelopeID: "QQ314159")
        let entries = [
            DSN.RecipientEntry(
                address: "thomas@de-montfort.ac.uk", action: .failed, status: "5.0.0",
                diagnostic: "smtp; 550 5.1.1 User unknown", remoteMTA: "mx.de-montfort.ac.uk[192.0.2.7]",
                lastAttempt: lastAttempt),
            DSN.RecipientEntry(
                address: "nobody@example.org", originalRecipient: "rfc822;nobody@example.org", action: .failed,
                status: "5.4.4", diagnostic: "Host or domain name not found. Name service error for name=example.org",
                lastAttempt: lastAttempt),
        ]
        let parsed = ParsedReport(try makeReport(envelope: envelope, entries: entries))
        let groups = parsed.statusGroups
        try #require(groups.count == 3)
        #expect(
            groups[0].map(\.name) == [
                "Original-Envelope-Id", "Reporting-MTA", "Arrival-Date", "X-Tsubame-Queue-ID", "X-Tsubame-Sender",
            ])
        #expect(groups[0].first?.value == "QQ314159")
        #expect(
            groups[1].map(\.name) == [
                "Final-Recipient", "Action", "Status", "Remote-MTA", "Diagnostic-Code", "Last-Attempt-Date",
            ])
        #expect(groups[1].first { $0.name == "Remote-MTA" }?.value == "dns; mx.de-montfort.ac.uk")
        #expect(
            groups[2].map(\.name) == [
                "Original-Recipient", "Final-Recipient", "Action", "Status", "Diagnostic-Code", "Last-Attempt-Date",
            ])
        #expect(groups[2].first?.value == "rfc822;nobody@example.org")
        #expect(
            groups[2].first { $0.name == "Diagnostic-Code" }?.value
                == "X-Tsubame; Host or domain name not found. Name service error for name=example.org")
        // The text part in Postfix's words.
        let text = parsed.body(0).replacingOccurrences(of: "\r\n    ", with: " ")
        #expect(text.contains("This is the mail system at host cs.utk.edu."))
        #expect(text.contains("I'm sorry to have to inform you that your message could not be delivered"))
        #expect(
            text.contains(
                "<thomas@de-montfort.ac.uk>: host mx.de-montfort.ac.uk[192.0.2.7] said: 550 5.1.1 User unknown"))
        #expect(text.contains("<nobody@example.org>: Host or domain name not found."))
    }

    // MARK: - Who is told

    struct NotifyCase: Sendable, CustomTestStringConvertible {
        let notify: [String]?
        let failure: Bool
        let delay: Bool
        let success: Bool
        var testDescription: String { notify.map { "NOTIFY=\($0.joined(separator: ","))" } ?? "no NOTIFY" }
    }

    /// RFC 3461 §4.1.
    @Test(arguments: [
        NotifyCase(notify: nil, failure: true, delay: true, success: false),
        NotifyCase(notify: ["NEVER"], failure: false, delay: false, success: false),
        NotifyCase(notify: ["SUCCESS", "DELAY"], failure: false, delay: true, success: true),
        NotifyCase(notify: ["FAILURE"], failure: true, delay: false, success: false),
        NotifyCase(notify: ["SUCCESS"], failure: false, delay: false, success: true),
        NotifyCase(notify: ["success", "failure", "delay"], failure: true, delay: true, success: true),
    ])
    func notifyRules(_ rule: NotifyCase) {
        let recipient = Envelope.Recipient(address: "a@example.org", notify: rule.notify)
        #expect(DSN.shouldNotify(recipient, of: .failure) == rule.failure)
        #expect(DSN.shouldNotify(recipient, of: .delay) == rule.delay)
        #expect(DSN.shouldNotify(recipient, of: .success) == rule.success)
    }

    /// RFC 5321 §4.5.5: never a report about a report; and nothing to say, no report.
    @Test func nullSenderOrNoEntriesGiveNoReport() {
        for kind in [DSN.Kind.failure, .delay, .success] {
            #expect(
                DSN.make(
                    kind: kind, reportingMTA: "mx.example.org", envelope: reportEnvelope(sender: ""),
                    entries: [appendixEntry], originalMessage: originalMessage, now: reportDate, messageID: "a@b")
                    == nil)
        }
        #expect(
            DSN.make(
                kind: .failure, reportingMTA: "mx.example.org", envelope: reportEnvelope(), entries: [],
                originalMessage: originalMessage, now: reportDate, messageID: "a@b") == nil)
    }

    // MARK: - The returned message

    /// RFC 3461 §4.3 RET=HDRS, RFC 6522 §4 text/rfc822-headers: the header only.
    @Test func retHeadersReturnsTheHeaderOnly() throws {
        let parsed = ParsedReport(try makeReport(envelope: reportEnvelope(ret: "HDRS")))
        #expect(parsed.types == ["text/plain", "message/delivery-status", "text/rfc822-headers"])
        let expected = """
            From: owner-ups-mib@CS.UTK.EDU\r
            To: louisl@larry.slip.umd.edu\r
            Subject: ups-mib\r
            Message-ID: <199407021710.RAA0001@CS.UTK.EDU>\r

            """
        #expect(parsed.body(2) == expected)
        #expect(!parsed.body(2).contains("original message"))
        #expect(parsed.body(0).contains("Its header is attached below."))
    }

    @Test func retFullReturnsTheWholeMessage() throws {
        let parsed = ParsedReport(try makeReport(envelope: reportEnvelope(ret: "FULL")))
        #expect(parsed.types.last == "message/rfc822")
        #expect(parsed.bodyBytes(2) == originalMessage)
    }

    @Test func largeMessageReturnsTheHeaderOnly() throws {
        let large = originalMessage + Array(repeating: UInt8(ascii: "x"), count: 70) + [0x0D, 0x0A]
        let report = try makeReport(envelope: reportEnvelope(ret: "FULL"), message: large, maximumReturnedSize: 100)
        let parsed = ParsedReport(report)
        #expect(parsed.types.last == "text/rfc822-headers")
        #expect(parsed.body(2).hasPrefix("From: owner-ups-mib@CS.UTK.EDU\r\n"))
        #expect(!parsed.body(2).contains("original message"))
        #expect(parsed.body(0).replacingOccurrences(of: "\r\n", with: " ").contains("too large"))
        expectWellFormedLines(report)
    }

    /// A header larger than the limit is cut at a line.
    @Test func hugeHeaderIsCutAtTheLimit() throws {
        var message: [UInt8] = []
        for index in 0..<200 { message += Array("X-Filler-\(index): some value\r\n".utf8) }
        message += Array("\r\nbody\r\n".utf8)
        let report = try makeReport(message: message, maximumReturnedSize: 1000)
        let parsed = ParsedReport(report)
        #expect(parsed.types.last == "text/rfc822-headers")
        #expect(parsed.bodyBytes(2).count <= 1000)
        #expect(parsed.body(2).hasSuffix("\r\n"))
        expectWellFormedLines(report)
    }

    /// A message that cannot be carried as it is (a 2,000-octet line, a bare CR, a NUL)
    /// is returned as its header.
    @Test(arguments: [
        "body " + String(repeating: "y", count: 2000),
        "a bare \r carriage return",
        "a \0 NUL",
    ])
    func unsafeMessageReturnsTheHeaderOnly(_ body: String) throws {
        let message = Array("Subject: odd\r\n\r\n\(body)\r\n".utf8)
        let report = try makeReport(message: message)
        let parsed = ParsedReport(report)
        #expect(parsed.types.last == "text/rfc822-headers")
        #expect(parsed.body(2) == "Subject: odd\r\n")
        expectWellFormedLines(report)
    }

    /// Delay and success reports return the header only (RFC 3461 §4.3; Postfix).
    @Test func delayReport() throws {
        let until = arrival.addingTimeInterval(5 * 86400)
        let entry = DSN.RecipientEntry(
            address: "louisl@larry.slip.umd.edu", action: .delayed, status: "4.4.1",
            diagnostic: "connect to larry.slip.umd.edu[192.0.2.9]:25: Connection timed out",
            lastAttempt: lastAttempt, willRetryUntil: until)
        let parsed = ParsedReport(try makeReport(.delay, envelope: reportEnvelope(ret: "FULL"), entries: [entry]))
        #expect(parsed.header("Subject") == "Delayed Mail (still being retried)")
        #expect(parsed.types == ["text/plain", "message/delivery-status", "text/rfc822-headers"])
        let groups = parsed.statusGroups
        #expect(groups.last?.first { $0.name == "Will-Retry-Until" }?.value == "Thu, 7 Jul 1994 21:10:28 +0000")
        #expect(groups.last?.first { $0.name == "Action" }?.value == "delayed")
        let text = parsed.body(0).replacingOccurrences(of: "\r\n", with: " ")
        #expect(text.contains("THIS IS A WARNING ONLY"))
        #expect(text.contains("could not be delivered for 5 days"))
        #expect(text.contains("will retry until Thu, 7 Jul 1994 21:10:28 +0000"))
    }

    @Test func successReport() throws {
        let entry = DSN.RecipientEntry(
            address: "louisl@larry.slip.umd.edu", action: .relayed, status: "2.0.0",
            diagnostic: "smtp; 250 2.0.0 Ok: queued as 4Ab", remoteMTA: "mx.umd.edu[192.0.2.9]",
            lastAttempt: lastAttempt, willRetryUntil: reportDate)
        let parsed = ParsedReport(try makeReport(.success, entries: [entry]))
        #expect(parsed.header("Subject") == "Successful Mail Delivery Report")
        #expect(parsed.types.last == "text/rfc822-headers")
        let fields = parsed.statusGroups.last ?? []
        #expect(fields.first { $0.name == "Action" }?.value == "relayed")
        #expect(!fields.contains { $0.name == "Will-Retry-Until" })
        #expect(
            parsed.body(0).replacingOccurrences(of: "\r\n    ", with: " ").contains(
                "<louisl@larry.slip.umd.edu>: delivery via mx.umd.edu[192.0.2.9]: 250 2.0.0 Ok: queued as 4Ab"))
    }

    // MARK: - Header extraction

    @Test(arguments: [
        ("A: 1\r\nB: 2\r\n\r\nbody\r\n", "A: 1\r\nB: 2\r\n"),
        ("A: 1\nB: 2\n\nbody\n\nmore\n", "A: 1\nB: 2\n"),
        ("A: 1\r\n folded\r\n", "A: 1\r\n folded\r\n"),
        ("A: 1\r\nB: 2", "A: 1\r\nB: 2"),
        ("\r\nbody only\r\n", ""),
        ("", ""),
    ])
    func headerSection(_ message: String, _ expected: String) {
        #expect(Array(DSN.headerSection(of: Array(message.utf8))) == Array(expected.utf8))
    }

    // MARK: - Boundary

    /// RFC 2046 §5.1.1: the boundary must not begin any line of the content. The
    /// returned message here holds the very boundary the report would pick first.
    @Test func boundaryCollisionIsAvoided() throws {
        let envelope = reportEnvelope()
        let prefix = DSN.boundaryPrefix(queueID: envelope.id, now: reportDate, host: "cs.utk.edu")
        let first = DSN.boundary(
            prefix: prefix, seed: DSN.fnv1a(Array("\(envelope.id) RAA14128.773615765@cs.utk.edu".utf8)),
            avoiding: [])
        let hostile = Array(
            "Subject: trap\r\n\r\n--\(first)\r\nContent-Type: text/plain\r\n\r\nfake\r\n--\(first)--\r\n".utf8)
        let report = try makeReport(message: hostile)
        let parsed = ParsedReport(report)
        let boundary = String(decoding: parsed.structure.root.contentType.boundary ?? [], as: UTF8.self)
        #expect(!boundary.isEmpty && boundary != first)
        #expect(boundary.utf8.count <= 70)
        #expect(parsed.types == ["text/plain", "message/delivery-status", "message/rfc822"])
        #expect(parsed.bodyBytes(2) == hostile)
        // Only the four delimiter lines begin with the boundary.
        #expect(lines(report).filter { $0.hasPrefix("--\(boundary)") }.count == 4)
    }

    /// Each colliding line rules out one candidate; the next one is taken.
    @Test func boundarySkipsEveryTakenCandidate() {
        let taken = (0..<5).map { Array("--P/\(String(repeating: "0", count: 15))\($0)\r\n".utf8) }
        let chosen = DSN.boundary(prefix: "P", seed: 0, avoiding: [taken.flatMap { $0 }])
        #expect(chosen == "P/0000000000000005")
        #expect(DSN.boundary(prefix: "P", seed: 0, avoiding: []) == "P/0000000000000000")
    }

    // MARK: - Untrusted text

    /// A remote server's reply with line breaks, NUL, controls, a fake field, a fake
    /// boundary and 10,000 octets: one folded field, lines within 998 octets, nothing
    /// injected.
    @Test func hostileDiagnosticIsNeutralised() throws {
        let hostile =
            "smtp; 550 5.1.1 no\r\nX-Injected: yes\r\n\r\n--boundary\r\n"
            + "Content-Type: text/html\0\u{7}\u{1B}[31m\u{202E}"
            + String(repeating: "A", count: 3000) + " " + String(repeating: "word ", count: 1400)
        let entry = DSN.RecipientEntry(
            address: "victim@example.org\r\nBcc: someone@example.net",
            originalRecipient: "rfc822;x@example.org\r\nX-Orcpt: injected", action: .failed, status: "5.1.1\r\nX: y",
            diagnostic: hostile, remoteMTA: "mx.example.org\r\nX-Remote: injected[192.0.2.1]", lastAttempt: lastAttempt)
        let envelope = reportEnvelope(envelopeID: "env\r\nX-Envid: injected")
        let report = try makeReport(envelope: envelope, entries: [entry])
        expectWellFormedLines(report)
        let all = lines(report)
        for name in [
            "X-Injected", "Bcc", "X-Orcpt", "X-Remote", "X-Envid", "X:", "--boundary", "Content-Type: text/html",
        ] {
            #expect(!all.contains { $0.hasPrefix(name) }, "a line starts with \(name)")
        }
        #expect(!report.contains { $0 < 0x20 && $0 != 0x0D && $0 != 0x0A && $0 != 0x09 })
        #expect(!String(decoding: report, as: UTF8.self).contains("\u{202E}"))
        let parsed = ParsedReport(report)
        #expect(parsed.types == ["text/plain", "message/delivery-status", "message/rfc822"])
        let fields = parsed.statusGroups.last ?? []
        #expect(fields.first { $0.name == "Status" }?.value == "5.0.0")
        #expect(fields.first { $0.name == "Remote-MTA" }?.value == "dns; mx.example.org")
        let diagnostic = fields.first { $0.name == "Diagnostic-Code" }?.value ?? ""
        #expect(diagnostic.hasPrefix("smtp; 550 5.1.1 no X-Injected: yes --boundary Content-Type: text/html[31m"))
        #expect(diagnostic.utf8.count <= DSN.maximumValueLength + 10)
        #expect(diagnostic.hasSuffix("..."))
    }

    /// Folding keeps the value: unfolded, it is the cleaned text again.
    @Test func foldingRoundTrips() {
        let words = (0..<60).map { "word\($0)" }.joined(separator: " ")
        let folded = DSN.field("Diagnostic-Code", "smtp; 550 " + words)
        let text = String(decoding: folded, as: UTF8.self)
        #expect(text.components(separatedBy: "\r\n").allSatisfy { $0.utf8.count <= 78 })
        #expect(text.replacingOccurrences(of: "\r\n ", with: " ") == "Diagnostic-Code: smtp; 550 \(words)\r\n")
    }

    @Test(arguments: [
        ("mx.example.org[192.0.2.1]", "mx.example.org"),
        ("mx.example.org[192.0.2.1]:25", "mx.example.org"),
        ("[192.0.2.1]", "192.0.2.1"),
        ("[IPv6:2001:db8::1]", "2001:db8::1"),
        ("mx.example.org:25", "mx.example.org"),
        ("mx.example.org", "mx.example.org"),
    ])
    func remoteMTAName(_ given: String, _ expected: String) {
        #expect(DSN.remoteMTAName(given) == expected)
    }

    @Test(arguments: ["", "[]", "bad/host[192.0.2.1]", "ü.example[192.0.2.1]"])
    func remoteMTANameRejects(_ given: String) {
        #expect(DSN.remoteMTAName(given) == nil)
    }

    // MARK: - Internationalised mail (RFC 6533)

    /// SMTPUTF8 mail: the global types, UTF-8 addresses, 8bit parts.
    @Test func smtpUTF8UsesTheGlobalTypes() throws {
        let message = Array("From: ユーザー@例え.jp\r\nSubject: テスト\r\n\r\n本文\r\n".utf8)
        let envelope = reportEnvelope(
            sender: "ユーザー@例え.jp",
            recipients: [Envelope.Recipient(address: "宛先@example.org", originalRecipient: "utf-8;宛先@example.org")],
            smtpUTF8: true)
        let entry = DSN.RecipientEntry(
            address: "宛先@example.org", originalRecipient: "utf-8;宛先@example.org", action: .failed, status: "5.1.1",
            diagnostic: "smtp; 550 5.1.1 ユーザー不明")
        let report = try makeReport(envelope: envelope, entries: [entry], message: message)
        expectWellFormedLines(report)
        let parsed = ParsedReport(report)
        #expect(parsed.types == ["text/plain", "message/global-delivery-status", "message/global"])
        #expect(parsed.parts.first?.contentType.charset?.lowercased() == "utf-8")
        let fields = parsed.statusGroups.last ?? []
        #expect(fields.first { $0.name == "Original-Recipient" }?.value == "utf-8;宛先@example.org")
        #expect(fields.first { $0.name == "Final-Recipient" }?.value == "utf-8; 宛先@example.org")
        #expect(fields.first { $0.name == "Diagnostic-Code" }?.value == "smtp; 550 5.1.1 ユーザー不明")
        #expect(parsed.header("To") == "<ユーザー@例え.jp>")
        #expect(parsed.header("Content-Transfer-Encoding") == "8bit")
        #expect(parsed.bodyBytes(2) == message)
        let headerOnly = ParsedReport(try makeReport(.delay, envelope: envelope, entries: [entry], message: message))
        #expect(headerOnly.types.last == "message/global-headers")
    }

    /// Without SMTPUTF8 the report stays ASCII: a non-ASCII address in the
    /// utf-8-addr-xtext form, a non-ASCII diagnostic with `?`.
    @Test func nonASCIIWithoutSMTPUTF8StaysASCII() throws {
        let entry = DSN.RecipientEntry(
            address: "josé@example.org", originalRecipient: "rfc822;josé+x@example.org", action: .failed,
            status: "5.1.1", diagnostic: "smtp; 550 5.1.1 inconnu: josé")
        let report = try makeReport(entries: [entry])
        #expect(!report.contains { $0 >= 0x80 })
        let parsed = ParsedReport(report)
        #expect(parsed.types[1] == "message/delivery-status")
        let fields = parsed.statusGroups.last ?? []
        #expect(fields.first { $0.name == "Final-Recipient" }?.value == "utf-8; jos\\x{E9}@example.org")
        #expect(fields.first { $0.name == "Original-Recipient" }?.value == "utf-8;jos\\x{E9}\\x{2B}x@example.org")
        #expect(fields.first { $0.name == "Diagnostic-Code" }?.value == "smtp; 550 5.1.1 inconnu: jos?")
    }

    /// An 8-bit original (8BITMIME) is marked 8bit (RFC 2046 §5.2.1, RFC 6152).
    @Test func eightBitOriginalIsMarked() throws {
        let message = Array("Subject: caf\u{E9}\r\n\r\nd\u{E9}j\u{E0} vu\r\n".utf8)
        let report = try makeReport(message: message)
        let parsed = ParsedReport(report)
        #expect(parsed.types.last == "message/rfc822")
        #expect(
            parsed.parts.last?.header.value(named: "Content-Transfer-Encoding").map {
                String(decoding: $0, as: UTF8.self)
            } == "8bit")
        #expect(parsed.header("Content-Transfer-Encoding") == "8bit")
        #expect(parsed.bodyBytes(2) == message)
    }

    // MARK: - Entries

    @Test func entryFromTransportResult() {
        let result = RecipientResult(
            address: "a@example.org", outcome: .bounced, status: "5.1.1", diagnostic: "smtp; 550 5.1.1 no",
            remoteMTA: "mx.example.org[192.0.2.1]")
        let entry = DSN.RecipientEntry(
            result: result,
            recipient: Envelope.Recipient(address: "a@example.org", originalRecipient: "rfc822;b@example.org"))
        #expect(entry.action == .failed)
        #expect(entry.originalRecipient == "rfc822;b@example.org")
        #expect(entry.diagnostic == "smtp; 550 5.1.1 no")
        #expect(
            DSN.RecipientEntry(
                result: RecipientResult(address: "a", outcome: .deferred, status: "4.0.0", diagnostic: "")
            ).action == .delayed)
    }

    @Test(arguments: [
        ("5.1.1", DSN.Action.failed, "5.1.1"),
        ("4.4.1", .delayed, "4.4.1"),
        ("2.0.0", .delivered, "2.0.0"),
        ("550", .failed, "5.0.0"),
        ("6.1.1", .failed, "5.0.0"),
        ("5.1234.1", .failed, "5.0.0"),
        ("", .delayed, "4.0.0"),
        ("x", .relayed, "2.0.0"),
    ])
    func statusCode(_ example: (given: String, action: DeliveryStatusNotification.Action, expected: String)) {
        #expect(DSN.statusCode(example.given, action: example.action) == example.expected)
    }
}
