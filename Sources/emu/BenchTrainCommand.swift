import ArgumentParser
import Emu3
import EmuTensor
import EmuTraining
import Foundation

/// `emu bench train`: training steps per second (forward + backward + clipping + AdamW) of a
/// randomly initialized transformer, on the configuration of scripts/reference/bench_train.py.
struct BenchTrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train", abstract: "Training throughput (tokens/s) and peak memory.")

    @Option(name: .long, help: "Configuration: 20m (bench_train.py's), shapes (the bundled model's) or tiny.") var size = "20m"
    @Option(name: .long, help: "Rows per step.") var batch = 4
    @Option(name: .long, help: "Tokens per row.") var seq = 512
    @Option(name: .long, help: "Timed steps (after one warm-up step).") var steps = 3
    @Option(name: .long, help: "Pack each row with examples of this many tokens, each attending only to itself (emu train --isolate-examples); 0: the row is one example.") var exampleLength = 0
    @Flag(name: .long, help: "Print one JSON document on stdout.") var json = false

    struct Result: Encodable {
        let impl = "swift-emu"
        let size: String
        let parameters: Int
        let batch: Int
        let seq: Int
        let exampleLength: Int
        let stepSecondsMedian: Double
        let tokensPerSecond: Double
        let peakRSSMiB: Double
        let losses: [Float]

        enum CodingKeys: String, CodingKey {
            case impl, size, parameters, batch, seq, losses, exampleLength = "example_length"
            case stepSecondsMedian = "step_seconds_median", tokensPerSecond = "tokens_per_second", peakRSSMiB = "peak_rss_mib"
        }
    }

    func run() throws {
        try runReportingErrors {
            guard batch > 0, seq > 1, steps > 0 else { throw UserError("--batch, --steps must be positive and --seq > 1") }
            guard exampleLength >= 0 && exampleLength <= seq + 1 else { throw UserError("--example-length must be 0 to --seq + 1 tokens, not \(exampleLength)") }
            let c: Transformer.Configuration
            switch size {
            case "20m": c = .init(vocabularySize: 8192, hiddenSize: 384, intermediateSize: 1024, layerCount: 8,
                                  attentionHeads: 6, keyValueHeads: 2, maxPositions: 4096)
            case "shapes": c = .init(vocabularySize: 1118, hiddenSize: 256, intermediateSize: 768, layerCount: 4,
                                     attentionHeads: 4, keyValueHeads: 4, maxPositions: 1024)
            case "tiny": c = .init(vocabularySize: 1024, hiddenSize: 64, intermediateSize: 192, layerCount: 2,
                                   attentionHeads: 4, keyValueHeads: 2, maxPositions: 4096)
            default: throw UserError("--size must be 20m, shapes or tiny")
            }
            let model = TrainableTransformer(configuration: c, seed: 0)
            let parameters = model.parameters.values.reduce(0) { $0 + $1.count }
            var random = SeededGenerator(seed: 1)
            let rows = (0..<batch).map { _ in
                var row = TrainingExample(ids: (0...seq).map { _ in Int(random.next() % UInt64(c.vocabularySize)) },
                                          weights: [Float](repeating: 1, count: seq + 1))
                if exampleLength > 0 { row.exampleStarts = Array(stride(from: 0, through: seq, by: exampleLength)) }
                return row
            }
            let configuration = TrainingConfiguration(steps: steps + 1, batchSize: batch, sequenceLength: seq,
                                                      optimizer: .init(learningRate: 1e-4, weightDecay: 0.1),
                                                      isolatesExamples: exampleLength > 0)
            let trainer = NextTokenTrainer(model: model, rows: rows, configuration: configuration, paddingID: 0)
            Output.log("\(size): \(parameters) parameters, batch \(batch) x \(seq) tokens\(exampleLength > 0 ? " (isolated examples of \(exampleLength))" : ""), \(steps) timed steps")
            var times: [Double] = [], losses: [Float] = []
            for step in 0...steps {
                let metrics = trainer.trainStep()
                losses.append(metrics.loss)
                if step > 0 { times.append(metrics.seconds) }  // the first step warms up allocators
                Output.log("step \(step): loss \(metrics.loss), \(String(format: "%.2f", metrics.seconds)) s")
            }
            times.sort()
            let median = times[times.count / 2]
            var usage = rusage()
            getrusage(RUSAGE_SELF.rawValue, &usage)
            let result = Result(size: size, parameters: parameters, batch: batch, seq: seq, exampleLength: exampleLength, stepSecondsMedian: median,
                                tokensPerSecond: Double(batch * seq) / median, peakRSSMiB: Double(usage.ru_maxrss) / 1024,
                                losses: losses)
            if json {
                try Output.printJSON(result)
            } else {
                print(String(format: "%@: %.1f tokens/s (step %.2f s), peak RSS %.0f MiB", size, result.tokensPerSecond, median, result.peakRSSMiB))
            }
        }
    }
}
