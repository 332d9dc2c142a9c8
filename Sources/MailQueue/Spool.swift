import DurableFiles
import Dispatch
import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The durable spool: one file per accepted message, holding its envelope and its
/// bytes, in the state directories of Postfix's queue (`incoming/` now; `active/`,
/// `deferred/`, `hold/` when the outbound queue arrives; `corrupt/` for damaged files).
///
/// A queue file, `<directory>/incoming/<id>`:
///
///     TSUBAME-QUEUE 1 LF
///     <length of the JSON envelope, decimal> LF
///     <the JSON envelope> LF
///     <length of the message, decimal> LF
///     <the message bytes> LF
///     END <id> LF
///
/// Both lengths and the end marker are checked on `read`, so a file cut short by a crash
/// or a full disk, or damaged later, is recognised and moved to `corrupt/` — never
/// delivered half (STYLE §6: queue files are self-checking). The `LF`s after the JSON
/// and the message are there only so that the file reads well in a pager.
///
/// Writing follows the Maildir discipline: the file is written under `tmp/` (O_EXCL,
/// mode 0600), fsynced and closed, renamed into `incoming/`, and `incoming/` is
/// fsynced. `enqueue` returns only then, so SMTP may answer `250` (DESIGN §3). The
/// blocking work runs on a private concurrent dispatch queue, never on the caller's
/// thread.
///
/// Queue IDs are 19 characters of base32hex (RFC 4648 §7, `0-9A-V`): 11 for the
/// microseconds since 1970 (55 bits, enough until the year 3111) and 8 for 40 random
/// bits, like Postfix's long queue IDs (`enable_long_queue_ids`). base32hex sorts like
/// the numbers it encodes, so IDs sort by time; within one `Spool` they strictly
/// increase, even when the clock stands still or steps back.
///
/// - SeeAlso: Postfix `src/global/mail_queue.h`, `mail_stream.c` (queue states, durable
///   write); RFC 5321 §6.1
public final class Spool: Sendable {
    /// The first line of every queue file; the number is the format version.
    static let formatHeader = "TSUBAME-QUEUE 1"
    /// The most digits a length field may have (`Int.max` has 19).
    static let maximumLengthDigits = 19
    /// base32hex, RFC 4648 §7: in ASCII order, so encoded IDs sort as their values.
    static let idAlphabet = Array("0123456789ABCDEFGHIJKLMNOPQRSTUV".utf8)
    static let timeDigits = 11
    static let randomDigits = 8

    public let directory: String

    private struct State {
        var lastTimestamp: UInt64 = 0
        /// `incoming/` and `tmp/` have been fsynced into `directory` by this process.
        var areDirectoriesDurable = false
    }

    private let state = Mutex(State())
    /// The closure sits in a class: kept directly in the generic `Mutex`, every read
    /// re-abstracted it and the stored value grew one thunk pair per enqueue (found
    /// with perf: a 127-deep thunk chain after a few thousand messages).
    private final class EnqueueObserver: Sendable {
        let notify: @Sendable (String) -> Void

        init(_ notify: @escaping @Sendable (String) -> Void) {
            self.notify = notify
        }
    }

    private let enqueueObserver = Mutex<EnqueueObserver?>(nil)
    private let queue = DispatchQueue(label: "tsubame.spool", qos: .userInitiated, attributes: .concurrent)

    var incomingDirectory: String { "\(directory)/incoming" }
    var temporaryDirectory: String { "\(directory)/tmp" }
    var corruptDirectory: String { "\(directory)/corrupt" }

    /// - Parameter directory: the spool directory (`<data>/queue`); it and its
    ///   subdirectories are created on the first `enqueue` if missing.
    public init(directory: String) {
        self.directory = directory
    }

    // MARK: - Writing

    /// Stores `message` with `envelope` durably and returns its new queue ID, which
    /// also replaces `envelope.id`. Returns only after the file and its directory
    /// entry are on disk. `prepare` then `commit`, for a caller with nothing to do
    /// in between.
    public func enqueue(_ envelope: Envelope, message: [UInt8]) async throws(SpoolError) -> String {
        let id = try await prepare(envelope, message: message)
        try await commit(id: id)
        return id
    }

    /// The first half of `enqueue`: the queue file is written and fsynced under `tmp/`,
    /// where the queue runner never looks. SMTP prepares the remote part of a message,
    /// delivers the local part, and only then commits — so a transaction that fails
    /// after spooling (a full local mailbox) leaves nothing the runner could already
    /// have sent, and the client's retry does not send the remote copy twice.
    public func prepare(_ envelope: Envelope, message: [UInt8]) async throws(SpoolError) -> String {
        let id = nextID()
        var stored = envelope
        stored.id = id
        let json: [UInt8]
        do {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            json = try Array(encoder.encode(stored))
        } catch {
            throw SpoolError(.temporary, "cannot encode the envelope of \(id): \(error)")
        }
        try await onQueue { () throws(SpoolError) in try self.writeTemporary(id: id, json: json, message: message) }
        return id
    }

