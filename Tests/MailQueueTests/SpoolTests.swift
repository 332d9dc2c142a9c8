import DurableFiles
import Foundation
import Synchronization
import Testing
@testable import MailQueue

/// A fresh spool directory under the system's temporary directory.
struct TemporarySpoolDirectory {
    let path: String

    init() throws {
        let url = FileManager.default.temporaryDirectory
            .appendingPathComponent("tsubame-spool-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        path = url.path
    }

    func remove() {
        try? FileManager.default.removeItem(atPath: path)
    }
}

func sampleEnvelope() -> Envelope {
    Envelope(
        sender: "sender@example.org",
        recipients: [
            Envelope.Recipient(
                address: "rcpt@example.net", notify: ["SUCCESS", "FAILURE"],
                originalRecipient: "rfc822;rcpt@example.net"),
            Envelope.Recipient(address: "ユーザー@例え.jp"),
        ],
        envelopeID: "QQ314159",
        ret: "HDRS",
        bodyType: "8BITMIME",
        smtpUTF8: true,
        authenticatedUser: "sender@example.org",
        receivedAt: Date(),
        id: "ignored"
    )
}

/// Every byte value, CRLFs, lines that look like the file's own framing, and an
/// end marker in the body.
func awkwardMessage() -> [UInt8] {
    var bytes = Array("Subject: awkward\r\n\r\nTSUBAME-QUEUE 1\r\n12\r\nEND 0000\r\n".utf8)
    bytes += (0...255).map { UInt8($0) }
    bytes += Array("\r\n\nEND \n".utf8)
    return bytes
}

@Suite struct SpoolTests {
    @Test func enqueueThenReadRoundTrips() async throws {
        let directory = try TemporarySpoolDirectory()
        defer { directory.remove() }
        let spool = Spool(directory: directory.path)
        let envelope = sampleEnvelope()
        let message = awkwardMessage()

        let id = try await spool.enqueue(envelope, message: message)

        #expect(try spool.list() == [id])
        let (readEnvelope, readMessage) = try spool.read(id: id)
        var expected = envelope
        expected.id = id
        #expect(readEnvelope == expected)
        #expect(readMessage == message)
        #expect((try? FileManager.default.contentsOfDirectory(atPath: "\(directory.path)/tmp")) == [])
    }

    @Test func largeMessageRoundTrips() async throws {
        let directory = try TemporarySpoolDirectory()
        defer { directory.remove() }
        let spool = Spool(directory: directory.path)
        var generator = SystemRandomNumberGenerator()
        let message = (0..<1_048_576).map { _ in UInt8.random(in: 0...255, using: &generator) }

        let id = try await spool.enqueue(sampleEnvelope(), message: message)

        let (_, readMessage) = try spool.read(id: id)
        #expect(readMessage == message)
    }

    @Test func fileLayoutIsTheDocumentedOne() async throws {
        let directory = try TemporarySpoolDirectory()
        defer { directory.remove() }
        let spool = Spool(directory: directory.path)
        let message = Array("Subject: x\r\n\r\nhi\r\n".utf8)

        let id = try await spool.enqueue(sampleEnvelope(), message: message)

        let bytes = try #require(FileManager.default.contents(atPath: "\(directory.path)/incoming/\(id)"))
        let text = try #require(String(data: bytes, encoding: .utf8))
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        try #require(lines.count >= 6)
        #expect(lines[0] == "TSUBAME-QUEUE 1")
        #expect(Int(lines[1]) == lines[2].utf8.count)
        #expect(Int(lines[3]) == message.count)
        #expect(text.hasSuffix("\n\(String(decoding: message, as: UTF8.self))\nEND \(id)\n"))
    }

    @Test func nothingSpooledListsNothing() throws {
        let directory = try TemporarySpoolDirectory()
        defer { directory.remove() }

        #expect(try Spool(directory: directory.path).list() == [])
    }

