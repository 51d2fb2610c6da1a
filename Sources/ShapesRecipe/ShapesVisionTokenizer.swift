import Emu3
import EmuIO
import EmuTensor
import EmuTraining
import Foundation

/// The recipe's VQ-VAE stage: Emu3's vision tokenizer in small, trained on rendered ShapesWorld
/// pictures with the shared trainer (`VisionTokenizerTrainer`: reconstruction + commitment loss,
/// EMA codebook with dead-code restart).
enum ShapesVisionTokenizer {
    /// Emu3's architecture at 64x64: four levels (spatial stride 8, so an 8x8 code grid), base 32
    /// channels, one residual block per level, no attention (Emu3 attends only at its coarsest
    /// level, which here is 8x8 and gains little), and no temporal downsampling: each video frame
    /// is coded on its own, as the recipe's sequences lay frames out.
    static func configuration(codebookSize: Int) -> VisionTokenizerConfiguration {
        var c = VisionTokenizerConfiguration()
        c.temporalDownsampleFactor = 1
        c.attnResolutions = []
        c.numAttentionHeads = 1
        c.baseChannels = 32
        c.channelMultiplier = [1, 1, 2, 2]
        c.numResBlocks = 1
        c.codebookSize = codebookSize
        c.embedDim = 4
        c.latentChannels = 4
        c.hiddenSize = c.baseChannels * 2
        return c
    }

    /// Trains on `images` for `steps` steps of `batchSize` pictures (a fresh shuffle every epoch)
    /// and returns the trained tokenizer with its weights, named as transformers' `Emu3VQVAE` names them.
    static func train(images: [RGBImage], codebookSize: Int, steps: Int, batchSize: Int, learningRate: Float, seed: UInt64,
                      log: (String) -> Void) throws -> (tokenizer: VisionTokenizer, weights: [String: Tensor]) {
        precondition(!images.isEmpty && steps > 0 && batchSize > 0, "VQ training needs images, steps and a batch size")
        let configuration = Self.configuration(codebookSize: codebookSize)
        let model = try TrainableVisionTokenizer(configuration: configuration, seed: seed)
        let trainer = VisionTokenizerTrainer(
            model: model,
            configuration: TrainingConfiguration(steps: steps, batchSize: batchSize, sequenceLength: 0,
                                                 optimizer: .init(learningRate: learningRate, weightDecay: 0), maxGradientNorm: 1,
                                                 seed: seed))
        let processor = ImageProcessor()
        let pixels = images.map(processor.pixelValues)
        let started = Date()
        var smoothed: Float? = nil
        while trainer.step < steps {
            let result = try trainer.train(images: trainer.nextBatch(of: pixels))
            smoothed = smoothed.map { 0.9 * $0 + 0.1 * result.reconstructionLoss } ?? result.reconstructionLoss
            if trainer.step % 25 == 0 || trainer.step == 1 || trainer.step == steps {
                let psnr = 10 * log10(4 / max(Double(smoothed!), 1e-12))  // pixels in [-1, 1]
                let elapsed = Date().timeIntervalSince(started)
                log(String(format: "vq step %d/%d reconstruction %.4f (PSNR %.1f dB) codes used %d restarted %d %.2fs/step, ",
                           trainer.step, steps, smoothed!, psnr, result.codesUsed, result.restartedCodes, elapsed / Double(trainer.step))
                    + ShapesRecipe.remaining(elapsed: elapsed, done: trainer.step, total: steps))
            }
        }
        let weights = model.weights.mapValues { $0.detached() }
        return (try VisionTokenizer(configuration: configuration, weights: weights), weights)
    }
}
