import Foundation
import IMAPProtocol
import MIMEStructure
import MailStore
import NIOCore

/// SEARCH and UID SEARCH, with ESEARCH (RFC 4731) and SEARCHRES (RFC 5182).
///
/// Keys on flags, sizes, dates and UIDs are answered from the index; keys on text
/// (header fields, BODY, TEXT, SENT*) read the messages, decoding MIME encodings
/// (RFC 2047 words, base64 and quoted-printable bodies, charsets) and matching
/// case-insensitively (RFC 9051 §6.4.4).
///
/// - SeeAlso: RFC 9051 §6.4.4, §7.3.4 (ESEARCH); RFC 3501 §6.4.4, §7.2.5 (SEARCH)
extension IMAPConnection {
    func search(_ tag: String, _ arguments: IMAPCommand.SearchArguments, byUID: Bool) async -> IMAPStep {
        guard let mailbox = selected else { return finish(tag, .bad, nil, "No mailbox selected", isError: true) }
        let context = SearchContext(
            mailbox: mailbox, savedSearch: Set(savedSearch), now: Int64(Date().timeIntervalSince1970))
        guard context.validate(arguments.key, connection: self) else {
            return finish(tag, .bad, nil, "Invalid message sequence number", isError: true)
        }
        var matches: [Int] = []
        let needsContent = Self.needsContent(arguments.key)
        // Keys on header fields alone (FROM, SUBJECT, HEADER, SENT*) are answered from
        // the message's header section, which the store keeps like ENVELOPE (Dovecot's
        // cached search fields): a repeated search reads no file.
        let headersOnly = needsContent && !Self.needsBody(arguments.key)
        let messages = mailbox.messages
        var index = 0
        var askedStoreThrough = 0
        var derived: [UInt32: [String: [UInt8]]] = [:]
        while index < messages.count {
            if !needsContent {
                if context.matches(arguments.key, index: index, structure: nil, connection: self) { matches.append(index) }
                index += 1
                continue
            }
            if headersOnly && index >= askedStoreThrough {
                askedStoreThrough = min(messages.count, index + Self.derivedWindow)
                await loadKeptHeaders(mailbox, messages[index..<askedStoreThrough].map(\.uid))
            }
            let chunk = Array(index..<min(messages.count, index + 32))
            var texts: [Int: MessageText] = [:]
            var toRead = chunk[...]
            if headersOnly {
                toRead = chunk.filter { position in
                    let key = structureKey(mailbox, messages[position].uid)
                    guard let entry = services.structures.entry(key), let header = entry.header else { return true }
                    if let fields = entry.searchFields {
                        texts[position] = MessageText(header: header, fields: fields)
                    } else {
                        let structure = MessageStructure(parsing: header)
                        let fields = SearchFields(structure)
                        services.structures.store(key, StructureCache.Entry(searchFields: fields))
                        texts[position] = MessageText(header: header, fields: fields)
                    }
                    return false
                }[...]
            }
            while !toRead.isEmpty {
                let uids = toRead.map { messages[$0].uid }
                // In order, up to the byte limit; expunged ones are left out (a failure on
                // the first one skips it: an expunged message matches nothing).
                let found = (try? await mailbox.handle.contents(uids: uids, byteLimit: 4 * 1024 * 1024)) ?? []
                guard let last = found.last, let lastPosition = uids.firstIndex(of: last.uid) else {
                    toRead = toRead.dropFirst()
                    continue
                }
                var contents: [UInt32: [UInt8]] = [:]
                for (uid, bytes) in found { contents[uid] = bytes }
                for (offset, position) in toRead.prefix(lastPosition + 1).enumerated() {
                    guard let bytes = contents[uids[offset]] else { continue }
                    let structure = MessageStructure(parsing: IMAPWire.crlf(bytes))
                    texts[position] = MessageText(structure)
                    if headersOnly, let header = structure.contents(of: SectionSpecifier(kind: .header)) {
                        services.structures.store(
                            structureKey(mailbox, uids[offset]),
                            StructureCache.Entry(header: header, searchFields: SearchFields(structure)))
                        derived[uids[offset]] = [Self.derivedHeaderName: header]
                    }
                }
                toRead = toRead.dropFirst(lastPosition + 1)
            }
            for position in chunk {
                guard let text = texts[position] else { continue }
                if context.matches(arguments.key, index: position, structure: text, connection: self) {
                    matches.append(position)
                }
            }
            index += chunk.count
        }
        if !derived.isEmpty { mailbox.handle.keepDerivedFields(derived) }
        let numbers = matches.map { byUID ? messages[$0].uid : UInt32($0 + 1) }
        let uids = matches.map { messages[$0].uid }
        if let options = arguments.returnOptions ?? (isRev2 ? [] : nil) {
            let set = Set(options)
            let wantsAll = set.isEmpty || set.contains(.all)
            if set.contains(.save) {
                // RFC 5182 §2.4: with MIN and/or MAX alone, only those are saved.
                if !set.contains(.all) && !set.contains(.count) && (set.contains(.min) || set.contains(.max)) {
                    var saved: [UInt32] = []
                    if set.contains(.min), let first = uids.first { saved.append(first) }
                    if set.contains(.max), let last = uids.last, !saved.contains(last) { saved.append(last) }
                    savedSearch = saved
                } else {
                    savedSearch = uids
                }
            }
            if set != [.save] {
                var line = "ESEARCH (TAG " + String(decoding: IMAPEncoding.string(tag), as: UTF8.self) + ")"
                if byUID { line += " UID" }
                if set.contains(.min), let first = numbers.first { line += " MIN \(first)" }
                if set.contains(.max), let last = numbers.last { line += " MAX \(last)" }
                if wantsAll && !numbers.isEmpty { line += " ALL \(IMAPWire.sequenceSet(numbers))" }
                if set.contains(.count) { line += " COUNT \(numbers.count)" }
                untagged(line)
            }
        } else {
            untagged("SEARCH" + numbers.map { " \($0)" }.joined())
        }
        await sendUpdates(allowExpunge: byUID, fromDisk: false)
        return finish(tag, .ok, nil, byUID ? "UID SEARCH completed" : "SEARCH completed")
    }

