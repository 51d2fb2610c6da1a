import ArgumentParser
import Emu3
import Foundation

/// `emu score`: per-token log-probabilities of a given id sequence.
struct ScoreCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "score",
        abstract: "Log-probability of each token of an id sequence given the ones before it.")

    @OptionGroup var options: ModelOptions

    @Option(name: .long, help: "A JSON array of token ids.")
    var ids: String

    @Flag(name: .long, help: "Also output the last position's full logits row.")
    var logits = false

    struct Result: Encodable {
        /// logprobs[t] = log P(ids[t+1] | ids[0...t]).
        var logprobs: [Float]
        var logits: [Float]?
    }

    func run() throws {
        try runReportingErrors {
            let model = try ModelLoading.pipeline(options, components: .transformer)
            let sequence = try ModelLoading.readIDs(ids)
            let scored = try model.generator().score(sequence, lastLogits: logits)
            let result = Result(logprobs: scored.logprobs, logits: scored.logits)
            if options.json {
                try Output.printJSON(result)
            } else {
                for (t, value) in scored.logprobs.enumerated() { print("\(sequence[t + 1])\t\(value)") }
                let total = scored.logprobs.reduce(0, +)
                Output.log("total log-probability \(total) over \(scored.logprobs.count) tokens")
            }
        }
    }
}

/// Opening checkpoints and reading inputs for the model commands.
enum ModelLoading {
    static func pipeline(_ options: ModelOptions, components: Emu3Pipeline.Components) throws -> Emu3Pipeline {
        guard let directory = options.model else {
            throw UserError("--model DIR is required (no bundled default model yet)")
        }
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw UserError("--model \(directory): no such folder")
        }
        let url = URL(fileURLWithPath: directory)
        return try Emu3Pipeline(directory: url, components: components, tokenizer: nil)
    }

    /// A bare JSON array of non-negative integers.
    static func readIDs(_ path: String) throws -> [Int] {
        guard let data = FileManager.default.contents(atPath: path) else { throw UserError("--ids \(path): cannot read the file") }
        guard let array = try? JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed]) as? [Any] else {
            throw UserError("--ids \(path): not a JSON array")
        }
        return try array.enumerated().map { index, value in
            guard let number = value as? NSNumber, let id = Int(exactly: number.doubleValue), id >= 0 else {
                throw UserError("--ids \(path): element \(index) (\(value)) is not a non-negative integer")
            }
            return id
        }
    }
}
