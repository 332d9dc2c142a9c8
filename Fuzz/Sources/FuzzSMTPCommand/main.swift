import FuzzDriver
import SMTPProtocol

/// Any line, parsed as an SMTP command; a parsed MAIL/RCPT path must print back to
/// something that parses to the same path.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    guard let data else { return 0 }
    let line = Array(UnsafeBufferPointer(start: data, count: size))
    if case .success(.mail(.mailbox(let mailbox), _)) = SMTPCommandParser.parse(line) {
        let again = SMTPCommandParser.parse(Array("MAIL FROM:<\(mailbox)>".utf8))
        guard case .success(.mail(.mailbox(let reparsed), _)) = again, reparsed == mailbox else {
            fatalError("round trip failed for \(mailbox)")  // a finding, in a fuzz target
        }
    }
    return 0
}

runFuzzer { data, size in fuzz(data, size) }