    /// Whether `key` looks at the body (BODY, TEXT), not only at header fields.
    static func needsBody(_ key: SearchKey) -> Bool {
        switch key {
        case .body, .text: return true
        case .not(let inner): return needsBody(inner)
        case .or(let a, let b): return needsBody(a) || needsBody(b)
        case .and(let keys): return keys.contains(where: needsBody)
        default: return false
        }
    }

    /// The message's header section, kept for SEARCH. The same bytes for every client.
    static let derivedHeaderName = "header"

    /// Puts the header sections the store kept for `uids` into the memory cache (those not
    /// there already), in one trip to the store.
    func loadKeptHeaders(_ mailbox: SelectedMailbox, _ uids: [UInt32]) async {
        let missing = uids.filter { services.structures.entry(structureKey(mailbox, $0))?.header == nil }
        guard !missing.isEmpty else { return }
        for (uid, fields) in await mailbox.handle.derivedFields(uids: missing) {
            guard let header = fields[Self.derivedHeaderName] else { continue }
            services.structures.store(structureKey(mailbox, uid), StructureCache.Entry(header: header))
        }
    }

    static func needsContent(_ key: SearchKey) -> Bool {
        switch key {
        case .bcc, .body, .cc, .from, .subject, .text, .to, .header, .sentBefore, .sentOn, .sentSince:
            return true
        case .not(let inner):
            return needsContent(inner)
        case .or(let a, let b):
            return needsContent(a) || needsContent(b)
        case .and(let keys):
            return keys.contains(where: needsContent)
        default:
            return false
        }
    }
}

/// What a search key is matched against.
struct SearchContext {
    let mailbox: SelectedMailbox
    let savedSearch: Set<UInt32>
    let now: Int64

    /// Message-number sets beyond the mailbox are an error, as in FETCH.
    func validate(_ key: SearchKey, connection: IMAPConnection) -> Bool {
        switch key {
        case .sequenceSet(let set): return connection.resolve(set, byUID: false) != nil
        case .not(let inner): return validate(inner, connection: connection)
        case .or(let a, let b): return validate(a, connection: connection) && validate(b, connection: connection)
        case .and(let keys): return keys.allSatisfy { validate($0, connection: connection) }
        default: return true
        }
    }

