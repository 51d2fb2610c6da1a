import Foundation
import XCTest
import EmuTensor
import EmuIO
@testable import EmuTraining

/// A bigram language model (embedding -> linear head): small enough to reason about, real enough
/// to exercise the loop, accumulation and determinism.
struct BigramModel: NextTokenModel {
    let parameters: [String: Tensor]

    init(vocabulary: Int, width: Int, seed: UInt64) {
        var g = SeededGenerator(seed: seed)
        func random(_ shape: [Int]) -> Tensor {
            Tensor((0..<shape.reduce(1, *)).map { _ in Float(Double(g.next() % 2001) / 1000 - 1) * 0.5 }, shape: shape)
        }
        parameters = ["embed.weight": random([vocabulary, width]).requiringGradient(),
                      "head.weight": random([vocabulary, width]).requiringGradient()]
    }

    init(parameters: [String: Tensor]) {
        self.parameters = parameters.mapValues { $0.to(.float32).copy().requiringGradient() }
    }

    func logits(forTraining inputs: [[Int]], layout _: AttentionLayout?) -> Tensor {
        let ids = inputs.flatMap { $0 }
        let h = Tensor.embedding(ids, shape: [ids.count], table: parameters["embed.weight"]!)
        return h.linear(weight: parameters["head.weight"]!)
    }
}

final class NextTokenTrainerTests: XCTestCase {
    /// Sequences following a fixed cyclic successor rule: a learnable, deterministic task.
    func rows(count: Int, length: Int) -> [TrainingExample] {
        (0..<count).map { i in
            let ids = (0...length).map { (i + 3 * $0) % 11 }
            return TrainingExample(ids: ids, weights: [0] + Array(repeating: 1, count: length))
        }
    }

    func testLossFallsToNearZeroOnADeterministicTask() {
        let model = BigramModel(vocabulary: 11, width: 16, seed: 1)
        let config = TrainingConfiguration(steps: 150, batchSize: 4, sequenceLength: 8,
                                           optimizer: .init(learningRate: 5e-2, weightDecay: 0), seed: 3)
        let trainer = NextTokenTrainer(model: model, rows: rows(count: 11, length: 8), configuration: config, paddingID: 0)
        let first = trainer.trainStep().loss
        var last: Float = first
        for _ in 1..<config.steps { last = trainer.trainStep().loss }
        XCTAssertGreaterThan(first, 2.0)        // ~log(11) at initialization
        XCTAssertLessThan(last, 0.05)
    }

    func testAccumulationEqualsOneLargeBatch() {
        let data = rows(count: 8, length: 6)
        func run(batch: Int, accumulation: Int) -> [Float] {
            let model = BigramModel(vocabulary: 11, width: 8, seed: 9)
            let config = TrainingConfiguration(steps: 3, batchSize: batch, gradientAccumulation: accumulation,
                                               sequenceLength: 6, optimizer: .init(learningRate: 1e-2), seed: 5)
            let trainer = NextTokenTrainer(model: model, rows: data, configuration: config, paddingID: 0)
            for _ in 0..<3 { trainer.trainStep() }
            return model.parameters["head.weight"]!.toArray()
        }
        let big = run(batch: 4, accumulation: 1), accumulated = run(batch: 2, accumulation: 2)
        let maxDiff = zip(big, accumulated).map { abs($0 - $1) }.max()!
        XCTAssertLessThan(maxDiff, 1e-5)
    }

    /// Six steps straight equal three steps, a save, a fresh process-like reload, three more steps.
    func testResumeContinuesBitForBit() throws {
        let data = rows(count: 7, length: 6)
        let config = TrainingConfiguration(steps: 6, batchSize: 2, sequenceLength: 6,
                                           optimizer: .init(learningRate: 2e-2), seed: 11)
        let straight = NextTokenTrainer(model: BigramModel(vocabulary: 11, width: 8, seed: 4), rows: data,
                                        configuration: config, paddingID: 0)
        let expected = (0..<6).map { _ in straight.trainStep().loss }

        let first = NextTokenTrainer(model: BigramModel(vocabulary: 11, width: 8, seed: 4), rows: data,
                                     configuration: config, paddingID: 0)
        var losses = (0..<3).map { _ in first.trainStep().loss }
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("resume-\(UUID())")
        defer { try? FileManager.default.removeItem(at: folder) }
        try TrainingCheckpoint.save(to: folder, weights: first.model.parameters, config: Data("{}".utf8),
                                    sourceFolder: nil, extraFiles: [], optimizer: first.optimizer,
                                    state: TrainerState(step: first.step, configuration: config, kind: "lm"))

        let saved = try SafetensorsFile(path: folder.appendingPathComponent("model.safetensors").path).allTensors()
        let second = NextTokenTrainer(model: BigramModel(parameters: saved), rows: data, configuration: config, paddingID: 0)
        let state = try TrainingCheckpoint.restore(from: folder, into: second.optimizer, kind: "lm")
        XCTAssertEqual(state.step, 3)
        XCTAssertEqual(second.step, 3)
        losses += (0..<3).map { _ in second.trainStep().loss }
        XCTAssertEqual(losses, expected)
        XCTAssertEqual(second.model.parameters["head.weight"]!.toArray(), straight.model.parameters["head.weight"]!.toArray())
        XCTAssertThrowsError(try TrainingCheckpoint.restore(from: folder, into: AdamW(), kind: "vq"))
    }

