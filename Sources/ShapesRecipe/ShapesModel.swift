import Emu3
import EmuIO
import EmuTensor
import Foundation
import ShapesWorld

/// A bundled ShapesWorld checkpoint opened for the four tasks. The transformer, generator, grid
/// constraint and guidance are Emu3's (`Emu3Pipeline`); the image codec is the folder's VQ-VAE
/// (`vq_config`, `model.vqmodel.*`) or, in the first bundled models, its patch codebook.
public struct ShapesModel: Sendable {
    public let directory: URL
    public let pipeline: Emu3Pipeline
    public let vocabulary: ShapesVocabulary
    public let sequences: ShapesSequences
    public let codec: any ShapesImageCodec
    let generator: Generator

    public init(directory: URL) throws {
        self.directory = directory
        let configURL = directory.appendingPathComponent("config.json")
        guard let configData = FileManager.default.contents(atPath: configURL.path) else {
            throw ShapesModelError.missingModel("no model at \(directory.path) (config.json missing); train one with `emu train --recipe shapes --out \(directory.path)`")
        }
        guard let config = (try? JSONSerialization.jsonObject(with: configData)) as? [String: Any],
              let codecEntry = config["shapes_codec"] as? [String: Any], let codecType = codecEntry["type"] as? String else {
            throw ShapesModelError.invalid("config.json", reason: "no shapes_codec entry: not a ShapesWorld model")
        }
        vocabulary = try ShapesVocabulary.load(tokenizerJSON: directory.appendingPathComponent("tokenizer.json"))
        pipeline = try Emu3Pipeline(directory: directory, components: .transformer, tokenizer: ShapesTokenizer(vocabulary: vocabulary))
        switch codecType {
        case VisionTokenizerCodec.kind:
            do {
                // The weights are kept (4 MB), so a recipe can reuse this codec and save it again.
                let (configuration, weights) = try VisionTokenizer.weights(directory: directory.path)
                codec = VisionTokenizerCodec(tokenizer: try VisionTokenizer(configuration: configuration, weights: weights), weights: weights)
            } catch {
                throw ShapesModelError.invalid("model.safetensors", reason: "its VQ-VAE does not load: \(error)")
            }
        case PatchCodebook.kind:
            codec = try Self.patchCodebook(in: directory, size: vocabulary.codebookSize)
        default:
            throw ShapesModelError.invalid("config.json", reason: "unknown shapes_codec type '\(codecType)' (known: \(VisionTokenizerCodec.kind), \(PatchCodebook.kind))")
        }
        guard codec.codeCount == vocabulary.codebookSize, Scene.canvasSize % codec.spatialFactor == 0 else {
            throw ShapesModelError.invalid("config.json", reason: "the codec has \(codec.codeCount) codes at stride \(codec.spatialFactor); the vocabulary has \(vocabulary.codebookSize) visual tokens")
        }
        let grid = Scene.canvasSize / codec.spatialFactor
        sequences = ShapesSequences(vocabulary: vocabulary, rows: grid, columns: grid)
        generator = try pipeline.generator()
    }

    static func patchCodebook(in directory: URL, size: Int) throws -> PatchCodebook {
        let store = try WeightStore.load(file: directory.appendingPathComponent("model.safetensors").path)
        let entries = try store.tensor(PatchCodebook.checkpointTensor).to(.float32)
        guard entries.rank == 2, entries.shape[0] == size else {
            throw ShapesModelError.invalid("model.safetensors", reason: "\(PatchCodebook.checkpointTensor) has shape \(entries.shape), expected [\(size), 192]")
        }
        let patch = Int((Double(entries.shape[1] / 3)).squareRoot())
        guard patch * patch * 3 == entries.shape[1] else {
            throw ShapesModelError.invalid("model.safetensors", reason: "\(PatchCodebook.checkpointTensor) rows are not square RGB patches")
        }
        return PatchCodebook(patchSize: patch, entries: Tensor(entries.toArray(), shape: entries.shape))
    }

