import IMAPProtocol
import MIMEStructure
import MailCore
import MailStore
import NIOCore

/// A FETCH answered in batches (`IMAPConnection.batchBytes` of output each).
struct PendingFetch {
    let tag: String
    var indices: ArraySlice<Int>
    let attributes: [FetchAttribute]
    let byUID: Bool
    let needsContent: Bool
    let needsStructure: Bool
    /// Every attribute comes from the index or the structure cache (ENVELOPE,
    /// BODYSTRUCTURE, BODY): messages whose structure is cached need not be read.
    let isCacheable: Bool
    var unknownEncoding = false
    var expunged = false
    /// How far into `indices` (by position) the store was asked for the fields it keeps
    /// (`IMAPMailbox.derivedFields`).
    var askedStoreThrough = 0
    /// ENVELOPE, BODYSTRUCTURE, BODY computed in this step, for the store to keep.
    var derived: [UInt32: [String: [UInt8]]] = [:]
    /// Per attribute, worked out once per FETCH rather than per message: the cache key
    /// of a `HEADER.FIELDS (…)` section (`IMAPConnection.cachedHeaderFieldsKey`), and
    /// the `BODY[…]` label of a section.
    let headerFieldsKeys: [String?]
    let sectionLabels: [String?]

    init(
        tag: String, indices: ArraySlice<Int>, attributes: [FetchAttribute], byUID: Bool, needsContent: Bool,
        needsStructure: Bool, isCacheable: Bool
    ) {
        self.tag = tag
        self.indices = indices
        self.attributes = attributes
        self.byUID = byUID
        self.needsContent = needsContent
        self.needsStructure = needsStructure
        self.isCacheable = isCacheable
        headerFieldsKeys = attributes.map { attribute in
            guard case .bodySection(let section, _, _) = attribute else { return nil }
            return IMAPConnection.cachedHeaderFieldsKey(section)
        }
        sectionLabels = attributes.map { attribute in
            guard case .bodySection(let section, _, _) = attribute else { return nil }
            return "BODY[" + IMAPWire.section(section) + "]"
        }
    }
}

/// The selected-state commands on messages: FETCH, STORE, COPY, MOVE, EXPUNGE.
///
/// - SeeAlso: RFC 9051 §6.4, RFC 3516 (BINARY), RFC 4315 (UIDPLUS), RFC 6851 (MOVE)
extension IMAPConnection {
    // MARK: - FETCH

    func fetch(
        _ tag: String, _ set: SequenceSet, _ requested: [FetchAttribute], _ modifiers: IMAPCommand.FetchModifiers,
        byUID: Bool
    ) async -> IMAPStep {
        guard var mailbox = selected else { return finish(tag, .bad, nil, "No mailbox selected", isError: true) }
        guard modifiers.changedSince == nil, !modifiers.vanished else {
            return finish(tag, .bad, nil, "CONDSTORE is not supported", isError: true)
        }
        guard let indices = resolve(set, byUID: byUID) else {
            return finish(tag, .bad, nil, "Invalid message sequence number", isError: true)
        }
        var attributes = requested
        if byUID && !attributes.contains(.uid) { attributes.insert(.uid, at: 0) }
        // BODY[…], BINARY[…], RFC822 and RFC822.TEXT set \Seen (RFC 9051 §6.4.5).
        let setsSeen = attributes.contains { attribute in
            switch attribute {
            case .rfc822, .rfc822Text: return true
            case .bodySection(_, _, let peek), .binary(_, _, let peek): return !peek
            default: return false
            }
        }
        if setsSeen && !mailbox.isReadOnly {
            let unseen = indices.map { mailbox.messages[$0] }.filter { !$0.flags.contains(.seen) }.map(\.uid)
            if !unseen.isEmpty {
                do {
                    let changed = try await mailbox.handle.changeFlags(uids: unseen, FlagChange(.add, flags: .seen))
                    for summary in changed {
                        if let index = mailbox.index(of: summary.uid) { mailbox.messages[index] = summary }
                    }
                    selected = mailbox
                } catch {
                    return storeFailure(tag, error, "FETCH")
                }
                if !attributes.contains(.flags) { attributes.append(.flags) }
            }
        }
        let needsStructure = attributes.contains { attribute in
            switch attribute {
            case .envelope, .body, .bodyStructure, .rfc822Header, .rfc822Text, .binary, .binarySize: return true
            case .bodySection(let section, _, _): return !(section.part.isEmpty && section.kind == .complete)
            default: return false
            }
        }
        let needsContent = needsStructure || attributes.contains { attribute in
            switch attribute {
            case .rfc822, .bodySection: return true
            default: return false
            }
        }
        let isCacheable = needsContent && attributes.allSatisfy { attribute in
            switch attribute {
            case .envelope, .bodyStructure, .body: return true
            case .bodySection(let section, _, _): return Self.cachedHeaderFieldsKey(section) != nil
            default: return Self.isIndexOnly(attribute)
            }
        }
        pendingFetch = PendingFetch(
            tag: tag, indices: indices[...], attributes: attributes, byUID: byUID, needsContent: needsContent,
            needsStructure: needsStructure, isCacheable: isCacheable)
        return await continueFetch()
    }

