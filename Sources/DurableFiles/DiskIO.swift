#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A failed system call, with what was being done to which path. Mapped to
/// `StoreError` or `SpoolError` at each module boundary.
public struct DiskIOError: Error, Sendable, CustomStringConvertible {
    public let operation: String
    public let path: String
    /// The `errno` value.
    public let code: Int32

    public init(_ operation: String, _ path: String, _ code: Int32) {
        self.operation = operation
        self.path = path
        self.code = code
    }

    public var description: String {
        "\(operation) \(path): \(String(cString: strerror(code))) (errno \(code))"
    }
}

/// The few POSIX file operations the durable write path needs, each retrying on
/// `EINTR` and reporting failures as `DiskIOError`. Blocking: call only from a thread
/// that may block (never an event loop, never the cooperative pool for long).
///
/// Foundation's `FileManager` is not used here because it neither fsyncs nor
/// reports `errno` reliably, and the durability protocol (DESIGN §3) depends on both.
public enum DiskIO {
    static let directoryMode: mode_t = 0o700
    static let fileMode: mode_t = 0o600

    /// Creates `path` and any missing parents (mode 0700). An existing entry is
    /// accepted, so concurrent callers may race to create the same directory. Every
    /// directory this call creates is made durable by fsyncing its parent.
    public static func makeDirectory(_ path: String) throws(DiskIOError) {
        if mkdir(path, directoryMode) == 0 {
            try syncDirectory(parent(of: path))
            return
        }
        let code = errno
        if code == EEXIST { return }
        guard code == ENOENT else { throw DiskIOError("mkdir", path, code) }
        let parentPath = parent(of: path)
        guard parentPath != path, parentPath != "/", parentPath != "." else {
            throw DiskIOError("mkdir", path, code)
        }
        try makeDirectory(parentPath)
        if mkdir(path, directoryMode) == 0 {
            try syncDirectory(parentPath)
            return
        }
        let retryCode = errno
        if retryCode == EEXIST { return }
        throw DiskIOError("mkdir", path, retryCode)
    }

    /// Creates a new file (O_CREAT|O_EXCL, mode 0600), writes `chunks` in order,
    /// fsyncs and closes it. On any failure the file is removed again. Fails with
    /// `EEXIST` if `path` exists: nothing is ever overwritten.
    public static func writeNewFile(_ path: String, _ chunks: [[UInt8]]) throws(DiskIOError) {
        let descriptor = try createExclusive(path)
        do throws(DiskIOError) {
            for chunk in chunks {
                try writeAll(descriptor, chunk, path: path)
            }
            try syncFile(descriptor, path: path)
        } catch {
            _ = close(descriptor)
            removeFile(path)
            throw error
        }
        // A failing close after a successful fsync can still mean lost data on some
        // file systems (NFS reports write errors at close): treat it as a failure.
        if close(descriptor) != 0 {
            let code = errno
            removeFile(path)
            throw DiskIOError("close", path, code)
        }
    }

    public static func createExclusive(_ path: String) throws(DiskIOError) -> Int32 {
        while true {
            let descriptor = open(path, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, fileMode)
            if descriptor >= 0 { return descriptor }
            let code = errno
            if code != EINTR { throw DiskIOError("open", path, code) }
        }
    }

    /// Writes all of `bytes`, looping over partial writes and `EINTR`.
    public static func writeAll(_ descriptor: Int32, _ bytes: [UInt8], path: String) throws(DiskIOError) {
        let failure: Int32 = bytes.withUnsafeBytes { buffer -> Int32 in
            guard var next = buffer.baseAddress else { return 0 }
            var remaining = buffer.count
            while remaining > 0 {
                let written = write(descriptor, next, remaining)
                if written < 0 {
                    let code = errno
                    if code == EINTR { continue }
                    return code
                }
                // write(2) returns 0 only for a zero-length request; never spin on it.
                if written == 0 { return EIO }
                next = next.advanced(by: written)
                remaining -= written
            }
            return 0
        }
        if failure != 0 { throw DiskIOError("write", path, failure) }
    }

