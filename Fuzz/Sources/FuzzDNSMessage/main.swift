import DNS
import FuzzDriver

/// Any bytes, parsed as a DNS message (what a UDP datagram on the resolver's port can
/// be): no crash, no hang; a message that parses must encode (names uncompressed) and
/// parse back to itself, and every name in it must be valid presentation form.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    guard let data else { return 0 }
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    guard let message = try? DNSMessage(parsing: bytes) else { return 0 }
    let encoded: [UInt8]
    do {
        encoded = try message.encoded()
    } catch {
        fatalError("a parsed message does not encode: \(error)")  // a finding, in a fuzz target
    }
    guard let reparsed = try? DNSMessage(parsing: encoded), reparsed == message else {
        fatalError("round trip failed for \(message)")
    }
    for record in message.answers + message.authorities + message.additionals {
        guard (try? DomainName.canonical(record.name)) == record.name else {
            fatalError("owner name not canonical: \(record.name)")
        }
    }
    return 0
}

runFuzzer { data, size in fuzz(data, size) }
