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
    /// How the model draws pictures unless told otherwise (its `generation_config.json`).
    public let imageDefaults: ImageDefaults
    /// How clips are continued unless a caller says otherwise: the `shapes_motion_guidance` entry
    /// of `generation_config.json` (`MotionGuidance.configKey`), else none.
    public let videoDefaults: MotionGuidance
    /// The word between the description and the answer when the model was taught to describe the
    /// picture before answering a question (`shapes_answer_separator` in config.json); nil when it
    /// answers directly.
    public let reasoningSeparator: String?
    /// Whether such a model answers from its description alone, without the picture
    /// (`shapes_answer_reads_description`, `--answer-from-description`).
    public let readsOwnDescription: Bool
    /// Whether the model writes where things are (`GripperSituation`) before each action chunk
    /// (`shapes_action_reasoning` in config.json).
    public let locatesBeforeActing: Bool
    /// Whether that situation starts with every object and its cell
    /// (`shapes_action_reasoning_lists_objects`, `--list-objects`).
    public let listsObjectsBeforeActing: Bool
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
        reasoningSeparator = try Self.reasoningSeparator(config[Self.answerSeparatorKey], vocabulary: vocabulary)
        readsOwnDescription = try Self.flag(config[Self.readsDescriptionKey], key: Self.readsDescriptionKey)
        if readsOwnDescription && reasoningSeparator == nil {
            throw ShapesModelError.invalid("config.json", reason: "\(Self.readsDescriptionKey) is true without \(Self.answerSeparatorKey)")
        }
        locatesBeforeActing = try Self.locatesBeforeActing(config[Self.actionReasoningKey], vocabulary: vocabulary)
        listsObjectsBeforeActing = try Self.flag(config[Self.objectListKey], key: Self.objectListKey)
        pipeline = try Emu3Pipeline(directory: directory, components: .transformer, tokenizer: ShapesTokenizer(vocabulary: vocabulary))
        switch codecType {
        case VisionTokenizerCodec.kind:
            // The weights are kept (4 MB), so a recipe can reuse this codec and save it again.
            let tokenizer: VisionTokenizer, weights: [String: Tensor]
            do {
                let loaded = try VisionTokenizer.weights(directory: directory.path)
                weights = loaded.weights
                tokenizer = try VisionTokenizer(configuration: loaded.configuration, weights: weights)
            } catch {
                throw ShapesModelError.invalid("model.safetensors", reason: "its VQ-VAE does not load: \(error)")
            }
            codec = VisionTokenizerCodec(tokenizer: tokenizer, weights: weights,
                                         blankCodes: try Self.blankCodes(codecEntry["blank_codes"], codeCount: tokenizer.configuration.codebookSize,
                                                                         cells: (Scene.canvasSize / tokenizer.spatialFactor) * (Scene.canvasSize / tokenizer.spatialFactor)))
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
        imageDefaults = ImageDefaults(try GenerationConfig.load(directory: directory))
        videoDefaults = try MotionGuidance.defaults(in: directory)
    }

    /// Guidance and sampling for pictures: a folder's `generation_config.json` entries
    /// (`guidance_scale`, `temperature`, `top_k`, `top_p`) where it has them, else Emu3's guidance
    /// of 3 and `ShapesModel.imageSampling`. A recipe writes the settings its model draws best with.
    public struct ImageDefaults: Sendable, Equatable {
        public var guidance: Float
        /// Never greedy (see `imageSampling`); seed 0.
        public var sampling: SamplingParameters

        public init(guidance: Float = 3, sampling: SamplingParameters = ShapesModel.imageSampling) {
            self.guidance = guidance
            self.sampling = sampling
        }

        public init(_ config: GenerationConfig) {
            self.init(guidance: config.guidanceScale ?? 3, sampling: SamplingParameters(config, fallback: ShapesModel.imageSampling))
        }
    }

    /// `shapes_codec.blank_codes`: absent, or one code in the codebook per cell of the canvas.
    static func blankCodes(_ entry: Any?, codeCount: Int, cells: Int) throws -> [Int]? {
        guard let entry else { return nil }
        guard let codes = entry as? [Int], codes.count == cells, codes.allSatisfy({ (0..<codeCount).contains($0) }) else {
            throw ShapesModelError.invalid("config.json", reason: "shapes_codec.blank_codes must be \(cells) codes below \(codeCount)")
        }
        return codes
    }

    /// The config.json key naming the word a describe-then-answer model writes between the two.
    public static let answerSeparatorKey = "shapes_answer_separator"
    /// The word `--describe-then-answer` puts between description and answer (never in a caption).
    public static let answerSeparator = "so"

    /// `shapes_answer_separator`: absent, or one word of the vocabulary.
    static func reasoningSeparator(_ entry: Any?, vocabulary: ShapesVocabulary) throws -> String? {
        guard let entry else { return nil }
        guard let word = entry as? String, ShapesVocabulary.words(of: word) == [word], vocabulary.ids[word] != nil else {
            throw ShapesModelError.invalid("config.json", reason: "\(answerSeparatorKey) must be one word of the model's vocabulary, not \(entry)")
        }
        return word
    }

    /// The config.json key saying a describing model answers from its description alone.
    public static let readsDescriptionKey = "shapes_answer_reads_description"

    /// The config.json key saying the model writes where things are before its actions.
    public static let actionReasoningKey = "shapes_action_reasoning"

    /// The config.json key saying the situation starts with the object list.
    public static let objectListKey = "shapes_action_reasoning_lists_objects"

    /// A config.json flag: absent (false), true or false.
    static func flag(_ entry: Any?, key: String) throws -> Bool {
        guard let entry else { return false }
        guard let flag = entry as? Bool, !(entry is String) else {
            throw ShapesModelError.invalid("config.json", reason: "\(key) must be true or false, not \(entry)")
        }
        return flag
    }

    /// `shapes_action_reasoning`: absent, or true/false; true needs the words it writes.
    static func locatesBeforeActing(_ entry: Any?, vocabulary: ShapesVocabulary) throws -> Bool {
        let flag = try flag(entry, key: actionReasoningKey)
        if flag, let missing = GripperSituation.words.first(where: { vocabulary.ids[$0] == nil }) {
            throw ShapesModelError.invalid("config.json", reason: "\(actionReasoningKey) is true but the vocabulary lacks '\(missing)'")
        }
        return flag
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

    /// How pictures are drawn when the folder does not say (`ImageDefaults`): sampled, as Emu3 does (its pipeline samples image tokens with
    /// top-k 2048 of 32768). Greedy decoding collapses to the most likely patch everywhere, the empty
    /// background, because no single cell is more likely than not to hold an object.
    public static let imageSampling = SamplingParameters(temperature: 1, topK: 32)

    /// Words of `text` that the vocabulary lacks: the model would read each as `<unk>`.
    public func unknownWords(in text: String) -> [String] {
        var unknown: [String] = []
        for word in ShapesVocabulary.words(of: text) where vocabulary.ids[word] == nil && !unknown.contains(word) {
            unknown.append(word)
        }
        return unknown
    }

    /// Throws `unknownWords` naming what `text` (the `role` of it, for the message) says outside
    /// the model's vocabulary: a caption with one unknown word would draw from a garbled prompt.
    public func checkWords(_ text: String, role: String) throws {
        let unknown = unknownWords(in: text)
        guard unknown.isEmpty else { throw ShapesModelError.unknownWords(role: role, words: unknown) }
    }

    /// `image` on the model's 64x64 canvas: as it is, or averaged down from a whole multiple of it
    /// (the demo's gallery shows pictures enlarged 4x); any other size throws, naming it.
    public func canvasPicture(_ image: RGBImage, role: String) throws -> RGBImage {
        let canvas = Scene.canvasSize
        let factor = image.width / canvas
        guard factor >= 1, image.width == factor * canvas, image.height == factor * canvas else {
            throw ShapesModelError.invalid(role, reason: "the ShapesWorld model reads \(canvas)x\(canvas) pictures (or whole multiples "
                                           + "of that size, averaged down), this one is \(image.width)x\(image.height)")
        }
        guard factor > 1 else { return image }
        var sums = [Int](repeating: 0, count: canvas * canvas * 3)
        for y in 0..<image.height {
            for x in 0..<image.width {
                let target = ((y / factor) * canvas + x / factor) * 3, source = (y * image.width + x) * 3
                for c in 0..<3 { sums[target + c] += Int(image.pixels[source + c]) }
            }
        }
        let area = factor * factor
        return RGBImage(width: canvas, height: canvas, pixels: sums.map { UInt8(($0 + area / 2) / area) })
    }

    /// Text to image with classifier-free guidance (`guidance` 1 disables it; the unconditional
    /// prompt is `negativePrompt`, by default the empty caption the recipe trains on). Guidance and
    /// sampling not given are the model's `imageDefaults`.
    public func generateImage(_ prompt: String, negativePrompt: String = "", guidance: Float? = nil,
                              sampling: SamplingParameters? = nil) throws -> RGBImage {
        try image(fromIDs: generateImageIDs(prompt, negativePrompt: negativePrompt, guidance: guidance, sampling: sampling))
    }

    /// The generated tokens of `generateImage` (the grid with its line and frame ends, then the tail).
    public func generateImageIDs(_ prompt: String, negativePrompt: String = "", guidance: Float? = nil,
                                 sampling: SamplingParameters? = nil) throws -> [Int] {
        let guidance = guidance ?? imageDefaults.guidance, sampling = sampling ?? imageDefaults.sampling
        let constraint = constraintForImage
        let request = GenerationRequest(
            prompt: sequences.textToImagePrompt(prompt), maxNewTokens: constraint.tokenCount, sampling: sampling,
            stopTokens: [vocabulary.specials.endOfSequence], constraint: constraint,
            guidance: guidance == 1 ? nil : ClassifierFreeGuidance(unconditionalPrompt: sequences.textToImagePrompt(negativePrompt), scale: guidance))
        return try generator.generate(request).ids
    }

    /// The picture of the first grid in `ids` (the visual tokens in order).
    public func image(fromIDs ids: [Int]) throws -> RGBImage {
        try codec.decode(sequences.codes(in: ids), rows: sequences.rows, columns: sequences.columns)
    }

    /// The model's answer to `question` about `image` (greedy unless `sampling` says otherwise, up
    /// to `maxTokens` words). A model that describes before answering (`reasoningSeparator`) gets
    /// `descriptionTokens` more to write the description in, and only the words after it are returned.
    public func answer(_ question: String, about image: RGBImage, maxTokens: Int = 32,
                       sampling: SamplingParameters = .greedy) throws -> String {
        let text = try sequences.tokenizer.decode(
            answerIDs(question, about: image, maxTokens: maxTokens + (describesBeforeAnswering(question) ? Self.descriptionTokens : 0),
                      sampling: sampling),
            skipSpecialTokens: true)
        return answer(to: question, inCompletion: text)
    }

    /// Whether the model writes a description before its answer to `question`: a describe-then-answer
    /// model does for every question but the description prompt itself, whose answer is the description.
    public func describesBeforeAnswering(_ question: String) -> Bool {
        reasoningSeparator != nil && AnswerScorer.normalize(question) != AnswerScorer.normalize(QuestionGenerator.describePrompt)
    }

    /// The answer in the model's decoded completion `text` for `question`: all of it, or for a
    /// describe-then-answer model the words after its description (`finalAnswer`).
    public func answer(to question: String, inCompletion text: String) -> String {
        guard describesBeforeAnswering(question), let separator = reasoningSeparator else { return text }
        return Self.finalAnswer(in: text, separator: separator)
    }

    /// Room for a describe-then-answer model's description: the longest caption is under 20 words.
    public static let descriptionTokens = 32

    /// What follows the last `separator` word of `text`; empty when the model never reached an
    /// answer (a description cut short, or no separator), which scores as wrong.
    public static func finalAnswer(in text: String, separator: String) -> String {
        let words = text.split(separator: " ")
        guard let last = words.lastIndex(where: { $0 == separator }) else { return "" }
        return words[(last + 1)...].joined(separator: " ")
    }

    /// The generated tokens of `answer` (its words, then EOS unless `maxTokens` cut it short). A
    /// model that reads its own description writes the description (its answer to the describe
    /// prompt), then, seeing only that text and the question, the answer: the two are returned
    /// joined by the separator, as a describing model writes them.
    public func answerIDs(_ question: String, about image: RGBImage, maxTokens: Int = 32,
                          sampling: SamplingParameters = .greedy) throws -> [Int] {
        let codes = try codec.encode(image)
        func generate(_ prompt: [Int], _ tokens: Int) throws -> [Int] {
            try generator.generate(GenerationRequest(prompt: prompt, maxNewTokens: tokens, sampling: sampling,
                                                     stopTokens: [vocabulary.specials.endOfSequence])).ids
        }
        guard readsOwnDescription, describesBeforeAnswering(question), let separator = reasoningSeparator.flatMap({ vocabulary.ids[$0] }) else {
            return try generate(sequences.questionPrompt(imageCodes: codes, question: question), maxTokens)
        }
        let described = try generate(sequences.questionPrompt(imageCodes: codes, question: QuestionGenerator.describePrompt),
                                     min(maxTokens, Self.descriptionTokens))
        let description = described.filter { $0 != vocabulary.specials.endOfSequence }
        let room = maxTokens - described.count - 1
        guard room > 0 else { return description }
        let text = try sequences.tokenizer.decode(description, skipSpecialTokens: true)
        return description + [separator] + (try readingIDs(question, description: text, maxTokens: room, sampling: sampling))
    }

    /// What the model writes after reading `description` and `question` as text (no picture).
    func readingIDs(_ question: String, description: String, maxTokens: Int, sampling: SamplingParameters = .greedy) throws -> [Int] {
        try generator.generate(GenerationRequest(prompt: sequences.readingPrompt(description: description, question: question),
                                                 maxNewTokens: maxTokens, sampling: sampling,
                                                 stopTokens: [vocabulary.specials.endOfSequence])).ids
    }

    /// A description-reading model's answer to `question` read off `description` (text only, no
    /// picture). Given the scene's true caption, it measures the reading apart from the describing.
    public func answer(_ question: String, readingDescription description: String, maxTokens: Int = 32) throws -> String {
        try requireReadsDescriptions()
        return try sequences.tokenizer.decode(readingIDs(question, description: description, maxTokens: maxTokens), skipSpecialTokens: true)
    }

    /// Throws unless the model answers questions from its own description (`--answer-from-description`).
    public func requireReadsDescriptions() throws {
        guard readsOwnDescription else {
            throw ShapesModelError.invalid(directory.appendingPathComponent("config.json").path,
                                           reason: "this model answers from the picture, not from a description (\(Self.readsDescriptionKey) is not true; "
                                               + "train with --describe-then-answer --answer-from-description)")
        }
    }

    /// The most frames, given and predicted together, that fit the model's context.
    public var maxVideoFrames: Int {
        let context = pipeline.transformer?.configuration.maxPositions ?? 0
        return (context - sequences.videoPrompt(prefixCodes: []).count) / sequences.frameLength
    }

    /// The next `count` frames after `prefix` (greedy unless `sampling` says otherwise, grid-constrained),
    /// guided away from a clip without the given motion as `motionGuidance` says (nil: `videoDefaults`).
    public func continueVideo(_ prefix: [RGBImage], count: Int, sampling: SamplingParameters = .greedy,
                              motionGuidance: MotionGuidance? = nil, reranking: FrameReranking = .none) throws -> [RGBImage] {
        try frames(fromIDs: continueVideoIDs(prefix, count: count, sampling: sampling, motionGuidance: motionGuidance,
                                             reranking: reranking), count: count)
    }

    /// The generated tokens of `continueVideo`: `count` frames' grids with their line and frame ends.
    public func continueVideoIDs(_ prefix: [RGBImage], count: Int, sampling: SamplingParameters = .greedy,
                                 motionGuidance: MotionGuidance? = nil, reranking: FrameReranking = .none) throws -> [Int] {
        let motionGuidance = motionGuidance ?? videoDefaults
        try motionGuidance.validate("video continuation")
        try reranking.validate("video continuation")
        let prefixCodes = try prefix.map(codec.encode)
        if reranking.candidates > 1 {
            return try continueVideoIDs(prefixCodes: prefixCodes, count: count, sampling: sampling, motionGuidance: motionGuidance,
                                        reranking: reranking)
        }
        let prompt = sequences.videoPrompt(prefixCodes: prefixCodes)
        let constraint = ImageGridConstraint(rows: sequences.rows, columns: sequences.columns, frames: prefix.count + count,
                                             specials: vocabulary.specials, visualTokens: vocabulary.visualTokens,
                                             offsetAtStart: prefixCodes.count * sequences.frameLength)
        // The generator drops a scale of 1 itself.
        let guidance = motionGuidance.contrastCodes(prefixCodes).map {
            ClassifierFreeGuidance(unconditionalPrompt: sequences.videoPrompt(prefixCodes: $0), scale: motionGuidance.scale,
                                   plausibility: motionGuidance.plausibility)
        }
        return try generator.generate(GenerationRequest(prompt: prompt, maxNewTokens: count * constraint.frameLength,
                                                        sampling: sampling, constraint: constraint, guidance: guidance)).ids
    }

    /// The `count` pictures coded in `ids`, frame after frame (a frame cut short is filled with code 0).
    public func frames(fromIDs ids: [Int], count: Int) throws -> [RGBImage] {
        let codes = sequences.codes(in: ids)
        let perFrame = sequences.rows * sequences.columns
        return try (0..<count).map { k in
            let slice = Array(codes.dropFirst(k * perFrame).prefix(perFrame))
            return try codec.decode(slice + [Int](repeating: 0, count: perFrame - slice.count), rows: sequences.rows, columns: sequences.columns)
        }
    }

    /// The next gripper action for `instruction` seeing `image` (greedy over the action tokens).
    public func action(for instruction: String, seeing image: RGBImage) throws -> Action {
        try actions(for: instruction, seeing: image, count: 1).first ?? .stop
    }

    /// The most actions `emu eval --executed-actions` takes from one prediction (the recipe's
    /// chunks are 8 long; a longer plan than the model was taught to write is not a plan).
    public static let maximumExecutedActions = 16

    /// The first `count` actions of the chunk the model writes for `instruction` seeing `image`
    /// (greedy; fewer if it closes the action span sooner). A model trained on chunks of the
    /// expert's next actions (`--action-chunk`) writes a plan; one trained on single actions
    /// usually closes the span after one. A `count` below 1 asks for one.
    public func actions(for instruction: String, seeing image: RGBImage, count: Int,
                        instructionGuidance: Float = 1) throws -> [Action] {
        try actionPlan(for: instruction, seeing: image, count: count, instructionGuidance: instructionGuidance).actions
    }

    /// `actions`, with what the model wrote before them: where it sees the gripper, the named
    /// object and the goal (`GripperSituation`) if it was taught to (`locatesBeforeActing`), else "".
    /// `instructionGuidance` s other than 1 is classifier-free guidance against the same picture
    /// with no instruction (u + s · (c − u)): what the instruction adds to the choice is weighed s
    /// times. The recipe never trains an empty instruction, so u is the model's guess off its data.
    public func actionPlan(for instruction: String, seeing image: RGBImage, count: Int,
                           instructionGuidance: Float = 1) throws -> (situation: String, actions: [Action]) {
        guard instructionGuidance.isFinite, instructionGuidance >= 0 else {
            throw ShapesModelError.invalid("actions", reason: "instruction guidance \(instructionGuidance) is not a scale (0 or more; 1 is none)")
        }
        let count = max(1, count)
        let imageCodes = try codec.encode(image)
        let prompt = sequences.actionPrompt(imageCodes: imageCodes, instruction: instruction)
        // The generator drops a scale of 1 itself.
        let guidance = ClassifierFreeGuidance(unconditionalPrompt: sequences.actionPrompt(imageCodes: imageCodes, instruction: ""),
                                              scale: instructionGuidance)
        let actions = Action.allCases.map { ($0, vocabulary.actionToken($0)) }
        let situationWords = locatesBeforeActing ? GripperSituation.words.compactMap { vocabulary.ids[$0] } : []
        let room = locatesBeforeActing ? GripperSituation.maximumWords : 0
        let constraint = ActionSpanConstraint(begin: vocabulary.beginOfAction, actions: actions.map(\.1), end: vocabulary.endOfAction,
                                              situationWords: situationWords, situationRoom: room)
        let result = try generator.generate(GenerationRequest(prompt: prompt, maxNewTokens: room + 1 + count,
                                                              stopTokens: [vocabulary.endOfAction], constraint: constraint,
                                                              guidance: guidance))
        let begin = result.ids.firstIndex(of: vocabulary.beginOfAction) ?? result.ids.count
        let situation = try sequences.tokenizer.decode(Array(result.ids[..<begin]), skipSpecialTokens: true)
        let byToken = Dictionary(uniqueKeysWithValues: actions.map { ($0.1, $0.0) })
        return (situation, Array(result.ids.dropFirst(begin + 1).compactMap { byToken[$0] }.prefix(count)))
    }
}

/// Optionally up to `situationRoom` words of `situationWords` (where things are), then BOA, at
/// least one action token, then actions or EOA.
struct ActionSpanConstraint: TokenConstraint {
    let begin: Int
    let actions: [Int]
    let end: Int
    var situationWords: [Int] = []
    var situationRoom = 0
    func allowedTokens(after generated: [Int]) -> AllowedTokens {
        guard let opened = generated.firstIndex(of: begin) else {
            return generated.count < situationRoom && !situationWords.isEmpty ? .only(situationWords + [begin]) : .only([begin])
        }
        return generated.count - opened == 1 ? .only(actions) : .only(actions + [end])
    }
}
