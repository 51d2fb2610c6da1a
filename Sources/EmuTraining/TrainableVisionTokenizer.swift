import Foundation
import EmuTensor
import EmuIO
import Emu3

/// Emu3's vision tokenizer (transformers' `Emu3VQVAE`) as a trainable model. Every weight is a
/// float32 tensor named as a standalone transformers save names it (`encoder.conv_in.weight`);
/// the network that runs is the inference `VisionTokenizer` built over those very tensors, so its
/// ops record gradients into them and optimizer updates (in place) are seen by the next forward.
///
/// The forward for images: encoder -> quant_conv -> nearest code (straight-through) ->
/// post_quant_conv -> decoder with spatial norms conditioned on the quantized latent.
/// The codebook (`quantize.embedding.weight`) receives no gradient: it follows the encoder by
/// EMA with dead-code restart (`CodebookEMA`). BatchNorm layers of the temporal blocks run with
/// their running statistics (mean 0, variance 1, never updated), as transformers runs them in
/// eval mode, so a checkpoint behaves the same in both.
public final class TrainableVisionTokenizer {
    public static let codebookName = "quantize.embedding.weight"

    public let configuration: VisionTokenizerConfiguration
    /// Every weight and buffer by name: parameters require gradients, BatchNorm running
    /// statistics and the EMA codebook do not.
    public let weights: [String: Tensor]
    /// The network running over `weights`.
    public let network: VisionTokenizer
    public var codebookEMA: CodebookEMA

    /// The names trained by gradient descent (all but the codebook and running statistics).
    public var parameters: [String: Tensor] { weights.filter { $0.value.requiresGradient } }
    public var codebook: Tensor { weights[Self.codebookName]! }

    /// Float32 copies of given weights (e.g. a loaded checkpoint), standalone transformers names.
    public init(configuration: VisionTokenizerConfiguration, weights source: [String: Tensor], seed: UInt64 = 0) throws {
        try configuration.validate()
        self.configuration = configuration
        var weights: [String: Tensor] = [:]
        for (name, shape) in try VisionTokenizer.weightShapes(for: configuration) {
            guard let t = source[name] else { throw VisionTokenizerError.missingWeight(name) }
            guard t.shape == shape else { throw VisionTokenizerError.weightShape(name: name, expected: shape, found: t.shape) }
            let copy = t.to(.float32).copy()
            weights[name] = Self.isTrainable(name) ? copy.requiringGradient(name: name) : copy
        }
        self.weights = weights
        network = try VisionTokenizer(configuration: configuration, weights: weights, layout: .transformers)
        codebookEMA = CodebookEMA(codebook: weights[Self.codebookName]!, seed: seed)
    }

    /// The vision tokenizer of a checkpoint folder, to fine-tune: an -hf `Emu3ForConditionalGeneration`
    /// checkpoint, a standalone `Emu3VQVAE` save, or BAAI's `Emu3-VisionTokenizer` layout.
    public convenience init(directory: String, seed: UInt64 = 0) throws {
        let (configuration, weights) = try VisionTokenizer.weights(directory: directory)
        try self.init(configuration: configuration, weights: weights, seed: seed)
    }

    /// Fresh weights as PyTorch initializes them: convolutions and linear layers uniform in
    /// ±1/sqrt(fan-in) (weights and biases), norms at identity, running mean 0 and variance 1,
    /// codebook uniform in ±1/codebook size. The same seed gives the same model.
    public convenience init(configuration: VisionTokenizerConfiguration, seed: UInt64) throws {
        var generator = SeededGenerator(seed: seed)
        var source: [String: Tensor] = [:]
        var fanIn: [String: Int] = [:]
        let shapes = try VisionTokenizer.weightShapes(for: configuration)
        for (name, shape) in shapes where shape.count > 1 {
            fanIn[String(name.dropLast(".weight".count))] = shape.dropFirst().reduce(1, *)
        }
        for (name, shape) in shapes {
            let count = Tensor.elementCount(shape)
            func uniform(_ bound: Double) -> Tensor {
                Tensor((0..<count).map { _ in Float((Double(generator.next() >> 11) / Double(1 << 53) * 2 - 1) * bound) },
                       shape: shape)
            }
            let stem = name.split(separator: ".").dropLast().joined(separator: ".")
            if name == Self.codebookName {
                source[name] = uniform(1 / Double(configuration.codebookSize))
            } else if name.hasSuffix("running_var") {
                source[name] = Tensor([Float](repeating: 1, count: count), shape: shape)
            } else if name.hasSuffix("running_mean") {
                source[name] = Tensor(zeros: shape)
            } else if shape.count > 1 {
                source[name] = uniform(1 / Double(shape.dropFirst().reduce(1, *)).squareRoot())
            } else if let fan = fanIn[stem] {
                source[name] = uniform(1 / Double(fan).squareRoot())  // bias of a conv or projection
            } else {
                // GroupNorm / BatchNorm affine: identity.
                let one: Float = name.hasSuffix(".weight") ? 1 : 0
                source[name] = Tensor([Float](repeating: one, count: count), shape: shape)
            }
        }
        try self.init(configuration: configuration, weights: source, seed: seed)
    }

