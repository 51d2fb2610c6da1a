import Foundation
import ShapesWorld
import XCTest
@testable import Emu3
@testable import ShapesRecipe

/// `--describe-then-answer`: question examples teach caption, separator, answer; the folder says
/// so; `ShapesModel.answer` returns what follows the separator.
final class DescribeThenAnswerTests: XCTestCase {
    func testQuestionCompletionIsTheCaptionThenTheAnswer() throws {
        let samples = TaskData.questions(.heldOut, count: 300)
        XCTAssertTrue(samples.contains { $0.question.kind == .describe } && samples.contains { $0.question.kind == .existence })
        for sample in samples {
            XCTAssertEqual(ShapesRecipe.completion(of: sample.question, in: sample.scene, describingFirst: false), sample.question.answer)
            let completion = ShapesRecipe.completion(of: sample.question, in: sample.scene, describingFirst: true)
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

    /// A reading is text only: the description, '.', the question, then the answer with the loss on
    /// the answer alone.
    func testReadingExampleIsTheDescriptionAndQuestionAsText() {
        let vocabulary = ShapesVocabulary(words: ShapesVocabulary.words(of: "a small red circle . is there a blue square ? no"), codebookSize: 16)
        let layout = ShapesSequences(vocabulary: vocabulary, rows: 2, columns: 2)
        let example = layout.readingExample(description: "a small red circle", question: "is there a blue square?", answer: "no")
        let prompt = layout.readingPrompt(description: "a small red circle", question: "is there a blue square?")
        XCTAssertEqual(Array(example.ids.prefix(prompt.count)), prompt)
        XCTAssertEqual(try layout.tokenizer.decode(prompt, skipSpecialTokens: true), "a small red circle. is there a blue square?")
        XCTAssertFalse(example.ids.contains { vocabulary.visualTokenRange.contains($0) }, "no picture")
        XCTAssertEqual(try layout.tokenizer.decode(Array(example.ids.dropFirst(prompt.count)), skipSpecialTokens: true), "no")
        XCTAssertEqual(example.weights.filter { $0 > 0 }.count, 2, "the answer word and EOS")
        XCTAssertEqual(example.weights.suffix(2), [1, 1])
    }

    /// `--answer-from-description`: questions other than the description are taught as readings
    /// (fewer pictures coded, fewer tokens), config.json and the card say so, and the model's answer
    /// is its description, the separator, then what it reads off that description without the picture.
    func testAnswerFromDescriptionTeachesReadingsAndAnswersFromTheModelsOwnDescription() throws {
        var settings = ShapesRecipe.Settings.smoke
        settings.tasks = [.understanding]
        settings.describeBeforeAnswer = true
        func run(_ folder: URL) throws -> (ShapesRecipe.Outcome, [String]) {
            var logged: [String] = []
            let outcome = try ShapesRecipe(settings: settings, log: { logged.append($0) }).run(output: folder)
            return (outcome, logged)
        }
        let describingFolder = temporaryFolder("describe-first-pictures")
        let (describing, describingLog) = try run(describingFolder)
        settings.answerFromDescription = true
        let folder = temporaryFolder("answer-from-description")
        let (reading, readingLog) = try run(folder)
        let questions = TaskData.questions(.train, start: ShapesRecipe.trainingStart(seed: settings.seed), count: settings.questionCount,
                                            positionStep: settings.positionStep)
        let read = questions.filter { $0.question.kind != .describe }.count
        XCTAssertGreaterThan(read, 0)
        func pictures(_ log: [String]) -> Int? { log.first { $0.hasPrefix("coding ") }.flatMap { Int($0.split(separator: " ")[1]) } }
        XCTAssertEqual(pictures(describingLog).map { $0 - read }, pictures(readingLog), "a reading needs no picture")
        XCTAssertLessThan(reading.tokensPerTask["understanding"] ?? 0, describing.tokensPerTask["understanding"] ?? 0)

        let model = try ShapesModel(directory: folder)
        XCTAssertTrue(model.readsOwnDescription)
        XCTAssertEqual(model.reasoningSeparator, ShapesModel.answerSeparator)
        let card = try String(contentsOf: folder.appendingPathComponent("README.md"), encoding: .utf8)
        XCTAssertTrue(card.contains("--describe-then-answer --answer-from-description"), card)

        let sample = TaskData.questions(.heldOut, count: 10).first { $0.question.kind != .describe }!
        let question = sample.question.question
        let ids = try model.answerIDs(question, about: sample.image, maxTokens: 32 + ShapesModel.descriptionTokens)
        let description = try model.answerIDs(QuestionGenerator.describePrompt, about: sample.image, maxTokens: ShapesModel.descriptionTokens)
            .filter { $0 != model.vocabulary.specials.endOfSequence }
        let separator = try XCTUnwrap(model.vocabulary.ids[ShapesModel.answerSeparator])
        XCTAssertEqual(Array(ids.prefix(description.count + 1)), description + [separator])
        let text = try model.sequences.tokenizer.decode(description, skipSpecialTokens: true)
        let reply = try model.generator.generate(GenerationRequest(
            prompt: model.sequences.readingPrompt(description: text, question: question), maxNewTokens: 32 + ShapesModel.descriptionTokens - description.count - 2,
            stopTokens: [model.vocabulary.specials.endOfSequence])).ids
        XCTAssertEqual(Array(ids.dropFirst(description.count + 1)), reply, "the answer is read off the description alone")
        XCTAssertEqual(try model.answer(question, about: sample.image),
                       try model.sequences.tokenizer.decode(reply, skipSpecialTokens: true))

        // Reading the true caption (`emu eval --read-true-captions`): the answer is what the model
        // writes after the reading prompt of that caption, and the evaluation reads every question
        // but the description ones that way, scored against the true answers.
        let caption = CaptionGrammar.caption(sample.scene)
        let fromCaption = try model.generator.generate(GenerationRequest(
            prompt: model.sequences.readingPrompt(description: caption, question: question), maxNewTokens: 32,
            stopTokens: [model.vocabulary.specials.endOfSequence])).ids
        XCTAssertEqual(try model.answer(question, readingDescription: caption), try model.sequences.tokenizer.decode(fromCaption, skipSpecialTokens: true))
        let report = try ShapesEvaluation(model: model).understanding(samples: 6, readingTrueCaptions: true)
        let trueReading = try XCTUnwrap(report.trueCaptionReading)
        let readable = TaskData.questions(.heldOut, count: 6, positionStep: report.positionStep).filter { $0.question.kind != .describe }
        XCTAssertEqual(trueReading.questionsByKind.values.map(\.asked).reduce(0, +), readable.count)
        let right = try readable.filter {
            AnswerScorer.isExactMatch(try model.answer($0.question.question, readingDescription: CaptionGrammar.caption($0.scene)), expected: $0.question.answer)
        }.count
        XCTAssertEqual(trueReading.questionExactMatch, Double(right) / Double(readable.count), accuracy: 1e-12)
        XCTAssertNil(try ShapesEvaluation(model: model).understanding(samples: 2).trueCaptionReading)
        // A model that answers from the picture has no reading to test: refused by name.
        let picturing = try ShapesModel(directory: describingFolder)
        XCTAssertThrowsError(try ShapesEvaluation(model: picturing).understanding(samples: 2, readingTrueCaptions: true)) {
            XCTAssertTrue("\($0)".contains(ShapesModel.readsDescriptionKey), "\($0)")
        }

        // The flag needs the separator, and is true or false.
        let configURL = folder.appendingPathComponent("config.json")
        var config = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: configURL)) as? [String: Any])
        XCTAssertEqual(config[ShapesModel.readsDescriptionKey] as? Bool, true)
        config[ShapesModel.readsDescriptionKey] = "yes"
        try JSONSerialization.data(withJSONObject: config).write(to: configURL)
        XCTAssertThrowsError(try ShapesModel(directory: folder)) { XCTAssertTrue("\($0)".contains(ShapesModel.readsDescriptionKey), "\($0)") }
        config[ShapesModel.readsDescriptionKey] = true
        config.removeValue(forKey: ShapesModel.answerSeparatorKey)
        try JSONSerialization.data(withJSONObject: config).write(to: configURL)
        XCTAssertThrowsError(try ShapesModel(directory: folder)) { XCTAssertTrue("\($0)".contains(ShapesModel.answerSeparatorKey), "\($0)") }
    }
}
