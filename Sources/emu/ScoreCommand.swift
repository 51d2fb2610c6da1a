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
            // A ShapesWorld model's transformer is Emu3's; only its tokenizer differs, and ids skip it.
            let model = try ShapesModelCommands.model(options)?.pipeline ?? ModelLoading.pipeline(options, components: .transformer)
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