    @Test func unknownOrInvalidIDsAreNotFound() async throws {
        let directory = try TemporarySpoolDirectory()
        defer { directory.remove() }
        let spool = Spool(directory: directory.path)
        _ = try await spool.enqueue(sampleEnvelope(), message: [])

        for id in ["0000000000000000000", "../incoming/x", "", "not-an-id"] {
            do throws(SpoolError) {
                _ = try spool.read(id: id)
                Issue.record("read(\(id.debugDescription)) succeeded")
            } catch {
                #expect(error.kind == .notFound)
            }
        }
    }

    // MARK: - Damaged files

    @Test(arguments: [1, 2, 5, 30, 200])
    func truncatedFileIsCorruptAndMovedAside(cutBytes: Int) async throws {
        let directory = try TemporarySpoolDirectory()
        defer { directory.remove() }
        let spool = Spool(directory: directory.path)
        let id = try await spool.enqueue(sampleEnvelope(), message: awkwardMessage())
        let path = "\(directory.path)/incoming/\(id)"
        let bytes = try #require(FileManager.default.contents(atPath: path))
        try bytes.prefix(bytes.count - cutBytes).write(to: URL(fileURLWithPath: path))

        do throws(SpoolError) {
            _ = try spool.read(id: id)
            Issue.record("a file cut by \(cutBytes) bytes was read")
        } catch {
            #expect(error.kind == .corrupt)
        }

        #expect(!FileManager.default.fileExists(atPath: path))
        #expect(FileManager.default.fileExists(atPath: "\(directory.path)/corrupt/\(id)"))
        #expect(try spool.list() == [])
    }

    @Test func garbageFileIsCorrupt() async throws {
        let directory = try TemporarySpoolDirectory()
        defer { directory.remove() }
        let spool = Spool(directory: directory.path)
        let id = try await spool.enqueue(sampleEnvelope(), message: awkwardMessage())
        let path = "\(directory.path)/incoming/\(id)"
        let garbage = Data((0..<4096).map { _ in UInt8.random(in: 0...255) })
        try garbage.write(to: URL(fileURLWithPath: path))

        do throws(SpoolError) {
            _ = try spool.read(id: id)
            Issue.record("a garbage file was read")
        } catch {
            #expect(error.kind == .corrupt)
        }
        #expect(FileManager.default.fileExists(atPath: "\(directory.path)/corrupt/\(id)"))
    }

    @Test(arguments: [
        "",
        "TSUBAME-QUEUE 1\n",
        "TSUBAME-QUEUE 2\n2\n{}\n0\n\nEND ID\n",
        "TSUBAME-QUEUE 1\n99999999999999999999\n",
        "TSUBAME-QUEUE 1\n-1\n",
        "TSUBAME-QUEUE 1\n2\n{}\n0\n\nEND ID\n",  // valid frame, but `{}` is no envelope
        "TSUBAME-QUEUE 1\n3\n{}\n0\n\nEND ID\n",  // length off by one
    ])
    func malformedFramesAreRejected(text: String) {
        #expect(throws: QueueFileDamage.self) {
            _ = try Spool.decode(Array(text.utf8), id: "ID")
        }
    }

