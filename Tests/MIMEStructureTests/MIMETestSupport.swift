import MailTestSupport
import IMAPProtocol
import Testing

@testable import MIMEStructure

// Helpers shared by the MIMEStructure test suites.

/// The UTF-8 bytes of `text`.
func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

/// `lines`, each ended with CRLF.
func crlf(_ lines: [String]) -> [UInt8] {
    Array(lines.map { $0 + "\r\n" }.joined().utf8)
}

/// Bytes as text (lossy), for comparisons.
func text(_ bytes: [UInt8]?) -> String? {
    bytes.map { String(decoding: $0, as: UTF8.self) }
}

func text(_ bytes: ArraySlice<UInt8>) -> String {
    String(decoding: bytes, as: UTF8.self)
}

/// A parsed message built from CRLF-terminated lines.
func structure(_ lines: [String], limits: MIMELimits = MIMELimits()) -> MessageStructure {
    MessageStructure(parsing: crlf(lines), limits: limits)
}

/// BODY[section] as text.
func section(
    _ structure: MessageStructure, _ part: [UInt32], _ kind: SectionSpecifier.Kind = .complete
) -> String? {
    text(structure.contents(of: SectionSpecifier(part: part, kind: kind)))
}

/// An address as (name, adl, mailbox, host) text, for readable expectations.
func describe(_ address: EnvelopeAddress) -> [String?] {
    [text(address.name), text(address.adl), text(address.mailbox), text(address.host)]
}

func describe(_ addresses: [EnvelopeAddress]) -> [[String?]] { addresses.map(describe) }

/// Checks the invariants every parse must keep, whatever the input: ranges inside the
/// message, the header before the body, children inside their parent's body.
func checkInvariants(_ structure: MessageStructure, sourceLocation: SourceLocation = #_sourceLocation) {
    let count = structure.bytes.count
    var pending: [(part: BodyPart, depth: Int, within: Range<Int>)] = [(structure.root, 0, 0..<count)]
    var seen = 0
    while let entry = pending.popLast() {
        let (part, depth, within) = entry
        seen += 1
        #expect(part.headerRange.lowerBound >= within.lowerBound, sourceLocation: sourceLocation)
        #expect(part.headerRange.upperBound <= part.bodyRange.lowerBound, sourceLocation: sourceLocation)
        #expect(part.bodyRange.upperBound <= within.upperBound, sourceLocation: sourceLocation)
        #expect(depth <= structure.limits.maximumDepth, sourceLocation: sourceLocation)
        #expect(part.lineCount >= 0 && part.lineCount <= part.size, sourceLocation: sourceLocation)
        switch part.content {
        case .single: break
        case .multipart(let children):
            for child in children { pending.append((child, depth + 1, part.bodyRange)) }
        case .message(let message):
            pending.append((message, depth + 1, part.bodyRange))
        }
    }
    #expect(seen <= structure.limits.maximumParts, sourceLocation: sourceLocation)
}

