import Foundation
import XCTest
import EmuTensor
import Emu3
@testable import EmuTraining

/// Examples packed into one row and isolated (`TrainingConfiguration.isolatesExamples`) must train
/// exactly as each would alone: the same logits and the same parameter gradients. Rows are long
/// enough that examples straddle the attention kernel's query tiles (64) in both passes.
final class ExampleIsolationTests: XCTestCase {
    static let configuration = Transformer.Configuration(vocabularySize: 40, hiddenSize: 32, intermediateSize: 48, layerCount: 2,
                                                         attentionHeads: 4, keyValueHeads: 2)

    /// Three examples of 41, 90 and 20 tokens, random ids, text and vision-like weights.
    func examples() -> [TrainingExample] {
        var g = SeededGenerator(seed: 11)
        return [41, 90, 20].map { n in
            let ids = (0..<n).map { _ in Int(g.next() % 39) + 1 }
            let weights = (0..<n).map { i in i == 0 ? Float(0) : (g.next() % 4 == 0 ? 0.5 : 1) }
            return TrainingExample(ids: ids, weights: weights)
        }
    }

    func testPackerRecordsWhereExamplesStart() throws {
        let packer = SequencePacker(length: 160, paddingID: 0)
        let rows = try packer.pack(examples())
        XCTAssertEqual(rows.count, 1)
        XCTAssertEqual(rows[0].exampleStarts, [0, 41, 131, 151], "three examples, then the padding tail")
        let batch = packer.batches(rows, batchSize: 1)[0]
        let firsts = batch.firstVisiblePositions
        XCTAssertEqual(firsts.count, 160)
        XCTAssertEqual(firsts[0], 0); XCTAssertEqual(firsts[40], 0)
        XCTAssertEqual(firsts[41], 41); XCTAssertEqual(firsts[130], 41)
        XCTAssertEqual(firsts[131], 131); XCTAssertEqual(firsts[150], 131)
        XCTAssertEqual(firsts[151], 151); XCTAssertEqual(firsts[159], 151)
        // A row filled exactly has no padding start; a second row starts over at 0.
        let full = try SequencePacker(length: 40, paddingID: 0).pack([examples()[0], examples()[2]])
        XCTAssertEqual(full.map(\.exampleStarts), [[0], [0, 20]])
    }

    func testIsolatedPackedRowTrainsAsEachExampleAlone() throws {
        let packer = SequencePacker(length: 160, paddingID: 0)
        let batch = packer.batches(try packer.pack(examples()), batchSize: 1)[0]
        let starts = [0, 41, 131]

        // Packed and isolated: logits and gradients of the row's weighted loss.
        let packed = TrainableTransformer(configuration: Self.configuration, seed: 5)
        let packedLogits = packed.logits(forTraining: batch.inputs, firstVisiblePositions: batch.firstVisiblePositions)
        let loss = CrossEntropy.loss(logits: packedLogits, targets: batch.targets[0], weights: batch.weights[0])
        loss.backward()
        let rowLogits = packedLogits.toArray()
        let totalWeight = batch.weights[0].reduce(0, +)

        // Each example alone, its loss scaled by its share of the row's weight: the same sum.
        let alone = TrainableTransformer(configuration: Self.configuration, seed: 5)
        let v = Self.configuration.vocabularySize
        var worstLogit: Float = 0
        for (example, start) in zip(examples(), starts) {
            let inputs = Array(example.ids.dropLast()), targets = Array(example.ids.dropFirst())
            let weights = Array(example.weights.dropFirst())
            let logits = alone.logits(forTraining: [inputs])
            let own = logits.toArray()
            for i in 0..<(inputs.count * v) {
                worstLogit = max(worstLogit, abs(own[i] - rowLogits[start * v + i]) / (1e-4 + 1e-4 * abs(own[i])))
            }
            let share = weights.reduce(0, +) / totalWeight
            CrossEntropy.loss(logits: logits, targets: targets, weights: weights).scaled(by: share).backward()
        }
        XCTAssertLessThanOrEqual(worstLogit, 1, "logits within 1e-4 abs + 1e-4 rel of each example's own")

        for (name, parameter) in packed.parameters.sorted(by: { $0.key < $1.key }) {
            let (g, r) = (parameter.grad!.toArray(), alone.parameters[name]!.grad!.toArray())
            let scale = r.map(abs).max()!
            let worst = zip(g, r).map { abs($0 - $1) }.max()!
            XCTAssertLessThanOrEqual(worst, 1e-4 * scale + 1e-7, "\(name): gradient within 1e-4 of its largest entry")
        }

        // Without isolation the later examples read the earlier ones: the mask matters.
        let open = packed.logits(forTraining: batch.inputs).toArray()
        XCTAssertEqual(Array(open[0..<(41 * v)]), Array(rowLogits[0..<(41 * v)]), "the first example sees nothing before it either way")
        let drift = (41 * v..<(131 * v)).map { abs(open[$0] - rowLogits[$0]) }.max()!
        XCTAssertGreaterThan(drift, 1e-3)
    }

    /// The trainer hands the model the packed rows' first visible positions only when asked to,
    /// in training steps, in evaluation and in the model's own context-noise passes.
    func testTrainerPassesFirstVisiblePositionsWhenIsolating() throws {
        let packer = SequencePacker(length: 12, paddingID: 0)
        let rows = try packer.pack((0..<6).map { i in
            TrainingExample(ids: [1, 2 + i % 3, 3, 4, 5], weights: [0, 1, 1, 1, 1], noisable: [false, true, true, true, true])
        })
        for isolating in [false, true] {
            let model = RecordingModel()
            let noise = TrainingConfiguration.ContextNoise(source: .modelPredictions, maxRate: 1, replacements: 1..<6)
            let trainer = NextTokenTrainer(model: model, rows: rows,
                                           configuration: TrainingConfiguration(steps: 1, batchSize: 2, sequenceLength: 12,
                                                                                contextNoise: noise, isolatesExamples: isolating),
                                           paddingID: 0)
            trainer.trainStep()
            _ = trainer.evaluate(packer.batches(rows, batchSize: 2))
            XCTAssertEqual(model.calls.count, 4, "noise pass, training step, evaluation of two batches")
            for seen in model.calls {
                if isolating {
                    XCTAssertEqual(seen.map { Array($0[0..<12]) }, [0, 0, 0, 0, 0, 5, 5, 5, 5, 5, 10, 10].map(Int32.init))
                } else {
                    XCTAssertNil(seen)
                }
            }
        }
        // Saved states from before the option decode as not isolating, and `false` encodes as before.
        XCTAssertNil(TrainingConfiguration(steps: 1).isolatesExamples)
        XCTAssertEqual(TrainingConfiguration(steps: 1, isolatesExamples: true).isolatesExamples, true)
    }
}

/// A bigram model that records what each forward pass was told about attention.
final class RecordingModel: NextTokenModel {
    let inner = BigramModel(vocabulary: 8, width: 4, seed: 1)
    var calls: [[Int32]?] = []
    var parameters: [String: Tensor] { inner.parameters }

    func logits(forTraining inputs: [[Int]], firstVisiblePositions: [Int32]?) -> Tensor {
        calls.append(firstVisiblePositions)
        return inner.logits(forTraining: inputs, firstVisiblePositions: firstVisiblePositions)
    }
}
