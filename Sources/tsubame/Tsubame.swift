import ArgumentParser

/// `tsubame` — the one executable. Argument parsing only: every command calls into
/// `TsubameServer` or `Directory`. The command names and options are a contract that
/// tests and documentation rely on: extend them, don't rename them.
@main
struct Tsubame: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tsubame",
        abstract: "A mail server: SMTP (25/587/465), IMAP (143/993) and POP3 (110/995) in one program.",
        subcommands: [
            Serve.self, ConfigCommand.self, DomainCommand.self, UserCommand.self, AliasCommand.self, AuthCommand.self,
            QueueCommand.self,
        ])
}
