import Directory
import Foundation
import MailCore
import Testing

@Suite("passwd-file user database and the chain")
struct PasswdFileDirectoryTests {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("tsubame-pwfile-\(UUID().uuidString)").path

    init() throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    func write(_ text: String) throws -> String {
        let path = directory + "/users"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// A line as `doveadm pw` and a Dovecot passwd-file would have it.
    static let carolLine = "carol@legacy.test:{SHA512-CRYPT}$6$NE3wW9HCmlA83gcO$dB9tuekKHU.fzU/X/qYtYWONh4nRXwZ.4PP8XSglWz9iclM7qwDWVKZlNjjcHLAg/hA46Hm/4tvtt2ah.3q.P.:5000:5000::/var/mail/legacy.test/carol::"

    @Test func readsDovecotLinesAndSkipsBadOnes() {
        let (accounts, problems) = PasswdFileDirectory.parse(
            "# comment\n\(Self.carolLine)\nbroken line\nnobody:{NOPE}x\n\ndave@legacy.test:{PLAIN}pw\n")
        #expect(accounts.keys.sorted() == ["carol@legacy.test", "dave@legacy.test"])
        #expect(problems == [3, 4])
        #expect(accounts["carol@legacy.test"]?.passwordHash?.verify("correct horse") == true)
    }

    @Test func answersTheDirectoryQuestions() async throws {
        let source = PasswdFileDirectory(path: try write(Self.carolLine + "\n"))
        #expect(try await source.isLocalDomain("LEGACY.test"))
        #expect(try await source.isLocalDomain("other.test") == false)
        #expect(try await source.account(login: "Carol@legacy.test")?.address.canonical == "carol@legacy.test")
        let carol = try #require(MailAddress("carol+lists@legacy.test"))
        #expect(try await source.resolve(recipient: carol) == .deliver(local: [try #require(MailAddress("carol@legacy.test"))], forward: []))
        #expect(try await source.resolve(recipient: try #require(MailAddress("x@legacy.test"))) == .unknownUser)
        #expect(try await source.resolve(recipient: try #require(MailAddress("x@other.test"))) == .notLocalDomain)
    }

    @Test func changesAreSeenWithoutAReload() async throws {
        let path = try write("dave@legacy.test:{PLAIN}one\n")
        let source = PasswdFileDirectory(path: path)
        #expect(try await source.account(login: "dave@legacy.test")?.passwordHash?.verify("one") == true)
        try await Task.sleep(for: .milliseconds(1100))  // the file is looked at again at most once a second
        _ = try write("dave@legacy.test:{PLAIN}two-longer\n")
        #expect(try await source.account(login: "dave@legacy.test")?.passwordHash?.verify("two-longer") == true)
    }

    @Test func missingFileIsAStorageError() async {
        let source = PasswdFileDirectory(path: directory + "/absent")
        await #expect(throws: DirectoryError.self) { _ = try await source.account(login: "a@b.test") }
    }

    @Test func chainAsksInOrderAndMergesDomains() async throws {
        let sqlite = try SQLiteDirectory(path: directory + "/directory.sqlite")
        try await sqlite.addDomain("example.test")
        try await sqlite.addUser(try #require(MailAddress("alice@example.test")), passwordHash: try PasswordHash.make("a", algorithm: .plain))
        try await sqlite.addUser(try #require(MailAddress("alice2@example.test")), passwordHash: try PasswordHash.make("a", algorithm: .plain))
        let file = PasswdFileDirectory(path: try write(Self.carolLine + "\nalice@example.test:{PLAIN}from-file\nbob@example.test:{PLAIN}b\n"))
        let chain = DirectoryChain(sources: [.init(name: "sqlite", directory: sqlite), .init(name: "file", directory: file)])
        // First source wins for a login both know.
        #expect(try await chain.accountAndSource(login: "alice@example.test")?.source == "sqlite")
        #expect(try await chain.accountAndSource(login: "carol@legacy.test")?.source == "file")
        // sqlite says "unknown" for bob in example.test, the file has him: delivered.
        let bob = try #require(MailAddress("bob@example.test"))
        #expect(try await chain.resolve(recipient: bob) == .deliver(local: [bob], forward: []))
        #expect(try await chain.resolve(recipient: try #require(MailAddress("zed@example.test"))) == .unknownUser)
        #expect(try await chain.resolve(recipient: try #require(MailAddress("zed@nowhere.test"))) == .notLocalDomain)
        #expect(try await chain.isLocalDomain("legacy.test"))
    }
}
