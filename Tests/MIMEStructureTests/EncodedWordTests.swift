import Testing

@testable import MIMEStructure

@Suite("RFC 2047 encoded words and SEARCH text")
struct EncodedWordTests {
    /// RFC 2047 §8: the examples, header values and the display rules for whitespace
    /// between encoded words.
    static let rfc2047Cases: [(encoded: String, decoded: String)] = [
        ("=?US-ASCII?Q?Keith_Moore?= <moore@cs.utk.edu>", "Keith Moore <moore@cs.utk.edu>"),
        ("=?ISO-8859-1?Q?Keld_J=F8rn_Simonsen?= <keld@dkuug.dk>", "Keld Jørn Simonsen <keld@dkuug.dk>"),
        ("=?ISO-8859-1?Q?Andr=E9?= Pirard <PIRARD@vm1.ulg.ac.be>", "André Pirard <PIRARD@vm1.ulg.ac.be>"),
        (
            "=?ISO-8859-1?B?SWYgeW91IGNhbiByZWFkIHRoaXMgeW8=?=    =?ISO-8859-2?B?dSB1bmRlcnN0YW5kIHRoZSBleGFtcGxlLg==?=",
            "If you can read this you understand the example."
        ),
        ("=?ISO-8859-1?Q?Olle_J=E4rnefors?= <ojarnef@admin.kth.se>", "Olle Järnefors <ojarnef@admin.kth.se>"),
        ("(=?ISO-8859-1?Q?a?=)", "(a)"),
        ("(=?ISO-8859-1?Q?a?= b)", "(a b)"),
        ("(=?ISO-8859-1?Q?a?= =?ISO-8859-1?Q?b?=)", "(ab)"),
        ("(=?ISO-8859-1?Q?a?=  =?ISO-8859-1?Q?b?=)", "(ab)"),
        ("(=?ISO-8859-1?Q?a?=\r\n    =?ISO-8859-1?Q?b?=)", "(ab)"),
        ("(=?ISO-8859-1?Q?a_b?=)", "(a b)"),
        ("(=?ISO-8859-1?Q?a?= =?ISO-8859-2?Q?_b?=)", "(a b)"),
        // RFC 2231 §5: a language after the charset.
        ("=?US-ASCII*EN?Q?Keith_Moore?=", "Keith Moore"),
    ]

    @Test(arguments: EncodedWordTests.rfc2047Cases.indices)
    func rfc2047Examples(_ index: Int) {
        let (encoded, decoded) = Self.rfc2047Cases[index]
        #expect(EncodedWord.decode(bytes(encoded)) == decoded)
    }

    @Test func otherCharsetsAndMalformedWordsStayRaw() {
        // iso-8859-8 is not converted, and its octets are not ASCII: the word stays.
        let hebrew = "Nathaniel Borenstein (=?iso-8859-8?b?7eXs+SDv4SDp7Oj08A==?=)"
        #expect(EncodedWord.decode(bytes(hebrew)) == hebrew)
        #expect(EncodedWord.decode(bytes("=?utf-8?x?abc?=")) == "=?utf-8?x?abc?=")
        #expect(EncodedWord.decode(bytes("=?utf-8?q?unterminated")) == "=?utf-8?q?unterminated")
        #expect(EncodedWord.decode(bytes("=??q?abc?=")) == "=??q?abc?=")
        #expect(EncodedWord.decode(bytes("=?utf-8?q?has space?=")) == "=?utf-8?q?has space?=")
        #expect(EncodedWord.decode(bytes("a =?")) == "a =?")
    }

    @Test func utf8AndSplitCharacters() {
        #expect(EncodedWord.decode(bytes("=?UTF-8?B?w6k=?=")) == "é")
        // "é" split across two words in the same charset still decodes.
        #expect(EncodedWord.decode(bytes("=?UTF-8?Q?=C3?= =?UTF-8?Q?=A9t=C3=A9?=")) == "été")
        #expect(EncodedWord.decode(bytes("=?windows-1252?Q?=80_=93quoted=94?=")) == "€ “quoted”")
        #expect(EncodedWord.decode(bytes("=?ISO-8859-15?Q?=A4?=")) == "€")
        #expect(EncodedWord.decode(bytes("=?ISO-8859-1?Q?=A4?=")) == "¤")
    }