    func continueFetch() async -> IMAPStep {
        guard var pending = pendingFetch, let mailbox = selected else {
            pendingFetch = nil
            return IMAPStep(output: output)
        }
        pendingFetch = nil
        output.reserveCapacity(Self.batchBytes + 64 * 1024)
        while output.readableBytes < Self.batchBytes, !pending.indices.isEmpty {
            if !pending.needsContent {
                // Flags, sizes, dates: from the index alone, into a local buffer (no
                // exclusivity checks on the property per write).
                var buffer = output
                output = ByteBuffer()
                var written = 0
                for index in pending.indices {
                    Self.writeIndexFetch(
                        index + 1, mailbox.messages[index], pending.attributes,
                        recent: !isRev2 && mailbox.isRecent(mailbox.messages[index]), into: &buffer)
                    written += 1
                    if buffer.readableBytes >= Self.batchBytes { break }
                }
                output = buffer
                pending.indices = pending.indices.dropFirst(written)
                continue
            }
            if pending.isCacheable {
                // Messages whose structure is cached: answered without reading them.
                var written = 0
                for index in pending.indices {
                    let message = mailbox.messages[index]
                    guard let entry = services.structures.entry(structureKey(mailbox, message.uid)),
                        Self.covers(entry, pending)
                    else { break }
                    writeFetch(index, message, pending.attributes, content: nil, cached: entry, &pending)
                    written += 1
                    if output.readableBytes >= Self.batchBytes { break }
                }
                pending.indices = pending.indices.dropFirst(written)
                if written > 0 { continue }
                if pending.indices.startIndex >= pending.askedStoreThrough {
                    // Not in memory: what the store kept (an earlier session's, or before
                    // a restart), for the next `derivedWindow` messages in one trip.
                    let window = pending.indices.prefix(Self.derivedWindow)
                    pending.askedStoreThrough = window.endIndex
                    let kept = await mailbox.handle.derivedFields(uids: window.map { mailbox.messages[$0].uid })
                    for (uid, fields) in kept {
                        services.structures.store(structureKey(mailbox, uid), cacheEntry(fromDerived: fields))
                    }
                    if !kept.isEmpty { continue }
                }
            }
            var chunk = Array(pending.indices.prefix(32))
            if pending.isCacheable, let cachedAt = chunk.dropFirst().firstIndex(where: { index in
                services.structures.entry(structureKey(mailbox, mailbox.messages[index].uid)).map {
                    Self.covers($0, pending)
                } ?? false
            }) {
                chunk = Array(chunk[..<cachedAt])
            }
            let uids = chunk.map { mailbox.messages[$0].uid }
            let found: [(uid: UInt32, bytes: [UInt8])]
            do {
                found = try await mailbox.handle.contents(uids: uids, byteLimit: Self.batchBytes)
            } catch where error.kind == .expunged {
                // The first one is gone (another session expunged it).
                pending.expunged = true
                pending.indices = pending.indices.dropFirst()
                continue
            } catch {
                pendingFetch = nil
                return storeFailure(pending.tag, error, "FETCH")
            }
            guard let last = found.last, let lastPosition = uids.firstIndex(of: last.uid) else {
                pending.indices = pending.indices.dropFirst()
                continue
            }
            var byUID: [UInt32: [UInt8]] = [:]
            for (uid, bytes) in found { byUID[uid] = bytes }
            for position in 0...lastPosition {
                let index = chunk[position]
                guard let bytes = byUID[uids[position]] else {
                    pending.expunged = true
                    continue
                }
                writeFetch(
                    index, mailbox.messages[index], pending.attributes, content: IMAPWire.crlf(bytes), cached: nil,
                    &pending)
            }
            pending.indices = pending.indices.dropFirst(lastPosition + 1)
        }
        if !pending.derived.isEmpty {
            mailbox.handle.keepDerivedFields(pending.derived)
            pending.derived = [:]
        }
        guard pending.indices.isEmpty else {
            pendingFetch = pending
            let step = IMAPStep(output: output, hasMore: true)
            output = ByteBuffer()
            return step
        }
        pendingFetch = nil
        await sendUpdates(allowExpunge: pending.byUID, fromDisk: false)
        if pending.unknownEncoding {
            return finish(pending.tag, .no, .unknownCTE, "Unknown Content-Transfer-Encoding")
        }
        if pending.expunged && !pending.byUID {
            // RFC 9051 §7.1 (EXPUNGEISSUED): the numbers still stand for messages another
            // session removed; the client learns of it at its next NOOP.
            return finish(pending.tag, .no, .expungeIssued, "Some of the requested messages no longer exist")
        }
        return finish(pending.tag, .ok, nil, pending.byUID ? "UID FETCH completed" : "FETCH completed")
    }

