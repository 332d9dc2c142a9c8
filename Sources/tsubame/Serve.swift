import ArgumentParser
import Foundation
import Logging
import TsubameServer

/// `tsubame serve [--data DIR] [--config FILE]`
struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the mail server on the configured (or default) ports until SIGTERM/SIGINT.")

    @OptionGroup var options: ServerOptions

    func run() async throws {
        try await reportingFailures {
            let configuration = try options.loadConfiguration()
            let level = Logger.Level(rawValue: configuration.log.level) ?? .info
            LoggingSystem.bootstrap { label in
                var handler = StreamLogHandler.standardError(label: label)
                handler.logLevel = level
                return handler
            }
            let logger = Logger(label: "tsubame")
            // Configuration is read at start only; a stray SIGHUP (Postfix/Dovecot reload
            // habit) must not kill the server.
            signal(SIGHUP, SIG_IGN)
            let server: Server
            do {
                server = try await Server.start(
                    configuration: configuration, dataDirectory: options.data.directory, signals: [.sigterm, .sigint],
                    logger: logger)
            } catch {
                throw CommandFailure("cannot start: \(error)")
            }
            logger.info(
                "started",
                metadata: [
                    "hostname": "\(configuration.hostname)", "data": "\(options.data.directory)",
                    "services": "\(server.boundAddresses.count)",
                ])
            try await server.run()
            logger.info("stopped")
        }
    }
}
