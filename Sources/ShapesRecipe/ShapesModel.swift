import Emu3
import EmuIO
import EmuTensor
import Foundation
import ShapesWorld

/// A bundled ShapesWorld checkpoint opened for the four tasks. The transformer, generator, grid
/// constraint and guidance are Emu3's (`Emu3Pipeline`); the image codec is the folder's patch codebook.
public struct ShapesModel: Sendable {
    public static let codebookTensor = "model.vqmodel.patch_codebook.weight"
    public let directory: URL
    public let pipeline: Emu3Pipeline
    public let vocabulary: ShapesVocabulary
    public let sequences: ShapesSequences
    public let codebook: PatchCodebook
    let generator: Generator

    public init(directory: URL) throws {
        self.directory = directory
        let config = directory.appendingPathComponent("config.json")
        guard FileManager.default.fileExists(atPath: config.path) else {
            throw ShapesModelError.missingModel("no model at \(directory.path) (config.json missing); train one with `emu train --recipe shapes --out \(directory.path)`")
        }
        vocabulary = try ShapesVocabulary.load(tokenizerJSON: directory.appendingPathComponent("tokenizer.json"))
        pipeline = try Emu3Pipeline(directory: directory, components: .transformer, tokenizer: ShapesTokenizer(vocabulary: vocabulary))
        let store = try WeightStore.load(file: directory.appendingPathComponent("model.safetensors").path)
        let entries = try store.tensor(Self.codebookTensor).to(.float32)
        guard entries.rank == 2, entries.shape[0] == vocabulary.codebookSize else {
            throw ShapesModelError.invalid("model.safetensors", reason: "\(Self.codebookTensor) has shape \(entries.shape), expected [\(vocabulary.codebookSize), 192]")
        }
        let patch = Int((Double(entries.shape[1] / 3)).squareRoot())
        guard patch * patch * 3 == entries.shape[1] else {
            throw ShapesModelError.invalid("model.safetensors", reason: "\(Self.codebookTensor) rows are not square RGB patches")
        }
        codebook = PatchCodebook(patchSize: patch, entries: Tensor(entries.toArray(), shape: entries.shape))
        let grid = Scene.canvasSize / patch
        sequences = ShapesSequences(vocabulary: vocabulary, rows: grid, columns: grid)
        generator = try pipeline.generator()
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
        return codebook.decode(sequences.codes(in: result.ids), rows: sequences.rows, columns: sequences.columns)
    }

    /// The model's answer to `question` about `image` (greedy, up to `maxTokens` words).
    public func answer(_ question: String, about image: RGBImage, maxTokens: Int = 32) throws -> String {
        let prompt = sequences.questionPrompt(imageCodes: codebook.encode(image), question: question)
        let result = try generator.generate(GenerationRequest(prompt: prompt, maxNewTokens: maxTokens,
                                                              stopTokens: [vocabulary.specials.endOfSequence]))
        return try sequences.tokenizer.decode(result.ids, skipSpecialTokens: true)
    }

    /// The next `count` frames after `prefix` (greedy, grid-constrained).
    public func continueVideo(_ prefix: [RGBImage], count: Int) throws -> [RGBImage] {
        let prefixCodes = prefix.map(codebook.encode)
        let prompt = sequences.videoPrompt(prefixCodes: prefixCodes)
        let constraint = ImageGridConstraint(rows: sequences.rows, columns: sequences.columns, frames: prefix.count + count,
                                             specials: vocabulary.specials, visualTokens: vocabulary.visualTokens,
                                             offsetAtStart: prefixCodes.count * (sequences.rows * (sequences.columns + 1) + 1))
        let result = try generator.generate(GenerationRequest(prompt: prompt, maxNewTokens: count * constraint.frameLength,
                                                              constraint: constraint))
        let codes = sequences.codes(in: result.ids)
        let perFrame = sequences.rows * sequences.columns
        return (0..<count).map { k in
            let slice = Array(codes.dropFirst(k * perFrame).prefix(perFrame))
            return codebook.decode(slice + [Int](repeating: 0, count: perFrame - slice.count), rows: sequences.rows, columns: sequences.columns)
        }
    }

    /// The next gripper action for `instruction` seeing `image` (greedy over the action tokens).
    public func action(for instruction: String, seeing image: RGBImage) throws -> Action {
        let prompt = sequences.actionPrompt(imageCodes: codebook.encode(image), instruction: instruction)
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
