import ArgumentParser
import TsubameServer

/// `tsubame config check [--data DIR] [--config FILE]`
struct ConfigCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "config", abstract: "Work with the configuration file.", subcommands: [Check.self])

    struct Check: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Validate the configuration and print the effective settings.")

        @OptionGroup var options: ServerOptions

        func run() async throws {
            try await reportingFailures {
                let configuration = try options.loadConfiguration()
                print("# effective configuration (\(options.configurationPath))")
                print(ConfigurationRenderer.render(configuration), terminator: "")
            }
        }
    }
}
