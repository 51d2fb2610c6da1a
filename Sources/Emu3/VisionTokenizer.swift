import EmuTensor

/// Emu3's vision tokenizer, the VQ-VAE of transformers' `Emu3VQVAE`: pixels to a grid of codebook
/// indices and back. Frames are normalized RGB in [-1, 1], channels first.
///
/// Images are 4-frame clips of copies (the temporal factor). The 2D stages act on each frame on its
/// own, so for a still image they run once and the result is repeated: bit-identical to the clip,
/// at a quarter of the cost. Decoding an image returns frame 0 and runs the 2D decoder only for it.
public struct VisionTokenizer: Sendable {
    public let configuration: VisionTokenizerConfiguration
    let encoder: VQEncoder
    let decoder: VQDecoder
    let quantConv: VQCausalConv3d      // latent -> embed, kernel 3x1x1
    let postQuantConv: VQCausalConv3d  // embed -> latent, kernel 3x1x1
    /// [codebook_size, embed_dim]
    public let codebook: Tensor

    /// Builds the network from weights named as transformers' standalone `Emu3VQVAE` names them
    /// (`encoder.conv_in.weight`, ...) or, with `layout: .baai`, as BAAI's original model does.
    /// A missing, misshapen or surplus weight is an error that names it.
    public init(configuration: VisionTokenizerConfiguration, weights: WeightStore,
                layout: VisionTokenizerLayout? = nil) throws {
        try self.init(configuration: configuration,
                      reader: VQWeightReader(store: weights, layout: layout ?? VisionTokenizerLayout.detect(weights)))
    }

    /// A network with random weights of the given shape (for benchmarks): convolutions and
    /// projections uniform in ±1/sqrt(fan-in) as PyTorch initializes them, norms at identity,
    /// codebook uniform in ±1/codebook size. Deterministic for a seed.
    public init(randomWeightsFor configuration: VisionTokenizerConfiguration, seed: UInt64 = 0) throws {
        var reader = VQWeightReader(store: try WeightStore(tensors: [:]), layout: .transformers)
        let counter = RandomWeightSource(seed: seed)
        reader.synthesize = { name, shape in counter.tensor(name: name, shape: shape, codebookSize: configuration.codebookSize) }
        try self.init(configuration: configuration, reader: reader)
    }

    private init(configuration: VisionTokenizerConfiguration, reader: VQWeightReader) throws {
        try configuration.validate()
        self.configuration = configuration
        var w = reader
        let c = configuration
        encoder = try VQEncoder(&w, configuration: c)
        decoder = try VQDecoder(&w, configuration: c)
        quantConv = try VQCausalConv3d(&w, "quant_conv.conv", in: c.latentChannels, out: c.embedDim, kernel: (3, 1, 1))
        postQuantConv = try VQCausalConv3d(&w, "post_quant_conv.conv", in: c.embedDim, out: c.latentChannels, kernel: (3, 1, 1))
        codebook = try w.take("quantize.embedding.weight", shape: [c.codebookSize, c.embedDim])
        try w.checkAllTaken()
    }

    /// Builds the network from in-memory weights (standalone transformers or BAAI names).
    public init(configuration: VisionTokenizerConfiguration, weights: [String: Tensor],
                layout: VisionTokenizerLayout? = nil) throws {
        let store: WeightStore
        do { store = try WeightStore(tensors: weights) } catch { throw VisionTokenizerError.badCheckpoint(error.description) }
        try self.init(configuration: configuration, weights: store, layout: layout)
    }

    public var spatialFactor: Int { configuration.spatialFactor }
    public var temporalFactor: Int { configuration.temporalDownsampleFactor }

    // MARK: Encoding

    /// Codes of a still image [3, H, W] (H, W multiples of the spatial factor): one frame of codes.
    public func encode(image: Tensor) throws -> VisionCodes {
        try quantize(encodeLatents(image: image))
    }

    /// Codes of a clip [T, 3, H, W] with T a multiple of the temporal factor: T/factor frames.
    public func encode(video: Tensor) throws -> VisionCodes {
        try quantize(encodeLatents(video: video))
    }

