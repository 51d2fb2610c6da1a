import Foundation
import ShapesWorld
import XCTest
@testable import ShapesRecipe

/// `--describe-then-answer`: question examples teach caption, separator, answer; the folder says
/// so; `ShapesModel.answer` returns what follows the separator.
final class DescribeThenAnswerTests: XCTestCase {
    func testQuestionCompletionIsTheCaptionThenTheAnswer() throws {
        let samples = TaskData.questions(.heldOut, count: 300)
        XCTAssertTrue(samples.contains { $0.question.kind == .describe } && samples.contains { $0.question.kind == .existence })
        for sample in samples {
            XCTAssertEqual(ShapesRecipe.completion(of: sample, describingFirst: false), sample.question.answer)
            let completion = ShapesRecipe.completion(of: sample, describingFirst: true)
            guard sample.question.kind != .describe else {
                // The description is the answer: no second copy of it.
                XCTAssertEqual(completion, sample.question.answer)
                continue
            }
            let caption = CaptionGrammar.caption(sample.scene)
            XCTAssertEqual(completion, caption + " so " + sample.question.answer)
            XCTAssertFalse(ShapesVocabulary.words(of: caption).contains(ShapesModel.answerSeparator), caption)
            XCTAssertEqual(ShapesModel.finalAnswer(in: completion, separator: ShapesModel.answerSeparator), sample.question.answer)
            // `answer` leaves room for it: description, separator, answer and EOS.
            XCTAssertLessThanOrEqual(ShapesVocabulary.words(of: completion).count + 1, 32 + ShapesModel.descriptionTokens, completion)
        }
    }

    func testFinalAnswerIsWhatFollowsTheLastSeparator() {
        XCTAssertEqual(ShapesModel.finalAnswer(in: "a red circle so yes", separator: "so"), "yes")
        XCTAssertEqual(ShapesModel.finalAnswer(in: "a red circle so two so no", separator: "so"), "no")
        XCTAssertEqual(ShapesModel.finalAnswer(in: "a red circle so large red", separator: "so"), "large red")
        // A description cut short, or one that never reaches an answer, answers nothing.
        XCTAssertEqual(ShapesModel.finalAnswer(in: "a red circle above a", separator: "so"), "")
        XCTAssertEqual(ShapesModel.finalAnswer(in: "a red circle so", separator: "so"), "")
        XCTAssertEqual(ShapesModel.finalAnswer(in: "", separator: "so"), "")
        // Words that merely contain the separator are not it.
        XCTAssertEqual(ShapesModel.finalAnswer(in: "some sofa", separator: "so"), "")
    }

    /// A tiny recipe with the option writes the separator into config.json and its vocabulary; the
    /// loaded model's `answer` is the tail of its full completion; a bad separator entry is refused.
    func testRecipeWritesTheSeparatorAndTheModelAnswersAfterIt() throws {
        let folder = temporaryFolder("describe-first")
        var settings = ShapesRecipe.Settings.smoke
        settings.describeBeforeAnswer = true
        try ShapesRecipe(settings: settings, log: { _ in }).run(output: folder)
        let model = try ShapesModel(directory: folder)
        XCTAssertEqual(model.reasoningSeparator, ShapesModel.answerSeparator)
        XCTAssertNotNil(model.vocabulary.ids[ShapesModel.answerSeparator])
        let card = try String(contentsOf: folder.appendingPathComponent("README.md"), encoding: .utf8)
        XCTAssertTrue(card.contains("--describe-then-answer"), card)

        let sample = TaskData.questions(.heldOut, count: 10).first { $0.question.kind != .describe }!
        let question = sample.question.question
        let full = try model.sequences.tokenizer.decode(
            model.answerIDs(question, about: sample.image, maxTokens: 32 + ShapesModel.descriptionTokens), skipSpecialTokens: true)
        XCTAssertEqual(try model.answer(question, about: sample.image),
                       ShapesModel.finalAnswer(in: full, separator: ShapesModel.answerSeparator))
        // Asked to describe, it describes: the whole completion, within the usual 32 tokens.
        let description = try model.sequences.tokenizer.decode(
            model.answerIDs(QuestionGenerator.describePrompt, about: sample.image), skipSpecialTokens: true)
        XCTAssertEqual(try model.answer(QuestionGenerator.describePrompt, about: sample.image), description)
        XCTAssertTrue(model.describesBeforeAnswering(question))
        XCTAssertFalse(model.describesBeforeAnswering("Describe the image"))
        XCTAssertEqual(model.answer(to: question, inCompletion: "a red circle so yes"), "yes")
        XCTAssertEqual(model.answer(to: QuestionGenerator.describePrompt, inCompletion: "a red circle"), "a red circle")

        let configURL = folder.appendingPathComponent("config.json")
        var config = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: configURL)) as? [String: Any])
        for bad: Any in ["therefore", "so then", 3] {
            config[ShapesModel.answerSeparatorKey] = bad
            try JSONSerialization.data(withJSONObject: config).write(to: configURL)
            XCTAssertThrowsError(try ShapesModel(directory: folder), "\(bad)") { error in
                XCTAssertTrue("\(error)".contains(ShapesModel.answerSeparatorKey), "\(error)")
            }
        }
    }
}
