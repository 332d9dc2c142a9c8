import ArgumentParser
import Foundation
import NIOCore
import NIOPosix

// MARK: - commands

/// Server CPU per command (issue #9): one connection logs in, SELECTs INBOX, then sends
/// COMMAND REPEAT times, one at a time (each waits for its tagged OK). With `--cputree`
/// and `--pids`, the server's CPU is read with cputree.py just before the first and just
/// after the last repeat, so the login, SELECT and LOGOUT are not counted.
struct Commands: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "LOGIN, SELECT INBOX, then COMMAND REPEAT times sequentially (alternating with "
            + "--alternate if given), timed; optionally the server's CPU around the repeats.",
        discussion: """
            In COMMAND, $LAST<n> becomes the UID set of the n newest messages (from SELECT's \
            UIDNEXT and EXISTS, e.g. 4196:4200) and $EXISTS the message count.
            """)

    @OptionGroup var server: ServerOptions
    @Option(help: "The user whose INBOX is selected.") var user = "user1@example.test"
    @Option(help: "The command, without tag.") var command = "NOOP"
    @Option(help: "A second command sent in turn with COMMAND (e.g. -FLAGS after +FLAGS).")
    var alternate: String?
    @Option(help: "Times the command is sent (the alternate counts as one).") var `repeat` = 1000
    @Option(help: "Untimed sends before the timed ones.") var warmup = 10
    @Option(help: "cputree.py, to read the server's CPU around the repeats.") var cputree: String?
    @Option(help: "Root PIDs of the server's process trees, for cputree.py.") var pids: String?

    func run() async throws {
        let address = try server.address()
        let (user, password, count, warmup) = (self.user, server.password, self.repeat, self.warmup)
        let (template, alternate) = (self.command, self.alternate)
        let reader = try cputree.map { path -> CPUReader in
            guard let pids, !pids.isEmpty else { throw ValidationError("--cputree needs --pids") }
            return CPUReader(script: path, pids: pids)
        }
        let run = try await withEventLoopGroup(threads: server.threads) { group in
            try await IMAPConnection.open(to: address, group: group) { connection in
                try await connection.login(user, password)
                let select = try await connection.command("SELECT INBOX", collect: true)
                let exists = select.exists ?? 0
                let uidNext = select.responseCode("UIDNEXT") ?? 1
                func expand(_ text: String) throws -> String {
                    var text = text.replacingOccurrences(of: "$EXISTS", with: String(exists))
                    while let range = text.range(of: "$LAST") {
                        let digits = text[range.upperBound...].prefix { $0.isNumber }
                        guard let n = Int(digits), n > 0 else { throw ValidationError("$LAST needs a count") }
                        guard exists > 0 else { throw LoadError("INBOX is empty") }
                        let set = "\(max(1, uidNext - n)):\(uidNext - 1)"
                        text.replaceSubrange(range.lowerBound..<text.index(range.upperBound, offsetBy: digits.count), with: set)
                    }
                    return text
                }
                let commands = try [expand(template)] + (alternate.map { [try expand($0)] } ?? [])
                var last: CommandResult?
                for i in 0..<warmup { last = try await connection.command(commands[i % commands.count]) }
                let cpuBefore = try reader?.read()
                let clock = ContinuousClock()
                let start = clock.now
                for i in 0..<count { last = try await connection.command(commands[i % commands.count]) }
                let seconds = (clock.now - start).seconds
                let cpuAfter = try reader?.read()
                try await connection.logout()
                let cpu = cpuBefore.flatMap { b in cpuAfter.map { $0 - b } }
                return (commands, exists, seconds, cpu, last)
            }
        }
        let (commands, exists, seconds, cpu, last) = run
        let perCommandUs = seconds / Double(max(count, 1)) * 1e6
        let cpuUs = cpu.map { $0 / Double(max(count, 1)) * 1e6 }
        print(
            "commands: \(commands.joined(separator: " / ")) × \(count) on \(exists) messages in \(fmt(seconds, 3)) s, "
                + "\(fmt(perCommandUs, 1)) µs/command"
                + (cpu.map { ", server CPU \(fmt($0, 2)) s, \(fmt(cpuUs ?? 0, 1)) µs/command" } ?? "")
                + " (last: \(last?.responses ?? 0) responses, \(last?.bytes ?? 0) bytes)")
        printJSON([
            ("mode", .string("commands")), ("command", .string(commands[0])),
            ("alternate", commands.count > 1 ? .string(commands[1]) : .null),
            ("messages", .int(exists)), ("repeat", .int(count)), ("seconds", .number(rounded(seconds, 4))),
            ("us_per_command", .number(rounded(perCommandUs, 2))),
            ("server_cpu_s", cpu.map { .number(rounded($0, 3)) } ?? .null),
            ("cpu_us_per_command", cpuUs.map { .number(rounded($0, 2)) } ?? .null),
            ("responses", .int(last?.responses ?? 0)), ("bytes", .int(last?.bytes ?? 0)),
        ])
    }
}

/// Runs `python3 cputree.py PIDS` and reads its one number (CPU seconds of the trees).
struct CPUReader {
    let script: String
    let pids: String

    func read() throws -> Double {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", script] + pids.split(separator: " ").map(String.init)
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let text = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        guard process.terminationStatus == 0, let value = Double(text) else {
            throw LoadError("cputree.py: \(text)")
        }
        return value
    }
}
