import Foundation
import ShapesWorld
import XCTest
@testable import ShapesRecipe

/// `--locate-then-act`: action examples write where things are before the action span; the folder
/// says so; `ShapesModel.actions` reads the actions after it.
final class LocateThenActTests: XCTestCase {
    /// A tiny recipe with the option: config.json, vocabulary and card say so; the training examples
    /// hold the situation between the prompt and BOA; the model writes only situation words, at
    /// most `maximumWords`, then its actions; bad config entries are refused by name.
    func testRecipeTeachesTheSituationAndTheModelActsAfterIt() throws {
        let folder = temporaryFolder("locate-first")
        var settings = ShapesRecipe.Settings.smoke
        settings.locateBeforeActing = true
        try ShapesRecipe(settings: settings, log: { _ in }).run(output: folder)
        let model = try ShapesModel(directory: folder)
        XCTAssertTrue(model.locatesBeforeActing)
        XCTAssertFalse(model.listsObjectsBeforeActing)
        for word in GripperSituation.words { XCTAssertNotNil(model.vocabulary.ids[word], word) }
        let card = try String(contentsOf: folder.appendingPathComponent("README.md"), encoding: .utf8)
        XCTAssertTrue(card.contains("--locate-then-act") && !card.contains("--list-objects"), card)

        let episode = TaskData.actionEpisodes(.heldOut, count: 1, noise: 0.25)[0]
        let codes = try model.codec.encode(episode.frames[0])
        let situation = GripperSituation.text(of: episode.worlds()[0], for: episode.task.instruction)
        let plain = model.sequences.actionExample(imageCodes: codes, instruction: episode.instruction,
                                                  actions: [DiscreteActionToken(id: model.vocabulary.actionToken(.left))])
        let located = model.sequences.actionExample(imageCodes: codes, instruction: episode.instruction, situation: situation,
                                                    actions: [DiscreteActionToken(id: model.vocabulary.actionToken(.left))])
        let prompt = model.sequences.actionPrompt(imageCodes: codes, instruction: episode.instruction)
        XCTAssertEqual(Array(plain.ids.prefix(prompt.count + 1)), prompt + [model.vocabulary.beginOfAction])
        let written = Array(located.ids[prompt.count...].prefix { $0 != model.vocabulary.beginOfAction })
        XCTAssertEqual(try model.sequences.tokenizer.decode(written, skipSpecialTokens: true), situation)
        XCTAssertEqual(located.ids.count, plain.ids.count + written.count)
        XCTAssertEqual(located.weights.filter { $0 > 0 }.count, plain.weights.filter { $0 > 0 }.count + written.count)

        for count in [1, 4] {
            let plan = try model.actionPlan(for: episode.instruction, seeing: episode.frames[0], count: count)
            let words = plan.situation.split(separator: " ").map(String.init)
            XCTAssertLessThanOrEqual(words.count, GripperSituation.maximumWords)
            XCTAssertTrue(words.allSatisfy(GripperSituation.words.contains), plan.situation)
            XCTAssertTrue((1...count).contains(plan.actions.count), "\(plan.actions)")
            XCTAssertEqual(try model.actions(for: episode.instruction, seeing: episode.frames[0], count: count), plan.actions)
        }

        // The expert's states also score what it wrote, part by part.
        let accuracy = try XCTUnwrap(ShapesEvaluation(model: model).actionsOnExpertStates(samples: 2).situationAccuracy)
        XCTAssertEqual(Set(accuracy.keys), Set(GripperSituation.parts + ["all"]))
        XCTAssertTrue(accuracy.values.allSatisfy { (0...1).contains($0) })
        XCTAssertLessThanOrEqual(accuracy["all"]!, accuracy.values.min()!)

        let configURL = folder.appendingPathComponent("config.json")
        let config = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: configURL)) as? [String: Any])
        for key in [ShapesModel.actionReasoningKey, ShapesModel.objectListKey] {
            for bad: Any in ["yes", ["true"]] {
                var broken = config
                broken[key] = bad
                try JSONSerialization.data(withJSONObject: broken).write(to: configURL)
                XCTAssertThrowsError(try ShapesModel(directory: folder), "\(key): \(bad)") { error in
                    XCTAssertTrue("\(error)".contains(key), "\(error)")
                }
            }
        }
    }

    /// `--list-objects`: the card says so, and the model's situation (up to 22 words) still fits.
    func testListingObjectsFitsTheModelsRoom() throws {
        let folder = temporaryFolder("list-objects")
        var settings = ShapesRecipe.Settings.smoke
        settings.locateBeforeActing = true
        settings.listObjectsBeforeActing = true
        try ShapesRecipe(settings: settings, log: { _ in }).run(output: folder)
        let card = try String(contentsOf: folder.appendingPathComponent("README.md"), encoding: .utf8)
        XCTAssertTrue(card.contains("--locate-then-act --list-objects"), card)
        let model = try ShapesModel(directory: folder)
        XCTAssertTrue(model.listsObjectsBeforeActing)
        // The expert's states are scored against listed situations, the list included.
        let accuracy = try XCTUnwrap(ShapesEvaluation(model: model).actionsOnExpertStates(samples: 1).situationAccuracy)
        XCTAssertEqual(Set(accuracy.keys), Set([GripperSituation.objectsPart] + GripperSituation.parts + ["all"]))
        let episode = TaskData.actionEpisodes(.heldOut, count: 1)[0]
        let plan = try model.actionPlan(for: episode.instruction, seeing: episode.frames[0], count: 2)
        let words = plan.situation.split(separator: " ").map(String.init)
        XCTAssertLessThanOrEqual(words.count, GripperSituation.maximumWords)
        XCTAssertTrue(words.allSatisfy(GripperSituation.words.contains), plan.situation)
        XCTAssertFalse(plan.actions.isEmpty)
    }

    /// A model without the option acts at once, and claiming the option without its words is refused.
    func testModelWithoutTheOptionActsDirectly() throws {
        let folder = temporaryFolder("act-directly")
        try ShapesRecipe(settings: .smoke, log: { _ in }).run(output: folder)
        let model = try ShapesModel(directory: folder)
        XCTAssertFalse(model.locatesBeforeActing)
        let episode = TaskData.actionEpisodes(.heldOut, count: 1)[0]
        let plan = try model.actionPlan(for: episode.instruction, seeing: episode.frames[0], count: 2)
        XCTAssertEqual(plan.situation, "")
        XCTAssertFalse(plan.actions.isEmpty)
        XCTAssertNil(try ShapesEvaluation(model: model).actionsOnExpertStates(samples: 1).situationAccuracy)

        let configURL = folder.appendingPathComponent("config.json")
        var config = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: configURL)) as? [String: Any])
        XCTAssertNil(config[ShapesModel.actionReasoningKey])
        config[ShapesModel.actionReasoningKey] = true
        try JSONSerialization.data(withJSONObject: config).write(to: configURL)
        XCTAssertThrowsError(try ShapesModel(directory: folder)) { error in
            XCTAssertTrue("\(error)".contains("lacks"), "\(error)")
        }
    }
}
