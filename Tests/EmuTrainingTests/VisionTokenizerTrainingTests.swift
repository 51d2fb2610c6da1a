import Foundation
import Testing
import EmuTensor
import Emu3
@testable import EmuTraining

/// A tiny Emu3VQVAE: GroupNorm(32) forces channel counts that are multiples of 32; temporal factor 1.
func tinyVisionTokenizerConfiguration() -> VisionTokenizerConfiguration {
    var c = VisionTokenizerConfiguration()
    c.codebookSize = 16
    c.embedDim = 4
    c.latentChannels = 4
    c.temporalDownsampleFactor = 1
    c.baseChannels = 32
    c.channelMultiplier = [1, 2]
    c.numResBlocks = 1
    c.attnResolutions = []
    c.hiddenSize = 64
    return c
}

@Suite("Vision tokenizer training")
struct VisionTokenizerTrainingTests {
    @Test("every trained parameter gets a nonzero gradient; some match finite differences")
    func gradients() throws {
        let model = try TrainableVisionTokenizer(configuration: tinyVisionTokenizerConfiguration(), seed: 1)
        let image = SyntheticShapes.images(count: 1, size: 8, seed: 3)[0]
        model.zeroGradients()
        try model.forward(image: image).loss.backward()
        let parameters = model.parameters
        #expect(parameters[TrainableVisionTokenizer.codebookName] == nil)
        #expect(!parameters.keys.contains { $0.contains("running_") })
        #expect(parameters.count > 100)
        for (name, p) in parameters.sorted(by: { $0.key < $1.key }) {
            let g = try #require(p.grad, "\(name) has no gradient")
            #expect(g.toArray().contains { $0 != 0 }, "\(name) has an all-zero gradient")
        }
        // Central differences (float32, step 1e-2) at the largest-gradient element; tolerance 5%
        // relative + 1e-4 absolute. Behind the quantizer the loss is smooth in the weights.
        let decoderSide = ["post_quant_conv.conv.weight", "decoder.time_res_stack.0.norm1.weight",
                           "decoder.middle_block.block_1.norm1.conv_y.weight", "decoder.middle_block.attn_1.k_proj.weight",
                           "decoder.up_block.up.0.block.1.conv2.bias", "decoder.conv_out.weight"]
        try checkFiniteDifferences(model, decoderSide) { try model.forward(image: image).loss }
        // In front of it the straight-through gradient is by design not the loss's derivative
        // (codes are piecewise constant), so check the encoder path on the commitment loss alone.
        model.zeroGradients()
        try model.forward(image: image).commitmentLoss.backward()
        let encoderSide = ["encoder.conv_in.weight", "encoder.down_block.down.1.block.0.norm2.bias",
                           "encoder.middle_block.attn_1.q_proj.weight", "encoder.time_res_stack.0.conv1.conv.weight",
                           "quant_conv.conv.weight"]
        try checkFiniteDifferences(model, encoderSide) { try model.forward(image: image).commitmentLoss }
    }