    /// Whether every attribute comes from the index (no message content needed).
    static func isIndexOnly(_ attribute: FetchAttribute) -> Bool {
        switch attribute {
        case .uid, .flags, .internalDate, .rfc822Size, .modSeq: return true
        default: return false
        }
    }

    /// `* n FETCH (…)` for attributes the index answers (`isIndexOnly`).
    static func writeIndexFetch(
        _ number: Int, _ message: MessageSummary, _ attributes: [FetchAttribute], recent: Bool,
        into buffer: inout ByteBuffer
    ) {
        buffer.writeStaticString("* ")
        buffer.writeDecimal(number)
        buffer.writeStaticString(" FETCH (")
        var first = true
        for attribute in attributes {
            if first { first = false } else { buffer.writeStaticString(" ") }
            switch attribute {
            case .uid:
                buffer.writeStaticString("UID ")
                buffer.writeDecimal(message.uid)
            case .flags:
                buffer.writeStaticString("FLAGS ")
                IMAPWire.writeFlagList(message.flags, keywords: message.keywords, recent: recent, into: &buffer)
            case .internalDate:
                buffer.writeStaticString("INTERNALDATE ")
                buffer.writeString(IMAPWire.internalDate(message.internalDate))
            case .rfc822Size:
                buffer.writeStaticString("RFC822.SIZE ")
                buffer.writeDecimal(message.size)
            case .modSeq:
                buffer.writeStaticString("MODSEQ (")
                buffer.writeDecimal(message.modificationSequence)
                buffer.writeStaticString(")")
            default:
                break
            }
        }
        buffer.writeStaticString(")\r\n")
    }

    /// Messages whose kept fields are asked for in one trip to the store.
    static let derivedWindow = 256

    /// The `StructureCache` key of a section whose answer is cached: the message's own
    /// `HEADER.FIELDS (…)` (not of a part, not `.NOT`).
    static func cachedHeaderFieldsKey(_ section: SectionSpecifier) -> String? {
        guard section.part.isEmpty, case .headerFields(let names) = section.kind else { return nil }
        return StructureCache.headerFieldsKey(names)
    }

    /// Prefix of a kept header field set's name in the store (the bytes are the message's
    /// own, the same for every client).
    static let derivedHeaderFieldsPrefix = "header.fields "

