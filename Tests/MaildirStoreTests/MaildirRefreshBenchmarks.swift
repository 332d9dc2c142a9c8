import DurableFiles
import Foundation
import MailCore
import MailStore
import Testing
@testable import MaildirStore

#if canImport(Glibc)
import Glibc
#endif

/// Timings of opening and refreshing a big mailbox, printed, never asserted. Runs only
/// with `TSUBAME_BENCH=1` (`TSUBAME_BENCH_MESSAGES`, default 100000;
/// `TSUBAME_BENCH_LAYOUT=new|cur`, where the messages are, default new, as bench/imap.sh
/// fills them). Debug builds are several times slower than release.
@Suite(
    "Maildir refresh benchmarks", .serialized,
    .enabled(if: ProcessInfo.processInfo.environment["TSUBAME_BENCH"] != nil, "set TSUBAME_BENCH=1"))
struct MaildirRefreshBenchmarks: MaildirTestHelpers {
    let alice = MailAddress("alice@example.test")!

    /// Writes `count` ~300-octet messages (no fsync: this is set-up).
    func fill(_ directory: String, count: Int, first: Int, suffix: String) {
        for index in 0..<count {
            let bytes = Array("Subject: message \(first + index)\r\nFrom: bench@example.test\r\n\r\n\(String(repeating: "x", count: 240))\r\n".utf8)
            let name = "\(1_795_900_000 + first + index).M\(index)P7.bench,S=\(bytes.count),W=\(bytes.count)" + suffix
            _ = FileManager.default.createFile(atPath: directory + "/" + name, contents: Data(bytes))
        }
    }

    func milliseconds(_ duration: Duration) -> String {
        String(format: "%.1f ms", Double(duration.components.seconds) * 1e3 + Double(duration.components.attoseconds) / 1e15)
    }

    @Test func refreshAfterADeliveryIntoABigMailbox() async throws {
        let environment = ProcessInfo.processInfo.environment
        let count = Int(environment["TSUBAME_BENCH_MESSAGES"] ?? "") ?? 100_000
        let layout = environment["TSUBAME_BENCH_LAYOUT"] ?? "new"
        let root = try TemporaryRoot()
        defer { root.remove() }
        let maildir = MaildirLayout.maildir(root: root.path, address: alice)
        for subdirectory in ["", "/cur", "/new", "/tmp"] { try DiskIO.makeDirectory(maildir + subdirectory) }
        fill(maildir + "/" + layout, count: count, first: 0, suffix: layout == "cur" ? ":2,S" : "")
        let past = time(nil) - 600
        setTime(maildir + "/new", past)
        setTime(maildir + "/cur", past)
        let clock = ContinuousClock()
        var results: [String] = []

        var start = clock.now
        var mailbox = try await MaildirMailboxStore(root: root.path).open(account: alice, mailbox: "INBOX")
        results.append("first open (index \(count) rows): \(milliseconds(clock.now - start))")
        await mailbox.close()

        let store = MaildirMailboxStore(root: root.path)
        start = clock.now
        mailbox = try await store.open(account: alice, mailbox: "INBOX")
        results.append("open, full scan of an indexed mailbox: \(milliseconds(clock.now - start))")

        for round in 1...3 {
            fill(maildir + "/new", count: 100, first: count + round * 1000, suffix: "")
            start = clock.now
            let snapshot = try await mailbox.refresh()
            results.append("refresh after 100 new in new/ (\(snapshot.messages.count)): \(milliseconds(clock.now - start))")
        }
        await mailbox.close()
        fill(maildir + "/new", count: 100, first: count + 9000, suffix: "")
        start = clock.now
        mailbox = try await store.open(account: alice, mailbox: "INBOX")
        results.append("open from the cache after 100 new in new/: \(milliseconds(clock.now - start))")

        setTime(maildir + "/cur", past + 1)
        start = clock.now
        _ = try await mailbox.refresh()
        results.append("refresh after cur/ changed (full scan, loaded): \(milliseconds(clock.now - start))")
        await mailbox.close()
        print("BENCH \(layout) \(count):\n  " + results.joined(separator: "\n  "))
    }
}