    var constraintForImage: ImageGridConstraint {
        ImageGridConstraint(rows: sequences.rows, columns: sequences.columns, specials: vocabulary.specials,
                            visualTokens: vocabulary.visualTokens)
    }

    /// How pictures are drawn by default: sampled, as Emu3 does (its pipeline samples image tokens with
    /// top-k 2048 of 32768). Greedy decoding collapses to the most likely patch everywhere, the empty
    /// background, because no single cell is more likely than not to hold an object.
    public static let imageSampling = SamplingParameters(temperature: 1, topK: 32)

    /// Text to image with classifier-free guidance (`guidance` 1 disables it; the unconditional
    /// prompt is the empty caption the recipe trains on).
    public func generateImage(_ prompt: String, guidance: Float = 3, sampling: SamplingParameters = imageSampling) throws -> RGBImage {
        let constraint = constraintForImage
        let request = GenerationRequest(
            prompt: sequences.textToImagePrompt(prompt), maxNewTokens: constraint.tokenCount, sampling: sampling,
            stopTokens: [vocabulary.specials.endOfSequence], constraint: constraint,
            guidance: guidance == 1 ? nil : ClassifierFreeGuidance(unconditionalPrompt: sequences.textToImagePrompt(""), scale: guidance))
        let result = try generator.generate(request)
        return try codec.decode(sequences.codes(in: result.ids), rows: sequences.rows, columns: sequences.columns)
    }

    /// The model's answer to `question` about `image` (greedy, up to `maxTokens` words).
    public func answer(_ question: String, about image: RGBImage, maxTokens: Int = 32) throws -> String {
        let prompt = sequences.questionPrompt(imageCodes: try codec.encode(image), question: question)
        let result = try generator.generate(GenerationRequest(prompt: prompt, maxNewTokens: maxTokens,
                                                              stopTokens: [vocabulary.specials.endOfSequence]))
        return try sequences.tokenizer.decode(result.ids, skipSpecialTokens: true)
    }

    /// The next `count` frames after `prefix` (greedy, grid-constrained).
    public func continueVideo(_ prefix: [RGBImage], count: Int) throws -> [RGBImage] {
        let prefixCodes = try prefix.map(codec.encode)
        let prompt = sequences.videoPrompt(prefixCodes: prefixCodes)
        let constraint = ImageGridConstraint(rows: sequences.rows, columns: sequences.columns, frames: prefix.count + count,
                                             specials: vocabulary.specials, visualTokens: vocabulary.visualTokens,
                                             offsetAtStart: prefixCodes.count * (sequences.rows * (sequences.columns + 1) + 1))
        let result = try generator.generate(GenerationRequest(prompt: prompt, maxNewTokens: count * constraint.frameLength,
                                                              constraint: constraint))
        let codes = sequences.codes(in: result.ids)
        let perFrame = sequences.rows * sequences.columns
        return try (0..<count).map { k in
            let slice = Array(codes.dropFirst(k * perFrame).prefix(perFrame))
            return try codec.decode(slice + [Int](repeating: 0, count: perFrame - slice.count), rows: sequences.rows, columns: sequences.columns)
        }
    }

    /// The next gripper action for `instruction` seeing `image` (greedy over the action tokens).
    public func action(for instruction: String, seeing image: RGBImage) throws -> Action {
        let prompt = sequences.actionPrompt(imageCodes: try codec.encode(image), instruction: instruction)
        let actions = Action.allCases.map { ($0, vocabulary.actionToken($0)) }
        let constraint = ActionSpanConstraint(begin: vocabulary.beginOfAction, actions: actions.map(\.1))
        let result = try generator.generate(GenerationRequest(prompt: prompt, maxNewTokens: 2, constraint: constraint))
        guard result.ids.count == 2, let chosen = actions.first(where: { $0.1 == result.ids[1] }) else { return .stop }
        return chosen.0
    }
}

/// BOA, then exactly one action token.
struct ActionSpanConstraint: TokenConstraint {
    let begin: Int
    let actions: [Int]
    func allowedTokens(after generated: [Int]) -> AllowedTokens { generated.isEmpty ? .only([begin]) : .only(actions) }
}
