import EmuTraining
import Foundation

/// A recipe run found in its output folder by `--resume`. An unfinished run (saved every
/// `saveInterval` steps, or when the --minutes limit stopped it) is the model folder plus the
/// optimizer's state (`optimizer.safetensors`, `trainer_state.json`), from which the recipe
/// continues bit for bit: the data is rebuilt from the seed, the codec is the folder's, and the
/// trainer's batches are a function of seed and step. A finished run keeps no optimizer state.
struct SavedRecipeRun {
    /// The run's settings, with the time limit of the resuming command.
    var settings: ShapesRecipe.Settings
    var outcome: ShapesRecipe.Outcome
    var history: [StepMetrics]
    /// Whether the folder holds the optimizer's state to continue from (it is unfinished).
    var isUnfinished: Bool

    static let settingsFile = "recipe_settings.json"
    static let outcomeFile = "recipe_outcome.json"
    static let historyFile = "training_log.jsonl"

    /// The run saved in `folder`, or nil when it holds none. Throws, naming them, when the run was
    /// made with other settings than `requested` (the time limit aside): resuming must not
    /// silently train a different model.
    static func load(from folder: URL, requested: ShapesRecipe.Settings) throws -> SavedRecipeRun? {
        try AtomicDirectory.recover(at: folder)
        let fm = FileManager.default
        guard fm.fileExists(atPath: folder.appendingPathComponent(settingsFile).path) else { return nil }
        func data(_ name: String) throws -> Data {
            let url = folder.appendingPathComponent(name)
            do { return try Data(contentsOf: url) } catch {
                throw ShapesModelError.unreadable(url.path, reason: "the saved run cannot be resumed without it")
            }
        }
        func decode<T: Decodable>(_ type: T.Type, _ bytes: Data, file: String) throws -> T {
            do { return try JSONDecoder().decode(T.self, from: bytes) } catch {
                throw ShapesModelError.invalid(folder.appendingPathComponent(file).path, reason: "not a recipe run's \(file) (\(error))")
            }
        }
        var settings = try decode(ShapesRecipe.Settings.self, try data(settingsFile), file: settingsFile)
        let differing = settings.differences(from: requested)
        guard differing.isEmpty else {
            // A card written before isolation was the default does not name the flag that resumes it.
            let isolationHint = differing.contains("isolatesExamples") && !settings.isolates
                ? "; a run made without example isolation resumes with --no-isolate-examples" : ""
            throw ShapesModelError.invalid(folder.path, reason: "--resume: its run was made with other settings ("
                + differing.joined(separator: ", ") + "); give the flags it was made with (its README.md names them)" + isolationHint)
        }
        settings.minutes = requested.minutes
        let outcome = try decode(ShapesRecipe.Outcome.self, try data(outcomeFile), file: outcomeFile)
        let history = try String(decoding: try data(historyFile), as: UTF8.self).split(separator: "\n")
            .map { try decode(StepMetrics.self, Data($0.utf8), file: historyFile) }
        let isUnfinished = fm.fileExists(atPath: folder.appendingPathComponent(TrainingCheckpoint.stateFile).path)
        let optimizer = folder.appendingPathComponent(TrainingCheckpoint.optimizerFile)
        guard !isUnfinished || fm.fileExists(atPath: optimizer.path) else {
            throw ShapesModelError.unreadable(optimizer.path, reason: "missing; the saved run cannot be resumed without it")
        }
        guard !isUnfinished || history.count == outcome.steps else {
            throw ShapesModelError.invalid(folder.appendingPathComponent(historyFile).path,
                                           reason: "holds \(history.count) steps where the run saved \(outcome.steps)")
        }
        return SavedRecipeRun(settings: settings, outcome: outcome, history: history, isUnfinished: isUnfinished)
    }
}

extension ShapesRecipe.Settings {
    /// The names of the settings that differ from `other`'s, the time limit aside. A reused codec
    /// decides the codec type and blank cells itself, so with one those two are not compared.
    func differences(from other: Self) -> [String] {
        var other = other
        other.minutes = minutes
        if other.codecSource != nil && other.codecSource == codecSource {
            other.codec = codec
            other.blankCells = blankCells
        }
        // A run saved before isolation existed (nil) did not isolate: --no-isolate-examples resumes it.
        if other.isolates == isolates { other.isolatesExamples = isolatesExamples }
        return zip(Mirror(reflecting: self).children, Mirror(reflecting: other).children).compactMap { mine, theirs in
            String(describing: mine.value) == String(describing: theirs.value) ? nil : mine.label
        }
    }
}
