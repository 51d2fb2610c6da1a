import ArgumentParser
import Emu3
import EmuIO
import EmuTensor
import EmuTraining
import Foundation

/// `emu train vq`: trains Emu3's vision tokenizer (transformers' `Emu3VQVAE`) on a folder of
/// images: L2 reconstruction + commitment loss, EMA codebook with dead-code restart. Writes a
/// standalone checkpoint (config.json + model.safetensors) that `VisionTokenizer(directory:)` and
/// transformers' `Emu3VQVAE.from_pretrained` load, plus optimizer and codebook state for --resume.
struct TrainVisionTokenizerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "vq", abstract: "Train the vision tokenizer (VQ-VAE).")

    enum Preset: String, ExpressibleByArgument, CaseIterable {
        case tiny, small
    }

    @Option(name: .long, help: "Folder of PNG/JPEG images (searched recursively).") var data: String
    @Option(name: .long, help: "Output checkpoint folder (replaced atomically at every save).") var out: String
    @Option(name: .long, help: "Fine-tune the vision tokenizer of this checkpoint (-hf, standalone Emu3VQVAE or BAAI layout) instead of training a fresh one.")
    var from: String?
    @Option(name: .long, help: "Model size: tiny (stride 2, 16 codes) or small (stride 8, 512 codes).") var preset: Preset = .small
    @Option(name: .long, help: "Override base_channels (a multiple of 32).") var baseChannels: Int?
    @Option(name: .long, help: "Override channel_multiplier, comma-separated (e.g. 1,2,2,4).") var channelMultiplier: String?
    @Option(name: .long, help: "Override codebook_size.") var codebookSize: Int?
    @Option(name: .long, help: "Override embed_dim (= latent_channels).") var embedDim: Int?
    @Option(name: .long, help: "Override num_res_blocks.") var resBlocks: Int?
    @Option(name: .long, help: "Images are resized to this square size (a multiple of the stride).") var imageSize: Int?
    @Option(name: .long, help: "Optimizer steps.") var steps = 1000
    @Option(name: .long, help: "Images per step.") var batchSize = 8
    @Option(name: .long, help: "Peak learning rate.") var lr: Float = 1e-3
    @Option(name: .long, help: "Commitment loss weight.") var beta: Float = 0.25
    @Option(name: .long, help: "Seed of initialization and shuffling.") var seed: UInt64 = 0
    @Option(name: .long, help: "Save a checkpoint every N steps (and at the end).") var saveInterval = 100
    @Option(name: .long, help: "Stop after this many minutes (saving first).") var minutes: Double?
    @Flag(name: .long, help: "Continue the run saved in --out.") var resume = false
    @Flag(name: .long, help: "Print one JSON summary on stdout.") var json = false

    struct Summary: Encodable {
        let out: String
        let steps: Int
        let images: Int
        let parameters: Int
        let firstLoss: Float?
        let finalLoss: Float?
        let finalReconstructionPSNR: Double?
        let secondsPerStep: Double
        let imagesPerSecond: Double
        let seconds: Double
    }

    struct Metrics: Encodable {
        let step: Int
        let loss: Float
        let reconstruction: Float
        let commitment: Float
        let psnr: Double
        let gradientNorm: Float
        let learningRate: Float
        let restartedCodes: Int
        let codesUsed: Int
        let seconds: Double
    }

    func vqConfiguration() throws -> (VisionTokenizerConfiguration, Int) {
        var c = VisionTokenizerConfiguration()
        c.temporalDownsampleFactor = 1
        c.attnResolutions = []
        c.numAttentionHeads = 1
        var size: Int
        switch preset {
        case .tiny:
            (c.baseChannels, c.channelMultiplier, c.codebookSize, c.embedDim, c.numResBlocks, size) = (32, [1, 2], 16, 4, 1, 16)
        case .small:
            (c.baseChannels, c.channelMultiplier, c.codebookSize, c.embedDim, c.numResBlocks, size) = (32, [1, 1, 2, 2], 512, 4, 1, 64)
        }
        if let baseChannels { c.baseChannels = baseChannels }
        if let channelMultiplier {
            let values = channelMultiplier.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
            guard !values.isEmpty, values.allSatisfy({ $0 != nil }) else { throw UserError("--channel-multiplier: give integers like 1,2,2,4") }
            c.channelMultiplier = values.map { $0! }
        }
        if let codebookSize { c.codebookSize = codebookSize }
        if let embedDim { c.embedDim = embedDim }
        if let resBlocks { c.numResBlocks = resBlocks }
        if let imageSize { size = imageSize }
        c.latentChannels = c.embedDim
        c.hiddenSize = c.baseChannels * (c.channelMultiplier.last ?? 1)
        do { try c.validate() } catch { throw UserError("\(error)") }
        guard size > 0, size % c.spatialFactor == 0 else {
            throw UserError("--image-size \(size) must be a positive multiple of the stride \(c.spatialFactor)")
        }
        return (c, size)
    }

    static func loadImages(folder: String, size: Int) throws -> [Tensor] {
        let root = URL(fileURLWithPath: folder)
        guard let walker = FileManager.default.enumerator(at: root, includingPropertiesForKeys: nil) else {
            throw UserError("cannot read the folder \(folder)")
        }
        let extensions: Set<String> = ["png", "jpg", "jpeg"]
        let files = walker.compactMap { $0 as? URL }.filter { extensions.contains($0.pathExtension.lowercased()) }
            .sorted { $0.path < $1.path }
        guard !files.isEmpty else { throw UserError("no PNG or JPEG images in \(folder)") }
        let processor = ImageProcessor()
        return try files.map { url in
            let image: RGBImage
            do { image = try ImageFile.read(url) } catch { throw UserError("cannot read image \(url.path): \(error)") }
            return processor.pixelValues(BicubicResize.resize(image, width: size, height: size))
        }
    }

    /// Codes and reconstructions of a few images by the saved checkpoint as `VisionTokenizer`
    /// loads it, beside it in `vq_check.safetensors`, for scripts/reference/check_trained_vq.py.
    static func writeCheck(checkpoint: URL, images: [Tensor]) throws {
        let tokenizer = try VisionTokenizer(directory: checkpoint.path)
        var codes: [Int32] = []
        var reconstructions: [Tensor] = []
        var grid = (0, 0)
        for image in images {
            let c = try tokenizer.encode(image: image)
            grid = (c.height, c.width)
            codes += c.values.map { Int32($0) }
            reconstructions.append(try tokenizer.decodeImage(c).reshaped([1] + image.shape))
        }
        let pixels = Tensor.concatenate(images.map { $0.reshaped([1] + $0.shape) }, axis: 0)
        try SafetensorsWriter.write(["pixel_values": pixels, "codes": Tensor(ints: codes, shape: [images.count, grid.0, grid.1]),
                                     "reconstruction": Tensor.concatenate(reconstructions, axis: 0)],
                                    to: checkpoint.appendingPathComponent("vq_check.safetensors").path)
    }

    func run() throws {
        try runReportingErrors {
            guard steps > 0, batchSize > 0, saveInterval >= 0 else { throw UserError("--steps and --batch-size must be positive") }
            let outURL = URL(fileURLWithPath: out)
            let resuming = resume && FileManager.default.fileExists(atPath: outURL.appendingPathComponent(TrainingCheckpoint.stateFile).path)
            if resume && !resuming { Output.log("no run saved in \(out): starting a new one") }
            if from != nil, baseChannels != nil || channelMultiplier != nil || codebookSize != nil || embedDim != nil || resBlocks != nil {
                throw UserError("--from fine-tunes the checkpoint's own architecture: drop --base-channels, --channel-multiplier, --codebook-size, --embed-dim and --res-blocks")
            }
            let fineTuned = try from.map { folder in
                do { return try TrainableVisionTokenizer(directory: folder, seed: seed) } catch {
                    throw UserError("cannot fine-tune the vision tokenizer in \(folder): \(error)")
                }
            }
            var (vq, requestedSize) = try vqConfiguration()
            if let fineTuned {
                vq = fineTuned.configuration
                requestedSize = imageSize ?? fineTuned.configuration.spatialFactor * 8
                guard requestedSize > 0, requestedSize % vq.spatialFactor == 0 else {
                    throw UserError("--image-size \(requestedSize) must be a positive multiple of the stride \(vq.spatialFactor)")
                }
            }
            let configuration = TrainingConfiguration(steps: steps, batchSize: batchSize, sequenceLength: 0,
                                                      optimizer: .init(learningRate: lr, weightDecay: 0), maxGradientNorm: 1,
                                                      seed: seed, checkpointInterval: saveInterval)
            let trainer: VisionTokenizerTrainer
            if resuming {
                trainer = try VisionTokenizerTrainer.resume(from: outURL, configuration: configuration, commitmentBeta: beta)
                Output.log("resuming at step \(trainer.step)")
            } else {
                trainer = VisionTokenizerTrainer(model: try fineTuned ?? TrainableVisionTokenizer(configuration: vq, seed: seed),
                                                 configuration: configuration, commitmentBeta: beta)
                // A pretrained codebook is kept; only a fresh one starts on the encoder's outputs.
                trainer.initializesCodebookFromData = fineTuned == nil
            }
            let size = requestedSize
            let images = try Self.loadImages(folder: data, size: size)
            let parameterCount = trainer.model.parameters.values.reduce(0) { $0 + $1.count }
            let c = trainer.model.configuration
            Output.log("\(parameterCount) parameters (stride \(c.spatialFactor), \(c.codebookSize) codes), \(images.count) images of \(size)x\(size)")

            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            let bar = ProgressBar(total: steps, label: "train vq", unit: "step")
            bar.advance(by: trainer.step)
            let started = Date()
            let firstStep = trainer.step
            var (firstLoss, lastLoss, lastPSNR) = (Float?.none, Float?.none, Double?.none)
            var pending: [Metrics] = []
            while trainer.step < steps {
                let result = try trainer.train(images: trainer.nextBatch(of: images))
                firstLoss = firstLoss ?? result.loss
                lastLoss = result.loss
                let psnr = 10 * log10(4 / max(Double(result.reconstructionLoss), 1e-12))  // pixel range [-1, 1]
                lastPSNR = psnr
                let elapsed = Date().timeIntervalSince(started)
                pending.append(Metrics(step: trainer.step, loss: result.loss, reconstruction: result.reconstructionLoss,
                                       commitment: result.commitmentLoss, psnr: psnr, gradientNorm: result.gradientNorm,
                                       learningRate: result.learningRate, restartedCodes: result.restartedCodes,
                                       codesUsed: result.codesUsed, seconds: elapsed))
                let perStep = elapsed / Double(trainer.step - firstStep)
                bar.advance(detail: String(format: "loss %.4f  psnr %.1f  %.1f img/s", result.loss, psnr, Double(batchSize) / perStep))
                let outOfTime = minutes.map { elapsed >= $0 * 60 } ?? false
                if (saveInterval > 0 && trainer.step % saveInterval == 0) || trainer.step == steps || outOfTime {
                    try trainer.save(to: outURL, metricsLines: try pending.map { try encoder.encode($0) })
                    pending = []
                }
                if outOfTime { Output.log("stopping after \(minutes!) minutes at step \(trainer.step)"); break }
            }
            bar.finish()
            let seconds = Date().timeIntervalSince(started)
            try Self.writeCheck(checkpoint: outURL, images: Array(images.prefix(4)))
            let done = trainer.step - firstStep
            let summary = Summary(out: out, steps: trainer.step, images: images.count, parameters: parameterCount,
                                  firstLoss: firstLoss, finalLoss: lastLoss, finalReconstructionPSNR: lastPSNR,
                                  secondsPerStep: seconds / Double(max(done, 1)),
                                  imagesPerSecond: Double(done * batchSize) / max(seconds, 1e-9), seconds: seconds)
            if json {
                try Output.printJSON(summary)
            } else {
                print("saved \(out): " + String(format: "loss %.4f, PSNR %.1f dB, %.2f s/step, %.1f images/s",
                                                    lastLoss ?? .nan, lastPSNR ?? .nan, summary.secondsPerStep, summary.imagesPerSecond))
            }
        }
    }
}
