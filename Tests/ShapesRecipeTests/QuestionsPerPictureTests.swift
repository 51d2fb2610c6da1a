import Foundation
import ShapesWorld
import XCTest
@testable import ShapesRecipe

/// `--questions-per-picture`: several questions about one picture in one training conversation.
final class QuestionsPerPictureTests: XCTestCase {
    /// Follow-ups leave the scenes and first questions as they were, never repeat a question or
    /// ask for a description, and each has the answer the scene gives it.
    func testFollowUpsAreDifferentRightlyAnsweredQuestionsAboutTheSameScene() {
        let single = TaskData.questions(.train, count: 200, positionStep: 8)
        let several = TaskData.questions(.train, count: 200, positionStep: 8, perPicture: 4)
        XCTAssertTrue(single.allSatisfy(\.followUps.isEmpty))
        var asked = 0
        for (one, many) in zip(single, several) {
            XCTAssertEqual(one.scene, many.scene)
            XCTAssertEqual(one.question, many.question)
            XCTAssertLessThanOrEqual(many.followUps.count, 3)
            let texts = ([many.question] + many.followUps).map(\.question)
            XCTAssertEqual(Set(texts).count, texts.count, "a question repeats: \(texts)")
            for followUp in many.followUps {
                XCTAssertNotEqual(followUp.kind, .describe)
                let answers = QuestionGenerator.questions(of: followUp.kind, about: many.scene)
                    .filter { $0.question == followUp.question }.map(\.answer)
                XCTAssertEqual(answers, [followUp.answer], followUp.question)
            }
            asked += many.followUps.count
        }
        // Scenes of two or three objects allow dozens of questions: nearly every picture gets all three.
        XCTAssertGreaterThan(asked, 200 * 3 * 9 / 10)
    }

    /// A picture asked three questions, a vocabulary of their words, and the picture's codes.
    func threeQuestionsAboutOnePicture() throws -> (QuestionSample, [VisualQuestion], ShapesSequences, [Int]) {
        let sample = try XCTUnwrap(TaskData.questions(.train, count: 20, perPicture: 3).first { $0.followUps.count == 2 })
        let questions = [sample.question] + sample.followUps
        let vocabulary = ShapesVocabulary(words: questions.flatMap { ShapesVocabulary.words(of: $0.question + " " + $0.answer) },
                                          codebookSize: 16)
        return (sample, questions, ShapesSequences(vocabulary: vocabulary), (0..<64).map { $0 % 16 })
    }

    /// The conversation is the first question's example followed by the other turns; only the
    /// answers and the EOS closing each carry weight, and the weighted tokens read back as the answers.
    func testConversationWeighsOnlyTheAnswers() throws {
        let (sample, questions, layout, codes) = try threeQuestionsAboutOnePicture()
        let vocabulary = layout.vocabulary
        let conversation = layout.conversationExample(imageCodes: codes, turns: questions.map { ($0.question, $0.answer) })
        let first = layout.questionExample(imageCodes: codes, question: sample.question.question, answer: sample.question.answer)
        XCTAssertEqual(Array(conversation.ids.prefix(first.ids.count)), first.ids)
        XCTAssertEqual(Array(conversation.weights.prefix(first.weights.count)), first.weights)
        XCTAssertEqual(conversation.ids.count, conversation.weights.count)

        let end = vocabulary.specials.endOfSequence
        XCTAssertEqual(conversation.ids.filter { $0 == end }.count, questions.count, "every answer ends as a single one does")
        XCTAssertEqual(conversation.ids.filter { $0 == vocabulary.assistant }.count, questions.count)
        // The weighted tokens, split at EOS, are the answers in order.
        var answers: [[Int]] = [[]]
        for (id, weight) in zip(conversation.ids, conversation.weights) where weight > 0 {
            if id == end { answers.append([]) } else { answers[answers.count - 1].append(id) }
        }
        answers.removeLast()
        XCTAssertEqual(answers, try questions.map { try layout.tokenizer.encode($0.answer) })
    }

