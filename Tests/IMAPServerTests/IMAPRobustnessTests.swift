import IMAPProtocol
import MailStore
import Testing

@testable import IMAPServer

/// What a review of the first IMAP server found: inputs that cost the server too much,
/// and a race that lost a message.
@Suite("IMAP robustness: hostile patterns, sets and literals; CLOSE races; IDLE waits")
struct IMAPRobustnessTests {
    let server = IMAPTestServer()
    let alice = TestAccounts.alice

    /// RFC 9051 §6.3.9 wildcards, matched by positions (no backtracking).
    @Test func patternMatching() {
        func matches(_ pattern: String, _ name: String) -> Bool {
            IMAPConnection.PatternMatcher(pattern: Array(pattern)).matches(name)
        }
        #expect(matches("*", "a/b/c"))
        #expect(matches("%", "Sent"))
        #expect(!matches("%", "a/b"))
        #expect(matches("a/%", "a/b"))
        #expect(!matches("a/%", "a/b/c"))
        #expect(matches("a/*", "a/b/c"))
        #expect(matches("*c", "a/b/c"))
        #expect(matches("%/%/c", "a/b/c"))
        #expect(!matches("a", "ab"))
        #expect(matches("a*b*c", "axxbyyc"))
        #expect(!matches("a*b*c", "axxbyy"))
        #expect(matches("%*%", "x/y"))
    }

    /// `LIST "" "****…x"`: exponential with a backtracking matcher (seconds for 20
    /// stars, the whole server stalled for 60); linear here.
    @Test func manyWildcardsAreCheap() async {
        let client = await server.loggedIn()
        let stars = String(repeating: "*", count: 2000)
        let clock = ContinuousClock()
        let started = clock.now
        let reply = await client.command("l1 LIST \"\" \"\(stars)x\"")
        #expect(reply.last == "l1 OK LIST completed")
        let alternating = String(repeating: "*a%", count: 600)
        #expect(await client.command("l2 LIST \"\" \"\(alternating)\"").last == "l2 OK LIST completed")
        // Not a timing threshold: a generous bound that only an exponential matcher misses.
        #expect(clock.now - started < .seconds(60))
    }

    /// Before login nobody may make the server hold a message: APPEND's literal is
    /// refused before any of it is read, and no "+" is sent.
    @Test func noMessageLiteralsBeforeLogin() async {
        let client = server.client()
        _ = await client.start()
        let reply = await client.command("a1 APPEND INBOX {50000000}")
        #expect(reply.count == 1)
        #expect(reply.last?.hasPrefix("a1 NO [TOOBIG]") == true)
        // A LOGIN with a literal password still works.
        let password = TestAccounts.passwords[alice]!
        await client.send("l1 LOGIN \(alice) {\(password.utf8.count)}\r\n")
        #expect(client.takeLines() == ["+ Ready for literal data"])
        #expect(await client.command(password).last?.hasPrefix("l1 OK") == true)
        // After login the limits are the configured ones.
        await client.send("a2 APPEND INBOX {20}\r\n")
        #expect(client.takeLines() == ["+ Ready for literal data"])
    }

    /// 1000 copies of "1:*" on a large mailbox resolve in one pass.
    @Test func overlappingRangesAreMergedFirst() async {
        for index in 0..<300 { server.store.deliver(Messages.simple(subject: "m\(index)"), to: alice) }
        let client = await server.selected()
        let set = Array(repeating: "1:*", count: 1000).joined(separator: ",")
        let reply = await client.command("f1 FETCH \(set) (UID)")
        #expect(reply.count == 301)
        #expect(reply.last == "f1 OK FETCH completed")
        #expect(IMAPConnection.merged([5...9, 1...3, 4...4, 20...30, 25...26]) == [1...9, 20...30])
    }

    /// CLOSE removes what is \Deleted when it runs, not what this session last saw: a
    /// message another session undeleted meanwhile stays (found in review: it was lost).
    @Test func closeKeepsAMessageUndeletedByAnotherSession() async {
        server.store.deliver(Messages.simple(subject: "keep me"), to: alice, flags: [.deleted])
        let a = await server.selected()
        let b = await server.selected()
        #expect(await b.command("s1 STORE 1 -FLAGS.SILENT (\\Deleted)").last == "s1 OK STORE completed")
        #expect(await a.command("c1 CLOSE").last == "c1 OK CLOSE completed")
        let status = await b.command("n1 STATUS INBOX (MESSAGES)")
        #expect(status.first == "* STATUS INBOX (MESSAGES 1)")
    }