    /// The store's kept fields of a message as a cache entry for this session.
    func cacheEntry(fromDerived fields: [String: [UInt8]]) -> StructureCache.Entry {
        var entry = StructureCache.Entry(
            envelope: fields[derivedName("envelope")], bodyStructure: fields[derivedName("bodystructure")],
            body: fields[derivedName("body")])
        entry.header = fields[Self.derivedHeaderName]
        for (name, bytes) in fields where name.hasPrefix(Self.derivedHeaderFieldsPrefix) {
            entry.headerFields[String(name.dropFirst(Self.derivedHeaderFieldsPrefix.count))] = bytes
        }
        return entry
    }

    /// The name under which the store keeps a derived field: encoded for a client that
    /// accepts UTF-8 (RFC 6855) or not.
    func derivedName(_ field: String) -> String {
        acceptsUTF8 ? field + ".utf8" : field
    }

    func structureKey(_ mailbox: SelectedMailbox, _ uid: UInt32) -> StructureCache.Key {
        StructureCache.Key(
            mailbox: (user?.canonical ?? "") + "\u{0}" + mailbox.name, uidValidity: mailbox.uidValidity, uid: uid,
            utf8: acceptsUTF8)
    }

    /// Whether a cached entry answers every structure item of `attributes`.
    static func covers(_ entry: StructureCache.Entry, _ pending: PendingFetch) -> Bool {
        pending.attributes.indices.allSatisfy { position in
            switch pending.attributes[position] {
            case .envelope: return entry.envelope != nil
            case .bodyStructure: return entry.bodyStructure != nil
            case .body: return entry.body != nil
            case .bodySection:
                return pending.headerFieldsKeys[position].map { entry.headerFields[$0] != nil } ?? false
            default: return true
            }
        }
    }

