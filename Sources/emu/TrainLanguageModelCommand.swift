import ArgumentParser
import Emu3
import EmuIO
import EmuTensor
import EmuTokenizers
import EmuTraining
import Foundation

/// `emu train lm`: next-token training of the Emu3 transformer on token shards (captions with
/// image code grids, from `emu vq encode`) and text files, from a size preset or fine-tuning
/// `--from` a checkpoint. Writes an -hf checkpoint folder (plus optimizer state) to `--output`.
struct TrainLanguageModelCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "lm", abstract: "Train the transformer (next-token loss).")

    enum Preset: String, ExpressibleByArgument, CaseIterable {
        case tiny, m20 = "20m"
    }

    enum Task: String, ExpressibleByArgument, CaseIterable {
        case generation, captioning, both
    }

    @Option(name: .long, parsing: .upToNextOption,
            help: "Token shards: JSON Lines files or folders of *.jsonl, one {\"caption\", \"codes\": [[[...]]]} per line.")
    var data: [String] = []

    @Option(name: .long, parsing: .upToNextOption, help: "Plain-text files: each non-empty line is one text example.")
    var text: [String] = []

    @Option(name: .long, help: "Fine-tune this checkpoint folder (-hf layout).")
    var from: String?

    @Option(name: .long, help: "Train a fresh transformer of this size (tiny or 20m) with the vocabulary, tokenizer and vision tokenizer of --model.")
    var preset: Preset?

    @Option(name: .long, help: "With --preset: the checkpoint folder that supplies vocabulary, tokenizer and vision tokenizer.")
    var model: String?

    @Option(name: .long, help: "Output checkpoint folder (replaced atomically at every save).")
    var output: String

    @Option(name: .long, help: "Optimizer steps.") var steps = 100
    @Option(name: .long, help: "Rows per micro-batch.") var batchSize = 4
    @Option(name: .long, help: "Micro-batches per optimizer step.") var accumulation = 1
    @Option(name: .long, help: "Tokens per packed row.") var sequenceLength = 512
    @Option(name: .long, help: "Peak learning rate.") var learningRate: Float = 3e-4
    @Option(name: .long, help: "AdamW decoupled weight decay (not on norms).") var weightDecay: Float = 0.1
    @Option(name: .long, help: "Warmup steps (default 5% of --steps).") var warmup: Int?
    @Option(name: .long, help: "Clip gradients to this global norm.") var maxGradientNorm: Float = 1
    @Option(name: .long, help: "Seed of initialization, shuffling and caption dropout.") var seed: UInt64 = 0
    @Option(name: .long, help: "Evaluate the held-out loss every N steps (0: only at the end).") var evalInterval = 0
    @Option(name: .long, help: "Fraction of examples held out for evaluation.") var evalFraction = 0.05
    @Option(name: .long, help: "Save a checkpoint every N steps (0: only at the end).") var saveInterval = 0
    @Option(name: .long, help: "Which layouts to build from captioned codes.") var task: Task = .generation
    @Option(name: .long, help: "Loss weight of vision tokens (the paper: 0.5).") var visionWeight: Float = 0.5
    @Flag(name: .long, help: "Supervise only the vision tokens (generation fine-tuning).") var visionOnly = false
    @Option(name: .long, help: "Probability of dropping a caption (classifier-free guidance).") var captionDropout = 0.05
    @Flag(name: .long, help: "Each example packed into a row attends only to itself, as when generating (default: also to the examples packed before it).") var isolateExamples = false
    @Option(name: .long, help: "JSON Lines metrics log (appended). Default: OUTPUT.metrics.jsonl.") var log: String?
    @Flag(name: .long, help: "Continue the run saved in --output bit for bit.") var resume = false
    @Flag(name: .long, help: "Print one JSON summary on stdout; progress goes to stderr.") var json = false

    struct Summary: Encodable {
        let output: String
        let steps: Int
        let parameters: Int
        let trainRows: Int
        let evaluationRows: Int
        let firstLoss: Float?
        let finalLoss: Float?
        let evaluationLoss: Float?
        let tokensPerSecond: Double
        let seconds: Double
    }

    static let carriedFiles = ["tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.json",
                               "merges.txt", "qwen.tiktoken", "processor_config.json", "preprocessor_config.json",
                               "chat_template.json", "chat_template.jinja", "generation_config.json"]

    func run() throws {
        try runReportingErrors {
            guard !data.isEmpty || !text.isEmpty else { throw UserError("give --data token shards and/or --text files") }
            guard (from == nil) != (preset == nil) else { throw UserError("give exactly one of --from CHECKPOINT and --preset SIZE") }
            guard preset == nil || model != nil else { throw UserError("--preset needs --model DIR for the vocabulary, tokenizer and vision tokenizer") }
            guard steps > 0, batchSize > 0, accumulation > 0, sequenceLength > 1 else { throw UserError("--steps, --batch-size, --accumulation must be positive and --sequence-length > 1") }
            let source = URL(fileURLWithPath: from ?? model!)
            let outputURL = URL(fileURLWithPath: output)
            let resuming = resume && FileManager.default.fileExists(atPath: outputURL.appendingPathComponent(TrainingCheckpoint.stateFile).path)
            if resume && !resuming { Output.log("no run saved in \(output): starting a new one") }

            // Vocabulary, tokenizer and layouts come from the source checkpoint.
            let tokenizerURL = source.appendingPathComponent("tokenizer.json")
            let tokenizer: (any TextTokenizing)? = FileManager.default.fileExists(atPath: tokenizerURL.path)
                ? try BPETokenizer(tokenizerJSON: tokenizerURL) : nil
            let pipeline = try Emu3Pipeline(directory: source, components: [], tokenizer: tokenizer)
            // Training reads code grids, so the pixel-to-code factor is never used.
            let processor = try pipeline.processor(spatialFactor: 8)
            var configJSON = try Self.readJSON(source.appendingPathComponent("config.json"))

            // The model: resumed, fine-tuned or fresh.
            let model: TrainableTransformer
            if resuming {
                let saved = try Self.readJSON(outputURL.appendingPathComponent("config.json"))
                configJSON = saved
                model = try TrainableTransformer(configuration: try Self.textConfiguration(saved), weights: try WeightStore.load(directory: output))
            } else if let preset {
                let base = try Self.textConfiguration(configJSON)
                let c = Self.configuration(preset, vocabularySize: base.vocabularySize)
                configJSON["text_config"] = Self.merged(configJSON["text_config"] as? [String: Any] ?? [:], with: c)
                model = TrainableTransformer(configuration: c, seed: seed)
            } else {
                model = try TrainableTransformer(configuration: try Self.textConfiguration(configJSON), weights: try WeightStore.load(directory: source.path))
            }
            let parameterCount = model.parameters.values.reduce(0) { $0 + $1.count }

            // Examples, held-out split and packing.
            let weights = visionOnly ? MultimodalExampleBuilder.Weights.visionOnly : .init(text: 1, vision: visionWeight)
            let builder = MultimodalExampleBuilder(processor: processor, weights: weights, captionDropout: captionDropout)
            var generator = SeededGenerator(seed: seed &+ 0x5eed)
            var examples: [TrainingExample] = []
            if !data.isEmpty {
                for record in try TokenShardDataset.load(paths: data) {
                    if task != .captioning {
                        examples.append(try builder.textToImage(caption: record.caption, codes: record.codes, generator: &generator))
                    }
                    if task != .generation { examples.append(try builder.imageToText(caption: record.caption, codes: record.codes)) }
                }
            }
            for path in text {
                guard let contents = try? String(contentsOfFile: path, encoding: .utf8) else { throw UserError("cannot read text file \(path)") }
                for line in contents.split(separator: "\n") where !line.trimmingCharacters(in: .whitespaces).isEmpty {
                    examples.append(try builder.text(String(line)))
                }
            }
            let (trainExamples, heldOut) = TokenShardDataset.split(examples, heldOutFraction: evalFraction, seed: seed)
            let packer = SequencePacker(length: sequenceLength, paddingID: pipeline.specials.endOfSequence)
            let trainRows = try packer.pack(trainExamples)
            let evalBatches = packer.batches(try packer.pack(heldOut), batchSize: batchSize)

            var configuration = TrainingConfiguration(
                steps: steps, batchSize: batchSize, gradientAccumulation: accumulation, sequenceLength: sequenceLength,
                optimizer: .init(learningRate: learningRate, weightDecay: weightDecay), maxGradientNorm: maxGradientNorm,
                seed: seed, evaluationInterval: evalInterval, checkpointInterval: saveInterval, isolatesExamples: isolateExamples)
            if let warmup { configuration.schedule.warmupSteps = warmup }
            let trainer = NextTokenTrainer(model: model, rows: trainRows, configuration: configuration, paddingID: pipeline.specials.endOfSequence)
            if resuming {
                let state = try TrainingCheckpoint.restore(from: outputURL, into: trainer.optimizer, kind: "lm")
                guard state.configuration == configuration else {
                    throw UserError("--resume: the options differ from the saved run's (\(output)/\(TrainingCheckpoint.stateFile))")
                }
                Output.log("resuming at step \(state.step)")
            }
            let configData = try JSONSerialization.data(withJSONObject: configJSON, options: [.prettyPrinted, .sortedKeys])
            let visionWeights = try Self.nonTextWeights(source)
            func save() throws {
                try TrainingCheckpoint.save(to: outputURL, weights: model.checkpointWeights().merging(visionWeights) { a, _ in a },
                                            config: configData, sourceFolder: resuming ? nil : source, extraFiles: Self.carriedFiles,
                                            optimizer: trainer.optimizer, state: TrainerState(step: trainer.step, configuration: configuration, kind: "lm"))
            }

            Output.log("\(parameterCount) parameters, \(trainRows.count) rows of \(sequenceLength + 1) tokens, \(evalBatches.count) eval batches")
            let logURL = URL(fileURLWithPath: log ?? output + ".metrics.jsonl")
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            let bar = ProgressBar(total: steps, label: "train lm", unit: "step")
            bar.advance(by: trainer.step)
            let started = Date()
            var (tokens, firstLoss, lastLoss, evalLoss) = (0, Float?.none, Float?.none, Float?.none)
            while trainer.step < steps {
                var metrics = trainer.trainStep()
                tokens += metrics.tokens
                firstLoss = firstLoss ?? metrics.loss
                lastLoss = metrics.loss
                let done = trainer.step
                if !evalBatches.isEmpty && ((evalInterval > 0 && done % evalInterval == 0) || done == steps) {
                    metrics.evaluationLoss = trainer.evaluate(evalBatches)
                    evalLoss = metrics.evaluationLoss
                }
                try Self.append(try encoder.encode(metrics), to: logURL)
                let rate = Double(tokens) / max(Date().timeIntervalSince(started), 1e-9)
                bar.advance(detail: String(format: "loss %.4f  %.0f tok/s", metrics.loss, rate))
                if (saveInterval > 0 && done % saveInterval == 0) || done == steps { try save() }
            }
            bar.finish()
            try Self.dumpLogits(model: model, rows: evalBatches.first?.inputs ?? [Array(trainRows[0].ids.dropLast())], to: outputURL)
            let seconds = Date().timeIntervalSince(started)
            let summary = Summary(output: output, steps: trainer.step, parameters: parameterCount, trainRows: trainRows.count,
                                  evaluationRows: evalBatches.reduce(0) { $0 + $1.batchSize }, firstLoss: firstLoss, finalLoss: lastLoss,
                                  evaluationLoss: evalLoss, tokensPerSecond: Double(tokens) / max(seconds, 1e-9), seconds: seconds)
            if json {
                try Output.printJSON(summary)
            } else {
                print("saved \(output): loss \(lastLoss.map { String($0) } ?? "-"), eval \(evalLoss.map { String($0) } ?? "-")")
            }
        }
    }

    /// Our logits for one row, beside the checkpoint, for scripts/reference/check_trained.py.
    static func dumpLogits(model: TrainableTransformer, rows: [[Int]], to folder: URL) throws {
        let ids = Array(rows[0].prefix(64))
        let logits = Autograd.withoutGradients { model.logits(forTraining: [ids]) }
        try SafetensorsWriter.write(["input_ids": Tensor(ints: ids.map { Int32($0) }, shape: [1, ids.count]), "logits": logits],
                                    to: folder.appendingPathComponent("emu_logits.safetensors").path)
    }

    /// The source checkpoint's weights that are not the text model's (the vision tokenizer), so
    /// the saved folder is a whole Emu3 checkpoint.
    static func nonTextWeights(_ folder: URL) throws -> [String: Tensor] {
        let store = try WeightStore.load(directory: folder.path)
        var out: [String: Tensor] = [:]
        for name in store.names where !name.hasPrefix("model.text_model.") && !name.hasPrefix("lm_head.") {
            out[name] = try store.tensor(name)
        }
        return out
    }

    static func configuration(_ preset: Preset, vocabularySize: Int) -> Transformer.Configuration {
        switch preset {
        case .tiny:
            return .init(vocabularySize: vocabularySize, hiddenSize: 64, intermediateSize: 192, layerCount: 2,
                         attentionHeads: 4, keyValueHeads: 2, maxPositions: 4096)
        case .m20:  // scripts/reference/bench_train.py's "20m" with the checkpoint's vocabulary
            return .init(vocabularySize: vocabularySize, hiddenSize: 384, intermediateSize: 1024, layerCount: 8,
                         attentionHeads: 6, keyValueHeads: 2, maxPositions: 4096)
        }
    }

    /// `text_config` with the preset's sizes written in transformers' names.
    static func merged(_ text: [String: Any], with c: Transformer.Configuration) -> [String: Any] {
        var t = text
        t["vocab_size"] = c.vocabularySize
        t["hidden_size"] = c.hiddenSize
        t["intermediate_size"] = c.intermediateSize
        t["num_hidden_layers"] = c.layerCount
        t["num_attention_heads"] = c.attentionHeads
        t["num_key_value_heads"] = c.keyValueHeads
        t["head_dim"] = c.headDim
        t["max_position_embeddings"] = c.maxPositions
        t["rms_norm_eps"] = Double(c.rmsNormEpsilon)
        t["rope_theta"] = Double(c.ropeTheta)
        t["attention_bias"] = false
        t["mlp_bias"] = false
        return t
    }

    static func textConfiguration(_ config: [String: Any]) throws -> Transformer.Configuration {
        guard let text = config["text_config"] else { throw UserError("config.json has no text_config") }
        return try JSONDecoder().decode(Transformer.Configuration.self, from: JSONSerialization.data(withJSONObject: text))
    }

    static func readJSON(_ url: URL) throws -> [String: Any] {
        guard let data = FileManager.default.contents(atPath: url.path),
              let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw UserError("cannot read \(url.path) as a JSON object")
        }
        return object
    }

    static func append(_ line: Data, to url: URL) throws {
        if !FileManager.default.fileExists(atPath: url.path) { FileManager.default.createFile(atPath: url.path, contents: nil) }
        guard let handle = try? FileHandle(forWritingTo: url) else { throw UserError("cannot write the metrics log \(url.path)") }
        defer { try? handle.close() }
        handle.seekToEndOfFile()
        handle.write(line + Data("\n".utf8))
    }
}