    /// The same for EXPUNGE.
    @Test func expungeKeepsAMessageUndeletedByAnotherSession() async {
        server.store.deliver(Messages.simple(subject: "keep me"), to: alice, flags: [.deleted])
        server.store.deliver(Messages.simple(subject: "remove me"), to: alice, flags: [.deleted])
        let a = await server.selected()
        let b = await server.selected()
        _ = await b.command("s1 STORE 1 -FLAGS.SILENT (\\Deleted)")
        let reply = await a.command("x1 EXPUNGE")
        #expect(reply.contains("* 2 EXPUNGE"))
        #expect(!reply.contains("* 1 EXPUNGE"))
    }

    /// A wait cancelled before it began returns at once; so does one cancelled while
    /// waiting; neither leaves anything behind.
    @Test func cancelledWaitsEnd() async {
        let notifier = MailboxChangeNotifier()
        let early = notifier.makeWaitID()
        notifier.cancel(account: "a", id: early)
        await notifier.wait(account: "a", timeout: .seconds(600), id: early)
        let late = notifier.makeWaitID()
        async let waiting: Void = notifier.wait(account: "a", timeout: .seconds(600), id: late)
        while notifier.waiterCount == 0 { await Task.yield() }
        notifier.cancel(account: "a", id: late)
        await waiting
        #expect(notifier.waiterCount == 0)
    }

    /// IDLE then DONE, many times: no wait is left running for each.
    @Test func doneCancelsTheIdleWait() async {
        let client = await server.selected()
        for round in 0..<50 {
            await client.send("i\(round) IDLE\r\n")
            _ = client.takeLines()
            #expect(await client.command("DONE").last == "i\(round) OK IDLE terminated")
        }
        // The spawned waits were cancelled before they ran: each returns at once.
        let clock = ContinuousClock()
        let started = clock.now
        await client.runSpawned()
        #expect(clock.now - started < .seconds(20))
        #expect(server.notifier.waiterCount == 0)
    }
}

@Suite("IMAP: the selected mailbox renamed")
struct IMAPRenameSelectedTests {
    let server = IMAPTestServer()

    /// After RENAME of the selected mailbox, APPEND to the new name shows up at once.
    @Test func selectedMailboxFollowsRename() async {
        let client = await server.loggedIn()
        _ = await client.command("c1 CREATE Work")
        _ = await client.command("s1 SELECT Work")
        #expect(await client.command("r1 RENAME Work Done").last == "r1 OK RENAME completed")
        let message = Messages.simple()
        let reply = await client.command("a1 APPEND Done {\(message.utf8.count)+}\r\n" + message)
        #expect(reply.first == "* 1 EXISTS")
        #expect(await client.command("st STATUS Work (MESSAGES)").last?.hasPrefix("st NO [NONEXISTENT]") == true)
    }
}

@Suite("IMAP LIST: names without a mailbox")
struct IMAPListNonExistentTests {
    let server = IMAPTestServer()

    /// RFC 5258 §3.1, RFC 9051 §6.3.9: a subscription whose mailbox is gone is listed
    /// with \NonExistent under LIST (SUBSCRIBED), and not by a plain LIST.
    @Test func subscribedButGone() async {
        let client = await server.loggedIn()
        _ = await client.command("l0 LIST \"\" *")
        _ = await client.command("s1 SUBSCRIBE Old")
        let subscribed = await client.command("l1 LIST (SUBSCRIBED) \"\" *")
        #expect(subscribed.contains("* LIST (\\NonExistent \\HasNoChildren \\Subscribed) \"/\" Old"))
        let plain = await client.command("l2 LIST \"\" *")
        #expect(!plain.contains { $0.hasSuffix(" Old") })
        let lsub = await client.command("l3 LSUB \"\" *")
        #expect(lsub.contains("* LSUB (\\Noselect) \"/\" Old"))
    }
}

@Suite("IMAP: ENVELOPE and BODYSTRUCTURE from the structure cache")
struct IMAPStructureCacheTests {
    let server = IMAPTestServer()

    /// The second listing of a mailbox reads no message: the same bytes come from the
    /// cache; a BODY[] still reads the message.
    @Test func secondListingReadsNothing() async {
        for index in 0..<5 { server.store.deliver(Messages.simple(subject: "m\(index)"), to: TestAccounts.alice) }
        let client = await server.selected()
        let first = await client.command("f1 UID FETCH 1:* (FLAGS ENVELOPE BODYSTRUCTURE)")
        let readsAfterFirst = server.store.contentReads.withLock { $0 }
        #expect(readsAfterFirst == 5)
        let second = await client.command("f2 UID FETCH 1:* (FLAGS ENVELOPE BODYSTRUCTURE)")
        #expect(server.store.contentReads.withLock { $0 } == readsAfterFirst)
        #expect(Array(first.dropLast()) == Array(second.dropLast()))
        // BODY is not cached yet: read again, then cached too.
        _ = await client.command("f3 FETCH 1:* (BODY)")
        #expect(server.store.contentReads.withLock { $0 } == readsAfterFirst + 5)
        _ = await client.command("f4 FETCH 1:* (BODY[])")
        #expect(server.store.contentReads.withLock { $0 } == readsAfterFirst + 10)
    }