    /// The second half: moves a prepared file into `incoming/`, fsyncs the directory,
    /// and tells the observer. On failure the file is removed (not acknowledged, so not
    /// kept).
    public func commit(id: String) async throws(SpoolError) {
        try await onQueue { () throws(SpoolError) in try self.publish(id: id) }
        enqueueObserver.withLock { $0 }?.notify(id)
    }

    /// Takes back a prepared or committed message that was never acknowledged. Best
    /// effort: a file left behind is at worst one extra delivery, never a lost one.
    public func discard(id: String) {
        guard Self.isValidID(id) else { return }
        DiskIO.removeFile("\(temporaryDirectory)/\(id)")
        DiskIO.removeFile("\(incomingDirectory)/\(id)")
    }

    private func onQueue(_ work: @escaping @Sendable () throws(SpoolError) -> Void) async throws(SpoolError) {
        let result: Result<Void, SpoolError> = await withCheckedContinuation { continuation in
            queue.async {
                continuation.resume(returning: Result { () throws(SpoolError) in try work() })
            }
        }
        try result.get()
    }

    /// Calls `observer` with the ID of every message enqueued from now on, after it is
    /// durable (the queue runner uses it to start at once).
    public func observeEnqueues(_ observer: @escaping @Sendable (String) -> Void) {
        enqueueObserver.withLock { $0 = EnqueueObserver(observer) }
    }

    /// Blocking: write in `tmp/` and fsync.
    private func writeTemporary(id: String, json: [UInt8], message: [UInt8]) throws(SpoolError) {
        let temporaryPath = "\(temporaryDirectory)/\(id)"
        let head = Array("\(Self.formatHeader)\n\(json.count)\n".utf8)
        let middle = Array("\n\(message.count)\n".utf8)
        let tail = Array("\nEND \(id)\n".utf8)
        do throws(DiskIOError) {
            try prepareDirectories()
            try DiskIO.writeNewFile(temporaryPath, [head, json, middle, message, tail])
        } catch {
            DiskIO.removeFile(temporaryPath)
            throw SpoolError(.temporary, error.description)
        }
    }

    /// Blocking: rename `tmp/<id>` into `incoming/`, fsync `incoming/`.
    private func publish(id: String) throws(SpoolError) {
        guard Self.isValidID(id) else { throw SpoolError(.notFound, "not a queue ID: \(id.debugDescription)") }
        let temporaryPath = "\(temporaryDirectory)/\(id)"
        let incomingPath = "\(incomingDirectory)/\(id)"
        var isInIncoming = false
        do throws(DiskIOError) {
            try DiskIO.move(temporaryPath, incomingPath)
            isInIncoming = true
            try DiskIO.syncDirectory(incomingDirectory)
        } catch {
            // Not acknowledged, so not kept: the client still has the message and will
            // send it again; a copy left here would be delivered twice.
            DiskIO.removeFile(isInIncoming ? incomingPath : temporaryPath)
            throw SpoolError(.temporary, error.description)
        }
    }

    /// Creates `tmp/` and `incoming/` when missing and, once per process, fsyncs the
    /// spool directory so that their entries are durable even if another process (or a
    /// concurrent call) created them and crashed before fsyncing.
    private func prepareDirectories() throws(DiskIOError) {
        try DiskIO.makeDirectory(temporaryDirectory)
        try DiskIO.makeDirectory(incomingDirectory)
        guard !state.withLock({ $0.areDirectoriesDurable }) else { return }
        try DiskIO.syncDirectory(directory)
        state.withLock { $0.areDirectoriesDurable = true }
    }

    // MARK: - Reading

