import DurableFiles
import Foundation
import MailCore
import MailStore
import Testing
@testable import MaildirStore

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A fresh directory under the system's temporary directory, removed by `remove()`.
struct TemporaryRoot {
    let path: String

    init() throws {
        let url = FileManager.default.temporaryDirectory
            .appendingPathComponent("tsubame-maildir-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        path = url.path
    }

    func remove() {
        // Undo any permission changes a test made, so that everything can be removed.
        if let paths = FileManager.default.enumerator(atPath: path) {
            for case let relative as String in paths {
                try? FileManager.default.setAttributes(
                    [.posixPermissions: 0o700], ofItemAtPath: "\(path)/\(relative)")
            }
        }
        try? FileManager.default.removeItem(atPath: path)
    }
}

/// The names of the files in `directory`, sorted; empty when it does not exist.
func fileNames(in directory: String) -> [String] {
    ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).sorted()
}

/// lstat(2) of `path`, or `nil` if it does not exist.
func fileStatus(_ path: String) -> stat? {
    var status = stat()
    return lstat(path, &status) == 0 ? status : nil
}

func address(_ text: String) throws -> MailAddress {
    try #require(MailAddress(text))
}

/// A small CRLF message, different for each `number`.
func sampleMessage(_ number: Int = 1) -> [UInt8] {
    Array(
        """
        Return-Path: <sender@example.org>\r
        From: sender@example.org\r
        Subject: test \(number)\r
        \r
        Body \(number) with 8-bit bytes: 燕\r

        """.utf8)
}