    /// Thunderbird's (and Apple Mail's, K-9's) listing asks for header fields by name:
    /// cached per set of names (any order, any case), kept by the store, cut for a
    /// partial; `.NOT` and parts' headers are read each time; at most
    /// `maximumHeaderFieldSets` sets per message.
    @Test func headerFieldListingsReadNothingTheSecondTime() async {
        for index in 0..<3 { server.store.deliver(Messages.simple(subject: "m\(index)"), to: TestAccounts.alice) }
        let fields = "From To Cc Bcc Subject Date Message-ID Priority X-Priority References Newsgroups In-Reply-To Content-Type Reply-To"
        let listing = "UID FETCH 1:* (UID RFC822.SIZE FLAGS BODY.PEEK[HEADER.FIELDS (\(fields))])"
        let client = await server.selected()
        let first = await client.command("f1 \(listing)")
        #expect(first.last?.hasPrefix("f1 OK") == true)
        #expect(first.contains { $0.contains("Subject: m1") })
        #expect(server.store.contentReads.withLock { $0 } == 3)
        let second = await client.command("f2 \(listing)")
        #expect(server.store.contentReads.withLock { $0 } == 3)
        #expect(Array(first.dropLast()) == Array(second.dropLast()))
        // The same set in another order and case: the same answer, from the cache.
        let shuffled = fields.split(separator: " ").reversed().map { $0.lowercased() }.joined(separator: " ")
        let third = await client.command("f3 UID FETCH 1:* (UID RFC822.SIZE FLAGS BODY.PEEK[HEADER.FIELDS (\(shuffled))])")
        #expect(server.store.contentReads.withLock { $0 } == 3)
        #expect(third.count == first.count)
        #expect(third.dropLast().filter { !$0.contains("FETCH") } == first.dropLast().filter { !$0.contains("FETCH") })
        // A partial is cut from the cached whole.
        let partial = await client.command("f4 UID FETCH 1 (BODY.PEEK[HEADER.FIELDS (SUBJECT)]<0.7>)")
        #expect(server.store.contentReads.withLock { $0 } == 4)
        let cachedPartial = await client.command("f5 UID FETCH 1 (BODY.PEEK[HEADER.FIELDS (SUBJECT)]<0.7>)")
        #expect(server.store.contentReads.withLock { $0 } == 4)
        #expect(partial == cachedPartial.map { $0.replacingOccurrences(of: "f5 ", with: "f4 ") })
        #expect(partial.joined().contains("{7}"))
        #expect(partial.joined().contains("Subject"))
        #expect(!partial.joined().contains("Subject:"))
        // After a restart, from the store.
        let restarted = IMAPTestServer(sharing: server)
        let again = await restarted.selected()
        let fourth = await again.command("f6 \(listing)")
        #expect(server.store.contentReads.withLock { $0 } == 4)
        #expect(Array(fourth.dropLast()) == Array(first.dropLast()))
        // A quoted name with a space is no field name (the parser refuses it); the cache
        // key could not tell it from the set (FROM SUBJECT) anyway.
        let quoted = await client.command("q1 UID FETCH 1 (BODY.PEEK[HEADER.FIELDS (\"From Subject\")])")
        #expect(quoted == ["q1 BAD Invalid header field name"])
        #expect(StructureCache.headerFieldsKey(["From", "subject"]) == StructureCache.headerFieldsKey(["SUBJECT", "from", "From"]))
        #expect(StructureCache.headerFieldsKey(["From Subject"]) == nil)
        #expect(StructureCache.headerFieldsKey(["ß"]) == nil)
        #expect(StructureCache.headerFieldsKey(["X:Y"]) == nil)
        // Over the key length limit: answered, not cached.
        let long = (0..<200).map { "X-FIELD-\($0)" }
        #expect(StructureCache.headerFieldsKey(long) == nil)
        #expect(StructureCache.headerFieldsKey(Array(long.prefix(10))) != nil)
        // Not cached: HEADER.FIELDS.NOT.
        _ = await client.command("f7 UID FETCH 1 (BODY.PEEK[HEADER.FIELDS.NOT (SUBJECT)])")
        _ = await client.command("f8 UID FETCH 1 (BODY.PEEK[HEADER.FIELDS.NOT (SUBJECT)])")
        #expect(server.store.contentReads.withLock { $0 } == 6)
        // Past the limit of sets per message (the listing's is the first of message 2's
        // four): answered, not kept (read each time).
        for name in ["A", "B", "C", "D"] {
            _ = await client.command("g\(name) UID FETCH 2 (BODY.PEEK[HEADER.FIELDS (X-\(name))])")
        }
        let reads = server.store.contentReads.withLock { $0 }
        _ = await client.command("h1 UID FETCH 2 (BODY.PEEK[HEADER.FIELDS (X-D)])")
        #expect(server.store.contentReads.withLock { $0 } == reads + 1)
        _ = await client.command("h2 UID FETCH 2 (BODY.PEEK[HEADER.FIELDS (X-A)])")
        #expect(server.store.contentReads.withLock { $0 } == reads + 1)
    }

