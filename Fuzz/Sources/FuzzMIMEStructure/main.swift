import FuzzDriver
import IMAPProtocol
import MIMEStructure

/// Any bytes as a stored message: the structure, ENVELOPE, BODYSTRUCTURE, every section
/// of the first parts, BINARY and the SEARCH text — no crash, no hang, and every byte
/// range the structure reports lies inside the message.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    guard let data else { return 0 }
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    let message = MessageStructure(parsing: bytes)
    _ = message.bodyStructure(extensible: true)
    _ = message.bodyStructure(extensible: false, allowUTF8: true)
    _ = message.encodedEnvelope()
    _ = message.searchableHeaderText()
    _ = message.searchableBodyText()
    let kinds: [SectionSpecifier.Kind] = [.complete, .header, .text, .mime, .headerFields(["SUBJECT", "FROM"]), .headerFieldsNot(["TO"])]
    for path: [UInt32] in [[], [1], [2], [1, 1], [1, 2], [2, 1, 1]] {
        for kind in kinds {
            let section = SectionSpecifier(part: path, kind: kind)
            if let range = message.byteRange(of: section) {
                precondition(range.lowerBound >= 0 && range.upperBound <= bytes.count, "range outside the message")
            }
            _ = message.contents(of: section)
        }
        _ = try? message.binaryContents(ofPart: path)
        _ = try? message.binarySize(ofPart: path)
    }
    return 0
}

runFuzzer { data, size in fuzz(data, size) }
