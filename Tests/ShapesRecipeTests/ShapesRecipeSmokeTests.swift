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
}