    /// A resumed run has no source folder: its saves keep the tokenizer and processor files of the
    /// checkpoint they replace (they used to drop them, leaving a folder transformers cannot load).
    func testSavesWithoutSourceKeepTheReplacedCheckpointsFiles() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("carry-\(UUID())")
        defer { try? FileManager.default.removeItem(at: root) }
        let source = root.appendingPathComponent("source"), folder = root.appendingPathComponent("run")
        try FileManager.default.createDirectory(at: source, withIntermediateDirectories: true)
        try Data("{\"model\": 1}".utf8).write(to: source.appendingPathComponent("tokenizer.json"))
        let model = BigramModel(vocabulary: 5, width: 4, seed: 1)
        let config = TrainingConfiguration(steps: 2, batchSize: 1, sequenceLength: 4, seed: 1)
        for origin in [source, nil] {
            try TrainingCheckpoint.save(to: folder, weights: model.parameters, config: Data("{}".utf8),
                                        sourceFolder: origin, extraFiles: ["tokenizer.json", "processor_config.json"],
                                        optimizer: AdamW(), state: TrainerState(step: 1, configuration: config, kind: "lm"))
            XCTAssertEqual(try Data(contentsOf: folder.appendingPathComponent("tokenizer.json")), Data("{\"model\": 1}".utf8))
            XCTAssertFalse(FileManager.default.fileExists(atPath: folder.appendingPathComponent("processor_config.json").path))
        }
    }

    func testSameSeedSameLossesBitForBit() {
        func losses() -> [Float] {
            let model = BigramModel(vocabulary: 11, width: 8, seed: 2)
            let trainer = NextTokenTrainer(model: model, rows: rows(count: 5, length: 6),
                                           configuration: TrainingConfiguration(steps: 5, batchSize: 2, sequenceLength: 6, seed: 4),
                                           paddingID: 0)
            return (0..<5).map { _ in trainer.trainStep().loss }
        }
        XCTAssertEqual(losses(), losses())
    }

    /// Context noise replaces noisable inputs only, by tokens of its range, at the rate it says on
    /// average, the same for the same step (resuming replays it); targets and weights stay true.
    func testContextNoiseReplacesNoisableInputsOnly() {
        let length = 64
        let data = (0..<40).map { i -> TrainingExample in
            let ids = (0...length).map { (i + $0) % 11 }
            // Odd positions noisable; half the rows have no noisable tokens at all.
            return TrainingExample(ids: ids, weights: [0] + Array(repeating: 1, count: length),
                                   noisable: i % 2 == 0 ? ids.indices.map { $0 % 2 == 1 } : [])
        }
        let rows = try! SequencePacker(length: length, paddingID: 0).pack(data)
        func trainer(noise: TrainingConfiguration.ContextNoise?) -> NextTokenTrainer<BigramModel> {
            NextTokenTrainer(model: BigramModel(vocabulary: 11, width: 4, seed: 1), rows: rows,
                             configuration: TrainingConfiguration(steps: 10, batchSize: 40, sequenceLength: length, seed: 2,
                                                                  contextNoise: noise),
                             paddingID: 0)
        }
        let clean = trainer(noise: nil).microBatch(step: 0, micro: 0)
        let noisy = trainer(noise: .init(maxRate: 0.5, replacements: 100..<120))
        let batch = noisy.microBatch(step: 0, micro: 0)
        XCTAssertEqual(batch.targets, clean.targets)
        XCTAssertEqual(batch.weights, clean.weights)
        var replaced = 0, noisable = 0
        for row in batch.inputs.indices {
            for i in batch.inputs[row].indices {
                let flagged = !batch.noisable[row].isEmpty && batch.noisable[row][i]
                if batch.inputs[row][i] != clean.inputs[row][i] {
                    XCTAssertTrue(flagged, "row \(row) position \(i) is not noisable but changed")
                    XCTAssertTrue((100..<120).contains(batch.inputs[row][i]))
                    replaced += 1
                }
                if flagged { noisable += 1 }
            }
        }
        // Rates are drawn uniformly in [0, 0.5] per row: a quarter on average (640 noisable inputs).
        XCTAssertEqual(noisable, 20 * 32)
        XCTAssertEqual(Double(replaced) / Double(noisable), 0.25, accuracy: 0.1)
        XCTAssertEqual(noisy.microBatch(step: 0, micro: 0), batch)
        XCTAssertNotEqual(noisy.microBatch(step: 1, micro: 0).inputs, trainer(noise: nil).microBatch(step: 1, micro: 0).inputs)
    }

    /// Rows of 32 tokens over 11 ids whose inputs after position 2 are noisable, a bigram model, and
    /// the replacement range its guesses are drawn from.
    static func guessingFixture() -> (length: Int, rows: [TrainingExample], model: BigramModel, replacements: Range<Int>) {
        let length = 32
        let data = (0..<8).map { i -> TrainingExample in
            let ids = (0...length).map { (i * 5 + $0 * 3) % 11 }
            return TrainingExample(ids: ids, weights: [0] + Array(repeating: 1, count: length), noisable: ids.indices.map { $0 > 2 })
        }
        return (length, try! SequencePacker(length: length, paddingID: 0).pack(data), BigramModel(vocabulary: 11, width: 4, seed: 6), 4..<9)
    }

    /// With the model's own predictions as the noise, a replaced input is the model's most likely
    /// token of the replacement range at the position before it, given the true inputs (a bigram
    /// model's prediction depends on the previous input only, so it is computed here directly).
    func testModelPredictionNoiseUsesTheModelsOneStepGuess() {
        let (length, rows, model, replacements) = Self.guessingFixture()
        let trainer = NextTokenTrainer(model: model, rows: rows,
                                       configuration: TrainingConfiguration(steps: 2, batchSize: 8, sequenceLength: length, seed: 1,
                                                                            contextNoise: .init(source: .modelPredictions, maxRate: 1, replacements: replacements)),
                                       paddingID: 0)
        let clean = NextTokenTrainer(model: model, rows: rows, configuration: TrainingConfiguration(steps: 2, batchSize: 8, sequenceLength: length, seed: 1),
                                     paddingID: 0).microBatch(step: 0, micro: 0)
        let batch = trainer.microBatch(step: 0, micro: 0)
        let logits = Autograd.withoutGradients { model.logits(forTraining: [Array(0..<11)]) }.toArray()
        func guess(after token: Int) -> Int { replacements.max { logits[token * 11 + $0] < logits[token * 11 + $1] }! }
        var replaced = 0
        for row in batch.inputs.indices {
            XCTAssertEqual(Array(batch.inputs[row].prefix(3)), Array(clean.inputs[row].prefix(3)), "positions 0-2 are not noisable")
            for i in 3..<length where batch.inputs[row][i] != clean.inputs[row][i] {
                XCTAssertEqual(batch.inputs[row][i], guess(after: clean.inputs[row][i - 1]), "row \(row) position \(i)")
                replaced += 1
            }
        }
        XCTAssertGreaterThan(replaced, 20)
        XCTAssertEqual(batch.targets, clean.targets)
        XCTAssertEqual(trainer.microBatch(step: 0, micro: 0), batch, "the same weights and step give the same noise")
    }

    /// A roll-out replaces every noisable input of the rows it picks (a share `maxRate` of them)
    /// and leaves the others true. One pass puts the model's one-step guess after each true input;
    /// with as many passes as there are inputs, each input is the model's guess after the input
    /// before it as the roll-out left it (a fixed point: greedy decoding's own continuation), which
    /// differs from the one-step guess.
    func testModelRolloutIsTheModelsGreedyContinuation() {
        let (length, rows, model, replacements) = Self.guessingFixture()
        func batch(rate: Double? = nil, passes: Int = 1) -> PackedBatch {
            let noise = rate.map { TrainingConfiguration.ContextNoise(source: .modelRollout, maxRate: $0, replacements: replacements, passes: passes) }
            return NextTokenTrainer(model: model, rows: rows,
                                    configuration: TrainingConfiguration(steps: 2, batchSize: 8, sequenceLength: length, seed: 1, contextNoise: noise),
                                    paddingID: 0).microBatch(step: 0, micro: 0)
        }
        let logits = Autograd.withoutGradients { model.logits(forTraining: [Array(0..<11)]) }.toArray()
        func guess(after token: Int) -> Int { replacements.max { logits[token * 11 + $0] < logits[token * 11 + $1] }! }
        let clean = batch(), once = batch(rate: 1), rolled = batch(rate: 1, passes: length)
        var unlikeOneStep = 0
        for row in rolled.inputs.indices {
            XCTAssertEqual(Array(rolled.inputs[row].prefix(3)), Array(clean.inputs[row].prefix(3)), "positions 0-2 are not noisable")
            for i in 3..<length {
                XCTAssertEqual(once.inputs[row][i], guess(after: clean.inputs[row][i - 1]), "one pass: row \(row) position \(i)")
                XCTAssertEqual(rolled.inputs[row][i], guess(after: rolled.inputs[row][i - 1]), "roll-out: row \(row) position \(i)")
                if rolled.inputs[row][i] != once.inputs[row][i] { unlikeOneStep += 1 }
            }
        }
        XCTAssertGreaterThan(unlikeOneStep, 0, "a roll-out builds on its own guesses")
        XCTAssertEqual(rolled.targets, clean.targets)
        // At half the rate, some rows are rolled out whole and the others stay true.
        let half = batch(rate: 0.5, passes: length)
        let kept = half.inputs.indices.filter { half.inputs[$0] == clean.inputs[$0] }
        let whole = half.inputs.indices.filter { half.inputs[$0] == rolled.inputs[$0] }
        XCTAssertEqual(kept.count + whole.count, half.inputs.count)
        XCTAssertFalse(kept.isEmpty || whole.isEmpty, "kept \(kept), rolled \(whole)")
    }
}