    /// The IDs of the messages in `incoming/`, oldest first. Blocking (it reads a
    /// directory): call it off the event loops, as the queue runner does.
    public func list() throws(SpoolError) -> [String] {
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: incomingDirectory)
        } catch {
            // Nothing has been spooled yet.
            if !FileManager.default.fileExists(atPath: incomingDirectory) { return [] }
            throw SpoolError(.temporary, "cannot list \(incomingDirectory): \(error)")
        }
        return names.filter { Self.isValidID($0) }.sorted()
    }

    /// The envelope and message of queue file `id`, after checking its structure and
    /// end marker. A damaged file is moved to `corrupt/` and reported as
    /// `SpoolError.Kind.corrupt`; it is never returned. Blocking: call it off the
    /// event loops.
    public func read(id: String) throws(SpoolError) -> (Envelope, [UInt8]) {
        guard Self.isValidID(id) else { throw SpoolError(.notFound, "not a queue ID: \(id.debugDescription)") }
        let path = "\(incomingDirectory)/\(id)"
        let bytes: [UInt8]
        do throws(DiskIOError) {
            bytes = try DiskIO.readWholeFile(path)
        } catch {
            throw SpoolError(error.code == ENOENT ? .notFound : .temporary, error.description)
        }
        do throws(QueueFileDamage) {
            return try Self.decode(bytes, id: id)
        } catch {
            let outcome = quarantine(id) ? "moved to corrupt/" : "could not be moved to corrupt/"
            throw SpoolError(.corrupt, "\(path): \(error.reason); \(outcome)")
        }
    }

    /// Moves a damaged file out of `incoming/` so the queue runner does not trip over it
    /// again; an operator can look at it there. Best effort: reports success.
    private func quarantine(_ id: String) -> Bool {
        do throws(DiskIOError) {
            try DiskIO.makeDirectory(corruptDirectory)
            try DiskIO.move("\(incomingDirectory)/\(id)", "\(corruptDirectory)/\(id)")
            try DiskIO.syncDirectory(corruptDirectory)
            try DiskIO.syncDirectory(incomingDirectory)
            return true
        } catch {
            return false
        }
    }

    // MARK: - File format

    /// Parses a queue file; see the type's documentation for the layout.
    static func decode(_ bytes: [UInt8], id: String) throws(QueueFileDamage) -> (Envelope, [UInt8]) {
        var reader = QueueFileReader(bytes: bytes)
        try reader.expect(Array("\(formatHeader)\n".utf8), "missing or unknown header")
        let jsonLength = try reader.readLength("envelope length")
        let json = try reader.readBytes(jsonLength, "envelope")
        try reader.expect([UInt8(ascii: "\n")], "no line end after the envelope")
        let messageLength = try reader.readLength("message length")
        let message = try reader.readBytes(messageLength, "message")
        try reader.expect(Array("\nEND \(id)\n".utf8), "missing or wrong end marker")
        guard reader.isAtEnd else { throw QueueFileDamage("bytes after the end marker") }
        let envelope: Envelope
        do {
            envelope = try JSONDecoder().decode(Envelope.self, from: Data(json))
        } catch {
            throw QueueFileDamage("envelope is not valid: \(error)")
        }
        guard envelope.id == id else { throw QueueFileDamage("envelope ID \(envelope.id.debugDescription) differs") }
        return (envelope, Array(message))
    }

    // MARK: - Queue IDs

    /// A new queue ID: later than every ID this spool made before.
    func nextID() -> String {
        var now = timeval()
        _ = gettimeofday(&now, nil)
        let microseconds = UInt64(clamping: now.tv_sec) &* 1_000_000 &+ UInt64(clamping: now.tv_usec)
        let timestamp: UInt64 = state.withLock { state in
            let next = max(microseconds, state.lastTimestamp &+ 1)
            state.lastTimestamp = next
            return next
        }
        let random = UInt64.random(in: 0..<(1 << 40))
        return Self.base32(timestamp, digits: Self.timeDigits) + Self.base32(random, digits: Self.randomDigits)
    }

    /// The low `5 * digits` bits of `value` in base32hex, most significant first.
    static func base32(_ value: UInt64, digits: Int) -> String {
        var characters = [UInt8](repeating: idAlphabet[0], count: digits)
        var rest = value
        for index in stride(from: digits - 1, through: 0, by: -1) {
            characters[index] = idAlphabet[Int(rest & 31)]
            rest >>= 5
        }
        return String(decoding: characters, as: UTF8.self)
    }

    /// Whether `text` has the form of a queue ID (so it is also a safe file name).
    static func isValidID(_ text: String) -> Bool {
        let bytes = Array(text.utf8)
        return bytes.count == timeDigits + randomDigits && bytes.allSatisfy { idAlphabet.contains($0) }
    }
}

/// Why a queue file failed its check, for the log.
struct QueueFileDamage: Error, Sendable {
    let reason: String

    init(_ reason: String) {
        self.reason = reason
    }
}

/// A cursor over the bytes of a queue file; every read is bounds-checked.
private struct QueueFileReader {
    let bytes: [UInt8]
    var position = 0

    init(bytes: [UInt8]) {
        self.bytes = bytes
    }

    var isAtEnd: Bool { position == bytes.count }

    mutating func expect(_ literal: [UInt8], _ failure: String) throws(QueueFileDamage) {
        guard bytes.count - position >= literal.count,
            bytes[position..<position + literal.count].elementsEqual(literal)
        else { throw QueueFileDamage(failure) }
        position += literal.count
    }

    /// `1*19DIGIT LF`, no larger than the file itself.
    mutating func readLength(_ what: String) throws(QueueFileDamage) -> Int {
        var value = 0
        var digits = 0
        while position < bytes.count, bytes[position] != UInt8(ascii: "\n") {
            let byte = bytes[position]
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else {
                throw QueueFileDamage("\(what) is not a number")
            }
            digits += 1
            // value ≤ bytes.count before each step, so value * 10 cannot overflow.
            value = value * 10 + Int(byte - UInt8(ascii: "0"))
            guard digits <= Spool.maximumLengthDigits, value <= bytes.count else {
                throw QueueFileDamage("\(what) is larger than the file")
            }
            position += 1
        }
        guard digits > 0, position < bytes.count else { throw QueueFileDamage("\(what) missing") }
        position += 1  // the LF
        return value
    }

    mutating func readBytes(_ count: Int, _ what: String) throws(QueueFileDamage) -> ArraySlice<UInt8> {
        guard bytes.count - position >= count else { throw QueueFileDamage("\(what) cut short") }
        defer { position += count }
        return bytes[position..<position + count]
    }
}
