import ArgumentParser
import NIOCore
import NIOPosix

/// IMAP load for bench/imap.sh: the same client against Dovecot and Tsubame.
/// Plaintext only (LOGIN on loopback). Each subcommand prints a human-readable line and
/// then, as the last line, one JSON object with the results.
@main
struct ImapLoad: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "imap-load",
        abstract: "IMAP load generator (SwiftNIO client) for Tsubame's benchmarks.",
        subcommands: [Login.self, FetchAll.self, NewMail.self, Mixed.self, Commands.self])
}

// MARK: - login

struct Login: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Login rate: COUNT sessions of greeting, LOGIN, LOGOUT, CONCURRENCY at a time.")

    @OptionGroup var server: ServerOptions
    @OptionGroup var userOptions: UserOptions
    @Option(help: "Logins in all.") var count = 2000
    @Option(help: "Sessions at a time.") var concurrency = 8

    func run() async throws {
        let range = try userOptions.range()
        let address = try server.address()
        let pattern = userOptions.users, password = server.password
        let count = self.count, concurrency = self.concurrency
        let shared = Shared()
        let clock = ContinuousClock()
        let start = clock.now
        let latencies = try await withEventLoopGroup(threads: server.threads) { group in
            await withTaskGroup(of: [Double].self) { tasks in
                for _ in 0..<concurrency {
                    tasks.addTask {
                        var latencies: [Double] = []
                        while let index = shared.take(limit: count) {
                            let user = userName(pattern, index, range)
                            do {
                                let (_, ms) = try await timed {
                                    try await IMAPConnection.open(to: address, group: group) { connection in
                                        try await connection.login(user, password)
                                        try await connection.logout()
                                    }
                                }
                                latencies.append(ms)
                            } catch {
                                shared.failed(error)
                            }
                        }
                        return latencies
                    }
                }
                var all: [Double] = []
                for await part in tasks { all += part }
                return all
            }
        }
        let seconds = (clock.now - start).seconds
        let rate = Double(latencies.count) / seconds
        print(
            "login: \(latencies.count)/\(count) logins in \(fmt(seconds, 3)) s, \(fmt(rate)) logins/s, "
                + "p50 \(fmt(median(latencies), 2)) ms, p99 \(fmt(percentile(latencies, 99), 2)) ms, "
                + "errors \(shared.errors)" + (shared.firstError.map { " (first: \($0))" } ?? ""))
        printJSON([
            ("mode", .string("login")), ("logins", .int(latencies.count)), ("requested", .int(count)),
            ("concurrency", .int(concurrency)), ("seconds", .number(rounded(seconds))),
            ("logins_per_s", .number(rounded(rate, 1))),
            ("p50_ms", .number(rounded(median(latencies)))),
            ("p99_ms", .number(rounded(percentile(latencies, 99)))),
            ("errors", .int(shared.errors)), ("first_error", shared.firstError.map { .string($0) } ?? .null),
        ])
        if latencies.isEmpty { throw ExitCode(1) }
    }
}

// MARK: - fetch-all

struct FetchAll: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fetch-all",
        abstract: "On one connection: SELECT INBOX and FETCH 1:* (UID FLAGS), timed separately, "
            + "REPEATS times after one untimed warm-up.")

    @OptionGroup var server: ServerOptions
    @Option(help: "The user whose INBOX is read.") var user = "user1000@example.test"
    @Option(help: "Timed repeats.") var repeats = 5

    func run() async throws {
        let address = try server.address()
        let (user, password, repeats) = (self.user, server.password, self.repeats)
        let result = try await withEventLoopGroup(threads: server.threads) { group in
            try await IMAPConnection.open(to: address, group: group) { connection in
                try await connection.login(user, password)
                let warmSelect = try await connection.command("SELECT INBOX", collect: true)
                let messages = warmSelect.exists ?? 0
                guard messages > 0 else { throw LoadError("\(user)'s INBOX is empty") }
                try await connection.command("FETCH 1:* (UID FLAGS)")
                var selects: [Double] = [], fetches: [Double] = []
                var last: (select: CommandResult, fetch: CommandResult)?
                for _ in 0..<repeats {
                    let (select, selectMs) = try await timed {
                        try await connection.command("SELECT INBOX", collect: true)
                    }
                    let (fetch, fetchMs) = try await timed { try await connection.command("FETCH 1:* (UID FLAGS)") }
                    selects.append(selectMs)
                    fetches.append(fetchMs)
                    last = (select, fetch)
                }
                try await connection.logout()
                return (messages, selects, fetches, last)
            }
        }
        let (messages, selects, fetches, last) = result
        let fetchBytes = last?.fetch.bytes ?? 0, fetchResponses = last?.fetch.responses ?? 0
        print(
            "fetch-all: \(messages) messages; SELECT median \(fmt(median(selects), 2)) ms, "
                + "FETCH 1:* (UID FLAGS) median \(fmt(median(fetches), 2)) ms "
                + "(\(fetchResponses) responses, \(fetchBytes) bytes) over \(repeats) repeats")
        printJSON([
            ("mode", .string("fetch-all")), ("messages", .int(messages)), ("repeats", .int(repeats)),
            ("select_ms", .number(rounded(median(selects)))),
            ("fetch_ms", .number(rounded(median(fetches)))),
            ("select_ms_all", .array(selects.map { .number(rounded($0)) })),
            ("fetch_ms_all", .array(fetches.map { .number(rounded($0)) })),
            ("select_bytes", .int(last?.select.bytes ?? 0)), ("select_lines", .int((last?.select.responses ?? 0) + 1)),
            ("fetch_bytes", .int(fetchBytes)), ("fetch_lines", .int(fetchResponses + 1)),
        ])
    }
}

