import Foundation
import EmuIO
import EmuTensor
import Emu3

/// One optimization step of a VQ-VAE over a batch of images: per image, reconstruction MSE plus
/// commitment loss, back-propagated (averaged over the batch); gradient clipping and AdamW on the
/// encoder/decoder; then the EMA codebook update with dead-code restart from the batch's latents.
public final class VisionTokenizerTrainer {
    public struct StepResult: Sendable {
        public var loss: Float
        public var reconstructionLoss: Float
        public var commitmentLoss: Float
        public var gradientNorm: Float
        public var restartedCodes: Int
        public var learningRate: Float
        /// Distinct codes the batch used.
        public var codesUsed: Int
    }

    public static let kind = "vq"
    public static let codebookStateFile = "codebook_ema.safetensors"
    public static let metricsFile = "metrics.jsonl"

    public let model: TrainableVisionTokenizer
    public let configuration: TrainingConfiguration
    public let optimizer: AdamW
    public let commitmentBeta: Float
    /// Whether the first step seeds the codebook with the encoder's outputs on its batch.
    public var initializesCodebookFromData = true
    public private(set) var step = 0

    public init(model: TrainableVisionTokenizer, configuration: TrainingConfiguration, commitmentBeta: Float = 0.25) {
        self.model = model
        self.configuration = configuration
        self.commitmentBeta = commitmentBeta
        optimizer = AdamW(configuration: configuration.optimizer)
    }

    /// The batch of the current step from a training set: a fresh shuffle of `images` every epoch,
    /// deterministic for the configuration's seed, so a resumed run continues the same order.
    public func nextBatch(of images: [Tensor]) -> [Tensor] {
        precondition(!images.isEmpty, "no training images")
        let batchSize = configuration.batchSize
        let epochLength = max(images.count / batchSize, 1)
        let order = Array(images.indices).deterministicallyShuffled(seed: configuration.seed, epoch: step / epochLength)
        let start = (step % epochLength) * batchSize
        return (0..<batchSize).map { images[order[(start + $0) % order.count]] }
    }

    /// Trains on `images` (each [3, H, W] in [-1, 1]) for one step.
    public func train(images: [Tensor]) throws -> StepResult {
        precondition(!images.isEmpty, "empty batch")
        if step == 0 && initializesCodebookFromData {
            // The codebook starts on the encoder's first outputs: without this, codes near zero
            // make every quantized latent almost the same and the decoder learns nothing early.
            let latents = try Autograd.withoutGradients {
                try images.map { try model.forward(image: $0, commitmentBeta: commitmentBeta).latents }
            }
            model.codebookEMA.initialize(codebook: model.codebook, latents: Tensor.concatenate(latents, axis: 0))
        }
        model.zeroGradients()
        let weight = 1 / Float(images.count)
        var (total, reconstruction, commitment) = (Float(0), Float(0), Float(0))
        var latents: [Tensor] = []
        var codes: [Int] = []
        for image in images {
            let f = try model.forward(image: image, commitmentBeta: commitmentBeta)
            let loss = f.loss
            loss.scaled(by: weight).backward()
            total += loss.item * weight
            reconstruction += f.reconstructionLoss.item * weight
            commitment += f.commitmentLoss.item * weight
            latents.append(f.latents)
            codes += f.codes
        }
        let parameters = model.parameters
        let norm = configuration.maxGradientNorm > 0
            ? GradientClipping.clipGlobalNorm(parameters, maxNorm: configuration.maxGradientNorm) : 0
        let rate = configuration.schedule.rate(at: step)
        Autograd.withoutGradients {
            optimizer.update(parameters, learningRate: rate)
        }
        let restarted = Autograd.withoutGradients {
            model.codebookEMA.update(codebook: model.codebook, latents: Tensor.concatenate(latents, axis: 0), codes: codes)
        }
        step += 1
        return StepResult(loss: total, reconstructionLoss: reconstruction, commitmentLoss: commitment,
                          gradientNorm: norm, restartedCodes: restarted, learningRate: rate,
                          codesUsed: Set(codes).count)
    }

    /// Saves a checkpoint folder atomically: `config.json` and `model.safetensors` as transformers'
    /// `Emu3VQVAE.save_pretrained` writes them, plus optimizer moments, EMA codebook statistics and
    /// the trainer state for `resume(from:)`. `metricsLines` are appended to the folder's
    /// `metrics.jsonl` (carried over from the folder being replaced), so the log always matches
    /// the checkpoint beside it.
    public func save(to folder: URL, metricsLines: [Data] = []) throws {
        let config = try model.configJSON()
        let state = TrainerState(step: step, configuration: configuration, kind: Self.kind)
        try AtomicDirectory.replace(at: folder) { staging in
            try config.write(to: staging.appendingPathComponent("config.json"))
            try SafetensorsWriter.write(model.weights, metadata: ["format": "pt"],
                                        to: staging.appendingPathComponent("model.safetensors").path)
            try SafetensorsWriter.write(optimizer.stateTensors(), metadata: ["step": "\(optimizer.step)"],
                                        to: staging.appendingPathComponent(TrainingCheckpoint.optimizerFile).path)
            try SafetensorsWriter.write(model.codebookEMA.stateTensors(), metadata: [:],
                                        to: staging.appendingPathComponent(Self.codebookStateFile).path)
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            try encoder.encode(state).write(to: staging.appendingPathComponent(TrainingCheckpoint.stateFile))
            var log = FileManager.default.contents(atPath: folder.appendingPathComponent(Self.metricsFile).path) ?? Data()
            for line in metricsLines { log += line + Data("\n".utf8) }
            if !log.isEmpty { try log.write(to: staging.appendingPathComponent(Self.metricsFile)) }
        }
    }

    /// A trainer continuing the run saved in `folder` (weights, optimizer, codebook statistics, step).
    public static func resume(from folder: URL, configuration: TrainingConfiguration? = nil,
                              commitmentBeta: Float = 0.25) throws -> VisionTokenizerTrainer {
        try AtomicDirectory.recover(at: folder)
        let vqConfiguration = try VisionTokenizer.configuration(directory: folder.path)
        let weights = try SafetensorsFile(path: folder.appendingPathComponent("model.safetensors").path).allTensors()
        let statePath = folder.appendingPathComponent(TrainingCheckpoint.stateFile)
        guard FileManager.default.fileExists(atPath: statePath.path) else { throw TrainingCheckpointError.missingFile(statePath.path) }
        let saved = try JSONDecoder().decode(TrainerState.self, from: Data(contentsOf: statePath))
        guard saved.kind == kind else { throw TrainingCheckpointError.wrongKind(expected: kind, found: saved.kind, folder: folder.path) }
        let model = try TrainableVisionTokenizer(configuration: vqConfiguration, weights: weights, seed: saved.configuration.seed)
        let emaPath = folder.appendingPathComponent(codebookStateFile).path
        if FileManager.default.fileExists(atPath: emaPath) {
            _ = model.codebookEMA.restore(state: try SafetensorsFile(path: emaPath).allTensors())
        }
        let trainer = VisionTokenizerTrainer(model: model, configuration: configuration ?? saved.configuration,
                                             commitmentBeta: commitmentBeta)
        let state = try TrainingCheckpoint.restore(from: folder, into: trainer.optimizer, kind: kind)
        trainer.step = state.step
        return trainer
    }
}
