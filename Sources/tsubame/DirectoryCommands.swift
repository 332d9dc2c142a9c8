import ArgumentParser
import Directory
import Foundation
import MailCore
import TsubameServer

/// Opens the data directory's user database for the admin commands.
func openDirectory(_ options: DataOptions) throws -> SQLiteDirectory {
    let path = options.directory
    do {
        try FileManager.default.createDirectory(
            atPath: path, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        return try SQLiteDirectory(path: Server.Paths.directoryDatabase(path))
    } catch let error as DirectoryError {
        throw CommandFailure(error.description)
    } catch {
        throw CommandFailure("cannot create data directory \(path): \(error)")
    }
}

func parseAddress(_ text: String) throws -> MailAddress {
    guard let address = MailAddress(text) else { throw CommandFailure("'\(text)' is not a valid address (user@domain)") }
    return address
}

/// `tsubame domain add|remove|list`
struct DomainCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "domain", abstract: "Manage the domains this server receives mail for.",
        subcommands: [Add.self, Remove.self, List.self])

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Accept mail for a domain.")
        @OptionGroup var data: DataOptions
        @Argument(help: "Domain name, e.g. example.com.") var name: String

        func run() async throws {
            try await reportingFailures {
                try await openDirectory(data).addDomain(name)
                print("added domain \(name.lowercased())")
                // RFC 5321 §4.5.1: every domain must accept mail for postmaster.
                print("hint: add 'tsubame alias add postmaster@\(name.lowercased()) <you>@…' (RFC 5321 §4.5.1)")
            }
        }
    }

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Stop accepting mail for a domain (it must have no users).")
        @OptionGroup var data: DataOptions
        @Argument var name: String

        func run() async throws {
            try await reportingFailures {
                try await openDirectory(data).removeDomain(name)
                print("removed domain \(name.lowercased())")
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List local domains.")
        @OptionGroup var data: DataOptions

        func run() async throws {
            try await reportingFailures {
                for domain in try await openDirectory(data).domains() { print(domain) }
            }
        }
    }
}

/// `--password-stdin` / `--password PW` / interactive prompt.
struct PasswordOptions: ParsableArguments {
    @Flag(name: .long, help: "Read the password from the first line of standard input.")
    var passwordStdin = false

    @Option(name: .long, help: "The password (visible in the process list: for scripts and tests).")
    var password: String?

    @Option(name: .long, help: "Hash scheme: ARGON2ID (default), BLF-CRYPT, SHA512-CRYPT, SHA256-CRYPT, SSHA512, SCRAM-SHA-256, …")
    var scheme: String = "ARGON2ID"

    func hash() throws -> PasswordHash {
        guard let scheme = PasswordScheme(name: scheme) else {
            throw CommandFailure("unknown password scheme '\(scheme)'")
        }
        let plain = try readPassword()
        guard !plain.isEmpty else { throw CommandFailure("empty password") }
        do {
            return try PasswordHash.make(plain, algorithm: scheme.algorithm)
        } catch {
            throw CommandFailure(error.description)
        }
    }

    private func readPassword() throws -> String {
        if passwordStdin && password != nil { throw CommandFailure("give --password-stdin or --password, not both") }
        if let password { return password }
        if passwordStdin || isatty(STDIN_FILENO) == 0 {
            guard let line = readLine(strippingNewline: true) else { throw CommandFailure("no password on standard input") }
            return line
        }
        guard let first = getpass("Password: ").map({ String(cString: $0) }),
            let second = getpass("Repeat password: ").map({ String(cString: $0) })
        else { throw CommandFailure("cannot read the password") }
        guard first == second else { throw CommandFailure("passwords do not match") }
        return first
    }
}

/// `tsubame user add|remove|list|passwd`
struct UserCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "user", abstract: "Manage mail accounts (the login is the address).",
        subcommands: [Add.self, Remove.self, List.self, Passwd.self])

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create an account in a local domain.")
        @OptionGroup var data: DataOptions
        @OptionGroup var password: PasswordOptions
        @Argument(help: "The address, e.g. alice@example.com.") var address: String

        func run() async throws {
            try await reportingFailures {
                let address = try parseAddress(address)
                let directory = try openDirectory(data)
                try await directory.addUser(address, passwordHash: try password.hash())
                print("added user \(address.canonical)")
            }
        }
    }

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Delete an account (its login stops working at once).")
        @OptionGroup var data: DataOptions
        @Argument var address: String

        func run() async throws {
            try await reportingFailures {
                let address = try parseAddress(address)
                try await openDirectory(data).removeUser(address)
                print("removed user \(address.canonical)")
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List accounts, optionally of one domain.")
        @OptionGroup var data: DataOptions
        @Argument(help: "Only this domain.") var domain: String?

        func run() async throws {
            try await reportingFailures {
                for user in try await openDirectory(data).users(domain: domain) { print(user.canonical) }
            }
        }
    }

    struct Passwd: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Set an account's password.")
        @OptionGroup var data: DataOptions
        @OptionGroup var password: PasswordOptions
        @Argument var address: String

        func run() async throws {
            try await reportingFailures {
                let address = try parseAddress(address)
                try await openDirectory(data).setPassword(address, passwordHash: try password.hash())
                print("password changed for \(address.canonical)")
            }
        }
    }
}

/// `tsubame alias add|remove|list`
struct AliasCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "alias",
        abstract: "Manage aliases (like Postfix virtual_alias_maps); '@domain' is a catch-all.",
        subcommands: [Add.self, Remove.self, List.self])

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Send mail for ALIAS to each TARGET.")
        @OptionGroup var data: DataOptions
        @Argument(help: "alias@domain, or @domain for a catch-all.") var alias: String
        @Argument(help: "One or more target addresses (local or remote).") var targets: [String]

        func run() async throws {
            try await reportingFailures {
                let targets = try targets.map(parseAddress)
                try await openDirectory(data).addAlias(alias, targets: targets)
                print("added alias \(alias.lowercased()) → \(targets.map(\.canonical).joined(separator: ", "))")
            }
        }
    }

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Remove targets of ALIAS, or the whole alias.")
        @OptionGroup var data: DataOptions
        @Argument var alias: String
        @Argument(help: "Targets to remove; none removes the alias.") var targets: [String] = []

        func run() async throws {
            try await reportingFailures {
                try await openDirectory(data).removeAlias(alias, targets: try targets.map(parseAddress))
                print("removed alias \(alias.lowercased())")
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List aliases as 'alias target' lines.")
        @OptionGroup var data: DataOptions
        @Argument(help: "Only this alias.") var alias: String?

        func run() async throws {
            try await reportingFailures {
                for entry in try await openDirectory(data).aliases(source: alias) { print("\(entry.source) \(entry.target)") }
            }
        }
    }
}