// MARK: - new-mail

struct NewMail: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "new-mail",
        abstract: "SELECT INBOX, then UID FETCH <UIDNEXT-LAST>:* (FLAGS ENVELOPE BODYSTRUCTURE), both "
            + "timed; then the same UID FETCH AGAIN more times.")

    @OptionGroup var server: ServerOptions
    @Option(help: "The user whose INBOX is read.") var user = "user1000@example.test"
    @Option(help: "How many of the newest UIDs to fetch.") var last = 100
    @Option(help: "Timed repeats of the UID FETCH after the first.") var again = 2

    func run() async throws {
        let address = try server.address()
        let (user, password, last, again) = (self.user, server.password, self.last, self.again)
        let command = "(FLAGS ENVELOPE BODYSTRUCTURE)"
        let (select, selectMs, first, fetch, fetchMs, againMs) = try await withEventLoopGroup(
            threads: server.threads
        ) { group in
            try await IMAPConnection.open(to: address, group: group) { connection in
                try await connection.login(user, password)
                let (select, selectMs) = try await timed {
                    try await connection.command("SELECT INBOX", collect: true)
                }
                guard let uidNext = select.responseCode("UIDNEXT") else {
                    throw LoadError("SELECT gave no UIDNEXT")
                }
                let first = max(1, uidNext - last)
                let (fetch, fetchMs) = try await timed {
                    try await connection.command("UID FETCH \(first):* \(command)")
                }
                var againMs: [Double] = []
                for _ in 0..<again {
                    againMs.append(try await timed { try await connection.command("UID FETCH \(first):* \(command)") }.1)
                }
                try await connection.logout()
                return (select, selectMs, first, fetch, fetchMs, againMs)
            }
        }
        print(
            "new-mail: \(select.exists ?? 0) messages, SELECT \(fmt(selectMs, 2)) ms, "
                + "UID FETCH \(first):* \(command) \(fmt(fetchMs, 2)) ms (\(fetch.responses) responses, "
                + "\(fetch.bytes) bytes), again median \(fmt(median(againMs), 2)) ms")
        printJSON([
            ("mode", .string("new-mail")), ("messages", .int(select.exists ?? 0)),
            ("uidnext", select.responseCode("UIDNEXT").map { .int($0) } ?? .null), ("first_uid", .int(first)),
            ("select_ms", .number(rounded(selectMs))), ("fetch_ms", .number(rounded(fetchMs))),
            ("fetched", .int(fetch.responses)), ("fetch_bytes", .int(fetch.bytes)),
            ("again_ms", .number(rounded(median(againMs)))),
        ])
    }
}

// MARK: - mixed