    /// `--isolate-turns`: the same tokens and weights, with turns marked where each question
    /// begins (the first right after the picture), so that packed, each question sees
    /// `BOS <image>` and itself, as the single question example does.
    func testIsolatedConversationMarksEachQuestion() throws {
        let (_, questions, layout, codes) = try threeQuestionsAboutOnePicture()
        let turns = questions.map { ($0.question, $0.answer) }
        let plain = layout.conversationExample(imageCodes: codes, turns: turns)
        let isolated = layout.conversationExample(imageCodes: codes, turns: turns, isolatingTurns: true)
        XCTAssertEqual(isolated.ids, plain.ids)
        XCTAssertEqual(isolated.weights, plain.weights)
        XCTAssertTrue(plain.turnStarts.isEmpty)
        let prefix = 1 + layout.imageTokens(codes).count
        XCTAssertEqual(isolated.turnStarts.count, 3)
        XCTAssertEqual(isolated.turnStarts.first, prefix)
        for (k, question) in questions.enumerated() {
            let start = isolated.turnStarts[k], end = k + 1 < 3 ? isolated.turnStarts[k + 1] : isolated.ids.count
            // Each turn, after the shared prefix, is the single question's example past its picture.
            let alone = layout.questionExample(imageCodes: codes, question: question.question, answer: question.answer)
            XCTAssertEqual(Array(isolated.ids.prefix(prefix)) + isolated.ids[start..<end], alone.ids, question.question)
        }
    }

    /// Isolated turns need several questions per picture and isolated examples: refused by name otherwise.
    func testRecipeRefusesIsolatedTurnsWithoutAConversation() {
        for (perPicture, isolating) in [(1, true), (3, false)] {
            var settings = ShapesRecipe.Settings.smoke
            settings.questionsPerPicture = perPicture
            settings.isolatesExamples = isolating
            settings.isolatesTurns = true
            let folder = temporaryFolder("isolated-turns-refused")
            XCTAssertThrowsError(try ShapesRecipe(settings: settings, log: { _ in }).run(output: folder)) { error in
                XCTAssertTrue("\(error)".contains("--questions-per-picture above 1 and isolated examples"), "\(error)")
            }
            XCTAssertFalse(FileManager.default.fileExists(atPath: folder.path))
        }
    }

    /// A model that answers from its description reads its questions as text, so follow-ups about
    /// the picture would be dropped unseen: the recipe refuses the pair by name, writing nothing.
    func testRecipeRefusesFollowUpsForAModelThatReadsItsDescription() {
        var settings = ShapesRecipe.Settings.smoke
        settings.describeBeforeAnswer = true
        settings.answerFromDescription = true
        settings.questionsPerPicture = 2
        let folder = temporaryFolder("questions-per-picture-reading")
        var logged: [String] = []
        XCTAssertThrowsError(try ShapesRecipe(settings: settings, log: { logged.append($0) }).run(output: folder)) { error in
            XCTAssertTrue("\(error)".contains("--questions-per-picture"), "\(error)")
        }
        XCTAssertTrue(logged.isEmpty, "refused before any work: \(logged)")
        XCTAssertFalse(FileManager.default.fileExists(atPath: folder.path))
    }

    func testModelCardNamesTheSetting() {
        var settings = ShapesRecipe.Settings()
        settings.questionsPerPicture = 1
        XCTAssertEqual(ShapesCheckpointWriter.recipeCommand(settings), "emu train --recipe shapes --seed 0")
        settings.questionCount = 4200
        settings.questionsPerPicture = 4
        XCTAssertEqual(ShapesCheckpointWriter.recipeCommand(settings),
                       "emu train --recipe shapes --seed 0 --questions 4200 --questions-per-picture 4")
        settings.isolatesTurns = true
        XCTAssertEqual(ShapesCheckpointWriter.recipeCommand(settings),
                       "emu train --recipe shapes --seed 0 --questions 4200 --questions-per-picture 4 --isolate-turns")
    }
}