    public static func syncFile(_ descriptor: Int32, path: String) throws(DiskIOError) {
        while fsync(descriptor) != 0 {
            let code = errno
            if code != EINTR { throw DiskIOError("fsync", path, code) }
        }
    }

    /// fsyncs a directory, making the entries created or renamed in it durable.
    public static func syncDirectory(_ path: String) throws(DiskIOError) {
        var descriptor: Int32
        repeat {
            descriptor = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        } while descriptor < 0 && errno == EINTR
        guard descriptor >= 0 else { throw DiskIOError("open", path, errno) }
        defer { _ = close(descriptor) }
        try syncFile(descriptor, path: path)
    }

    public static func hardLink(_ existing: String, _ new: String) throws(DiskIOError) {
        if link(existing, new) != 0 { throw DiskIOError("link", new, errno) }
    }

    /// rename(2): atomic replacement of the directory entry.
    public static func move(_ source: String, _ destination: String) throws(DiskIOError) {
        if rename(source, destination) != 0 { throw DiskIOError("rename", destination, errno) }
    }

    /// Best effort, for cleaning up after a failure: the original error is what counts.
    public static func removeFile(_ path: String) {
        _ = unlink(path)
    }

    /// The whole contents of the file at `path`.
    ///
    /// With `followingSymbolicLinks` false, only a regular file is read: a symbolic link
    /// as the last component of `path` is refused (`ELOOP`, O_NOFOLLOW), and so is
    /// anything else that is not a regular file (`EINVAL`: a FIFO, which is opened
    /// without blocking, a device, a directory). For files in directories other people
    /// can write to, such as a Maildir.
    public static func readWholeFile(_ path: String, followingSymbolicLinks: Bool = true) throws(DiskIOError) -> [UInt8] {
        let flags = O_RDONLY | O_CLOEXEC | (followingSymbolicLinks ? 0 : O_NOFOLLOW | O_NONBLOCK)
        var descriptor: Int32
        repeat {
            descriptor = open(path, flags)
        } while descriptor < 0 && errno == EINTR
        guard descriptor >= 0 else { throw DiskIOError("open", path, errno) }
        defer { _ = close(descriptor) }
        // Sized from fstat: one allocation for the usual case of a file that does not
        // change while it is read (Maildir files never do); growth handles the rest.
        var information = stat()
        let isKnown = fstat(descriptor, &information) == 0
        if !followingSymbolicLinks {
            guard isKnown else { throw DiskIOError("fstat", path, errno) }
            guard (information.st_mode & S_IFMT) == S_IFREG else { throw DiskIOError("open", path, EINVAL) }
        }
        let expected = isKnown ? max(Int(information.st_size), 0) : 0
        var contents = [UInt8](repeating: 0, count: expected + 1)
        var filled = 0
        while true {
            if filled == contents.count { contents.append(contentsOf: repeatElement(0, count: max(4096, filled))) }
            let count = contents.withUnsafeMutableBytes { buffer in
                read(descriptor, buffer.baseAddress! + filled, buffer.count - filled)
            }
            if count < 0 {
                let code = errno
                if code == EINTR { continue }
                throw DiskIOError("read", path, code)
            }
            if count == 0 {
                contents.removeSubrange(filled...)
                return contents
            }
            filled += count
        }
    }

    /// `path` without its last component (`"."` for a bare name, `"/"` for a
    /// top-level entry).
    public static func parent(of path: String) -> String {
        var trimmed = Substring(path)
        while trimmed.count > 1, trimmed.hasSuffix("/") { trimmed = trimmed.dropLast() }
        guard let slash = trimmed.lastIndex(of: "/") else { return "." }
        if slash == trimmed.startIndex { return "/" }
        return String(trimmed[..<slash])
    }
}
