import DurableFiles
import MailCore
import MailStore
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// One message file of a Maildir folder, as its name describes it:
/// `new/<base>` or `cur/<base>:2,<flags>`, where Dovecot's bases carry `,S=<size>` and
/// `,W=<size with CRLF>` (cr.yp.to/proto/maildir.html; doc.dovecot.org "Maildir").
struct MaildirFileName: Sendable, Equatable {
    /// The unique part, without `:2,…`: what identifies the message across renames.
    let base: String
    /// `new/<name>` or `cur/<name>`.
    let relativePath: String
    let flags: SystemFlags
    /// `,W=` from the name: the size with CRLF line ends.
    var crlfSize: Int? { Self.field("W", in: base) }
    /// Not in the name; the file's time is used.
    var internalDate: Int64? { nil }

    init?(subdirectory: String, name: String) {
        guard let base = Self.base(ofName: name) else { return nil }
        self.base = String(base)
        relativePath = subdirectory + "/" + name
        flags = Self.flags(ofName: name)
    }

    /// The base of a file name: up to the first ":" (the info separator); nil for names
    /// that are no message (hidden, or with nothing before the ":").
    static func base(ofName name: String) -> Substring? {
        guard let first = name.utf8.first, first != UInt8(ascii: "."), first != UInt8(ascii: ":") else { return nil }
        guard let colon = name.utf8.firstIndex(of: UInt8(ascii: ":")) else { return name[...] }
        return name[..<colon]
    }

    /// The system flags in a name's `:2,` suffix.
    static func flags(ofName name: String) -> SystemFlags {
        var flags: SystemFlags = []
        guard let colon = name.utf8.firstIndex(of: UInt8(ascii: ":")) else { return flags }
        let info = name.utf8[colon...].dropFirst()
        guard info.starts(with: "2,".utf8) else { return flags }
        for letter in info.dropFirst(2) {
            switch letter {
            case UInt8(ascii: "D"): flags.insert(.draft)
            case UInt8(ascii: "F"): flags.insert(.flagged)
            case UInt8(ascii: "R"): flags.insert(.answered)
            case UInt8(ascii: "S"): flags.insert(.seen)
            case UInt8(ascii: "T"): flags.insert(.deleted)
            default: break  // P (passed), and a–z keywords (Dovecot's dovecot-keywords)
            }
        }
        return flags
    }

    /// `cur/<base>:2,<flags>` with the flag letters in ASCII order, as Maildir asks.
    static func curPath(base: String, flags: SystemFlags) -> String {
        var letters = ""
        if flags.contains(.draft) { letters += "D" }
        if flags.contains(.flagged) { letters += "F" }
        if flags.contains(.answered) { letters += "R" }
        if flags.contains(.seen) { letters += "S" }
        if flags.contains(.deleted) { letters += "T" }
        return "cur/\(base):2,\(letters)"
    }

    /// Names made by this process, deliveries and appends alike: one counter, so that
    /// two names made in the same microsecond never meet (a base in `new/` and the same
    /// base in `cur/` would be taken for one message).
    private static let counter = Atomic<Int>(0)

    /// A new unique base as Dovecot writes it:
    /// `<seconds>.M<microseconds>P<pid>Q<counter>.<host>,S=<size>,W=<size with CRLF>`.
    ///
    /// `S=` is the file size and `W=` the size with CRLF line ends (IMAP's RFC822.SIZE).
    /// `host` is already encoded (`MaildirDelivery.encodedHostname`).
    static func uniqueBase(host: String, processID: Int32, size: Int, crlfSize: Int) -> String {
        var now = timeval()
        _ = gettimeofday(&now, nil)
        let number = counter.wrappingAdd(1, ordering: .relaxed).newValue
        return "\(now.tv_sec).M\(now.tv_usec)P\(processID)Q\(number).\(host),S=\(size),W=\(crlfSize)"
    }

    /// The size of `bytes` with every bare LF counted as CRLF: Dovecot's virtual size
    /// (`,W=`), the length IMAP reports for a message a client appended.
    static func crlfSize(of bytes: [UInt8]) -> Int {
        var size = bytes.count
        var previous: UInt8 = 0
        for byte in bytes {
            if byte == 0x0A && previous != 0x0D { size += 1 }
            previous = byte
        }
        return size
    }

    /// The base of a relative path (`cur/x:2,S` → `x`).
    static func base(of relativePath: String) -> String {
        String(base(inPath: relativePath))
    }

    /// The base of a relative path as a part of it (no copy).
    static func base(inPath relativePath: String) -> Substring {
        var name = relativePath[...]
        if let slash = relativePath.utf8.firstIndex(of: UInt8(ascii: "/")) {
            name = relativePath[relativePath.utf8.index(after: slash)...]
        }
        guard let colon = name.utf8.firstIndex(of: UInt8(ascii: ":")) else { return name }
        return name[..<colon]
    }

    /// The length of the base of a file name (up to the first ":"); nil for names that
    /// are no message (hidden, or with nothing before the ":").
    static func baseLength(ofName name: UnsafeRawBufferPointer) -> Int? {
        guard let first = name.first, first != UInt8(ascii: "."), first != UInt8(ascii: ":") else { return nil }
        return name.firstIndex(of: UInt8(ascii: ":")) ?? name.count
    }