    /// The continuous latents before quantization, [1, embed, 1, h, w], of a still image.
    public func encodeLatents(image: Tensor) throws -> Tensor {
        try checkFrames(image.reshaped([1] + image.shape), isImage: true)
        let frame = encoder.encodeFrames(image.reshaped([1] + image.shape))  // [1, latent, h, w]
        let s = frame.shape
        // The same frame `temporalFactor` times: [1, latent, T, h, w].
        let clip = frame.reshaped([1, s[1], 1, s[2], s[3]]).upsampledNearest(temporal: temporalFactor, spatial: 1)
        return quantConv(encoder.encodeTime(clip))
    }

    /// The continuous latents before quantization, [1, embed, T/factor, h, w], of a clip [T, 3, H, W].
    public func encodeLatents(video: Tensor) throws -> Tensor {
        try checkFrames(video, isImage: false)
        let frames = encoder.encodeFrames(video)  // [T, latent, h, w]
        let s = frames.shape
        let clip = frames.permuted([1, 0, 2, 3]).reshaped([1, s[1], s[0], s[2], s[3]])
        return quantConv(encoder.encodeTime(clip))
    }

    /// Nearest codebook entries of latents [1, embed, T', h, w].
    public func quantize(_ latents: Tensor) throws -> VisionCodes {
        let (e, t, h, w) = (latents.shape[1], latents.shape[2], latents.shape[3], latents.shape[4])
        let rows = latents.permuted([0, 2, 3, 4, 1]).reshaped([t * h * w, e])
        return VisionCodes(frames: t, height: h, width: w, values: Tensor.nearestCodes(rows, codebook: codebook))
    }

    private func checkFrames(_ x: Tensor, isImage: Bool) throws {
        let what = isImage ? "image" : "video"
        guard x.rank == 4, x.shape[1] == configuration.inChannels else {
            throw VisionTokenizerError.badInput("\(what) of shape \(x.shape); expected \(isImage ? "" : "[frames, ")\(configuration.inChannels), height, width\(isImage ? "" : "]")")
        }
        let (h, w) = (x.shape[2], x.shape[3])
        guard h > 0, w > 0, h % spatialFactor == 0, w % spatialFactor == 0 else {
            throw VisionTokenizerError.badInput("\(what) size \(w)x\(h) is not a multiple of the spatial factor \(spatialFactor) (resize with ImageProcessor)")
        }
        if !isImage {
            guard x.shape[0] > 0, x.shape[0] % temporalFactor == 0 else {
                throw VisionTokenizerError.badInput("video of \(x.shape[0]) frames: the frame count must be a positive multiple of the temporal factor \(temporalFactor)")
            }
        }
    }

    // MARK: Decoding

    /// Frames [T'*factor, 3, h*f, w*f] decoded from codes of T' frames.
    public func decode(_ codes: VisionCodes) throws -> Tensor {
        let (latents, quantized) = try decodeTime(codes)  // [T, C, h, w] each
        return decoder.decodeFrames(latents, quantized: quantized)
    }

    /// The still image [3, h*f, w*f] of one frame of codes: frame 0 of the decoded clip, with the
    /// 2D decoder run for that frame only.
    public func decodeImage(_ codes: VisionCodes) throws -> Tensor {
        guard codes.frames == 1 else {
            throw VisionTokenizerError.badInput("an image has one frame of codes, got \(codes.frames)")
        }
        let (latents, quantized) = try decodeTime(codes)
        let frame = decoder.decodeFrames(latents.rows(0..<1), quantized: quantized.rows(0..<1))
        return frame.reshaped(Array(frame.shape.dropFirst()))
    }

    /// The still image [3, h*f, w*f] decoded from one frame of continuous quantized latents
    /// [1, embed, 1, h, w] (codebook vectors, or a straight-through estimate of them in training).
    /// Differentiable when the weights or the latents require gradients.
    public func decodeImage(quantizedLatents quant: Tensor) throws -> Tensor {
        guard quant.rank == 5, quant.shape[0] == 1, quant.shape[1] == configuration.embedDim, quant.shape[2] == 1 else {
            throw VisionTokenizerError.badInput("quantized latents of shape \(quant.shape); expected [1, \(configuration.embedDim), 1, h, w]")
        }
        let (latents, quantized) = decodeTime(quantized: quant)
        let frame = decoder.decodeFrames(latents.rows(0..<1), quantized: quantized.rows(0..<1))
        return frame.reshaped(Array(frame.shape.dropFirst()))
    }

