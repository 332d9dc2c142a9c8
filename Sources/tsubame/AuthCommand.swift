import ArgumentParser
import Directory
import Foundation
import MailCore
import TsubameServer

/// `tsubame auth test ADDRESS` — like `doveadm auth test`: which user database
/// answered for a login, and why it succeeded or failed (exit 0 success, 1 wrong
/// password or unknown user, 75 (EX_TEMPFAIL) a database could not be asked).
struct AuthCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "auth", abstract: "Check logins against the user database.", subcommands: [Test.self, Users.self])

    struct Test: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check a login and password, and say which user database answered and why.")

        @OptionGroup var options: ServerOptions
        @Flag(name: .long, help: "Read the password from the first line of standard input.")
        var passwordStdin = false
        @Option(name: .long, help: "The password (visible in the process list: for scripts and tests).")
        var password: String?
        @Argument(help: "The login (an address).") var address: String

        func run() async throws {
            try await reportingFailures {
                let plain: String
                if let password {
                    plain = password
                } else if passwordStdin || isatty(STDIN_FILENO) == 0 {
                    guard let line = readLine(strippingNewline: true) else { throw CommandFailure("no password on standard input") }
                    plain = line
                } else {
                    guard let typed = getpass("Password: ") else { throw CommandFailure("cannot read the password") }
                    plain = String(cString: typed)
                }
                guard MailAddress(address) != nil else {
                    throw CommandFailure("'\(address)' is not a valid login (logins are addresses)")
                }
                let configuration = try options.loadConfiguration()
                let databases = try Server.userDatabases(
                    configuration, dataDirectory: options.data.directory, sqlite: try openDirectory(options.data))
                let result: DirectoryChain.TestResult
                do {
                    result = try await databases.withRunning {
                        try await databases.chain.test(login: address, password: plain)
                    }
                } catch {
                    throw CommandFailure("user database unavailable: \(error)", exitCode: 75)
                }
                switch result {
                case .succeeded(let user, let source, let scheme):
                    print("passdb: \(user) auth succeeded")
                    print("source: \(source), scheme \(scheme)")
                case .passwordMismatch(let user, let source, let scheme):
                    print("passdb: \(user) auth failed")
                    print("source: \(source): password mismatch (scheme \(scheme))")
                    throw ExitCode(1)
                case .unknownUser(let sources):
                    print("passdb: \(address) auth failed")
                    print("source: none of \(sources.joined(separator: ", ")) knows this user")
                    throw ExitCode(1)
                }
            }
        }
    }

    /// `tsubame auth users` — like `doveadm user '*'`: every login, per database.
    struct Users: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List every login of each user database that can list them (SQL: iterate_query).")

        @OptionGroup var options: ServerOptions

        func run() async throws {
            try await reportingFailures {
                let configuration = try options.loadConfiguration()
                let databases = try Server.userDatabases(
                    configuration, dataDirectory: options.data.directory, sqlite: try openDirectory(options.data))
                let lists: [(source: String, logins: [String]?)]
                do {
                    lists = try await databases.withRunning { try await databases.chain.loginsBySource() }
                } catch {
                    throw CommandFailure("user database unavailable: \(error)", exitCode: 75)
                }
                for (source, logins) in lists {
                    guard let logins else {
                        print("# \(source): cannot list its users (no iterate query or filter)")
                        continue
                    }
                    print("# \(source)")
                    for login in logins { print(login) }
                }
            }
        }
    }
}
