import ArgumentParser
import Foundation

/// A problem with the user's input (missing file, bad checkpoint, prompt too long): printed on
/// stderr, exit status 1 (cli.md). Usage errors stay with ArgumentParser (status 2).
struct UserError: Error, CustomStringConvertible {
    let message: String
    init(_ message: String) { self.message = message }
    var description: String { message }
}

/// Options every model command shares.
struct ModelOptions: ParsableArguments {
    @Option(name: .long, help: "Checkpoint folder (-hf or BAAI layout). Default: the bundled Models/shapes-emu3.")
    var model: String?

    @Flag(name: .long, help: "Print one JSON document on stdout; progress and logs go to stderr.")
    var json = false
}

enum Output {
    /// Writes `value` as pretty, key-sorted JSON on stdout.
    static func printJSON<T: Encodable>(_ value: T) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        FileHandle.standardOutput.write(try encoder.encode(value) + Data("\n".utf8))
    }

    /// A line on stderr (logs and progress never go to stdout).
    static func log(_ message: String) {
        FileHandle.standardError.write(Data((message + "\n").utf8))
    }
}

/// Runs a command body, turning thrown user errors into a message and exit status 1.
func runReportingErrors(_ body: () throws -> Void) throws {
    do { try body() } catch let error as UserError {
        Output.log("error: \(error.message)")
        throw ExitCode(1)
    } catch let error as ExitCode {
        throw error
    } catch let error as CleanExit {
        throw error
    } catch {
        Output.log("error: \(error)")
        throw ExitCode(1)
    }
}