    /// SEARCH on header fields reads each message once: the header section is kept (in
    /// memory and by the store), so later searches on any header key — also after a
    /// restart — read nothing; BODY and TEXT still read the messages.
    @Test func headerSearchesReadEachMessageOnce() async {
        server.store.deliver(Messages.simple(from: "dave@example.net", subject: "Budget"), to: TestAccounts.alice)
        server.store.deliver(
            Messages.simple(
                subject: "=?UTF-8?Q?R=C3=A9union?=", extraHeaders: "Date: Tue, 3 Nov 2026 10:00:00 +0000\nX-Mailer: Zap\n"),
            to: TestAccounts.alice)
        server.store.deliver(Messages.simple(subject: "Lunch", body: "budget talk"), to: TestAccounts.alice)
        let client = await server.selected()
        #expect(await client.command("s1 SEARCH FROM dave") == ["* SEARCH 1", "s1 OK SEARCH completed"])
        #expect(server.store.contentReads.withLock { $0 } == 3)
        #expect(await client.command("s2 SEARCH SUBJECT union") == ["* SEARCH 2", "s2 OK SEARCH completed"])
        #expect(await client.command("s3 SEARCH OR HEADER Subject lunch SENTON 3-Nov-2026")
            == ["* SEARCH 2 3", "s3 OK SEARCH completed"])
        #expect(await client.command("s4 UID SEARCH NOT FROM carol") == ["* SEARCH 1", "s4 OK UID SEARCH completed"])
        // A field the decoded search fields do not hold: the kept header is parsed.
        #expect(await client.command("s4b SEARCH HEADER X-Mailer zap") == ["* SEARCH 2", "s4b OK SEARCH completed"])
        #expect(server.store.contentReads.withLock { $0 } == 3)
        #expect(server.store.derived.withLock { $0.values.first?.values.allSatisfy { $0["header"] != nil } } == true)
        // BODY needs the messages.
        #expect(await client.command("s5 SEARCH BODY budget") == ["* SEARCH 3", "s5 OK SEARCH completed"])
        #expect(server.store.contentReads.withLock { $0 } == 6)
        // After a restart, from the store.
        let again = await IMAPTestServer(sharing: server).selected()
        #expect(await again.command("s6 SEARCH SUBJECT budget") == ["* SEARCH 1", "s6 OK SEARCH completed"])
        #expect(server.store.contentReads.withLock { $0 } == 6)
    }

    /// What one process computed, the store keeps: after a restart (a new server, same
    /// store, empty memory cache) the listing reads no message, and says the same. A
    /// UTF-8 client's encoding is kept apart.
    @Test func theStoreKeepsStructuresAcrossARestart() async {
        server.store.deliver(Messages.simple(subject: "plain"), to: TestAccounts.alice)
        server.store.deliver(
            "Subject: =?UTF-8?B?w6l0w6k=?=\r\nFrom: \"Zoë\" <zoe@example.test>\r\n\r\nbody\r\n",
            to: TestAccounts.alice)
        let client = await server.selected()
        let first = await client.command("f1 UID FETCH 1:* (FLAGS ENVELOPE BODYSTRUCTURE BODY)")
        #expect(first.last?.hasPrefix("f1 OK") == true)
        #expect(server.store.contentReads.withLock { $0 } == 2)
        let kept = server.store.derived.withLock { $0.values.first ?? [:] }
        #expect(kept.keys.sorted() == [1, 2])
        #expect(kept[2]?.keys.sorted() == ["body", "bodystructure", "envelope"])

        let restarted = IMAPTestServer(sharing: server)
        let again = await restarted.selected()
        let second = await again.command("f2 UID FETCH 1:* (FLAGS ENVELOPE BODYSTRUCTURE BODY)")
        #expect(server.store.contentReads.withLock { $0 } == 2)
        #expect(Array(first.dropLast()) == Array(second.dropLast()))

        // UTF8=ACCEPT: other bytes (the raw name), computed once and kept under their own names.
        let utf8 = await restarted.loggedIn()
        _ = await utf8.command("e1 ENABLE UTF8=ACCEPT")
        _ = await utf8.command("s1 SELECT INBOX")
        _ = await utf8.command("f3 UID FETCH 2 (ENVELOPE)")
        #expect(server.store.contentReads.withLock { $0 } == 3)
        #expect(server.store.derived.withLock { $0.values.first?[2]?["envelope.utf8"] } != nil)
        _ = await IMAPTestServer(sharing: server).selected().command("f4 UID FETCH 2 (ENVELOPE)")
        #expect(server.store.contentReads.withLock { $0 } == 3)
    }
}