    @Test func unencodedEightBitText() {
        #expect(EncodedWord.decode(bytes("grüße")) == "grüße")
        var latin1 = bytes("gr")
        latin1.append(0xFC)
        latin1 += bytes("n")
        #expect(EncodedWord.decode(latin1) == "grün")
    }

    /// The look-ahead at each "=?" is bounded, so many unterminated words cost linear
    /// time.
    @Test func manyUnterminatedWords() {
        let value = Array(String(repeating: "=?utf-8?q?" + String(repeating: "a", count: 500), count: 2_000).utf8)
        #expect(EncodedWord.decode(value).utf8.count == value.count)
    }

    // MARK: - Charsets

    @Test func charsetTables() {
        #expect(Charset.decode([0x4A, 0xF8, 0x72, 0x6E] as [UInt8], charset: "ISO-8859-1") == "Jørn")
        #expect(Charset.decode([0x80, 0x9F] as [UInt8], charset: "windows-1252") == "€Ÿ")
        #expect(Charset.decode([0xA4, 0xA6, 0xBD] as [UInt8], charset: "Latin-9") == "€Šœ")
        #expect(Charset.decode([0xC3, 0xA9] as [UInt8], charset: "utf8") == "é")
        #expect(Charset.decode([0xC3, 0xA9] as [UInt8], charset: "us-ascii") == "é", "mislabelled UTF-8")
        #expect(Charset.decode([0xE9] as [UInt8], charset: "us-ascii") == "é", "mislabelled 8-bit")
        #expect(Charset.decode([0x80] as [UInt8], charset: "koi8-r") == nil)
        #expect(Charset.isSupported(" UTF-8 "))
        #expect(!Charset.isSupported("iso-2022-jp"))
    }

    // MARK: - SEARCH

    @Test func caseInsensitiveMatching() {
        #expect(TextSearch.containsCaseInsensitive("Keld Jørn Simonsen", "JØRN"))
        #expect(TextSearch.containsCaseInsensitive("Hello World", "o w"))
        #expect(TextSearch.containsCaseInsensitive("ΑΒΓ", "βγ"))
        #expect(!TextSearch.containsCaseInsensitive("Hello", "help"))
        #expect(TextSearch.containsCaseInsensitive("anything", ""))
        #expect(!TextSearch.containsCaseInsensitive("", "a"))
        #expect(TextSearch.containsCaseInsensitive("aaaaaaaaab", "AAAB"))
        #expect(TextSearch.contains(bytes("abababc"), bytes("ababc")))
        #expect(!TextSearch.contains(bytes("abababd"), bytes("ababc")))
        // Linear time on the input that is quadratic for a naive search.
        let haystack = String(repeating: "a", count: 200_000)
        let needle = String(repeating: "a", count: 5_000) + "b"
        #expect(!TextSearch.containsCaseInsensitive(haystack, needle))
    }

    @Test func searchableTextOfAMessage() {
        let message = structure([
            "From: =?ISO-8859-1?Q?Keld_J=F8rn_Simonsen?= <keld@dkuug.dk>",
            "Subject: =?UTF-8?B?w6l0w6k=?= report",
            "Content-Type: multipart/mixed; boundary=b",
            "",
            "--b",
            "Content-Type: text/plain; charset=iso-8859-1",
            "Content-Transfer-Encoding: quoted-printable",
            "",
            "Gr=FC=DFe aus K=F6ln",
            "--b",
            "Content-Type: text/html; charset=utf-8",
            "Content-Transfer-Encoding: base64",
            "",
            "PHA+SMOpbGxvPC9wPg==",
            "--b",
            "Content-Type: image/png",
            "Content-Transfer-Encoding: base64",
            "",
            "aGlkZGVu",
            "--b--",
        ])
        #expect(message.decodedHeaderValues(named: "subject") == ["été report"])
        #expect(message.decodedHeaderValues(named: "From") == ["Keld Jørn Simonsen <keld@dkuug.dk>"])
        let body = message.searchableBodyText()
        #expect(body == "Grüße aus Köln\n<p>Héllo</p>")
        #expect(TextSearch.containsCaseInsensitive(body, "KÖLN"))
        #expect(!TextSearch.containsCaseInsensitive(body, "hidden"), "non-text parts are not searched")
        let header = message.searchableHeaderText()
        #expect(header.contains("Subject: été report\n"))
        #expect(header.contains("Content-Type: image/png\n"))
    }
}