    /// One `* n FETCH (…)` line, from the message's `content` or its `cached` structure.
    private func writeFetch(
        _ index: Int, _ message: MessageSummary, _ attributes: [FetchAttribute], content: [UInt8]?,
        cached: StructureCache.Entry?, _ pending: inout PendingFetch
    ) {
        let isRecent = !isRev2 && (selected?.isRecent(message) ?? false)
        var structure: MessageStructure?
        if pending.needsStructure, let content { structure = MessageStructure(parsing: content) }
        var computed = StructureCache.Entry()
        defer {
            if cached == nil, !computed.isEmpty, let mailbox = selected {
                services.structures.store(structureKey(mailbox, message.uid), computed)
                var fields: [String: [UInt8]] = [:]
                if let envelope = computed.envelope { fields[derivedName("envelope")] = envelope }
                if let bodyStructure = computed.bodyStructure { fields[derivedName("bodystructure")] = bodyStructure }
                if let body = computed.body { fields[derivedName("body")] = body }
                for (key, bytes) in computed.headerFields.prefix(StructureCache.maximumHeaderFieldSets) {
                    fields[Self.derivedHeaderFieldsPrefix + key] = bytes
                }
                pending.derived[message.uid, default: [:]].merge(fields) { $1 }
            }
        }
        let bytes = content ?? []
        output.writeString("* \(index + 1) FETCH (")
        for (position, attribute) in attributes.enumerated() {
            if position > 0 { output.writeString(" ") }
            switch attribute {
            case .uid:
                output.writeString("UID \(message.uid)")
            case .flags:
                output.writeString("FLAGS " + IMAPWire.flagList(message.flags, keywords: message.keywords, recent: isRecent))
            case .internalDate:
                output.writeString("INTERNALDATE " + IMAPWire.internalDate(message.internalDate))
            case .rfc822Size:
                output.writeString("RFC822.SIZE \(message.size)")
            case .modSeq:
                output.writeString("MODSEQ (\(message.modificationSequence))")
            case .envelope:
                output.writeString("ENVELOPE ")
                let bytes = cached?.envelope ?? structure?.encodedEnvelope(allowUTF8: acceptsUTF8)
                computed.envelope = bytes
                output.writeBytes(bytes ?? Array("NIL".utf8))
            case .bodyStructure:
                output.writeString("BODYSTRUCTURE ")
                let bytes = cached?.bodyStructure ?? structure?.bodyStructure(extensible: true, allowUTF8: acceptsUTF8)
                computed.bodyStructure = bytes
                output.writeBytes(bytes ?? Array("NIL".utf8))
            case .body:
                output.writeString("BODY ")
                let bytes = cached?.body ?? structure?.bodyStructure(extensible: false, allowUTF8: acceptsUTF8)
                computed.body = bytes
                output.writeBytes(bytes ?? Array("NIL".utf8))
            case .rfc822:
                output.writeString("RFC822 ")
                IMAPWire.writeLiteral(bytes, into: &output)
            case .rfc822Header:
                output.writeString("RFC822.HEADER ")
                IMAPWire.writeLiteral(structure?.contents(of: SectionSpecifier(kind: .header)) ?? [], into: &output)
            case .rfc822Text:
                output.writeString("RFC822.TEXT ")
                IMAPWire.writeLiteral(structure?.contents(of: SectionSpecifier(kind: .text)) ?? [], into: &output)
            case .bodySection(let section, let partial, _):
                output.writeString(pending.sectionLabels[position] ?? "BODY[" + IMAPWire.section(section) + "]")
                if let partial { output.writeString("<\(partial.offset)>") }
                output.writeString(" ")
                if section.part.isEmpty && section.kind == .complete {
                    if let partial {
                        IMAPWire.writeLiteral(bytes[MessageStructure.sliceRange(count: bytes.count, partial: partial)], into: &output)
                    } else {
                        IMAPWire.writeLiteral(bytes, into: &output)
                    }
                } else if let key = pending.headerFieldsKeys[position] {
                    // Cached whole; the partial is cut from it.
                    let fields = cached?.headerFields[key] ?? structure?.contents(of: section) ?? []
                    if cached == nil { computed.headerFields[key] = fields }
                    IMAPWire.writeLiteral(MessageStructure.slice(fields, partial: partial), into: &output)
                } else {
                    IMAPWire.writeLiteral(structure?.contents(of: section, partial: partial) ?? [], into: &output)
                }
            case .binary(let part, let partial, _):
                output.writeString("BINARY[" + part.map(String.init).joined(separator: ".") + "]")
                if let partial { output.writeString("<\(partial.offset)>") }
                output.writeString(" ")
                do {
                    let decoded = try structure?.binaryContents(ofPart: part) ?? []
                    IMAPWire.writeLiteral(MessageStructure.slice(decoded, partial: partial), binary: true, into: &output)
                } catch {
                    if case .unknownContentTransferEncoding = error { pending.unknownEncoding = true }
                    output.writeString("NIL")
                }
            case .binarySize(let part):
                output.writeString("BINARY.SIZE[" + part.map(String.init).joined(separator: ".") + "] ")
                do {
                    output.writeString(String(try structure?.binarySize(ofPart: part) ?? 0))
                } catch {
                    if case .unknownContentTransferEncoding = error { pending.unknownEncoding = true }
                    output.writeString("NIL")
                }
            }
        }
        output.writeString(")\r\n")
    }

    // MARK: - STORE

    func store(
        _ tag: String, _ set: SequenceSet, _ flags: IMAPCommand.StoreFlags, unchangedSince: UInt64?, byUID: Bool
    ) async -> IMAPStep {
        guard var mailbox = selected else { return finish(tag, .bad, nil, "No mailbox selected", isError: true) }
        guard unchangedSince == nil else { return finish(tag, .bad, nil, "CONDSTORE is not supported", isError: true) }
        guard let indices = resolve(set, byUID: byUID) else {
            return finish(tag, .bad, nil, "Invalid message sequence number", isError: true)
        }
        guard let (system, keywords) = IMAPWire.split(flags.flags) else {
            return finish(tag, .bad, nil, "\\Recent and unknown system flags cannot be changed", isError: true)
        }
        guard !mailbox.isReadOnly else { return finish(tag, .no, .readOnly, "Mailbox is read-only") }
        let operation: FlagChange.Operation
        switch flags.operation {
        case .add: operation = .add
        case .remove: operation = .remove
        case .replace: operation = .replace
        }
        let uids = indices.map { mailbox.messages[$0].uid }
        if !uids.isEmpty {
            let changed: [MessageSummary]
            do {
                changed = try await mailbox.handle.changeFlags(
                    uids: uids, FlagChange(operation, flags: system, keywords: keywords))
            } catch {
                return storeFailure(tag, error, "STORE")
            }
            for summary in changed {
                guard let index = mailbox.index(of: summary.uid) else { continue }
                mailbox.messages[index] = summary
                if !flags.isSilent {
                    let list = IMAPWire.flagList(
                        summary.flags, keywords: summary.keywords, recent: !isRev2 && mailbox.isRecent(summary))
                    untagged("\(index + 1) FETCH (FLAGS \(list)" + (byUID ? " UID \(summary.uid))" : ")"))
                }
            }
            selected = mailbox
        }
        await sendUpdates(allowExpunge: byUID, fromDisk: false)
        return finish(tag, .ok, nil, byUID ? "UID STORE completed" : "STORE completed")
    }