    /// Frames [T'*factor, 3, h*f, w*f] decoded from continuous quantized latents [1, embed, T', h, w]
    /// (differentiable, like `decodeImage(quantizedLatents:)`).
    public func decode(quantizedLatents quant: Tensor) throws -> Tensor {
        guard quant.rank == 5, quant.shape[0] == 1, quant.shape[1] == configuration.embedDim, quant.shape[2] > 0 else {
            throw VisionTokenizerError.badInput("quantized latents of shape \(quant.shape); expected [1, \(configuration.embedDim), frames, h, w]")
        }
        let (latents, quantized) = decodeTime(quantized: quant)
        return decoder.decodeFrames(latents, quantized: quantized)
    }

    /// Every weight name with its shape, in construction order (transformers' standalone names).
    public static func weightShapes(for configuration: VisionTokenizerConfiguration) throws -> [(name: String, shape: [Int])] {
        final class Recorder: @unchecked Sendable { var shapes: [(name: String, shape: [Int])] = [] }
        let recorder = Recorder()
        var reader = VQWeightReader(store: try WeightStore(tensors: [:]), layout: .transformers)
        reader.synthesize = { name, shape in
            recorder.shapes.append((name, shape))
            return Tensor(zeros: shape)
        }
        _ = try VisionTokenizer(configuration: configuration, reader: reader)
        return recorder.shapes
    }

    /// Codebook lookup, post-quant conv and the decoder's temporal stage: per-frame latents and
    /// quantized latents, each [T'*factor, C, h, w].
    private func decodeTime(_ codes: VisionCodes) throws -> (Tensor, Tensor) {
        let (t, h, w) = (codes.frames, codes.height, codes.width)
        guard t > 0, h > 0, w > 0 else { throw VisionTokenizerError.badInput("empty code grid \(t)x\(h)x\(w)") }
        if let bad = codes.values.first(where: { $0 < 0 || $0 >= configuration.codebookSize }) {
            throw VisionTokenizerError.badInput("code \(bad) outside the codebook of \(configuration.codebookSize) entries")
        }
        let quant = Tensor.embedding(codes.values, shape: [1, t, h, w], table: codebook)
            .permuted([0, 4, 1, 2, 3])  // [1, E, T', h, w]
        return decodeTime(quantized: quant)
    }

    /// The decoder's temporal stage on quantized latents [1, E, T', h, w].
    private func decodeTime(quantized quant: Tensor) -> (Tensor, Tensor) {
        let (e, h, w) = (configuration.embedDim, quant.shape[3], quant.shape[4])
        let post = postQuantConv(quant)
        let both = decoder.decodeTime(Tensor.concatenate([post, quant], axis: 0))  // [2, C, T, h, w]
        let frames = both.shape[2]
        func perFrame(_ x: Tensor) -> Tensor {
            x.permuted([0, 2, 1, 3, 4]).reshaped([frames, e, h, w])
        }
        return (perFrame(both.rows(0..<1)), perFrame(both.rows(1..<2)))
    }
}

/// Random weights by name and shape for `VisionTokenizer(randomWeightsFor:)`.
private final class RandomWeightSource {
    private var random: SplitMix64

    init(seed: UInt64) { random = SplitMix64(seed: seed) }

    func tensor(name: String, shape: [Int], codebookSize: Int) -> Tensor {
        let count = Tensor.elementCount(shape)
        if name.hasSuffix("running_var") || (shape.count == 1 && name.hasSuffix(".weight")) {
            return Tensor([Float](repeating: 1, count: count), shape: shape)  // norm scales, variances
        }
        if shape.count == 1 && !name.hasSuffix(".bias") || name.hasSuffix("running_mean") {
            return Tensor([Float](repeating: 0, count: count), shape: shape)
        }
        let bound: Double
        if name.hasPrefix("quantize.") {
            bound = 1 / Double(codebookSize)
        } else if shape.count == 1 {
            bound = 0.01  // biases
        } else {
            bound = 1 / Double(shape.dropFirst().reduce(1, *)).squareRoot()
        }
        let values = (0..<count).map { _ in Float((random.nextUnitFloat() * 2 - 1) * bound) }
        return Tensor(values, shape: shape)
    }
}
