import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Gives memory back to the system after index connections close.
///
/// An SQLite connection allocates its schema, statements and page cache in many small
/// blocks; closed a second after its last use (so that idle sessions hold none), those
/// blocks are free again but glibc keeps the pages, scattered between live ones. With
/// a thousand IMAP sessions each opening its mailbox once, that is about 30 KiB of
/// resident memory per session for nothing. `malloc_trim(0)` returns whole free pages
/// from every arena; it is asked for at most once per `interval`, a moment after the
/// last release, so a burst of closes costs one trim.
final class MemoryTrimmer: Sendable {
    static let shared = MemoryTrimmer()

    /// The least time between two trims.
    let interval: Duration
    private let isScheduled = Mutex(false)

    /// glibc's `malloc_trim` (malloc.h is not in the Glibc module), nil elsewhere.
    private static let trim: (@convention(c) (Int) -> Int32)? = {
        #if canImport(Glibc)
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "malloc_trim") else { return nil }
        return unsafeBitCast(symbol, to: (@convention(c) (Int) -> Int32).self)
        #else
        return nil
        #endif
    }()

    init(interval: Duration = .seconds(2)) {
        self.interval = interval
    }

    /// A connection was closed: trim soon.
    func connectionClosed() {
        let schedule = isScheduled.withLock { scheduled -> Bool in
            guard !scheduled else { return false }
            scheduled = true
            return true
        }
        guard schedule else { return }
        let seconds = Double(interval.components.seconds) + Double(interval.components.attoseconds) / 1e18
        DispatchQueue.global(qos: .utility).asyncAfter(deadline: .now() + seconds) {
            self.isScheduled.withLock { $0 = false }
            Self.trim?(0)
        }
    }
}