@Suite struct MaildirDeliveryTests {
    @Test func singleDeliveryLandsAsOneFileInNew() async throws {
        let root = try TemporaryRoot()
        defer { root.remove() }
        let delivery = MaildirDelivery(root: root.path, hostname: "mx.example.test")
        let message = sampleMessage()

        try await delivery.deliver(message, to: [try address("alice@example.test")])

        let maildir = "\(root.path)/example.test/alice"
        let names = fileNames(in: "\(maildir)/new")
        try #require(names.count == 1)
        let name = names[0]
        #expect(FileManager.default.contents(atPath: "\(maildir)/new/\(name)") == Data(message))
        let pattern = try Regex(#"[0-9]+\.M[0-9]+P[0-9]+Q[0-9]+\.mx\.example\.test,S=([0-9]+),W=([0-9]+)"#)
        #expect(name.wholeMatch(of: pattern) != nil, "unexpected file name \(name)")
        #expect(name.hasSuffix(",S=\(message.count),W=\(message.count)"))
        #expect(fileNames(in: "\(maildir)/tmp").isEmpty)
        #expect(fileNames(in: "\(maildir)/cur").isEmpty)
        var isDirectory: ObjCBool = false
        #expect(FileManager.default.fileExists(atPath: "\(maildir)/cur", isDirectory: &isDirectory))
        #expect(isDirectory.boolValue)
    }

    @Test func fileNamesEscapeSlashAndColonInTheHostname() async throws {
        let root = try TemporaryRoot()
        defer { root.remove() }
        let delivery = MaildirDelivery(root: root.path, hostname: "mx/1:test")

        try await delivery.deliver(sampleMessage(), to: [try address("alice@example.test")])

        let names = fileNames(in: "\(root.path)/example.test/alice/new")
        try #require(names.count == 1)
        #expect(names[0].contains(".mx\\0571\\072test,S="))
        #expect(!names[0].contains(":"))
    }

    @Test func multipleRecipientsGetOneHardLinkedCopyEach() async throws {
        let root = try TemporaryRoot()
        defer { root.remove() }
        let delivery = MaildirDelivery(root: root.path, hostname: "mx.example.test")
        let message = sampleMessage()
        let recipients = [
            try address("alice@example.test"), try address("bob@example.test"), try address("carol@other.test"),
        ]

        try await delivery.deliver(message, to: recipients)

        var inodes: Set<UInt64> = []
        var names: Set<String> = []
        for recipient in recipients {
            let maildir = delivery.maildirPath(for: recipient)
            let files = fileNames(in: "\(maildir)/new")
            try #require(files.count == 1, "\(recipient) has \(files.count) files")
            let path = "\(maildir)/new/\(files[0])"
            #expect(FileManager.default.contents(atPath: path) == Data(message))
            #expect(fileNames(in: "\(maildir)/tmp").isEmpty)
            let status = try #require(fileStatus(path))
            inodes.insert(UInt64(status.st_ino))
            #expect(status.st_nlink == 3)
            names.insert(files[0])
        }
        // All three Maildirs are in one temporary directory, so on one file system.
        #expect(inodes.count == 1, "copies should share one inode")
        #expect(names.count == 1)
    }

    @Test func theSameMailboxTwiceGetsOneCopy() async throws {
        let root = try TemporaryRoot()
        defer { root.remove() }
        let delivery = MaildirDelivery(root: root.path, hostname: "mx.example.test")

        try await delivery.deliver(
            sampleMessage(), to: [try address("Alice@example.test"), try address("alice@EXAMPLE.test")])

        #expect(fileNames(in: "\(root.path)/example.test/alice/new").count == 1)
        #expect(fileNames(in: "\(root.path)/example.test").count == 1)
    }

    @Test func noRecipientsWritesNothing() async throws {
        let root = try TemporaryRoot()
        defer { root.remove() }
        let delivery = MaildirDelivery(root: root.path, hostname: "mx.example.test")

        try await delivery.deliver(sampleMessage(), to: [])

        #expect(fileNames(in: root.path).isEmpty)
    }

    // MARK: - Path segments

    @Test(arguments: [
        ("alice", "alice"),
        ("Alice.Smith", "alice.smith"),
        ("user+tag", "user+tag"),
        ("first_last-1", "first_last-1"),
        (".", "%2E"),
        ("..", "%2E."),
        ("../x", "%2E.%2Fx"),
        ("a/b", "a%2Fb"),
        ("/etc", "%2Fetc"),
        (".Sent", "%2Esent"),
        ("~root", "%7Eroot"),
        ("~", "%7E"),
        ("%2e%2e", "%252e%252e"),
        ("a:b", "a%3Ab"),
        ("ユーザー", "%E3%83%A6%E3%83%BC%E3%82%B6%E3%83%BC"),
        ("", "%"),
    ])
    func pathSegmentEncoding(input: String, expected: String) {
        #expect(MaildirDelivery.pathSegment(input) == expected)
    }

    static let hostileLocalParts = [
        "../x", "a/b", ".Sent", "~root", "%2e%2e", "ユーザー", "..", ".", "/etc", "~", "x\0y", "Sent",
    ]

    @Test func hostilePathSegmentsStayInsideTheRootAndAreDistinct() {
        let segments = Self.hostileLocalParts.map(MaildirDelivery.pathSegment)
        #expect(Set(segments).count == segments.count)
        for (input, segment) in zip(Self.hostileLocalParts, segments) {
            // One path component, not a relative step, not a Maildir++ folder, not `~user`.
            #expect(!segment.isEmpty && segment != "." && segment != "..", "\(input.debugDescription) → \(segment)")
            #expect(!segment.contains("/"), "\(input.debugDescription) → \(segment)")
            #expect(!segment.contains("\0"), "\(input.debugDescription) → \(segment)")
            #expect(!segment.hasPrefix("."), "\(input.debugDescription) → \(segment)")
            #expect(!segment.hasPrefix("~"), "\(input.debugDescription) → \(segment)")
            #expect(segment.utf8.allSatisfy { $0 < 0x80 }, "\(input.debugDescription) → \(segment)")
        }
    }

    @Test func hostileButValidAddressesAreDeliveredInsideTheRoot() async throws {
        let root = try TemporaryRoot()
        defer { root.remove() }
        let delivery = MaildirDelivery(root: root.path, hostname: "mx.example.test")
        // The local parts that are valid dot-strings (MailAddress refuses leading dots).
        let recipients = try ["a/b", "~root", "%2e%2e", "ユーザー", "sent", "a.b"]
            .map { try address("\($0)@example.test") }

        try await delivery.deliver(sampleMessage(), to: recipients)

        let maildirs = fileNames(in: "\(root.path)/example.test")
        #expect(maildirs.count == recipients.count)
        for maildir in maildirs {
            #expect(!maildir.hasPrefix("."))
            #expect(fileNames(in: "\(root.path)/example.test/\(maildir)/new").count == 1)
        }
        // Nothing outside <root>/example.test.
        #expect(fileNames(in: root.path) == ["example.test"])
    }

    // MARK: - Concurrency

    @Test func concurrentDeliveriesAllLandWithUniqueNames() async throws {
        let root = try TemporaryRoot()
        defer { root.remove() }
        let delivery = MaildirDelivery(root: root.path, hostname: "mx.example.test")
        let recipient = try address("alice@example.test")
        let count = 50

        try await withThrowingTaskGroup(of: Void.self) { group in
            for number in 0..<count {
                group.addTask { try await delivery.deliver(sampleMessage(number), to: [recipient]) }
            }
            try await group.waitForAll()
        }

        let directory = "\(root.path)/example.test/alice/new"
        let names = fileNames(in: directory)
        #expect(names.count == count)
        #expect(Set(names).count == count)
        let contents = Set(names.compactMap { FileManager.default.contents(atPath: "\(directory)/\($0)") })
        #expect(contents == Set((0..<count).map { Data(sampleMessage($0)) }))
        #expect(fileNames(in: "\(root.path)/example.test/alice/tmp").isEmpty)
    }

    // MARK: - Failure is all-or-nothing

    @Test(.enabled(if: getuid() != 0, "root ignores directory permissions"))
    func unwritableMailboxFailsTheWholeDelivery() async throws {
        let root = try TemporaryRoot()
        defer { root.remove() }
        let delivery = MaildirDelivery(root: root.path, hostname: "mx.example.test")
        let alice = try address("alice@one.test")
        let bob = try address("bob@two.test")
        let locked = "\(root.path)/two.test"
        try FileManager.default.createDirectory(atPath: locked, withIntermediateDirectories: true)
        try FileManager.default.setAttributes([.posixPermissions: 0o500], ofItemAtPath: locked)

        do throws(StoreError) {
            try await delivery.deliver(sampleMessage(), to: [alice, bob])
            Issue.record("delivery into an unwritable directory succeeded")
        } catch {
            #expect(error.kind == .permissionDenied)
        }

        #expect(fileNames(in: "\(delivery.maildirPath(for: alice))/new").isEmpty)
        #expect(fileNames(in: "\(delivery.maildirPath(for: alice))/tmp").isEmpty)
    }

    /// `new` is a regular file in Bob's Maildir, so the rename into it fails even for
    /// root — after Alice's copy has already been renamed into her `new/`.
    @Test func failedRenameRemovesCopiesAlreadyDelivered() async throws {
        let root = try TemporaryRoot()
        defer { root.remove() }
        let delivery = MaildirDelivery(root: root.path, hostname: "mx.example.test")
        let alice = try address("alice@one.test")
        let bob = try address("bob@two.test")
        let bobMaildir = delivery.maildirPath(for: bob)
        try FileManager.default.createDirectory(atPath: bobMaildir, withIntermediateDirectories: true)
        #expect(FileManager.default.createFile(atPath: "\(bobMaildir)/new", contents: Data("not a directory".utf8)))

        do throws(StoreError) {
            try await delivery.deliver(sampleMessage(), to: [alice, bob])
            Issue.record("delivery into a broken Maildir succeeded")
        } catch {
            #expect(error.kind == .temporary)
        }

        #expect(fileNames(in: "\(delivery.maildirPath(for: alice))/new").isEmpty)
        #expect(fileNames(in: "\(delivery.maildirPath(for: alice))/tmp").isEmpty)
        #expect(fileNames(in: "\(bobMaildir)/tmp").isEmpty)

        // The same delivery works once the Maildir is repaired.
        try FileManager.default.removeItem(atPath: "\(bobMaildir)/new")
        try await delivery.deliver(sampleMessage(), to: [alice, bob])
        #expect(fileNames(in: "\(delivery.maildirPath(for: alice))/new").count == 1)
        #expect(fileNames(in: "\(bobMaildir)/new").count == 1)
    }

    @Test func errnoMapsToTheStoreTaxonomy() {
        #expect(MaildirDelivery.storeError(DiskIOError("open", "/x", EACCES)).kind == .permissionDenied)
        #expect(MaildirDelivery.storeError(DiskIOError("write", "/x", EDQUOT)).kind == .overQuota)
        #expect(MaildirDelivery.storeError(DiskIOError("write", "/x", ENOSPC)).kind == .temporary)
        #expect(MaildirDelivery.storeError(DiskIOError("mkdir", "/x", ENAMETOOLONG)).kind == .limitExceeded)
        #expect(MaildirDelivery.storeError(DiskIOError("rename", "/x", ENOTDIR)).kind == .temporary)
    }
}
