import EmuTraining
import Foundation
import XCTest
@testable import ShapesRecipe

/// `--video-context-noise`: video frames are the noisable tokens, and the setting reaches the
/// trainer, the saved settings and the model card's command.
final class VideoContextNoiseTests: XCTestCase {
    func testVideoFramesVisualTokensAreTheNoisableOnes() {
        let layout = ShapesSequences(vocabulary: ShapesVocabulary(words: ["a", "red", "circle"], codebookSize: 16), rows: 2, columns: 2)
        let frames = [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 10, 15]]
        let video = layout.videoExample(frames: frames, prefixFrames: 1)
        XCTAssertEqual(video.noisable.count, video.ids.count)
        // Every frame's codes, given or predicted, in order; no structural token (BOS, header, EOL, EOF, EOI, EOS).
        XCTAssertEqual(layout.codes(in: zip(video.ids, video.noisable).filter(\.1).map(\.0)), frames.flatMap { $0 })
        XCTAssertEqual(layout.codes(in: zip(video.ids, video.noisable).filter { !$0.1 }.map(\.0)), [])
        // With the model's predictions as the noise, only the frames it writes: the given one stays true.
        let written = layout.videoExample(frames: frames, prefixFrames: 1, noisablePrefix: false)
        XCTAssertEqual(written.ids, video.ids)
        XCTAssertEqual(layout.codes(in: zip(written.ids, written.noisable).filter(\.1).map(\.0)), Array(frames.dropFirst().joined()))
        XCTAssertEqual(layout.vocabulary.visualTokenRange.count, 16)
        XCTAssertEqual(Array(layout.vocabulary.visualTokenRange), layout.vocabulary.visualTokens)
        // Pictures other tasks condition on are never noised (their context is true at inference).
        XCTAssertEqual(layout.textToImageExample(caption: "a red circle", codes: [1, 2, 3, 4]).noisable, [])
    }

    func testNoiseSettingChangesTrainingAndIsSaved() throws {
        var settings = ShapesRecipe.Settings.smoke
        settings.steps = 6
        settings.tasks = [.video]
        settings.codec = .patch
        settings.blankCells = false
        let clean = try ShapesRecipe(settings: settings, log: { _ in }).run(output: temporaryFolder("vnoise-clean"))
        settings.videoContextNoise = 0.5
        let folder = temporaryFolder("vnoise")
        let noisy = try ShapesRecipe(settings: settings, log: { _ in }).run(output: folder)
        // Same seed, data and initial weights: the first loss differs only through the noised inputs.
        XCTAssertNotEqual(noisy.firstLoss, clean.firstLoss)
        let saved = try JSONDecoder().decode(ShapesRecipe.Settings.self,
                                             from: Data(contentsOf: folder.appendingPathComponent("recipe_settings.json")))
        XCTAssertEqual(saved.videoContextNoise, 0.5)
        XCTAssertTrue(ShapesCheckpointWriter.recipeCommand(saved).contains("--video-context-noise 0.5"))
        var off = saved
        off.videoContextNoise = 0
        XCTAssertFalse(ShapesCheckpointWriter.recipeCommand(off).contains("video-context"), "no noise is the default: no flag")

        // The model's own predictions as the noise: another run again, and named in the command.
        settings.videoContextSource = .modelPredictions
        let ownFolder = temporaryFolder("vnoise-own")
        let own = try ShapesRecipe(settings: settings, log: { _ in }).run(output: ownFolder)
        XCTAssertNotEqual(own.firstLoss, noisy.firstLoss)
        XCTAssertNotEqual(own.firstLoss, clean.firstLoss)
        let ownSaved = try JSONDecoder().decode(ShapesRecipe.Settings.self,
                                                from: Data(contentsOf: ownFolder.appendingPathComponent("recipe_settings.json")))
        XCTAssertTrue(ShapesCheckpointWriter.recipeCommand(ownSaved).contains("--video-context-noise 0.5 --video-context-source model"))

        // Its greedy roll-out, one pass per written frame: with two written frames, another run
        // than the one-step guesses on the same clips, and named in the command.
        settings.videoPrefixFrames = 1
        let ownTwice = try ShapesRecipe(settings: settings, log: { _ in }).run(output: temporaryFolder("vnoise-own-1"))
        settings.videoContextSource = .modelRollout
        let rolledFolder = temporaryFolder("vnoise-rollout")
        let rolled = try ShapesRecipe(settings: settings, log: { _ in }).run(output: rolledFolder)
        XCTAssertNotEqual(rolled.firstLoss, ownTwice.firstLoss)
        let rolledSaved = try JSONDecoder().decode(ShapesRecipe.Settings.self,
                                                   from: Data(contentsOf: rolledFolder.appendingPathComponent("recipe_settings.json")))
        XCTAssertEqual(rolledSaved.videoContextSource, .modelRollout)
        XCTAssertTrue(ShapesCheckpointWriter.recipeCommand(rolledSaved).contains("--video-context-noise 0.5 --video-context-source rollout"))
    }
}