    static func isTrainable(_ name: String) -> Bool {
        !(name == codebookName || name.hasSuffix("running_mean") || name.hasSuffix("running_var"))
    }

    /// What one forward (an image or a clip) produced.
    public struct Forward {
        /// Reconstruction: [3, H, W] for an image, [T, 3, H, W] for a clip.
        public var reconstruction: Tensor
        /// Encoder latents after quant_conv, one row per code (frame-major): [T'*h*w, embed].
        public var latents: Tensor
        public var codes: [Int]
        /// Mean squared reconstruction error (a scalar in the graph).
        public var reconstructionLoss: Tensor
        /// beta * ||z - sg(q)||^2 (a scalar in the graph).
        public var commitmentLoss: Tensor
        public var loss: Tensor { reconstructionLoss.adding(commitmentLoss) }
    }

    /// Encodes, quantizes (straight-through) and decodes one image [3, H, W] in [-1, 1].
    public func forward(image: Tensor, commitmentBeta: Float = 0.25) throws -> Forward {
        try forward(input: image, latents: network.encodeLatents(image: image), commitmentBeta: commitmentBeta) {
            try network.decodeImage(quantizedLatents: $0)
        }
    }

    /// Encodes, quantizes (straight-through) and decodes one clip [T, 3, H, W] in [-1, 1], T a
    /// multiple of the temporal factor.
    public func forward(video: Tensor, commitmentBeta: Float = 0.25) throws -> Forward {
        try forward(input: video, latents: network.encodeLatents(video: video), commitmentBeta: commitmentBeta) {
            try network.decode(quantizedLatents: $0)
        }
    }

    private func forward(input: Tensor, latents z: Tensor, commitmentBeta: Float,
                         decode: (Tensor) throws -> Tensor) throws -> Forward {
        let (e, t, h, w) = (z.shape[1], z.shape[2], z.shape[3], z.shape[4])  // z: [1, E, T', h, w]
        let rows = z.permuted([0, 2, 3, 4, 1]).reshaped([t * h * w, e])
        let codes = Tensor.nearestCodes(rows.detached(), codebook: codebook)
        let q = Tensor.embedding(codes, shape: [t * h * w], table: codebook.detached())  // [T'*h*w, E]
        let quantizedRows = VectorQuantizerLosses.straightThrough(latents: rows, quantized: q)
        let quantized = quantizedRows.reshaped([1, t, h, w, e]).permuted([0, 4, 1, 2, 3])
        let reconstruction = try decode(quantized)
        return Forward(reconstruction: reconstruction, latents: rows.detached(), codes: codes,
                       reconstructionLoss: VectorQuantizerLosses.meanSquaredError(reconstruction, input),
                       commitmentLoss: VectorQuantizerLosses.commitment(latents: rows, quantized: q, beta: commitmentBeta))
    }

    /// Clears the gradients of every parameter.
    public func zeroGradients() {
        for t in weights.values { t.zeroGradient() }
    }

    /// The transformers config dictionary (`Emu3VQVAEConfig`) of this model.
    public func configJSON() throws -> Data {
        try JSONSerialization.data(withJSONObject: Self.configDictionary(configuration), options: [.prettyPrinted, .sortedKeys])
    }

    /// The transformers config dictionary (`Emu3VQVAEConfig`) of `configuration`: a standalone
    /// tokenizer's `config.json`, or the `vq_config` of a full checkpoint.
    public static func configDictionary(_ configuration: VisionTokenizerConfiguration) throws -> [String: Any] {
        var json = try JSONSerialization.jsonObject(with: JSONEncoder().encode(configuration)) as? [String: Any] ?? [:]
        json["model_type"] = "emu3_vqgan"
        json["architectures"] = ["Emu3VQVAE"]
        json["attention_dropout"] = 0.0
        json["torch_dtype"] = "float32"
        return json
    }
}
