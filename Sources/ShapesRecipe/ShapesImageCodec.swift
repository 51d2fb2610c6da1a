import Emu3
import EmuIO
import EmuTensor
import EmuTraining
import Foundation
import ShapesWorld

/// How a ShapesWorld model turns a 64x64 picture into a grid of codes and back. Two codecs exist:
/// Emu3's convolutional VQ-VAE (`VisionTokenizerCodec`, what the issue asks for) and the k-means
/// patch codebook (`PatchCodebook`) the first bundled models were trained on.
public protocol ShapesImageCodec: Sendable {
    /// The codec's `shapes_codec.type` in config.json ("vqvae", "patch_codebook").
    static var kind: String { get }
    /// Distinct codes (the number of visual tokens).
    var codeCount: Int { get }
    /// Pixels per code along each side (8: a 64x64 picture is an 8x8 grid).
    var spatialFactor: Int { get }
    /// The grid of codes (rows of columns) of `image`.
    func encode(_ image: RGBImage) throws -> [Int]
    /// The picture of a grid of codes `rows` x `columns`.
    func decode(_ codes: [Int], rows: Int, columns: Int) throws -> RGBImage
    /// What stores the codec in an -hf folder: tensors for `model.safetensors`, entries for
    /// `config.json` (always `shapes_codec`, naming the codec's type) and whole files.
    func checkpointEntries() throws -> CodecCheckpointEntries
}

public struct CodecCheckpointEntries {
    public var tensors: [String: Tensor]
    public var config: [String: Any]
    public var files: [String: Data] = [:]
}

extension PatchCodebook: ShapesImageCodec {
    public static let checkpointTensor = "model.vqmodel.patch_codebook.weight"
    public static let kind = "patch_codebook"
    public var codeCount: Int { size }
    public var spatialFactor: Int { patchSize }

    public func checkpointEntries() throws -> CodecCheckpointEntries {
        CodecCheckpointEntries(
            tensors: [Self.checkpointTensor: entries],
            config: ["shapes_codec": ["type": Self.kind, "patch_size": patchSize, "codebook_size": size, "tensor": Self.checkpointTensor]])
    }
}

/// Emu3's VQ-VAE as a ShapesWorld codec: pixels normalized to [-1, 1] as Emu3's processor does,
/// encoded to a code grid; codes decoded and turned back into 8-bit pixels.
public struct VisionTokenizerCodec: ShapesImageCodec {
    public static let kind = "vqvae"
    public let tokenizer: VisionTokenizer
    /// The weights as transformers' `Emu3VQVAE` names them, for the checkpoint (empty: the codec
    /// cannot be saved).
    let weights: [String: Tensor]
    let processor = ImageProcessor()
    /// When set, the codes of the empty canvas, and every empty cell of a picture (the cell and
    /// half a cell around it all background) gets the empty canvas's code at its place. The
    /// VQ-VAE's codes see far beyond their cell, so without this an empty cell's code depends on
    /// objects elsewhere in the picture, later ones in raster order included: hundreds of codes
    /// for nothing (`BackgroundCodes`), noise the transformer can neither learn nor sample right.
    /// The decoder is unchanged. Stored in config.json as `shapes_codec.blank_codes`; `emu vq` and
    /// transformers run the VQ-VAE alone, so on such a model they code empty cells without it.
    public let blankCodes: [Int]?

    public init(tokenizer: VisionTokenizer, weights: [String: Tensor] = [:], blankCodes: [Int]? = nil) {
        self.tokenizer = tokenizer
        self.weights = weights
        self.blankCodes = blankCodes
    }

    /// This codec with its empty cells given one code per place (see `blankCodes`).
    public func withBlankCells() throws -> VisionTokenizerCodec {
        let empty = RGBImage(width: Scene.canvasSize, height: Scene.canvasSize, fill: sceneBackground)
        let plain = VisionTokenizerCodec(tokenizer: tokenizer, weights: weights)
        return VisionTokenizerCodec(tokenizer: tokenizer, weights: weights, blankCodes: try plain.encode(empty))
    }

    public var codeCount: Int { tokenizer.configuration.codebookSize }
    public var spatialFactor: Int { tokenizer.spatialFactor }

    public func encode(_ image: RGBImage) throws -> [Int] {
        var codes = try tokenizer.encode(image: processor.pixelValues(image)).values
        if let blankCodes, blankCodes.count == codes.count {
            let cell = spatialFactor, columns = image.width / cell
            for i in codes.indices where BackgroundCodes.isEmpty(image, x: (i % columns) * cell - cell / 2,
                                                                 y: (i / columns) * cell - cell / 2, side: 2 * cell) {
                codes[i] = blankCodes[i]
            }
        }
        return codes
    }

    public func decode(_ codes: [Int], rows: Int, columns: Int) throws -> RGBImage {
        var grid = Array(codes.prefix(rows * columns)).map { min(max($0, 0), codeCount - 1) }
        grid += [Int](repeating: 0, count: rows * columns - grid.count)
        let pixels = try tokenizer.decodeImage(VisionCodes(frames: 1, height: rows, width: columns, values: grid))
        return processor.postprocess(pixels)
    }

