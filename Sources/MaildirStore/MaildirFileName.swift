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
    let crlfSize: Int?
    /// Not in the name; the file's time is used.
    var internalDate: Int64? { nil }

    init?(subdirectory: String, name: String) {
        guard !name.hasPrefix("."), !name.isEmpty else { return nil }
        let parts = name.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
        base = String(parts[0])
        guard !base.isEmpty else { return nil }
        relativePath = subdirectory + "/" + name
        var flags: SystemFlags = []
        if parts.count == 2, parts[1].hasPrefix("2,") {
            for letter in parts[1].dropFirst(2) {
                switch letter {
                case "D": flags.insert(.draft)
                case "F": flags.insert(.flagged)
                case "R": flags.insert(.answered)
                case "S": flags.insert(.seen)
                case "T": flags.insert(.deleted)
                default: break  // P (passed), and a–z keywords (Dovecot's dovecot-keywords)
                }
            }
        }
        self.flags = flags
        crlfSize = Self.field("W", in: base)
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
        let name = relativePath.split(separator: "/", maxSplits: 1).last.map(String.init) ?? relativePath
        return String(name.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)[0])
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

    /// The names in a directory (regular entries; `.` and `..` left out).
    static func entries(_ path: String) throws(DiskIOError) -> [String] {
        guard let stream = opendir(path) else { throw DiskIOError("opendir", path, errno) }
        defer { closedir(stream) }
        var names: [String] = []
        while let entry = readdir(stream) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            if name == "." || name == ".." { continue }
            if entry.pointee.d_type == UInt8(DT_DIR) { continue }
            names.append(name)
        }
        return names
    }
}