    private func checkFiniteDifferences(_ model: TrainableVisionTokenizer, _ names: [String],
                                        loss: () throws -> Tensor) throws {
        for name in names {
            let p = try #require(model.parameters[name], "\(name)")
            let g = try #require(p.grad, "\(name)").toArray()
            let i = g.indices.max { abs(g[$0]) < abs(g[$1]) }!
            let w = p.mutableFloats, original = w[i], eps: Float = 1e-2
            w[i] = original + eps
            let plus = try Autograd.withoutGradients { try loss().item }
            w[i] = original - eps
            let minus = try Autograd.withoutGradients { try loss().item }
            w[i] = original
            let numeric = (plus - minus) / (2 * eps)
            #expect(abs(numeric - g[i]) <= 0.05 * max(abs(numeric), abs(g[i])) + 1e-4,
                    "\(name)[\(i)]: analytic \(g[i]), numeric \(numeric)")
        }
    }

    @Test("a tiny VQ-VAE's reconstruction error falls at least 3x on flat coloured shapes (80 steps)")
    func learns() throws {
        let model = try TrainableVisionTokenizer(configuration: tinyVisionTokenizerConfiguration(), seed: 2)
        let steps = 80
        let config = TrainingConfiguration(steps: steps, batchSize: 4, optimizer: .init(learningRate: 3e-3, weightDecay: 0),
                                           maxGradientNorm: 1, seed: 2)
        let trainer = VisionTokenizerTrainer(model: model, configuration: config)
        let data = SyntheticShapes.images(count: 16, size: 16, seed: 5)
        var first: Float = 0, last: Float = 0
        for step in 0..<steps {
            let batch = (0..<4).map { data[(step * 4 + $0) % data.count] }
            let result = try trainer.train(images: batch)
            if step == 0 { first = result.reconstructionLoss }
            if step >= steps - 4 { last += result.reconstructionLoss / 4 }  // the last 4 batches: all 16 images
        }
        print("tiny VQ-VAE reconstruction MSE: \(first) -> \(last)")
        #expect(last * 3 <= first, "MSE \(first) -> \(last)")
    }

    @Test("a saved checkpoint reloads into VisionTokenizer and encodes to the same codes; resume restores the step")
    func checkpoint() throws {
        let model = try TrainableVisionTokenizer(configuration: tinyVisionTokenizerConfiguration(), seed: 4)
        let trainer = VisionTokenizerTrainer(model: model, configuration: TrainingConfiguration(steps: 2, batchSize: 2, seed: 4))
        let data = SyntheticShapes.images(count: 2, size: 16, seed: 6)
        _ = try trainer.train(images: data)
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("vq-ckpt-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: folder) }
        try trainer.save(to: folder)
        let loaded = try VisionTokenizer(directory: folder.path)
        #expect(loaded.configuration == model.configuration)
        for image in data {
            let expected = try Autograd.withoutGradients { try model.forward(image: image).codes }
            #expect(try loaded.encode(image: image).values == expected)
        }
        let resumed = try VisionTokenizerTrainer.resume(from: folder)
        #expect(resumed.step == 1)
        #expect(resumed.optimizer.step == 1)
        for (name, w) in model.weights { #expect(resumed.model.weights[name]!.toArray() == w.toArray(), "\(name)") }
    }

    @Test("resume is bit-exact: losses, weights, codebook and its restarts as in an uninterrupted run")
    func resumeIsBitExact() throws {
        let data = SyntheticShapes.images(count: 12, size: 16, seed: 8)
        let batches = (0..<6).map { step in (0..<2).map { data[(step * 2 + $0) % data.count] } }
        let config = TrainingConfiguration(steps: 6, batchSize: 2, optimizer: .init(learningRate: 3e-3, weightDecay: 0),
                                           maxGradientNorm: 1, seed: 9)
        // A high dead-code threshold (EMA counts start at 1 and decay by 0.99 a step) so codes
        // unused for 3 steps are restarted within these 6 steps, drawing on the saved generator.
        let threshold: Float = 0.975
        func fresh() throws -> VisionTokenizerTrainer {
            let trainer = VisionTokenizerTrainer(model: try TrainableVisionTokenizer(configuration: tinyVisionTokenizerConfiguration(), seed: 9),
                                                 configuration: config)
            trainer.model.codebookEMA.deadThreshold = threshold
            return trainer
        }
        let straight = try fresh()
        let straightResults = try batches.map { try straight.train(images: $0) }
        #expect(straightResults.map(\.restartedCodes).reduce(0, +) > 0, "no dead-code restart happened: the test would not cover its generator")

        let interrupted = try fresh()
        for batch in batches.prefix(3) { _ = try interrupted.train(images: batch) }
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("vq-resume-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: folder) }
        try interrupted.save(to: folder)
        let resumed = try VisionTokenizerTrainer.resume(from: folder)
        resumed.model.codebookEMA.deadThreshold = threshold
        #expect(straightResults.dropFirst(3).map(\.restartedCodes).reduce(0, +) > 0, "no restart after the resume point")
        let resumedResults = try batches.dropFirst(3).map { try resumed.train(images: $0) }
        #expect(resumedResults.map(\.loss) == straightResults.dropFirst(3).map(\.loss))
        #expect(resumedResults.map(\.restartedCodes) == straightResults.dropFirst(3).map(\.restartedCodes))
        let differing = straight.model.weights.keys.sorted().filter { resumed.model.weights[$0]!.toArray() != straight.model.weights[$0]!.toArray() }
        #expect(differing.isEmpty, "weights differ after resume: \(differing.prefix(5)) (\(differing.count) tensors)")
    }
}
