import Foundation
import ShapesWorld
import XCTest
@testable import ShapesRecipe

/// `emu eval --log-samples`: every held-out sample is logged once, and the report's scores are
/// what the logged outcomes add up to (the log is the evidence behind the numbers).
final class EvaluationSampleLogTests: XCTestCase {
    func testLoggedSamplesAddUpToTheReport() throws {
        let evaluation = ShapesEvaluation(model: try ShapesModel(directory: BundledModelTasksTests.folder))
        var logged: [EvaluationSample] = []
        let log = { (sample: EvaluationSample) in logged.append(sample) }

        let t2i = try evaluation.textToImage(perCategory: 2, log: log).report
        let drawn = logged.filter { $0.task == "t2i" }
        XCTAssertEqual(drawn.count, t2i.promptCount)
        for (category, accuracy) in t2i.accuracy {
            let mine = drawn.filter { $0.kind == category }
            XCTAssertEqual(Double(mine.filter { $0.correct == true }.count) / Double(mine.count), accuracy, accuracy: 1e-9, category)
        }
        XCTAssertTrue(drawn.allSatisfy { ($0.failure == nil) == ($0.correct == true) && $0.output != nil })

        let understanding = try evaluation.understanding(samples: 6, log: log)
        let captions = logged.filter { $0.task == "caption" }, questions = logged.filter { $0.task == "question" }
        XCTAssertEqual(captions.map(\.index), Array(0..<6))
        XCTAssertEqual(questions.map(\.index), Array(0..<6))
        XCTAssertEqual(Double(captions.filter { $0.correct == true }.count) / 6, understanding.captionExactMatch, accuracy: 1e-9)
        for (kind, tally) in understanding.questionsByKind {
            let mine = questions.filter { $0.kind == kind }
            XCTAssertEqual(mine.count, tally.asked, kind)
            XCTAssertEqual(mine.filter { $0.correct == true }.count, tally.right, kind)
        }
        for sample in captions + questions {
            XCTAssertEqual(sample.correct, AnswerScorer.isExactMatch(sample.output ?? "", expected: sample.expected ?? ""), sample.input)
        }

        let video = try evaluation.video(samples: 2, predictedFrames: 2, log: log)
        let clips = logged.filter { $0.task == "video" }
        XCTAssertEqual(clips.count, 2)
        XCTAssertTrue(clips.allSatisfy { $0.withinTolerance?.count == video.predictedFrames && !$0.input.isEmpty })

        let actions = try evaluation.actions(samples: 3, log: log)
        let episodes = logged.filter { $0.task == "actions" }
        XCTAssertEqual(episodes.map(\.index), Array(0..<3))
        XCTAssertEqual(episodes.filter { $0.correct == true }.count, actions.successes)
        XCTAssertEqual(Double(episodes.compactMap(\.steps).reduce(0, +)) / 3, actions.meanSteps, accuracy: 1e-9)

        // One JSON object per line, each decoding back to its sample.
        let lines = try EvaluationSample.jsonLines(logged).split(separator: 0x0A)
        XCTAssertEqual(lines.count, logged.count)
        XCTAssertEqual(try lines.map { try JSONDecoder().decode(EvaluationSample.self, from: Data($0)) }, logged)
    }
}
