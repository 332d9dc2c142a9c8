import Synchronization

/// ENVELOPE, BODYSTRUCTURE and BODY of recently fetched messages, as encoded: a client
/// that lists a mailbox again (Thunderbird after a reconnect, a second device) gets
/// them without its messages being read and parsed again. A message never changes
/// under its UID (RFC 9051 §2.3.1.1), so entries are never stale; they go, oldest first,
/// when the cache holds more than `limit` octets.
final class StructureCache: Sendable {
    struct Key: Hashable, Sendable {
        /// Account and mailbox, as the session names them.
        let mailbox: String
        let uidValidity: UInt32
        let uid: UInt32
        /// Encoded for a client that accepts UTF-8 (RFC 6855) or not.
        let utf8: Bool
    }

    struct Entry: Sendable {
        var envelope: [UInt8]?
        var bodyStructure: [UInt8]?
        var body: [UInt8]?
        /// `BODY[HEADER.FIELDS (…)]` of the message by `headerFieldsKey` (what a
        /// client's listing asks for: Thunderbird, Apple Mail, K-9), at most
        /// `maximumHeaderFieldSets` sets.
        var headerFields: [String: [UInt8]] = [:]
        /// The message's whole header section (SEARCH on header fields).
        var header: [UInt8]?
        /// The fields SEARCH keys name, decoded from `header` (memory only).
        var searchFields: SearchFields?

        var cost: Int {
            (envelope?.count ?? 0) + (bodyStructure?.count ?? 0) + (body?.count ?? 0) + (header?.count ?? 0)
                + (searchFields?.cost ?? 0)
                + headerFields.reduce(0) { $0 + $1.key.utf8.count + $1.value.count + 32 } + 96
        }

        var isEmpty: Bool {
            envelope == nil && bodyStructure == nil && body == nil && headerFields.isEmpty && header == nil
                && searchFields == nil
        }
    }

    /// Header field sets kept per message: a client asks for one or two; more would let
    /// a client grow the cache (and the index) with every list it can make up.
    static let maximumHeaderFieldSets = 4
    /// Longest set key kept (the names of a long list, joined).
    static let maximumHeaderFieldsKeyLength = 1024

    /// The key of `BODY[HEADER.FIELDS (names)]`: its answer depends only on the set of
    /// names, compared case-insensitively (RFC 9051 §6.4.5: the lines are in message
    /// order whatever the list's order). Only names a header field can have (RFC 5322
    /// ftext: printable ASCII without space or colon), upper-cased as ASCII — the way
    /// fields are matched — and joined with a space, which no such name holds: two
    /// different requests never share a key. Nil (not cached) for any other name, or
    /// when too long to keep.
    static func headerFieldsKey(_ names: [String]) -> String? {
        var upper: Set<String> = []
        for name in names {
            guard !name.isEmpty, name.utf8.allSatisfy({ $0 >= 33 && $0 <= 126 && $0 != UInt8(ascii: ":") }) else {
                return nil
            }
            upper.insert(String(decoding: name.utf8.map { $0 >= 97 && $0 <= 122 ? $0 - 32 : $0 }, as: UTF8.self))
        }
        let key = upper.sorted().joined(separator: " ")
        return key.utf8.count <= maximumHeaderFieldsKeyLength ? key : nil
    }

    private struct State {
        var entries: [Key: Entry] = [:]
        var order: [Key] = []
        var head = 0
        var bytes = 0
    }

    let limit: Int
    private let state = Mutex(State())

    init(limit: Int = 32 * 1024 * 1024) {
        self.limit = limit
    }

    func entry(_ key: Key) -> Entry? {
        state.withLock { $0.entries[key] }
    }

    /// Adds what was computed to what is known of the message.
    func store(_ key: Key, _ computed: Entry) {
        guard !computed.isEmpty else { return }
        state.withLock { state in
            var entry = state.entries[key] ?? Entry()
            let before = state.entries[key]?.cost
            if let envelope = computed.envelope { entry.envelope = envelope }
            if let bodyStructure = computed.bodyStructure { entry.bodyStructure = bodyStructure }
            if let body = computed.body { entry.body = body }
            if let header = computed.header { entry.header = header }
            if let searchFields = computed.searchFields { entry.searchFields = searchFields }
            for (fields, bytes) in computed.headerFields
            where entry.headerFields[fields] != nil || entry.headerFields.count < Self.maximumHeaderFieldSets {
                entry.headerFields[fields] = bytes
            }
            if let before { state.bytes -= before } else { state.order.append(key) }
            state.entries[key] = entry
            state.bytes += entry.cost
            while state.bytes > limit, state.head < state.order.count {
                let oldest = state.order[state.head]
                state.head += 1
                if let gone = state.entries.removeValue(forKey: oldest) { state.bytes -= gone.cost }
            }
            if state.head > 4096 && state.head * 2 > state.order.count {
                state.order.removeFirst(state.head)
                state.head = 0
            }
        }
    }
}
