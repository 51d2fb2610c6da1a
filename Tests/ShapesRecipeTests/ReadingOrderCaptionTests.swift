import Foundation
import ShapesWorld
import XCTest
@testable import ShapesRecipe

/// `--reading-order-captions`: what the model is taught to write when it describes a picture.
final class ReadingOrderCaptionTests: XCTestCase {
    /// Description questions, and the description a describing model writes before its answer,
    /// are the reading-order caption with the option and the placement-order one without it;
    /// other answers are unchanged.
    func testDescriptionsFollowTheOption() {
        let samples = TaskData.questions(.train, count: 400, positionStep: 8)
        var differing = 0
        for sample in samples {
            let placement = CaptionGrammar.caption(sample.scene), reading = CaptionGrammar.readingOrderCaption(sample.scene)
            differing += placement == reading ? 0 : 1
            for describingFirst in [false, true] {
                let plain = ShapesRecipe.completion(of: sample.question, in: sample.scene, describingFirst: describingFirst)
                let ordered = ShapesRecipe.completion(of: sample.question, in: sample.scene, describingFirst: describingFirst,
                                                      readingOrder: true)
                if sample.question.kind == .describe {
                    XCTAssertEqual(plain, sample.question.answer)
                    XCTAssertEqual(ordered, reading)
                } else if describingFirst {
                    XCTAssertEqual(plain, placement + " so " + sample.question.answer)
                    XCTAssertEqual(ordered, reading + " so " + sample.question.answer)
                } else {
                    XCTAssertEqual(ordered, plain)
                    XCTAssertEqual(plain, sample.question.answer)
                }
            }
        }
        XCTAssertGreaterThan(differing, 40, "placement order names many scenes otherwise")
    }

    /// The recipe runs with the option, and the card names the flag that remakes the model.
    func testRecipeRecordsTheOption() throws {
        let folder = temporaryFolder("reading-order")
        var settings = ShapesRecipe.Settings.smoke
        settings.readingOrderCaptions = true
        try ShapesRecipe(settings: settings, log: { _ in }).run(output: folder)
        let card = try String(contentsOf: folder.appendingPathComponent("README.md"), encoding: .utf8)
        XCTAssertTrue(card.contains("--reading-order-captions"), card)
        let saved = try JSONDecoder().decode(ShapesRecipe.Settings.self,
                                             from: Data(contentsOf: folder.appendingPathComponent("recipe_settings.json")))
        XCTAssertEqual(saved.readingOrderCaptions, true)
    }
}
