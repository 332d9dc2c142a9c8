import DurableFiles
import Dispatch
public import MailCore
public import MailStore
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Local delivery into each recipient's Maildir INBOX — what Dovecot's LDA does for
/// Postfix — durably, before SMTP may answer `250`.
///
/// Layout: each account's Maildir is `<root>/<domain>/<local>/` with `cur/ new/ tmp/`
/// (created on demand, mode 0700), Dovecot's `mail_location =
/// maildir:/var/mail/vhosts/%d/%n`. Both segments go through `pathSegment(_:)`.
///
/// One delivery, for the recipients' distinct Maildirs M₁…Mₙ:
///
/// 1. make sure every Mᵢ exists (before anything is written, so a missing or
///    unwritable mailbox fails the delivery without leaving anything behind);
/// 2. write the message to `M₁/tmp/<name>` (O_EXCL, 0600), fsync, close;
/// 3. hard-link it as `Mᵢ/tmp/<name>` for i > 1 — one inode on disk however many local
///    recipients — or write a separate copy where the file system cannot link
///    (`EXDEV`, `EPERM`, `EMLINK`, `ENOTSUP`);
/// 4. rename each `Mᵢ/tmp/<name>` to `Mᵢ/new/<name>`;
/// 5. fsync each `Mᵢ/new/`.
///
/// Only then does `deliver` return. If any step fails, every file made so far (in
/// `tmp/` or already in `new/`) is unlinked and the error is thrown: the client keeps
/// the message and retries, so a crash or failure can cause a duplicate, never a loss
/// (delivery is at-least-once, DESIGN §3).
///
/// All file work runs on a private concurrent dispatch queue, never on the caller's
/// thread (an event loop or the cooperative pool).
///
/// - SeeAlso: cr.yp.to/proto/maildir.html; doc.dovecot.org "Maildir mailbox format"
public final class MaildirDelivery: MessageDelivery {
    /// How often a name is regenerated when `tmp/<name>` already exists. Names are
    /// unique per process (time, pid, counter), so a clash means a clock step back or
    /// a second process with our pid on another host writing under our host name.
    static let maximumNameAttempts = 8

    /// Maildirs whose directory entries (domain, local part, cur/new/tmp) this
    /// process has fsynced; beyond this many, the set is cleared and refilled.
    static let maximumRememberedMaildirs = 100_000

    public let root: String
    public let hostname: String

    /// The host name as it appears in file names: `/` and `:` cannot appear there
    /// (path separator; Maildir info separator), so they are written as `\057` and
    /// `\072`, as Dovecot does.
    let fileNameHost: String
    let processID: Int32
    /// Woken after each delivery (IMAP IDLE), with each recipient's canonical address.
    let notifier: MailboxChangeNotifier?
    /// Maildirs known to be durable on disk (see `prepareMaildir`).
    private let durableMaildirs = Mutex<Set<String>>([])
    private let queue = DispatchQueue(
        label: "tsubame.maildir-delivery", qos: .userInitiated, attributes: .concurrent)

    /// - Parameters:
    ///   - root: the directory that holds one directory per domain (`/var/mail/vhosts`).
    ///     Created on the first delivery if missing.
    ///   - hostname: this host's name, for unique file names.
    ///   - notifier: told about every delivery, so that IMAP IDLE sessions wake up.
    public init(root: String, hostname: String, notifier: MailboxChangeNotifier? = nil) {
        self.root = root
        self.hostname = hostname
        self.fileNameHost = Self.encodedHostname(hostname)
        self.processID = getpid()
        self.notifier = notifier
    }

    public func deliver(_ message: [UInt8], to recipients: [MailAddress]) async throws(StoreError) {
        var maildirs: [String] = []
        var seen = Set<String>()
        for recipient in recipients {
            let path = maildirPath(for: recipient)
            // The same mailbox twice (e.g. `Alice@` and `alice@`) gets one copy.
            if seen.insert(path).inserted { maildirs.append(path) }
        }
        guard !maildirs.isEmpty else { return }
        let directories = maildirs
        let result: Result<Void, StoreError> = await withCheckedContinuation { continuation in
            queue.async {
                continuation.resume(returning: Result { () throws(StoreError) in
                    try self.deliverNow(message, into: directories)
                })
            }
        }
        try result.get()
        if let notifier {
            for account in Set(recipients.map(\.canonical)) { notifier.post(account: account) }
        }
    }

    /// The Maildir of `address`: `<root>/<domain>/<local>` with both segments encoded.
    public func maildirPath(for address: MailAddress) -> String {
        MaildirLayout.maildir(root: root, address: address)
    }

    // MARK: - Names

    /// Turns a domain or local part into one safe path segment: lower-cased (the
    /// directory compares addresses case-insensitively), and every byte outside
    /// `[a-z0-9._+-]` percent-encoded (`%2F`), as is a leading `.`.
    ///
    /// So the result never contains `/`, is never `.` or `..`, never starts with `.`
    /// (which Maildir++ reserves for folders such as `.Sent`) and never starts with `~`.
    /// The mapping is injective on lower-cased input, because `%` itself is encoded:
    /// `..` → `%2E.`, `%2e%2e` → `%252e%252e`, `a/b` → `a%2Fb`. UTF-8 local parts
    /// (RFC 6531) are encoded byte by byte. The empty string, which no valid address
    /// produces, becomes `%`, which no other input produces.
    static func pathSegment(_ text: String) -> String {
        let bytes = Array(text.lowercased().utf8)
        guard !bytes.isEmpty else { return "%" }
        var output: [UInt8] = []
        output.reserveCapacity(bytes.count)
        for (index, byte) in bytes.enumerated() {
            if isSegmentByte(byte) && !(index == 0 && byte == UInt8(ascii: ".")) {
                output.append(byte)
            } else {
                output.append(UInt8(ascii: "%"))
                output.append(hexDigits[Int(byte >> 4)])
                output.append(hexDigits[Int(byte & 0x0F)])
            }
        }
        return String(decoding: output, as: UTF8.self)
    }

