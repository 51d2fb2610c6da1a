import Foundation
import EmuIO
import EmuTensor

/// Where a run stands, saved beside the weights so `--resume` continues bit for bit.
public struct TrainerState: Codable, Sendable, Equatable {
    public var step: Int
    public var configuration: TrainingConfiguration
    /// What the weights are (e.g. "lm", "vq"), to refuse resuming the wrong kind of run.
    public var kind: String

    public init(step: Int, configuration: TrainingConfiguration, kind: String) {
        self.step = step
        self.configuration = configuration
        self.kind = kind
    }
}

public enum TrainingCheckpointError: Error, CustomStringConvertible {
    case missingFile(String)
    case wrongKind(expected: String, found: String, folder: String)

    public var description: String {
        switch self {
        case .missingFile(let path): return "checkpoint file missing: \(path)"
        case let .wrongKind(expected, found, folder): return "\(folder) holds a \(found) training run, not \(expected)"
        }
    }
}

/// A checkpoint folder in the HuggingFace -hf layout (config.json, model.safetensors, tokenizer
/// and processor files) that transformers loads as is, plus `optimizer.safetensors` and
/// `trainer_state.json` for resuming. Saving replaces the folder atomically.
public enum TrainingCheckpoint {
    public static let optimizerFile = "optimizer.safetensors"
    public static let stateFile = "trainer_state.json"

    /// Writes the folder. `weights` carry their final (hub) names; `extraFiles` (tokenizer,
    /// processor, chat template...) are copied from `sourceFolder` when present there, and with no
    /// `sourceFolder` (a resumed run) kept from the folder being replaced, so every save stays a
    /// complete checkpoint.
    public static func save(to folder: URL, weights: [String: Tensor], config: Data,
                            sourceFolder: URL?, extraFiles: [String],
                            optimizer: AdamW, state: TrainerState) throws {
        try AtomicDirectory.replace(at: folder) { staging in
            try config.write(to: staging.appendingPathComponent("config.json"))
            try SafetensorsWriter.write(weights, metadata: ["format": "pt"],
                                        to: staging.appendingPathComponent("model.safetensors").path)
            try writeResumeFiles(into: staging, optimizer: optimizer, state: state)
            // The folder being replaced is still in place while the staging folder is built.
            let origin = sourceFolder ?? folder
            for name in extraFiles {
                let src = origin.appendingPathComponent(name)
                if FileManager.default.fileExists(atPath: src.path) {
                    try FileManager.default.copyItem(at: src, to: staging.appendingPathComponent(name))
                }
            }
        }
    }

    /// Writes `optimizer.safetensors` (AdamW's moments) and `trainer_state.json` into `folder`:
    /// what a checkpoint folder needs beyond the weights to be resumed.
    public static func writeResumeFiles(into folder: URL, optimizer: AdamW, state: TrainerState) throws {
        try SafetensorsWriter.write(optimizer.stateTensors(), metadata: ["step": "\(optimizer.step)"],
                                    to: folder.appendingPathComponent(optimizerFile).path)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try encoder.encode(state).write(to: folder.appendingPathComponent(stateFile))
    }

    /// Reads the trainer state and restores the optimizer's moments from a saved folder.
    public static func restore(from folder: URL, into optimizer: AdamW, kind: String) throws -> TrainerState {
        try AtomicDirectory.recover(at: folder)
        let statePath = folder.appendingPathComponent(stateFile)
        guard FileManager.default.fileExists(atPath: statePath.path) else { throw TrainingCheckpointError.missingFile(statePath.path) }
        let state = try JSONDecoder().decode(TrainerState.self, from: Data(contentsOf: statePath))
        guard state.kind == kind else { throw TrainingCheckpointError.wrongKind(expected: kind, found: state.kind, folder: folder.path) }
        let moments = try SafetensorsFile(path: folder.appendingPathComponent(optimizerFile).path).allTensors()
        optimizer.restore(state: moments, step: state.step)
        return state
    }
}