    func matches(_ key: SearchKey, index: Int, structure: MessageText?, connection: IMAPConnection) -> Bool {
        let message = mailbox.messages[index]
        switch key {
        case .all: return true
        case .answered: return message.flags.contains(.answered)
        case .deleted: return message.flags.contains(.deleted)
        case .draft: return message.flags.contains(.draft)
        case .flagged: return message.flags.contains(.flagged)
        case .seen: return message.flags.contains(.seen)
        case .unanswered: return !message.flags.contains(.answered)
        case .undeleted: return !message.flags.contains(.deleted)
        case .undraft: return !message.flags.contains(.draft)
        case .unflagged: return !message.flags.contains(.flagged)
        case .unseen: return !message.flags.contains(.seen)
        case .recent: return mailbox.isRecent(message)
        case .new: return mailbox.isRecent(message) && !message.flags.contains(.seen)
        case .old: return !mailbox.isRecent(message)
        case .keyword(let name): return message.keywords.contains { $0.lowercased() == name.lowercased() }
        case .unkeyword(let name): return !message.keywords.contains { $0.lowercased() == name.lowercased() }
        case .larger(let size): return UInt64(message.size) > size
        case .smaller(let size): return UInt64(message.size) < size
        case .before(let date): return IMAPWire.day(message.internalDate).map { $0 < date } ?? false
        case .on(let date): return IMAPWire.day(message.internalDate) == date
        case .since(let date): return IMAPWire.day(message.internalDate).map { $0 >= date } ?? false
        case .younger(let seconds): return now - message.internalDate <= Int64(seconds)
        case .older(let seconds): return now - message.internalDate > Int64(seconds)
        case .modSeq(_, let value): return message.modificationSequence >= value
        case .uid(let set):
            switch set {
            case .lastCommandResult:
                return savedSearch.contains(message.uid)
            case .ranges(let ranges):
                guard let largest = mailbox.messages.last?.uid else { return false }
                return ranges.contains { $0.resolved(largest: largest).contains(message.uid) }
            }
        case .sequenceSet(let set):
            switch set {
            case .lastCommandResult:
                return savedSearch.contains(message.uid)
            case .ranges(let ranges):
                let count = UInt32(mailbox.messages.count)
                guard count > 0 else { return false }
                return ranges.contains { $0.resolved(largest: count).contains(UInt32(index + 1)) }
            }
        case .not(let inner):
            return !matches(inner, index: index, structure: structure, connection: connection)
        case .or(let a, let b):
            return matches(a, index: index, structure: structure, connection: connection)
                || matches(b, index: index, structure: structure, connection: connection)
        case .and(let keys):
            return keys.allSatisfy { matches($0, index: index, structure: structure, connection: connection) }
        case .from(let text): return header("From", contains: text, structure)
        case .to(let text): return header("To", contains: text, structure)
        case .cc(let text): return header("Cc", contains: text, structure)
        case .bcc(let text): return header("Bcc", contains: text, structure)
        case .subject(let text): return header("Subject", contains: text, structure)
        case .header(let name, let text): return header(name, contains: text, structure)
        case .body(let text):
            guard let structure else { return false }
            return TextSearch.contains(structure.body, TextSearch.fold(text))
        case .text(let text):
            guard let structure else { return false }
            let needle = TextSearch.fold(text)
            return TextSearch.contains(structure.header, needle) || TextSearch.contains(structure.body, needle)
        case .sentBefore(let date): return sentDate(structure).map { $0 < date } ?? false
        case .sentOn(let date): return sentDate(structure) == date
        case .sentSince(let date): return sentDate(structure).map { $0 >= date } ?? false
        }
    }

    private func header(_ name: String, contains text: String, _ structure: MessageText?) -> Bool {
        guard let structure else { return false }
        let values = structure.fields?.values(named: name) ?? structure.structure.decodedHeaderValues(named: name)
        // HEADER name "": every message that has the field (RFC 9051 §6.4.4).
        if text.isEmpty { return !values.isEmpty }
        return values.contains { TextSearch.containsCaseInsensitive($0, text) }
    }

    private func sentDate(_ structure: MessageText?) -> IMAPDate? {
        guard let structure,
            let value = (structure.fields?.values(named: "Date") ?? structure.structure.decodedHeaderValues(named: "Date")).first
        else { return nil }
        return IMAPWire.sentDate(value)
    }
}

/// The header fields SEARCH keys name (FROM, TO, CC, BCC, SUBJECT, and Date for SENT*),
/// decoded once per message and kept in memory with its header section: a repeated
/// search matches them without parsing the header again.
struct SearchFields: Sendable {
    static let names = ["from", "to", "cc", "bcc", "subject", "date"]

    /// Decoded values, by lower-cased field name.
    let values: [String: [String]]

    init(_ structure: MessageStructure) {
        var values: [String: [String]] = [:]
        for name in Self.names { values[name] = structure.decodedHeaderValues(named: name) }
        self.values = values
    }

    /// The decoded values of `name`, nil when it is not one of `names`.
    func values(named name: String) -> [String]? {
        values[name.lowercased()]
    }

    var cost: Int { values.values.reduce(0) { $0 + $1.reduce(16) { $0 + $1.utf8.count + 16 } } }
}

/// One message's text for SEARCH, decoded and folded at most once however many keys
/// look at it. From a header section with its `SearchFields`, the header is parsed only
/// if a key needs a field those do not hold.
final class MessageText {
    private let parse: () -> MessageStructure
    lazy var structure: MessageStructure = parse()
    let fields: SearchFields?

    init(_ structure: MessageStructure) {
        self.parse = { structure }
        self.fields = nil
    }

    init(header: [UInt8], fields: SearchFields) {
        self.parse = { MessageStructure(parsing: header) }
        self.fields = fields
    }

    /// Every text part, decoded, lower-cased (BODY, TEXT).
    lazy var body: [UInt8] = TextSearch.fold(structure.searchableBodyText())
    /// Every header field, decoded, lower-cased (TEXT).
    lazy var header: [UInt8] = TextSearch.fold(structure.searchableHeaderText())
}
