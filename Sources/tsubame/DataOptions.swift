import ArgumentParser
import Foundation
import TsubameServer

/// `--data DIR`, shared by every command.
struct DataOptions: ParsableArguments {
    @Option(name: .long, help: "Data directory (default: $TSUBAME_DATA, else ./tsubame-data).")
    var data: String?

    var directory: String {
        if let data { return data }
        if let environment = ProcessInfo.processInfo.environment["TSUBAME_DATA"], !environment.isEmpty {
            return environment
        }
        return "./tsubame-data"
    }
}

/// `--data DIR --config FILE`, for commands that read the configuration.
struct ServerOptions: ParsableArguments {
    @OptionGroup var data: DataOptions

    @Option(name: .long, help: "Configuration file (default: DIR/tsubame.toml; optional).")
    var config: String?

    var configurationPath: String { config ?? Server.Paths.configuration(data.directory) }

    /// Loads the configuration; an explicitly named file must exist.
    func loadConfiguration() throws -> TsubameServer.Configuration {
        do {
            return try ConfigurationLoader.load(path: configurationPath, mustExist: config != nil)
        } catch {
            throw CommandFailure(error.description, exitCode: 78)  // EX_CONFIG
        }
    }
}

/// A failure the user should read: printed to stderr without a stack of wrappers.
struct CommandFailure: Error, CustomStringConvertible {
    let description: String
    let exitCode: Int32

    init(_ description: String, exitCode: Int32 = 1) {
        self.description = description
        self.exitCode = exitCode
    }
}

extension AsyncParsableCommand {
    /// Runs `body`, turning a `CommandFailure` or any other error into a message on
    /// stderr and a non-zero exit.
    func reportingFailures(_ body: () async throws -> Void) async throws {
        do {
            try await body()
        } catch let failure as CommandFailure {
            FileHandle.standardError.write(Data("tsubame: \(failure.description)\n".utf8))
            throw ExitCode(failure.exitCode)
        } catch let exit as ExitCode {
            throw exit
        } catch {
            FileHandle.standardError.write(Data("tsubame: \(error)\n".utf8))
            throw ExitCode(1)
        }
    }
}
