import SASL
import Testing

/// The one base64 of every SASL exchange (SMTP, POP3, IMAP, Dovecot's auth protocol).
@Suite struct Base64Tests {
    /// RFC 4648 §10 test vectors, both ways.
    @Test(arguments: [
        ("", ""), ("f", "Zg=="), ("fo", "Zm8="), ("foo", "Zm9v"), ("foob", "Zm9vYg=="), ("fooba", "Zm9vYmE="),
        ("foobar", "Zm9vYmFy"),
    ])
    func rfc4648Vectors(_ plain: String, _ encoded: String) {
        #expect(Base64.encode(Array(plain.utf8)) == encoded)
        #expect(Base64.decode(Array(encoded.utf8)) == Array(plain.utf8))
    }

    @Test func allByteValuesRoundTrip() {
        let bytes = (0...255).map(UInt8.init)
        #expect(Base64.decode(Array(Base64.encode(bytes).utf8)) == bytes)
    }

    /// Strict: no missing padding, no whitespace, no padding inside, no other alphabet.
    @Test(arguments: ["Zg", "Zm9", "Zg= =", "Zm 9v", "Zm9v\r\n", "Z===", "=Zm9", "Zm-_", "Zg=a", "===="])
    func refusesLooseBase64(_ text: String) {
        #expect(Base64.decode(Array(text.utf8)) == nil)
    }

    /// RFC 4954 §4 / RFC 5034 §4: "=" is an empty initial response.
    @Test func lonePaddingIsAnEmptyResponse() {
        #expect(Base64.decodeResponse("=") == [])
        #expect(Base64.decodeResponse("AGFsaWNlAHB3") == Array("\0alice\0pw".utf8))
        #expect(Base64.decodeResponse("==") == nil)
    }
}
