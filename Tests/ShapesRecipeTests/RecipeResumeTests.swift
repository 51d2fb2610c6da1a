import Emu3
import EmuTraining
import Foundation
import XCTest
@testable import ShapesRecipe

/// An interrupted recipe loses at most `saveInterval` steps, and `--resume` continues it to the
/// model the uninterrupted run makes, bit for bit.
final class RecipeResumeTests: XCTestCase {
    struct Interruption: Error {}

    let settings: ShapesRecipe.Settings = {
        var s = ShapesRecipe.Settings.smoke
        s.steps = 12
        return s
    }()

    func tensors(_ folder: URL) throws -> [String: [Float]] {
        let store = try WeightStore.load(file: folder.appendingPathComponent("model.safetensors").path)
        return try Dictionary(uniqueKeysWithValues: store.names.map { ($0, try store.tensor($0).to(.float32).toArray()) })
    }

    func losses(_ folder: URL) throws -> [Float] {
        try String(contentsOf: folder.appendingPathComponent("training_log.jsonl"), encoding: .utf8).split(separator: "\n")
            .map { try JSONDecoder().decode(StepMetrics.self, from: Data($0.utf8)).loss }
    }

    func holdsOptimizerState(_ folder: URL) -> Bool {
        [TrainingCheckpoint.stateFile, TrainingCheckpoint.optimizerFile].allSatisfy {
            FileManager.default.fileExists(atPath: folder.appendingPathComponent($0).path)
        }
    }

    /// The step lines of a run's log without their timings: step, loss, running mean, rate, gradient norm.
    final class StepLog {
        var lines: [String] = []
        func record(_ line: String) {
            if line.hasPrefix("step ") { lines.append(line.split(separator: " ").prefix(10).joined(separator: " ")) }
        }
    }

    func testInterruptedRunResumesToTheUninterruptedModel() throws {
        let whole = temporaryFolder("recipe-whole")
        let wholeLog = StepLog()
        let expected = try ShapesRecipe(settings: settings, saveInterval: 4, log: wholeLog.record).run(output: whole)
        XCTAssertEqual(expected.steps, 12)
        XCTAssertFalse(holdsOptimizerState(whole), "a finished run keeps no optimizer state")

        // Killed after step 6: the save of step 4 is what is left, and it is a model of its own.
        let folder = temporaryFolder("recipe-resumed")
        var killed = ShapesRecipe(settings: settings, saveInterval: 4, log: { _ in })
        killed.afterStep = { if $0 == 6 { throw Interruption() } }
        XCTAssertThrowsError(try killed.run(output: folder)) { XCTAssertTrue($0 is Interruption, "\($0)") }
        XCTAssertTrue(holdsOptimizerState(folder))
        let state = try JSONDecoder().decode(TrainerState.self, from: Data(contentsOf: folder.appendingPathComponent(TrainingCheckpoint.stateFile)))
        XCTAssertEqual(state.step, 4)
        XCTAssertEqual(try losses(folder), Array(try losses(whole).prefix(4)))
        XCTAssertNoThrow(try ShapesModel(directory: folder))
        XCTAssertTrue(try String(contentsOf: folder.appendingPathComponent("README.md"), encoding: .utf8).contains("unfinished"))

        // Resumed, then stopped after step 9 as the --minutes limit stops a run: still resumable.
        var limited = ShapesRecipe(settings: settings, saveInterval: 4, log: { _ in })
        limited.stopStep = 9
        let partial = try limited.run(output: folder, resume: true)
        XCTAssertEqual([partial.steps, partial.plannedSteps], [9, 12])
        XCTAssertTrue(holdsOptimizerState(folder))

        // Resumed to the end: the uninterrupted run's weights and loss curve, bit for bit.
        let resumedLog = StepLog()
        let resumed = try ShapesRecipe(settings: settings, saveInterval: 4, log: resumedLog.record).run(output: folder, resume: true)
        XCTAssertEqual(resumedLog.lines.count, 1, "steps 10 to 12 print step 10")
        XCTAssertEqual(resumedLog.lines.first, wholeLog.lines.last, "the log's running mean goes on from the saved steps")
        XCTAssertEqual(resumed.steps, 12)
        XCTAssertEqual([resumed.firstLoss, resumed.finalLoss], [expected.firstLoss, expected.finalLoss])
        XCTAssertGreaterThan(resumed.seconds, partial.seconds, "the time of every part counts")
        XCTAssertEqual(try losses(folder), try losses(whole))
        let (a, b) = (try tensors(whole), try tensors(folder))
        XCTAssertEqual(a.keys.sorted(), b.keys.sorted())
        XCTAssertTrue(a.allSatisfy { b[$0.key] == $0.value }, "the resumed run trained another model")
        XCTAssertFalse(holdsOptimizerState(folder))

        // Resuming a finished run trains nothing and returns its outcome.
        let again = try ShapesRecipe(settings: settings, log: { _ in }).run(output: folder, resume: true)
        XCTAssertEqual([again.steps, Int(again.seconds * 1000)], [12, Int(resumed.seconds * 1000)])
    }