    /// Whether the base of `path` (`new/<base>` or `cur/<base>:2,…`) is `base`.
    static func hasBase(_ path: String, _ base: UnsafeRawBufferPointer) -> Bool {
        let result = path.utf8.withContiguousStorageIfAvailable { bytes -> Bool in
            guard bytes.count >= base.count + 4 else { return false }
            if bytes.count > base.count + 4 && bytes[base.count + 4] != UInt8(ascii: ":") { return false }
            return base.isEmpty || memcmp(bytes.baseAddress! + 4, base.baseAddress!, base.count) == 0
        }
        return result ?? (Self.base(inPath: path).utf8.elementsEqual(base))
    }

    /// Whether `path` is `cur/<name>` (`isCur`) or `new/<name>`.
    static func isPath(_ path: String, isCur: Bool, _ name: UnsafeRawBufferPointer) -> Bool {
        let subdirectory: StaticString = isCur ? "cur/" : "new/"
        let prefix = UnsafeRawBufferPointer(start: subdirectory.utf8Start, count: 4)
        let result = path.utf8.withContiguousStorageIfAvailable { bytes -> Bool in
            bytes.count == name.count + 4 && memcmp(bytes.baseAddress!, prefix.baseAddress!, 4) == 0
                && (name.isEmpty || memcmp(bytes.baseAddress! + 4, name.baseAddress!, name.count) == 0)
        }
        return result ?? path.utf8.elementsEqual(Array(prefix) + Array(name))
    }

    /// Arrival order of two bases: Maildir names start with the time and carry
    /// unpadded microseconds and counters (`1700000000.M36820P12Q9.host`), so runs of
    /// digits compare as numbers and everything else as bytes.
    static func arrivesBefore(_ left: String, _ right: String) -> Bool {
        var a = left.utf8[...]
        var b = right.utf8[...]
        let isDigit = ASCII.isDigit
        while let x = a.first, let y = b.first {
            if isDigit(x) && isDigit(y) {
                let digitsA = a.prefix(while: isDigit)
                let digitsB = b.prefix(while: isDigit)
                let trimmedA = digitsA.drop(while: { $0 == UInt8(ascii: "0") })
                let trimmedB = digitsB.drop(while: { $0 == UInt8(ascii: "0") })
                if trimmedA.count != trimmedB.count { return trimmedA.count < trimmedB.count }
                if !trimmedA.elementsEqual(trimmedB) { return trimmedA.lexicographicallyPrecedes(trimmedB) }
                a = a.dropFirst(digitsA.count)
                b = b.dropFirst(digitsB.count)
                continue
            }
            if x != y { return x < y }
            a = a.dropFirst()
            b = b.dropFirst()
        }
        if a.isEmpty != b.isEmpty { return a.isEmpty }
        return left < right  // equal up to leading zeros: any fixed order
    }

    /// A `,X=<number>` field of a Dovecot base name.
    static func field(_ key: Character, in base: String) -> Int? {
        for part in base.split(separator: ",").dropFirst() where part.first == key && part.dropFirst().first == "=" {
            let digits = part.dropFirst(2)
            guard !digits.isEmpty, digits.count <= 15, digits.allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
            return Int(digits)
        }
        return nil
    }

    /// Every message file in `new/` and `cur/`, by base. When a message shows up in both
    /// (another program is moving it), the `cur/` entry wins.
    static func scan(_ directory: String) throws(DiskIOError) -> [String: MaildirFileName] {
        var files: [String: MaildirFileName] = [:]
        for subdirectory in ["new", "cur"] {
            for name in try entries(directory + "/" + subdirectory) {
                guard let file = MaildirFileName(subdirectory: subdirectory, name: name) else { continue }
                files[file.base] = file
            }
        }
        return files
    }

    /// The names of the regular files in a directory (`forEachEntry`).
    static func entries(_ path: String) throws(DiskIOError) -> [String] {
        var names: [String] = []
        try forEachEntry(path) { name in names.append(String(decoding: name, as: UTF8.self)) }
        return names
    }

    /// Calls `body` with the name of each regular file in a directory, as it is read (no
    /// string made, no array of names). Anything else — subdirectories, symbolic links
    /// (which are never followed: they may point anywhere), FIFOs — is left out, and the
    /// directory itself must not be a symbolic link (`ELOOP`).
    static func forEachEntry(_ path: String, _ body: (UnsafeRawBufferPointer) -> Void) throws(DiskIOError) {
        var descriptor: Int32
        repeat {
            descriptor = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        } while descriptor < 0 && errno == EINTR
        guard descriptor >= 0 else { throw DiskIOError("open", path, errno) }
        guard let stream = fdopendir(descriptor) else {
            let code = errno
            _ = close(descriptor)
            throw DiskIOError("fdopendir", path, code)
        }
        defer { closedir(stream) }
        while true {
            errno = 0
            guard let entry = readdir(stream) else {
                if errno != 0 { throw DiskIOError("readdir", path, errno) }
                return
            }
            let type = entry.pointee.d_type
            guard type == UInt8(DT_REG) || type == UInt8(DT_UNKNOWN) else { continue }
            withUnsafePointer(to: &entry.pointee.d_name) { pointer in
                pointer.withMemoryRebound(to: CChar.self, capacity: 256) { name in
                    if type == UInt8(DT_UNKNOWN) {
                        // File systems that do not say (some network and older ones): ask.
                        var information = stat()
                        guard fstatat(descriptor, name, &information, AT_SYMLINK_NOFOLLOW) == 0,
                            (information.st_mode & S_IFMT) == S_IFREG
                        else { return }
                    }
                    body(UnsafeRawBufferPointer(start: name, count: strlen(name)))
                }
            }
        }
    }
}