    @Test func bytesAfterTheEndMarkerAreRejected() throws {
        let good = try Spool.decode(Self.validFile(id: "ID"), id: "ID")
        #expect(good.1 == Array("hi".utf8))
        #expect(throws: QueueFileDamage.self) {
            _ = try Spool.decode(Self.validFile(id: "ID") + [0x0A], id: "ID")
        }
        // A file renamed to another ID does not pass as that ID.
        #expect(throws: QueueFileDamage.self) {
            _ = try Spool.decode(Self.validFile(id: "ID"), id: "OTHER")
        }
    }

    static func validFile(id: String) throws -> [UInt8] {
        var envelope = sampleEnvelope()
        envelope.id = id
        let json = try Array(JSONEncoder().encode(envelope))
        return Array("TSUBAME-QUEUE 1\n\(json.count)\n".utf8) + json + Array("\n2\nhi\nEND \(id)\n".utf8)
    }

    // MARK: - Queue IDs

    @Test func idsAreUniqueAndSortByTime() async throws {
        let directory = try TemporarySpoolDirectory()
        defer { directory.remove() }
        let spool = Spool(directory: directory.path)
        let message = Array("Subject: x\r\n\r\n.\r\n".utf8)

        var ids: [String] = []
        for _ in 0..<1000 {
            ids.append(try await spool.enqueue(sampleEnvelope(), message: message))
        }

        #expect(Set(ids).count == ids.count)
        #expect(ids == ids.sorted(), "IDs must sort in the order they were made")
        #expect(ids.allSatisfy { Spool.isValidID($0) })
        #expect(try spool.list() == ids)
    }

    @Test func idsKeepIncreasingWithoutWaiting() {
        let spool = Spool(directory: "/nonexistent")
        let ids = (0..<10_000).map { _ in spool.nextID() }
        #expect(Set(ids).count == ids.count)
        #expect(ids == ids.sorted())
    }

    @Test func base32HexKeepsNumericOrder() {
        #expect(Spool.base32(0, digits: 3) == "000")
        #expect(Spool.base32(31, digits: 2) == "0V")
        #expect(Spool.base32(32, digits: 2) == "10")
        let values: [UInt64] = [0, 1, 31, 32, 1_000, 1 << 20, 1 << 40, (1 << 55) - 1]
        let encoded = values.map { Spool.base32($0, digits: Spool.timeDigits) }
        #expect(encoded == encoded.sorted())
    }
}

@Suite("Spool: taking back an unacknowledged message")
struct SpoolRemoveTests {
    @Test func discardDeletesTheQueueFileAndIgnoresBadIDs() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("tsubame-spool-rm-\(UUID().uuidString)").path
        let spool = Spool(directory: directory)
        let id = try await spool.enqueue(
            Envelope(sender: "a@b.test", recipients: [.init(address: "c@d.test")], receivedAt: Date()), message: Array("x\r\n".utf8))
        #expect(try spool.list() == [id])
        spool.discard(id: "../../etc/passwd")
        #expect(try spool.list() == [id])
        spool.discard(id: id)
        #expect(try spool.list().isEmpty)
    }

    /// A prepared message is invisible until committed, and a discarded one leaves
    /// nothing in `tmp/`.
    @Test func preparedMessagesAreListedOnlyOnceCommitted() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("tsubame-spool-2p-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let spool = Spool(directory: directory)
        let envelope = Envelope(sender: "a@b.test", recipients: [.init(address: "c@d.test")], receivedAt: Date())
        let kept = try await spool.prepare(envelope, message: Array("x\r\n".utf8))
        let dropped = try await spool.prepare(envelope, message: Array("y\r\n".utf8))
        #expect(try spool.list().isEmpty)
        try await spool.commit(id: kept)
        spool.discard(id: dropped)
        #expect(try spool.list() == [kept])
        #expect(try spool.read(id: kept).1 == Array("x\r\n".utf8))
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory + "/tmp").isEmpty)
    }
}

@Suite struct SpoolObserverTests {
    /// The observer is called once per enqueue, after the file is durable, and calling
    /// it does not get deeper with every message (it once grew a thunk pair per call).
    @Test func observerIsCalledAtConstantDepth() async throws {
        let directory = try TemporarySpoolDirectory()
        defer { directory.remove() }
        let spool = Spool(directory: directory.path)
        let depths = Mutex<[Int]>([])
        spool.observeEnqueues { id in
            #expect(spool.contains(id: id))
            let depth = Thread.callStackReturnAddresses.count
            depths.withLock { $0.append(depth) }
        }
        for _ in 0..<200 {
            _ = try await spool.enqueue(sampleEnvelope(), message: Array("Subject: x\r\n\r\nx\r\n".utf8))
        }
        let seen = depths.withLock { $0 }
        #expect(seen.count == 200)
        #expect((seen.max() ?? 0) - (seen.min() ?? 0) < 20, "call depth grew: \(seen.first ?? 0) → \(seen.last ?? 0)")
    }
}
