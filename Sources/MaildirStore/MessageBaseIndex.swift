/// Where each message of a folder's state is, found by its base (the file name without
/// `:2,…`), so that a directory scan of hundreds of thousands of names can be compared
/// with the state without making a string of each name: a 64-bit hash of the base
/// (`Hasher`, seeded per process) leads to the message's index, and the message's path
/// confirms it. The rare base whose hash another base has too is kept by name.
struct MessageBaseIndex: Sendable {
    private var byHash: [Int: Int] = [:]
    private var colliding: [String: Int] = [:]

    init() {}

    /// The index of the messages whose files are `paths` (relative to the folder).
    init(paths: [String]) {
        byHash.reserveCapacity(paths.count)
        for index in paths.indices { insert(index, in: paths) }
    }

    static func hash(_ base: UnsafeRawBufferPointer) -> Int {
        var hasher = Hasher()
        hasher.combine(bytes: base)
        return hasher.finalize()
    }

    /// The index of the message whose base is `base`, given the paths the index was
    /// made for.
    func index(of base: UnsafeRawBufferPointer, in paths: [String]) -> Int? {
        if let index = byHash[Self.hash(base)], MaildirFileName.hasBase(paths[index], base) { return index }
        guard !colliding.isEmpty else { return nil }
        return colliding[String(decoding: base, as: UTF8.self)]
    }

    /// Message `index` has the file `paths[index]`.
    mutating func insert(_ index: Int, in paths: [String]) {
        Self.withBase(of: paths[index]) { base in
            let hash = Self.hash(base)
            if let other = byHash[hash], other != index, !MaildirFileName.hasBase(paths[other], base) {
                colliding[String(decoding: base, as: UTF8.self)] = index
            } else {
                byHash[hash] = index
            }
        }
    }

    /// Message `index`, whose file is `path`, is no longer there.
    mutating func remove(_ index: Int, path: String) {
        Self.withBase(of: path) { base in
            let hash = Self.hash(base)
            if byHash[hash] == index {
                byHash[hash] = nil
            } else {
                colliding[String(decoding: base, as: UTF8.self)] = nil
            }
        }
    }

    /// Messages moved: the one at index `i` is now at `moves[i]` (removed ones have been
    /// removed first).
    mutating func renumber(_ moves: [Int]) {
        byHash = byHash.mapValues { moves[$0] }
        if !colliding.isEmpty { colliding = colliding.mapValues { moves[$0] } }
    }

    private static func withBase<T>(of path: String, _ body: (UnsafeRawBufferPointer) -> T) -> T {
        let base = MaildirFileName.base(inPath: path)
        if let result = base.utf8.withContiguousStorageIfAvailable({ body(UnsafeRawBufferPointer($0)) }) { return result }
        var copy = String(base)
        return copy.withUTF8 { body(UnsafeRawBufferPointer($0)) }
    }
}