    // MARK: - COPY, MOVE

    func copy(
        _ tag: String, _ set: SequenceSet, _ name: MailboxName, byUID: Bool, move: Bool, account: MailAddress
    ) async -> IMAPStep {
        guard let mailbox = selected else { return finish(tag, .bad, nil, "No mailbox selected", isError: true) }
        guard let indices = resolve(set, byUID: byUID) else {
            return finish(tag, .bad, nil, "Invalid message sequence number", isError: true)
        }
        let target: String
        switch storeName(name) {
        case .success(let value): target = value
        case .failure(let error): return badName(tag, error)
        }
        let command = (byUID ? "UID " : "") + (move ? "MOVE" : "COPY")
        if move && mailbox.isReadOnly { return finish(tag, .no, .readOnly, "Mailbox is read-only") }
        let uids = indices.map { mailbox.messages[$0].uid }
        guard !uids.isEmpty else { return finish(tag, .ok, nil, "No messages, \(command) completed") }
        let stored: StoredUIDs
        do {
            stored = try await mailbox.handle.copy(uids: uids, to: target)
        } catch where error.kind == .notFound {
            return finish(tag, .no, .tryCreate, "Mailbox does not exist")
        } catch {
            return storeFailure(tag, error, command)
        }
        let code = stored.uids.isEmpty
            ? nil
            : IMAPResponseCode.copyUID(
                uidValidity: stored.uidValidity, source: IMAPWire.sequenceSet(stored.sourceUIDs),
                destination: IMAPWire.sequenceSet(stored.uids))
        guard move else {
            if selected?.name == target { await sendUpdates(allowExpunge: byUID, fromDisk: false) }
            return finish(tag, .ok, code, "\(command) completed")
        }
        if let code { IMAPResponse.untagged(.ok, code: code, text: "Moved").encode(into: &output) }
        do {
            try await mailbox.handle.expunge(uids: stored.sourceUIDs)
        } catch {
            return storeFailure(tag, error, command)
        }
        await sendUpdates(allowExpunge: true, fromDisk: false)
        return finish(tag, .ok, nil, "\(command) completed")
    }

    // MARK: - EXPUNGE

    func expunge(_ tag: String, uids set: SequenceSet?) async -> IMAPStep {
        guard let mailbox = selected else { return finish(tag, .bad, nil, "No mailbox selected", isError: true) }
        guard !mailbox.isReadOnly else { return finish(tag, .no, .readOnly, "Mailbox is read-only") }
        var allowed: Set<UInt32>?
        if let set {
            guard let indices = resolve(set, byUID: true) else {
                return finish(tag, .bad, nil, "Invalid UID set", isError: true)
            }
            allowed = Set(indices.map { mailbox.messages[$0].uid })
        }
        // The flags as they are when the store removes the messages, also those other
        // sessions set.
        do {
            _ = try await mailbox.handle.expungeDeleted(among: allowed.map { Array($0) })
        } catch {
            return storeFailure(tag, error, "EXPUNGE")
        }
        await sendUpdates(allowExpunge: true, fromDisk: false)
        return finish(tag, .ok, nil, set == nil ? "EXPUNGE completed" : "UID EXPUNGE completed")
    }
}