struct Mixed: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "SESSIONS concurrent clients, each looping over sessions of LOGIN, SELECT INBOX, "
            + "FETCH 1:* (FLAGS), UID FETCH of the last 5 BODY.PEEK[], UID SEARCH UNSEEN, "
            + "UID STORE +FLAGS (\\Seen) on one message, NOOP, LOGOUT; users taken in turn.")

    @OptionGroup var server: ServerOptions
    @OptionGroup var userOptions: UserOptions
    @Option(help: "Concurrent clients.") var sessions = 20
    @Option(help: "Seconds to run (sessions under way at the end are finished); 0: no time limit.")
    var duration = 20.0
    @Option(help: "Stop after this many sessions in all (e.g. one per user to warm up).") var total: Int?
    @Option(help: "How many of the newest messages to download each session.") var last = 5

    func run() async throws {
        guard duration > 0 || total != nil else { throw ValidationError("give --duration or --total") }
        let range = try userOptions.range()
        let address = try server.address()
        let pattern = userOptions.users, password = server.password
        let (sessions, last) = (self.sessions, self.last)
        let limit = total ?? Int.max
        let clock = ContinuousClock()
        let start = clock.now
        let deadline: ContinuousClock.Instant? = duration > 0 ? start.advanced(by: .seconds(duration)) : nil
        let shared = Shared()
        typealias Tally = [String: (count: Int, ms: Double)]
        let (done, commands, tally) = try await withEventLoopGroup(threads: server.threads) { group in
            await withTaskGroup(of: (Int, Int, Tally).self) { tasks in
                for _ in 0..<sessions {
                    tasks.addTask {
                        var done = 0, commands = 0
                        var tally: Tally = [:]
                        while deadline.map({ clock.now < $0 }) ?? true, shared.errors < 1000,
                            let index = shared.take(limit: limit)
                        {
                            let user = userName(pattern, index, range)
                            var sessionCommands = 0
                            func run(_ name: String, _ command: String, collect: Bool = false, _ connection: IMAPConnection)
                                async throws -> CommandResult
                            {
                                let (result, ms) = try await timed {
                                    try await connection.command(command, collect: collect)
                                }
                                tally[name, default: (0, 0)].count += 1
                                tally[name, default: (0, 0)].ms += ms
                                sessionCommands += 1
                                return result
                            }
                            do {
                                try await IMAPConnection.open(to: address, group: group) { c in
                                    _ = try await run("LOGIN", "LOGIN \(quoted(user)) \(quoted(password))", c)
                                    let select = try await run("SELECT", "SELECT INBOX", collect: true, c)
                                    let exists = select.exists ?? 0
                                    let uidNext = select.responseCode("UIDNEXT") ?? 1
                                    if exists > 0 {
                                        _ = try await run("FETCH FLAGS", "FETCH 1:* (FLAGS)", c)
                                        _ = try await run(
                                            "UID FETCH BODY", "UID FETCH \(max(1, uidNext - last)):* BODY.PEEK[]", c)
                                    }
                                    let unseen = try await run("UID SEARCH", "UID SEARCH UNSEEN", collect: true, c)
                                    if exists > 0 {
                                        let target = unseen.searchResults.first ?? uidNext - 1
                                        _ = try await run("UID STORE", "UID STORE \(target) +FLAGS (\\Seen)", c)
                                    }
                                    _ = try await run("NOOP", "NOOP", c)
                                    _ = try await run("LOGOUT", "LOGOUT", c)
                                }
                                done += 1
                            } catch {
                                shared.failed(error)
                            }
                            commands += sessionCommands
                        }
                        return (done, commands, tally)
                    }
                }
                var done = 0, commands = 0
                var tally: Tally = [:]
                for await (d, c, t) in tasks {
                    done += d
                    commands += c
                    for (name, value) in t {
                        tally[name, default: (0, 0)].count += value.count
                        tally[name, default: (0, 0)].ms += value.ms
                    }
                }
                return (done, commands, tally)
            }
        }
        let seconds = (clock.now - start).seconds
        let order = ["LOGIN", "SELECT", "FETCH FLAGS", "UID FETCH BODY", "UID SEARCH", "UID STORE", "NOOP", "LOGOUT"]
        let means = order.compactMap { name in tally[name].map { (name, $0.ms / Double(max($0.count, 1))) } }
        print(
            "mixed: \(done) sessions, \(commands) commands in \(fmt(seconds, 3)) s with \(sessions) clients: "
                + "\(fmt(Double(done) / seconds)) sessions/s, \(fmt(Double(commands) / seconds)) commands/s, "
                + "errors \(shared.errors)" + (shared.firstError.map { " (first: \($0))" } ?? ""))
        print("  mean ms: " + means.map { "\($0.0) \(fmt($0.1, 2))" }.joined(separator: ", "))
        printJSON([
            ("mode", .string("mixed")), ("sessions", .int(done)), ("commands", .int(commands)),
            ("clients", .int(sessions)), ("seconds", .number(rounded(seconds))),
            ("sessions_per_s", .number(rounded(Double(done) / seconds, 2))),
            ("commands_per_s", .number(rounded(Double(commands) / seconds, 1))),
            ("errors", .int(shared.errors)), ("first_error", shared.firstError.map { .string($0) } ?? .null),
            ("mean_ms", .object(means.map { ($0.0, .number(rounded($0.1))) })),
        ])
        if done == 0 { throw ExitCode(1) }
    }
}

/// The `index`th user of `range` (cycling), `%d` in `pattern` replaced by its number.
func userName(_ pattern: String, _ index: Int, _ range: ClosedRange<Int>) -> String {
    pattern.replacingFirst("%d", with: String(range.lowerBound + index % range.count))
}
