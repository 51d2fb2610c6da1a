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
        let packedLogits = packed.logits(forTraining: batch.inputs, layout: batch.isolatedLayout)
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

    /// A conversation of a 30-token prefix (the picture) and turns of 25, 50 and 40 tokens, packed
    /// after an unrelated 20-token example, with isolated turns: every turn computes what the
    /// prefix followed by that turn alone computes (logits within 1e-4 abs + 1e-4 rel), and the
    /// row's gradients are the sum of those examples' (within 1e-4 of the largest entry). Turns
    /// cross the kernel's 64-query tiles.
    func testIsolatedTurnsTrainAsEachQuestionAskedAlone() throws {
        var g = SeededGenerator(seed: 17)
        func tokens(_ n: Int) -> [Int] { (0..<n).map { _ in Int(g.next() % 39) + 1 } }
        func weights(_ n: Int) -> [Float] { (0..<n).map { i in i == 0 ? 0 : (g.next() % 3 == 0 ? 0.5 : 1) } }
        let other = TrainingExample(ids: tokens(20), weights: weights(20))
        let prefix = tokens(30)
        let turns = [25, 50, 40].map { n in (ids: tokens(n), weights: weights(n)) }
        var conversation = TrainingExample(ids: prefix + turns.flatMap(\.ids),
                                           weights: [Float](repeating: 0, count: 30) + turns.flatMap(\.weights))
        conversation.turnStarts = [30, 55, 105]
        let packer = SequencePacker(length: 170, paddingID: 0)
        let rows = try packer.pack([other, conversation])
        XCTAssertEqual(rows.count, 1)
        XCTAssertEqual(rows[0].turnStarts, [50, 75, 125], "turns at row positions")
        let batch = packer.batches(rows, batchSize: 1)[0]
        let layout = batch.isolatedLayout
        XCTAssertEqual(layout.positions?[0][125], 50, "the third turn sits right after the prefix, as the first does")

        let packed = TrainableTransformer(configuration: Self.configuration, seed: 9)
        let rowLogits = packed.logits(forTraining: batch.inputs, layout: layout)
        CrossEntropy.loss(logits: rowLogits, targets: batch.targets[0], weights: batch.weights[0]).backward()
        let packedValues = rowLogits.toArray()
        let totalWeight = batch.weights[0].reduce(0, +)

        // The unrelated example, then the prefix with each turn, each alone.
        let alone = TrainableTransformer(configuration: Self.configuration, seed: 9)
        let v = Self.configuration.vocabularySize
        var worst: Float = 0
        let singles: [(TrainingExample, Int, Int)] = [(other, 0, 0)] + turns.enumerated().map { k, turn in
            (TrainingExample(ids: prefix + turn.ids, weights: [Float](repeating: 0, count: 30) + turn.weights),
             20 + [30, 55, 105][k], 30)
        }
        for (example, rowStart, ownStart) in singles {
            let inputs = Array(example.ids.dropLast())
            let logits = alone.logits(forTraining: [inputs])
            let own = logits.toArray()
            // The turn's own positions (and for the first turn and the other example, all of them).
            let from = rowStart == 0 || rowStart == 50 ? 0 : ownStart
            for i in from..<inputs.count {
                let r = rowStart - ownStart + i
                for c in 0..<v {
                    worst = max(worst, abs(own[i * v + c] - packedValues[r * v + c]) / (1e-4 + 1e-4 * abs(own[i * v + c])))
                }
            }
            let w = Array(example.weights.dropFirst())
            CrossEntropy.loss(logits: logits, targets: Array(example.ids.dropFirst()), weights: w)
                .scaled(by: w.reduce(0, +) / totalWeight).backward()
        }
        XCTAssertLessThanOrEqual(worst, 1, "every turn's logits within 1e-4 abs + 1e-4 rel of the question asked alone")
        for (name, parameter) in packed.parameters.sorted(by: { $0.key < $1.key }) {
            let (a, r) = (parameter.grad!.toArray(), alone.parameters[name]!.grad!.toArray())
            let scale = r.map(abs).max()!
            XCTAssertLessThanOrEqual(zip(a, r).map { abs($0 - $1) }.max()!, 1e-4 * scale + 1e-7, "\(name): gradient within 1e-4 of its largest entry")
        }

        // Without isolated turns the later turns read the earlier ones: the holes matter.
        let open = packed.logits(forTraining: batch.inputs, layout: AttentionLayout(firstVisibleKeys: layout.firstVisibleKeys)).toArray()
        let drift = (125 * v..<(165 * v)).map { abs(open[$0] - packedValues[$0]) }.max()!
        XCTAssertGreaterThan(drift, 1e-3)
    }

    /// The packer moves turns to row positions, zeroes the weight of every later turn's first
    /// token (its context, the turn before, is hidden from it), and refuses turns out of order.
    func testPackerPlacesTurnsAndRefusesBadOnes() throws {
        var conversation = TrainingExample(ids: Array(1...10), weights: [Float](repeating: 1, count: 10))
        conversation.turnStarts = [3, 6, 8]
        let packer = SequencePacker(length: 20, paddingID: 0)
        let row = try packer.pack([TrainingExample(ids: [1, 2, 3], weights: [0, 1, 1]), conversation])[0]
        XCTAssertEqual(row.turnStarts, [6, 9, 11])
        XCTAssertEqual(Array(row.weights[3..<13]), [0, 1, 1, 1, 1, 1, 0, 1, 0, 1], "example start and turns 2-3 unweighted; turn 1 kept")
        let layout = packer.batches([row], batchSize: 1)[0].isolatedLayout
        let hidden = layout.hiddenKeys!
        XCTAssertEqual(Array(hidden[(2 * 8)..<(2 * 9)]), [0, 0], "the first turn hides nothing")
        XCTAssertEqual(Array(hidden[(2 * 10)..<(2 * 11)]), [6, 9], "the second turn hides the first")
        XCTAssertEqual(Array(hidden[(2 * 12)..<(2 * 13)]), [6, 11], "the third hides both")
        XCTAssertEqual(layout.positions![0][9...12], [6, 7, 6, 7])
        XCTAssertEqual(layout.positions![0][13], 13, "the padding keeps its index")
        for bad in [[0, 4], [5, 5], [4, 3], [3, 10]] {
            var e = conversation
            e.turnStarts = bad
            XCTAssertThrowsError(try packer.pack([e]), "\(bad)") { error in
                XCTAssertTrue("\(error)".contains("turns starting at"), "\(error)")
            }
        }
        // A row without turns keeps the plain layout (bit for bit what isolation without turns computes).
        let plain = packer.batches(try packer.pack([TrainingExample(ids: [1, 2, 3], weights: [0, 1, 1])]), batchSize: 1)[0]
        XCTAssertNil(plain.isolatedLayout.hiddenKeys)
        XCTAssertNil(plain.isolatedLayout.positions)
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

    func logits(forTraining inputs: [[Int]], layout: AttentionLayout?) -> Tensor {
        calls.append(layout?.firstVisibleKeys)
        return inner.logits(forTraining: inputs, layout: layout)
    }
}
