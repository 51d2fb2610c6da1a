import Emu3
import EmuTensor
import EmuTraining
import Foundation
import ShapesWorld
import XCTest
@testable import ShapesRecipe

final class ShapesRecipeSmokeTests: XCTestCase {
    /// A tiny run of the whole recipe: the loss falls, and the written folder reloads through
    /// Emu3Pipeline and answers every task with well-formed output.
    func testTinyRecipeLearnsAndTheCheckpointReloads() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("shapes-smoke-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: folder) }
        let outcome = try ShapesRecipe(settings: .smoke, log: { _ in }).run(output: folder)
        XCTAssertEqual(outcome.steps, ShapesRecipe.Settings.smoke.steps)
        // The initial loss is about log(vocabulary); 30 steps must cut it clearly.
        XCTAssertLessThan(outcome.finalLoss, outcome.firstLoss * 0.7, "loss \(outcome.firstLoss) -> \(outcome.finalLoss)")

        let model = try ShapesModel(directory: folder)
        let image = try model.generateImage("a red circle", guidance: 2)
        XCTAssertEqual([image.width, image.height], [64, 64])
        let scene = TaskData.captionedImages(.heldOut, count: 1)[0]
        _ = try model.answer(QuestionGenerator.describePrompt, about: scene.image, maxTokens: 8)
        let clip = TaskData.videoClips(.heldOut, count: 1, frameCount: 3)[0]
        XCTAssertEqual(try model.continueVideo(Array(clip.frames.prefix(2)), count: 1).count, 1)
        let task = TaskData.actionTasks(.heldOut, count: 1)[0]
        XCTAssertTrue(Action.allCases.contains(try model.action(for: task.instruction.text, seeing: task.world.render())))
    }

    /// The training graph computes what the inference Transformer computes: logits of the trainable
    /// decoder equal those of the same weights loaded into `Transformer` (float32, tolerance 1e-4),
    /// including a second packed example whose positions restart at its BOS.
    func testTrainableDecoderMatchesInferenceTransformer() throws {
        let c = Transformer.Configuration(vocabularySize: 40, hiddenSize: 16, intermediateSize: 24, layerCount: 2,
                                          attentionHeads: 2, keyValueHeads: 2, maxPositions: 64, ropeTheta: 10_000)
        let bos = 1
        let model = TrainableEmu3(configuration: c, beginOfSequence: bos, seed: 3)
        // Larger weights than the init, so the comparison is not dominated by near-zero logits.
        for (name, p) in model.parameters where !name.contains("norm") {
            let w = p.mutableFloats
            for i in 0..<w.count { w[i] *= 20 }
        }
        let first = [bos, 5, 9, 12, 7], second = [bos, 30, 2, 8]
        let training = Autograd.withoutGradients { model.logits(forTraining: [first + second]) }.toArray()
        let store = try WeightStore(tensors: model.weights())
        let transformer = try Transformer(configuration: c, checkpoint: store)
        for (sequence, offset) in [(first, 0), (second, first.count)] {
            let logits = try transformer.forward(sequence, cache: transformer.makeCache(), logitRows: Array(0..<sequence.count)).toArray()
            for i in 0..<logits.count {
                XCTAssertEqual(training[offset * c.vocabularySize + i], logits[i], accuracy: 1e-4 * max(1, abs(logits[i])))
            }
        }
    }
}
