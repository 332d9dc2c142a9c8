import ArgumentParser
import Foundation
import MailQueue
import TsubameServer

/// `tsubame queue list|show|flush|retry|delete|bounce` — Postfix's `postqueue` and
/// `postsuper` for the outbound queue in `<data>/queue`.
struct QueueCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "queue", abstract: "Inspect and manage the outbound mail queue.",
        subcommands: [List.self, Show.self, Flush.self, Retry.self, Delete.self, Bounce.self])

    static func administration(_ data: DataOptions) -> QueueAdministration {
        QueueAdministration(spool: Spool(directory: Server.Paths.queue(data.directory)))
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List queued messages with each recipient's state and last error (postqueue -p).")
        @OptionGroup var data: DataOptions

        func run() async throws {
            try await reportingFailures {
                print(QueueAdministration.listing(try QueueCommand.administration(data).entries()), terminator: "")
            }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show one message's envelope and delivery state.")
        @OptionGroup var data: DataOptions
        @Argument(help: "Queue ID (from `tsubame queue list`).") var id: String

        func run() async throws {
            try await reportingFailures {
                print(QueueAdministration.details(try QueueCommand.administration(data).entry(id)), terminator: "")
            }
        }
    }

    struct Flush: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Try every waiting message now (postqueue -f); the running server starts within a second.")
        @OptionGroup var data: DataOptions

        func run() async throws {
            try await reportingFailures {
                let count = try QueueCommand.administration(data).flush()
                print("\(count) message\(count == 1 ? "" : "s") due now")
            }
        }
    }

    struct Retry: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Try one message now (postqueue -i).")
        @OptionGroup var data: DataOptions
        @Argument var id: String

        func run() async throws {
            try await reportingFailures {
                try QueueCommand.administration(data).retry(id)
                print("\(id) due now")
            }
        }
    }

    struct Delete: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Remove a message from the queue without a report to the sender (postsuper -d).")
        @OptionGroup var data: DataOptions
        @Argument var id: String

        func run() async throws {
            try await reportingFailures {
                try QueueCommand.administration(data).delete(id)
                print("deleted \(id)")
            }
        }
    }

    struct Bounce: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Fail every undelivered recipient of a message, with a report to the sender.")
        @OptionGroup var data: DataOptions
        @Argument var id: String

        func run() async throws {
            try await reportingFailures {
                try QueueCommand.administration(data).bounce(id)
                print("\(id) will be returned to its sender at the next queue run")
            }
        }
    }
}