    /// Emu3's -hf layout: weights under `model.vqmodel.`, the tokenizer's config as `vq_config`,
    /// and a `preprocessor_config.json` that keeps 64x64 pictures at 64x64 (Emu3's default would
    /// upscale them to 512x512), so `emu vq` and transformers' Emu3 processor code them as the model does.
    public func checkpointEntries() throws -> CodecCheckpointEntries {
        guard !weights.isEmpty else { throw ShapesModelError.invalid("codec", reason: "this VQ-VAE codec was made without its weights and cannot be saved") }
        let side = Scene.canvasSize
        let preprocessor: [String: Any] = [
            "image_processor_type": "Emu3ImageProcessor", "do_resize": true, "do_rescale": true, "do_normalize": true,
            "min_pixels": side * side, "max_pixels": side * side, "spatial_factor": spatialFactor,
            "image_mean": processor.imageMean, "image_std": processor.imageStd, "rescale_factor": processor.rescaleFactor,
        ]
        return CodecCheckpointEntries(
            tensors: Dictionary(uniqueKeysWithValues: weights.map { ("model.vqmodel." + $0.key, $0.value) }),
            config: ["vq_config": try TrainableVisionTokenizer.configDictionary(tokenizer.configuration),
                     "shapes_codec": blankCodes.map { ["type": Self.kind, "blank_codes": $0] } ?? ["type": Self.kind]],  // size and stride are the vq_config's
            files: ["preprocessor_config.json": try JSONSerialization.data(withJSONObject: preprocessor, options: [.prettyPrinted, .sortedKeys])])
    }
}

/// What a codec lets a perfect model score: true scenes for held-out GenEval prompts, coded and
/// decoded, read back by the evaluator. Text-to-image accuracy cannot exceed it.
public enum CodecCeiling {
    public static func genEval(_ codec: any ShapesImageCodec, perCategory: Int) throws -> GenEvalReport {
        let scorer = GenEvalScorer()
        let grid = Scene.canvasSize / codec.spatialFactor
        var judgements: [GenEvalJudgement] = []
        for (i, prompt) in TaskData.genEvalPrompts(.heldOut, perCategory: perCategory).enumerated() {
            guard let scene = SceneGenerator.scene(satisfying: prompt.spec, seed: UInt64(i)) else { continue }
            let codes = try codec.encode(SceneRenderer.render(scene))
            judgements.append(scorer.judge(prompt, image: try codec.decode(codes, rows: grid, columns: grid)))
        }
        return GenEvalScorer.report(judgements)
    }
}

/// How many codes the codec spends on empty canvas. A cell whose neighbourhood (the cell and half a
/// cell around it) is all background carries no information, so an ideal codec gives it one code
/// per place (a place may differ from another: the VQ-VAE sees the canvas's border); every further
/// code there is noise the transformer must predict and can sample wrong. A VQ-VAE's codes see
/// beyond their cell, so its empty cells take codes that depend on objects elsewhere, including
/// objects later in raster order, which no next-token model can know.
public struct BackgroundCodes: Codable, Sendable, Hashable {
    /// Empty cells seen.
    public var cells: Int
    /// Distinct codes on them.
    public var distinctCodes: Int
    /// The entropy of an empty cell's code given its place, in nats (0: one code per place;
    /// log 1024 = 6.9 for codes drawn uniformly).
    public var entropy: Double

    enum CodingKeys: String, CodingKey {
        case cells, entropy
        case distinctCodes = "distinct_codes"
    }

    /// Over `count` held-out captioned scenes (objects anywhere, as the recipe trains on them).
    public static func measure(_ codec: any ShapesImageCodec, scenes count: Int) throws -> BackgroundCodes {
        let pictures = TaskData.captionedImages(.heldOut, count: count).map(\.image)
        return try measure(codec, pictures: pictures)
    }

    public static func measure(_ codec: any ShapesImageCodec, pictures: [RGBImage]) throws -> BackgroundCodes {
        let cell = codec.spatialFactor
        var counts: [Int: [Int: Int]] = [:]  // place -> code -> cells
        for picture in pictures {
            let codes = try codec.encode(picture)
            let columns = picture.width / cell
            for (place, code) in codes.enumerated() {
                let row = place / columns, column = place % columns
                if isEmpty(picture, x: column * cell - cell / 2, y: row * cell - cell / 2, side: 2 * cell) {
                    counts[place, default: [:]][code, default: 0] += 1
                }
            }
        }
        let total = counts.values.reduce(0) { $0 + $1.values.reduce(0, +) }
        var entropy = 0.0, distinct = Set<Int>()
        for codes in counts.values {
            let here = Double(codes.values.reduce(0, +))
            distinct.formUnion(codes.keys)
            for n in codes.values {
                let p = Double(n) / here
                entropy -= here / Double(total) * p * Foundation.log(p)
            }
        }
        return BackgroundCodes(cells: total, distinctCodes: distinct.count, entropy: entropy)
    }

    /// Whether the square of `side` pixels at (x, y), clipped to the picture, is all background.
    static func isEmpty(_ picture: RGBImage, x: Int, y: Int, side: Int) -> Bool {
        let (r, g, b) = sceneBackground
        for py in max(0, y)..<min(picture.height, y + side) {
            for px in max(0, x)..<min(picture.width, x + side) {
                let offset = (py * picture.width + px) * 3
                if picture.pixels[offset] != r || picture.pixels[offset + 1] != g || picture.pixels[offset + 2] != b { return false }
            }
        }
        return true
    }
}
