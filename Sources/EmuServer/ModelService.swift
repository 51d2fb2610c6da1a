import Emu3
import EmuIO
import EmuTensor
import Foundation
import ShapesRecipe

/// The one loaded model behind the HTTP API. An actor: its methods do not suspend while they
/// compute, so requests run one at a time, in arrival order, and concurrent requests simply queue.
/// Every method turns a request document into library calls and the result back into a document;
/// the model logic itself lives in Emu3 (and, for a ShapesWorld model, in ShapesRecipe: its
/// transformer and generator are Emu3's, its words, sequence layout and picture codec its own;
/// see ShapesModelService.swift).
public actor ModelService {
    public let pipeline: Emu3Pipeline
    /// Set when the served folder is a ShapesWorld model (the bundled one); `pipeline` is then its
    /// transformer with the word-level tokenizer.
    let shapes: ShapesModel?
    /// Shown by `/health`: the checkpoint folder's name.
    public let modelName: String
    /// New tokens of a chat answer when the request does not say.
    public static let defaultMaxNewTokens = 256
    /// Image generation samples from the 2048 best tokens by default, as the Emu3 examples do.
    public static let defaultImageTopK = 2048

    public init(pipeline: Emu3Pipeline, modelName: String? = nil) {
        self.pipeline = pipeline
        self.shapes = nil
        self.modelName = modelName ?? pipeline.directory.lastPathComponent
    }

    /// Serves a ShapesWorld model: chat answers about one 64x64 picture, image generation draws
    /// its canvas, the vision tokenizer endpoints use its codec; scoring and `prompt_ids` chat are
    /// the same as for any checkpoint.
    public init(shapes model: ShapesModel, modelName: String? = nil) {
        self.pipeline = model.pipeline
        self.shapes = model
        self.modelName = modelName ?? model.directory.lastPathComponent
    }

    private var transformer: Transformer {
        get throws {
            guard let transformer = pipeline.transformer else { throw PipelineError.missingComponent("transformer") }
            return transformer
        }
    }

    private var visionTokenizer: VisionTokenizer {
        get throws {
            guard let tokenizer = pipeline.visionTokenizer else { throw PipelineError.missingComponent("vision tokenizer") }
            return tokenizer
        }
    }

    // MARK: Health and scoring

    public func health() -> HealthResponse {
        let configuration = pipeline.transformer?.configuration
        return HealthResponse(status: "ok", model: modelName, vocabularySize: configuration?.vocabularySize ?? 0,
                              contextLength: configuration?.maxPositions ?? 0)
    }

    public func score(_ request: ScoreRequest) throws -> ScoreResponse {
        let model = try transformer
        try checkIDs(request.ids, field: "ids", model: model)
        guard request.ids.count <= model.configuration.maxPositions else {
            throw APIError.badRequest("ids: \(request.ids.count) tokens exceed the context of \(model.configuration.maxPositions)")
        }
        let scored = try Generator(model: model).score(request.ids, lastLogits: request.logits ?? false)
        return ScoreResponse(logprobs: scored.logprobs, logits: scored.logits)
    }

    // MARK: Chat

    /// A chat request checked and turned into a generation request (ready to run).
    public struct PreparedChat: Sendable {
        public var generation: GenerationRequest
        public var seed: UInt64
    }

    /// Checks `request` and builds its prompt; every problem with the request is thrown here, before
    /// any token is generated (so a streamed answer can still fail with a plain error status).
    public func prepareChat(_ request: ChatRequest) throws -> PreparedChat {
        let model = try transformer
        let prompt = try chatPromptIDs(request, model: model)
        let maxNewTokens = try newTokenBudget(request.maxNewTokens, promptLength: prompt.count, model: model)
        let (sampling, seed) = try samplingParameters(request.sampling, defaults: SamplingParameters())
        let generation = GenerationRequest(prompt: prompt, maxNewTokens: maxNewTokens, sampling: sampling,
                                           stopTokens: [pipeline.specials.endOfSequence])
        return PreparedChat(generation: generation, seed: seed)
    }

    /// Answers a prepared chat; `onToken` sees each token as it is chosen, with the text it completes,
    /// and returns false to stop early (the answer so far is returned, stop reason "cancelled").
    public func runChat(_ prepared: PreparedChat,
                        onToken: @Sendable (ChatStreamToken) -> Bool = { _ in true }) throws -> ChatResponse {
        let model = try transformer
        var text = IncrementalText(tokenizer: pipeline.tokenizer, stopToken: pipeline.specials.endOfSequence)
        let result = try Generator(model: model).generate(prepared.generation) { token in
            onToken(ChatStreamToken(id: token.id, text: text.append(token.id)))
        }
        return ChatResponse(text: try text.final(result.ids), ids: result.ids, stopReason: result.stopReason.rawValue,
                            promptTokens: prepared.generation.prompt.count, seed: prepared.seed)
    }

    public func chat(_ request: ChatRequest) throws -> ChatResponse {
        try runChat(try prepareChat(request))
    }

    private func chatPromptIDs(_ request: ChatRequest, model: Transformer) throws -> [Int] {
        if let ids = request.promptIDs {
            guard request.prompt == nil, (request.images ?? []).isEmpty else {
                throw APIError.badRequest("give either prompt_ids or prompt (with images), not both")
            }
            guard !ids.isEmpty else { throw APIError.badRequest("prompt_ids is empty") }
            try checkIDs(ids, field: "prompt_ids", model: model)
            return ids
        }
        guard let text = request.prompt else { throw APIError.badRequest("missing field 'prompt'") }
        if let shapes { return try shapesChatPrompt(text, request: request, model: shapes) }
        guard pipeline.tokenizer != nil else {
            throw APIError(.notImplemented, "the checkpoint has no usable text tokenizer: send prompt_ids instead of prompt")
        }
        var grids: [VisionCodes] = []
        for (index, encoded) in (request.images ?? []).enumerated() {
            grids.append(try codes(ofEncodedImage: encoded, field: "images[\(index)]"))
        }
        let processor = try pipeline.processor(spatialFactor: spatialFactor())
        return try pipeline.chatPrompt(text, images: grids, system: request.system, raw: request.raw ?? false,
                                       processor: processor)
    }

    // MARK: Image generation

    public func generateImage(_ request: ImageGenerationRequest) throws -> ImageGenerationResponse {
        if let shapes { return try generateShapesImage(request, model: shapes) }
        if (request.bestOf ?? 1) != 1 || request.rerank != nil {
            throw APIError.badRequest("best_of and rerank: drawing several pictures and keeping the best-rated needs a ShapesWorld model (it rates them by its own description of each)")
        }
        let model = try transformer
        let vision = try visionTokenizer
        let processor = try pipeline.processor()
        let preprocessor = try pipeline.preprocessorConfiguration()
        let area = request.area ?? min(720 * 720, preprocessor.maxPixels)
        let grid = try processor.generationGrid(ratio: request.ratio ?? "1:1", area: area)
        let prompt = try processor.textToImagePrompt(request.prompt, rows: grid.rows, columns: grid.columns)
        let negative = try processor.textToImagePrompt(request.negativePrompt ?? Emu3Pipeline.officialNegativePrompt,
                                                        rows: grid.rows, columns: grid.columns)
        let constraint = ImageGridConstraint(rows: grid.rows, columns: grid.columns, specials: pipeline.specials,
                                             visualTokens: pipeline.visualTokens)
        let context = model.configuration.maxPositions
        guard max(prompt.count, negative.count) + constraint.tokenCount <= context else {
            throw APIError.badRequest("a \(grid.rows)x\(grid.columns) grid needs \(constraint.tokenCount) tokens after a prompt of \(max(prompt.count, negative.count)), more than the context of \(context): ask for a smaller area")
        }
        let scale = request.cfg ?? 3
        guard scale.isFinite else { throw APIError.badRequest("cfg must be a finite number") }
        let (sampling, seed) = try samplingParameters(request.sampling, defaults: SamplingParameters(topK: ModelService.defaultImageTopK))
        let generation = GenerationRequest(
            prompt: prompt, maxNewTokens: constraint.tokenCount, sampling: sampling,
            stopTokens: [pipeline.specials.endOfSequence], constraint: constraint,
            guidance: ClassifierFreeGuidance(unconditionalPrompt: negative, scale: scale))
        let result = try Generator(model: model).generate(generation)
        let codes = try processor.codes(from: result.ids, rows: grid.rows, columns: grid.columns)
        let image = pipeline.image(fromPixels: try vision.decodeImage(codes), preprocessor: preprocessor)
        return ImageGenerationResponse(rows: grid.rows, columns: grid.columns, ids: result.ids,
                                       image: Data(PNG.encode(image)).base64EncodedString(), seed: seed)
    }

    // MARK: Vision tokenizer

    public func encode(_ request: EncodeRequest) throws -> CodesDocument {
        let image = try decodeImage(request.image, field: "image")
        if let shapes { return try encodeShapesPicture(image, model: shapes) }
        let codes = try codes(of: image)
        return CodesDocument(frames: codes.frames, height: codes.height, width: codes.width,
                             pixelHeight: image.height, pixelWidth: image.width, codes: codes.nested)
    }

    public func decode(_ request: CodesDocument) throws -> DecodedImageResponse {
        if let shapes { return try decodeShapesCodes(request, model: shapes) }
        let vision = try visionTokenizer
        guard let grid = VisionCodes(nested: request.codes) else {
            throw APIError.badRequest("codes: expected a non-empty [frames][rows][columns] array with rows of equal length")
        }
        let size = vision.configuration.codebookSize
        if let index = grid.values.firstIndex(where: { !(0..<size).contains($0) }) {
            throw APIError.badRequest("codes: code \(grid.values[index]) (element \(index)) is outside the codebook of \(size)")
        }
        let firstFrame = VisionCodes(frames: 1, height: grid.height, width: grid.width,
                                     values: Array(grid.values.prefix(grid.height * grid.width)))
        let image = pipeline.image(fromPixels: try vision.decodeImage(firstFrame),
                                   preprocessor: try pipeline.preprocessorConfiguration())
        return DecodedImageResponse(width: image.width, height: image.height,
                                    image: Data(PNG.encode(image)).base64EncodedString())
    }

    // MARK: Request checks

    private func spatialFactor() throws -> Int {
        if let vision = pipeline.visionTokenizer { return vision.spatialFactor }
        return try pipeline.preprocessorConfiguration().spatialFactor
    }

    func decodeImage(_ encoded: String, field: String) throws -> RGBImage {
        // Accept a data URL ("data:image/png;base64,...") as well as bare base64.
        let payload = encoded.hasPrefix("data:") ? String(encoded.drop(while: { $0 != "," }).dropFirst()) : encoded
        guard let data = Data(base64Encoded: payload, options: .ignoreUnknownCharacters), !data.isEmpty else {
            throw APIError.badRequest("\(field): not valid base64")
        }
        do {
            return try ImageFile.decode([UInt8](data))
        } catch let error as MediaError {
            throw APIError.badRequest("\(field): \(error.description)")
        }
    }

    private func codes(of image: RGBImage) throws -> VisionCodes {
        let vision = try visionTokenizer
        let pixels = try pipeline.pixels(of: image, preprocessor: try pipeline.preprocessorConfiguration(),
                                         spatialFactor: vision.spatialFactor)
        return try vision.encode(image: pixels)
    }

    private func codes(ofEncodedImage encoded: String, field: String) throws -> VisionCodes {
        let image = try decodeImage(encoded, field: field)
        do {
            return try codes(of: image)
        } catch let error as VisionTokenizerError {
            throw APIError.badRequest("\(field): \(error.description)")
        }
    }

    private func checkIDs(_ ids: [Int], field: String, model: Transformer) throws {
        guard !ids.isEmpty else { throw APIError.badRequest("\(field) is empty") }
        let size = model.configuration.vocabularySize
        if let offset = ids.firstIndex(where: { !(0..<size).contains($0) }) {
            throw APIError.badRequest("\(field)[\(offset)] = \(ids[offset]) is outside the vocabulary (0..<\(size))")
        }
    }

    /// The requested number of new tokens, or the default cut to what the context leaves.
    private func newTokenBudget(_ requested: Int?, promptLength: Int, model: Transformer) throws -> Int {
        let context = model.configuration.maxPositions
        guard promptLength < context else {
            throw APIError.badRequest("the prompt has \(promptLength) tokens; the context holds \(context)")
        }
        guard let requested else { return min(ModelService.defaultMaxNewTokens, context - promptLength) }
        guard requested >= 1 else { throw APIError.badRequest("max_new_tokens must be at least 1, got \(requested)") }
        guard promptLength + requested <= context else {
            throw APIError.badRequest("prompt of \(promptLength) tokens plus max_new_tokens \(requested) exceeds the context of \(context)")
        }
        return requested
    }

    /// The request's sampling fields put over `defaults` (temperature, top-k, top-p), and the seed used.
    func samplingParameters(_ fields: SamplingFields, defaults: SamplingParameters) throws -> (SamplingParameters, UInt64) {
        // The generator checks these too; checking here keeps a streamed answer from failing mid-stream.
        if let t = fields.temperature, !(t > 0 && t.isFinite) {
            throw APIError.badRequest("temperature must be a positive number, got \(t)")
        }
        if let k = fields.topK, k < 1 { throw APIError.badRequest("top_k must be at least 1, got \(k)") }
        if let p = fields.topP, !(p > 0 && p <= 1) { throw APIError.badRequest("top_p must be in (0, 1], got \(p)") }
        let seed = fields.seed ?? UInt64.random(in: 0...UInt64(UInt32.max))
        let parameters = SamplingParameters(greedy: fields.greedy ?? false, temperature: fields.temperature ?? defaults.temperature,
                                            topK: fields.topK ?? defaults.topK, topP: fields.topP ?? defaults.topP, seed: seed)
        return (parameters, seed)
    }
}

/// The text of a growing answer, handed out piece by piece: the tokenizer decodes the whole answer
/// each time and the new suffix is released once it no longer ends in an incomplete UTF-8 sequence.
struct IncrementalText {
    let tokenizer: (any TextTokenizing)?
    let stopToken: Int
    private var ids: [Int] = []
    private var released = ""

    init(tokenizer: (any TextTokenizing)?, stopToken: Int) {
        self.tokenizer = tokenizer
        self.stopToken = stopToken
    }

    /// The text that `id` completes ("" while a character is incomplete; nil without a tokenizer).
    mutating func append(_ id: Int) -> String? {
        guard let tokenizer else { return nil }
        guard id != stopToken else { return "" }
        ids.append(id)
        guard let text = try? tokenizer.decode(ids), !text.hasSuffix("\u{FFFD}"), text.hasPrefix(released) else { return "" }
        let piece = String(text.dropFirst(released.count))
        released = text
        return piece
    }

    /// The whole answer without its stop token.
    func final(_ generated: [Int]) throws -> String? {
        guard let tokenizer else { return nil }
        return try tokenizer.decode(generated.last == stopToken ? Array(generated.dropLast()) : generated)
    }
}
