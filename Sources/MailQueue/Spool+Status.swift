import DurableFiles
import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The status files (`status/<id>`, see `QueueRecord`), the queue lock, and the run
/// request that `tsubame queue flush` leaves for the running server.
///
/// Everything here blocks (it reads and writes files); the queue runner calls it on
/// its own dispatch queue, the CLI directly.
extension Spool {
    var statusDirectory: String { "\(directory)/status" }
    var lockPath: String { "\(directory)/lock" }
    var runRequestPath: String { "\(directory)/flush" }

    /// The status of message `id`, or `nil` when it has none yet (never tried) or
    /// when the file is unreadable (then every recipient counts as pending again:
    /// at worst a second delivery, never a lost one).
    public func readRecord(id: String) -> QueueRecord? {
        guard Self.isValidID(id) else { return nil }
        guard let bytes = try? DiskIO.readWholeFile("\(statusDirectory)/\(id)") else { return nil }
        guard let record = try? JSONDecoder.queue.decode(QueueRecord.self, from: Data(bytes)), record.id == id else {
            return nil
        }
        return record
    }

    /// Replaces the status of `record.id` durably: temporary file, fsync, rename,
    /// fsync of `status/`.
    public func writeRecord(_ record: QueueRecord) throws(SpoolError) {
        guard Self.isValidID(record.id) else { throw SpoolError(.notFound, "not a queue ID: \(record.id.debugDescription)") }
        let json: [UInt8]
        do {
            json = try Array(JSONEncoder.queue.encode(record))
        } catch {
            throw SpoolError(.temporary, "cannot encode the status of \(record.id): \(error)")
        }
        let temporary = "\(temporaryDirectory)/\(record.id).status"
        do throws(DiskIOError) {
            try DiskIO.makeDirectory(temporaryDirectory)
            try DiskIO.makeDirectory(statusDirectory)
            DiskIO.removeFile(temporary)
            try DiskIO.writeNewFile(temporary, [json])
            try DiskIO.move(temporary, "\(statusDirectory)/\(record.id)")
            try DiskIO.syncDirectory(statusDirectory)
        } catch {
            DiskIO.removeFile(temporary)
            throw SpoolError(.temporary, error.description)
        }
    }

    /// Whether the message file of `id` is still in the queue.
    public func contains(id: String) -> Bool {
        guard Self.isValidID(id) else { return false }
        var info = stat()
        return lstat("\(incomingDirectory)/\(id)", &info) == 0
    }

    /// Removes a finished (or deleted) message: the message first, then its status,
    /// so a crash in between leaves only a status file, which `removeOrphanedRecords`
    /// clears. Not fsynced: if the removal is lost in a crash, the message is tried
    /// again — at-least-once, as SMTP is.
    public func removeMessage(id: String) {
        guard Self.isValidID(id) else { return }
        DiskIO.removeFile("\(incomingDirectory)/\(id)")
        DiskIO.removeFile("\(statusDirectory)/\(id)")
    }

    /// Status files whose message is gone (a crash between the two removals).
    public func removeOrphanedRecords() {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: statusDirectory) else { return }
        for name in names where Self.isValidID(name) && !contains(id: name) {
            DiskIO.removeFile("\(statusDirectory)/\(name)")
        }
    }

    /// Runs `body` holding the queue lock (`flock` on `<queue>/lock`), which the
    /// runner and `tsubame queue` take around every read-modify-write of a status
    /// file, so an administrator's change and a delivery result never overwrite each
    /// other.
    public func withLock<T>(_ body: () throws -> T) throws -> T {
        try? DiskIO.makeDirectory(directory)
        let descriptor = open(lockPath, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { throw SpoolError(.temporary, "cannot open \(lockPath): \(String(cString: strerror(errno)))") }
        defer { close(descriptor) }
        while flock(descriptor, LOCK_EX) != 0 {
            guard errno == EINTR else {
                throw SpoolError(.temporary, "cannot lock \(lockPath): \(String(cString: strerror(errno)))")
            }
        }
        defer { _ = flock(descriptor, LOCK_UN) }
        return try body()
    }

    /// Asks the running server to look at the whole queue again now (after
    /// `tsubame queue flush`, `retry`, `delete`, `bounce`).
    public func requestRun() {
        try? DiskIO.makeDirectory(directory)
        let descriptor = open(runRequestPath, O_WRONLY | O_CREAT | O_CLOEXEC, 0o600)
        if descriptor >= 0 { close(descriptor) }
    }

    /// Whether a run was requested since the last call; clears the request first, so
    /// one made while the queue is being reread is seen next time.
    func takeRunRequest() -> Bool {
        unlink(runRequestPath) == 0
    }
}

extension JSONEncoder {
    /// Sorted keys and ISO 8601 dates: status files that read well in a pager.
    static var queue: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        encoder.dateEncodingStrategy = .iso8601
        return encoder
    }
}

extension JSONDecoder {
    static var queue: JSONDecoder {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return decoder
    }
}
