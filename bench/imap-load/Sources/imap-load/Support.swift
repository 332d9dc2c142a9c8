import ArgumentParser
import NIOCore
import NIOPosix
import Synchronization

/// Options every subcommand takes.
struct ServerOptions: ParsableArguments {
    @Option(help: "Server address (an IP address).") var host = "127.0.0.1"
    @Option(help: "IMAP port (plaintext).") var port = 143
    @Option(help: "Password of every user.") var password = "pass"
    @Option(help: "SwiftNIO event loop threads of the client.") var threads = 1

    func address() throws -> SocketAddress {
        try SocketAddress(ipAddress: host, port: port)
    }
}

/// `--users 'user%d@example.test' --user-range 1-1000`.
struct UserOptions: ParsableArguments {
    @Option(help: "User name pattern; %d is replaced by the user's number.")
    var users = "user%d@example.test"
    @Option(name: .customLong("user-range"), help: "Numbers of the users, FIRST-LAST.")
    var userRange = "1-1000"

    func range() throws -> ClosedRange<Int> {
        let parts = userRange.split(separator: "-")
        guard parts.count == 2, let first = Int(parts[0]), let last = Int(parts[1]), first <= last else {
            throw ValidationError("--user-range: FIRST-LAST, e.g. 1-1000")
        }
        return first...last
    }
}

extension String {
    func replacingFirst(_ target: String, with replacement: String) -> String {
        guard let range = range(of: target) else { return self }
        return String(self[..<range.lowerBound]) + replacement + String(self[range.upperBound...])
    }
}

/// A counter and a first error shared by the tasks of a load.
final class Shared: Sendable {
    struct State {
        var next = 0
        var errors = 0
        var firstError: String?
    }
    let state = Mutex(State())

    /// The next index, or nil once `limit` are taken.
    func take(limit: Int) -> Int? {
        state.withLock { state in
            guard state.next < limit else { return nil }
            defer { state.next += 1 }
            return state.next
        }
    }

    func failed(_ error: any Error) {
        state.withLock { state in
            state.errors += 1
            if state.firstError == nil { state.firstError = "\(error)" }
        }
    }

    var errors: Int { state.withLock { $0.errors } }
    var firstError: String? { state.withLock { $0.firstError } }
}

/// Runs `body` with an event loop group of `threads` threads, shut down afterwards.
func withEventLoopGroup<R>(threads: Int, _ body: (MultiThreadedEventLoopGroup) async throws -> R) async throws -> R {
    let group = MultiThreadedEventLoopGroup(numberOfThreads: max(1, threads))
    do {
        let result = try await body(group)
        try await group.shutdownGracefully()
        return result
    } catch {
        try? await group.shutdownGracefully()
        throw error
    }
}

// MARK: - Time and statistics

extension Duration {
    var milliseconds: Double {
        let (seconds, attoseconds) = components
        return Double(seconds) * 1000 + Double(attoseconds) / 1e15
    }
    var seconds: Double { milliseconds / 1000 }
}

/// Times `body` in milliseconds.
func timed<R>(_ body: () async throws -> R) async rethrows -> (R, Double) {
    let clock = ContinuousClock()
    let start = clock.now
    let result = try await body()
    return (result, (clock.now - start).milliseconds)
}

func median(_ values: [Double]) -> Double {
    guard !values.isEmpty else { return 0 }
    let sorted = values.sorted()
    let middle = sorted.count / 2
    return sorted.count % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
}

func percentile(_ values: [Double], _ p: Double) -> Double {
    guard !values.isEmpty else { return 0 }
    let sorted = values.sorted()
    let rank = Int((p / 100 * Double(sorted.count - 1)).rounded())
    return sorted[min(max(rank, 0), sorted.count - 1)]
}

/// `value` rounded to `places` decimals.
func rounded(_ value: Double, _ places: Int = 3) -> Double {
    var scale = 1.0
    for _ in 0..<places { scale *= 10 }
    return (value * scale).rounded() / scale
}

/// Formats a number with `places` decimals, for the human-readable lines.
func fmt(_ value: Double, _ places: Int = 1) -> String {
    let r = rounded(value, places)
    var text = "\(r)"
    if text.hasSuffix(".0") && places == 0 { text.removeLast(2) }
    return text
}

// MARK: - The JSON result line

/// A JSON value small enough to write by hand (no Foundation).
indirect enum JSON {
    case number(Double)
    case int(Int)
    case string(String)
    case bool(Bool)
    case null
    case object([(String, JSON)])
    case array([JSON])

    var text: String {
        switch self {
        case .number(let value): return value.isFinite ? "\(value)" : "null"
        case .int(let value): return "\(value)"
        case .bool(let value): return value ? "true" : "false"
        case .null: return "null"
        case .string(let value): return JSON.quote(value)
        case .array(let values): return "[" + values.map(\.text).joined(separator: ",") + "]"
        case .object(let pairs):
            return "{" + pairs.map { JSON.quote($0.0) + ":" + $0.1.text }.joined(separator: ",") + "}"
        }
    }

    static func quote(_ string: String) -> String {
        var out = "\""
        for scalar in string.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if scalar.value < 0x20 {
                    let hex = String(scalar.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }
}

/// Prints the result as the last line of output, for scripts to parse.
func printJSON(_ pairs: [(String, JSON)]) {
    print(JSON.object(pairs).text)
}