@Suite("IMAP limits: over the line")
struct IMAPLimitTests {
    /// A pattern longer than `PatternMatcher.maximumLength` matches nothing, wildcards
    /// or not (no mailbox name is that long, and the work stays bounded).
    @Test func overlongPatternMatchesNothing() {
        let limit = IMAPConnection.PatternMatcher.maximumLength
        let fits = IMAPConnection.PatternMatcher(pattern: Array(String(repeating: "a", count: limit - 1) + "*"))
        #expect(fits.matches(String(repeating: "a", count: limit)))
        let over = IMAPConnection.PatternMatcher(pattern: Array(String(repeating: "a", count: limit) + "*"))
        #expect(!over.matches(String(repeating: "a", count: limit + 5)))
    }

    /// Past its limit the structure cache drops its oldest entries first, and its size
    /// stays under the limit.
    @Test func structureCacheEvictsOldestOverItsLimit() {
        let cache = StructureCache(limit: 4096)
        func key(_ uid: UInt32) -> StructureCache.Key {
            StructureCache.Key(mailbox: "alice\u{0}INBOX", uidValidity: 1, uid: uid, utf8: false)
        }
        let envelope = [UInt8](repeating: 0x41, count: 1000)
        for uid: UInt32 in 1...10 { cache.store(key(uid), StructureCache.Entry(envelope: envelope)) }
        #expect(cache.entry(key(1)) == nil)
        #expect(cache.entry(key(10))?.envelope == envelope)
        let kept = (1...10).filter { cache.entry(key(UInt32($0))) != nil }
        #expect(kept == Array((11 - kept.count)...10))
        #expect(kept.count * (1000 + 96) <= 4096)
        // Adding to a kept entry keeps it and does not count it twice.
        cache.store(key(10), StructureCache.Entry(bodyStructure: [1, 2, 3]))
        #expect(cache.entry(key(10))?.envelope == envelope && cache.entry(key(10))?.bodyStructure == [1, 2, 3])
    }

    /// Sequence sets: runs that ascend by one become ranges, in the order given, and
    /// the largest UID does not overflow.
    @Test func sequenceSetsKeepOrderAndEdges() {
        #expect(IMAPWire.sequenceSet([1, 2, 3, 5, 9, 8]).description == "1:3,5,9,8")
        #expect(IMAPWire.sequenceSet([UInt32.max - 1, UInt32.max, 1]).description == "4294967294:4294967295,1")
        #expect(IMAPWire.sequenceSet([]).description == "")
    }
}

@Suite("IMAP: a lost peer")
struct IMAPLostPeerTests {
    let server = IMAPTestServer()

    /// A FETCH in batches stops after the batch in flight once the peer is gone: the
    /// mailbox is not read for nobody.
    @Test func batchesStopWhenThePeerIsGone() async {
        let message = "Subject: big\r\n\r\n" + String(repeating: "x", count: 4000) + "\r\n"
        for _ in 0..<300 { server.store.deliver(message, to: TestAccounts.alice) }
        let client = await server.selected()
        let readsBefore = server.store.contentReads.withLock { $0 }
        client.loseConnection()
        await client.send("f1 FETCH 1:* BODY.PEEK[]\r\n")
        let text = String(decoding: client.takeOutput(), as: UTF8.self)
        #expect(!text.contains("f1 OK"))
        let reads = server.store.contentReads.withLock { $0 } - readsBefore
        #expect(reads > 0 && reads < 300)
    }
}