    private static let hexDigits = Array("0123456789ABCDEF".utf8)

    private static func isSegmentByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
            UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "+"), UInt8(ascii: "-"):
            return true
        default:
            return false
        }
    }

    static func encodedHostname(_ hostname: String) -> String {
        var result = ""
        for character in hostname {
            switch character {
            case "/": result += "\\057"
            case ":": result += "\\072"
            default: result.append(character)
            }
        }
        return result
    }

    /// A new Maildir file name as Dovecot writes it:
    /// `<seconds>.M<microseconds>P<pid>Q<counter>.<host>,S=<size>,W=<size>`.
    ///
    /// `S=` is the file size and `W=` the size with CRLF line ends (IMAP's
    /// RFC822.SIZE); stored messages already have CRLF line ends, so both are equal.
    /// The counter makes names unique within the process even within one microsecond.
    func nextFileName(size: Int) -> String {
        MaildirFileName.uniqueBase(host: fileNameHost, processID: processID, size: size, crlfSize: size)
    }

    // MARK: - Delivery (blocking; runs on `queue`)

    private func deliverNow(_ message: [UInt8], into maildirs: [String]) throws(StoreError) {
        // Every path that currently holds a copy of this message; unlinked on failure.
        var placed: [String] = []
        do throws(DiskIOError) {
            for maildir in maildirs {
                try prepareMaildir(maildir)
            }
            guard let first = maildirs.first else { return }
            let name = try writeFirstCopy(message, into: first)
            let firstCopy = "\(first)/tmp/\(name)"
            placed.append(firstCopy)
            for maildir in maildirs.dropFirst() {
                let copy = "\(maildir)/tmp/\(name)"
                try linkOrCopy(firstCopy, to: copy, message: message)
                placed.append(copy)
            }
            for (index, maildir) in maildirs.enumerated() {
                let destination = "\(maildir)/new/\(name)"
                try DiskIO.move("\(maildir)/tmp/\(name)", destination)
                placed[index] = destination
            }
            for maildir in maildirs {
                try DiskIO.syncDirectory("\(maildir)/new")
            }
        } catch {
            for path in placed.reversed() {
                DiskIO.removeFile(path)
            }
            throw Self.storeError(error)
        }
    }

    /// Makes sure `<maildir>/{cur,new,tmp}` exist, and — once per Maildir per process —
    /// that the entries leading to them are durable: a Maildir created by a concurrent
    /// delivery (we saw `EEXIST`) or by a process that crashed before fsyncing its
    /// parent could otherwise vanish in a crash, taking our message with it.
    private func prepareMaildir(_ maildir: String) throws(DiskIOError) {
        for subdirectory in ["cur", "new", "tmp"] {
            try DiskIO.makeDirectory("\(maildir)/\(subdirectory)")
        }
        let isKnown = durableMaildirs.withLock { $0.contains(maildir) }
        guard !isKnown else { return }
        let domainDirectory = DiskIO.parent(of: maildir)
        try DiskIO.syncDirectory(DiskIO.parent(of: domainDirectory))
        try DiskIO.syncDirectory(domainDirectory)
        try DiskIO.syncDirectory(maildir)
        durableMaildirs.withLock { known in
            if known.count >= Self.maximumRememberedMaildirs { known.removeAll() }
            known.insert(maildir)
        }
    }

    /// Writes the message to `<maildir>/tmp/<name>` under a fresh name; returns the name.
    private func writeFirstCopy(_ message: [UInt8], into maildir: String) throws(DiskIOError) -> String {
        var attempt = 1
        while true {
            let name = nextFileName(size: message.count)
            do throws(DiskIOError) {
                try DiskIO.writeNewFile("\(maildir)/tmp/\(name)", [message])
                return name
            } catch {
                guard error.code == EEXIST, attempt < Self.maximumNameAttempts else { throw error }
                attempt += 1
            }
        }
    }

    private func linkOrCopy(_ source: String, to destination: String, message: [UInt8]) throws(DiskIOError) {
        do throws(DiskIOError) {
            try DiskIO.hardLink(source, destination)
        } catch {
            // Another file system (EXDEV), no hard links there (EPERM, EOPNOTSUPP), or the
            // inode's link count is full (EMLINK): a separate copy does the same job.
            let canCopy = [EXDEV, EPERM, EMLINK, EOPNOTSUPP].contains(error.code)
            guard canCopy else { throw error }
            try DiskIO.writeNewFile(destination, [message])
        }
    }

    /// Maps a failed system call to the store's closed error taxonomy.
    static func storeError(_ error: DiskIOError) -> StoreError {
        switch error.code {
        case EACCES, EPERM:
            return StoreError(.permissionDenied, error.description)
        case EDQUOT:
            return StoreError(.overQuota, error.description)
        case ENAMETOOLONG, EFBIG:
            return StoreError(.limitExceeded, error.description)
        default:
            // ENOSPC, EIO, EROFS, ENOTDIR, …: an operator can fix these; the sender retries.
            return StoreError(.temporary, error.description)
        }
    }
}