    func testResumingIsRefusedWithOtherSettingsOrAMissingOptimizerState() throws {
        let folder = temporaryFolder("recipe-refused")
        var recipe = ShapesRecipe(settings: settings, log: { _ in })
        recipe.stopStep = 2
        try recipe.run(output: folder)

        var other = settings
        other.captionCount += 1
        other.learningRate *= 2
        other.minutes = 5  // a new time limit is not another run
        XCTAssertThrowsError(try ShapesRecipe(settings: other, log: { _ in }).run(output: folder, resume: true)) { error in
            let text = "\(error)"
            XCTAssertTrue(text.contains("captionCount") && text.contains("learningRate") && text.contains(folder.path), text)
            XCTAssertFalse(text.contains("minutes"), text)
        }
        XCTAssertTrue(holdsOptimizerState(folder), "a refused resume left the run alone")

        try FileManager.default.removeItem(at: folder.appendingPathComponent(TrainingCheckpoint.optimizerFile))
        XCTAssertThrowsError(try ShapesRecipe(settings: settings, log: { _ in }).run(output: folder, resume: true)) { error in
            XCTAssertTrue("\(error)".contains(TrainingCheckpoint.optimizerFile), "\(error)")
        }

        // With no run in the folder, --resume starts one.
        let fresh = try ShapesRecipe(settings: settings, log: { _ in }).run(output: temporaryFolder("recipe-new"), resume: true)
        XCTAssertEqual(fresh.steps, 12)
    }

    /// A run saved before example isolation existed (nil) did not isolate: now that the recipe
    /// isolates by default, `--no-isolate-examples` resumes it and the default is refused.
    func testRunSavedBeforeIsolationResumesWithoutIt() throws {
        var saved = ShapesRecipe.Settings()
        saved.isolatesExamples = nil
        var requested = saved
        requested.isolatesExamples = false
        XCTAssertEqual(saved.differences(from: requested), [])
        requested.isolatesExamples = true
        XCTAssertEqual(saved.differences(from: requested), ["isolatesExamples"])

        var unisolated = settings
        unisolated.isolatesExamples = nil
        let folder = temporaryFolder("recipe-unisolated")
        var recipe = ShapesRecipe(settings: unisolated, log: { _ in })
        recipe.stopStep = 2
        try recipe.run(output: folder)
        XCTAssertEqual(settings.isolatesExamples, true)
        XCTAssertThrowsError(try ShapesRecipe(settings: settings, log: { _ in }).run(output: folder, resume: true)) { error in
            XCTAssertTrue("\(error)".contains("--no-isolate-examples"), "\(error)")
        }
        unisolated.isolatesExamples = false
        XCTAssertEqual(try ShapesRecipe(settings: unisolated, log: { _ in }).run(output: folder, resume: true).steps, 12)
    }
}
