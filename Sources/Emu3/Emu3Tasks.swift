import EmuTensor

/// The paper's tasks on an opened checkpoint, each one prompt layout plus one `Generator` run:
/// text-to-image (with guidance and the grid constraint), image understanding, video.
extension Emu3Pipeline {
    /// The negative prompt of BAAI's Emu3-Gen examples, the default unconditional text of guidance.
    public static let officialNegativePrompt = "lowres, bad anatomy, bad hands, text, error, missing fingers, "
        + "extra digit, fewer digits, cropped, worst quality, low quality, normal quality, jpeg artifacts, "
        + "signature, watermark, username, blurry."

    public struct ImageRequest: Sendable {
        public var prompt: String
        /// nil: the official negative prompt.
        public var negativePrompt: String?
        /// "W:H".
        public var ratio: String
        /// Target pixel count (720·720 by default).
        public var area: Int
        /// Classifier-free guidance scale; 1 disables it.
        public var guidanceScale: Float
        public var sampling: SamplingParameters
        /// Latent frames for a video (1 for an image).
        public var frames: Int
        /// Latent frames already given (video extension), placed after IMG.
        public var clip: VisionCodes?

        public init(prompt: String, negativePrompt: String? = nil, ratio: String = "1:1", area: Int = 720 * 720,
                    guidanceScale: Float = 3, sampling: SamplingParameters = SamplingParameters(topK: 2048),
                    frames: Int = 1, clip: VisionCodes? = nil) {
            self.prompt = prompt
            self.negativePrompt = negativePrompt
            self.ratio = ratio
            self.area = area
            self.guidanceScale = guidanceScale
            self.sampling = sampling
            self.frames = frames
            self.clip = clip
        }
    }

    public struct ImageResult: Sendable {
        public var rows: Int
        public var columns: Int
        /// Generated ids after the prompt: code rows with EOL, EOF after each frame, then EOI, EOS.
        public var ids: [Int]
        /// The codes of every complete frame (given clip frames included); nil when none completed.
        public var codes: VisionCodes?
        public var stopReason: GenerationResult.StopReason
    }

    /// The prompt, constraint and guidance of a text-to-image or text-to-video request.
    public func imageGenerationRequest(_ request: ImageRequest) throws -> (GenerationRequest, rows: Int, columns: Int) {
        let processor = try processor()
        var (rows, columns) = try processor.generationGrid(ratio: request.ratio, area: request.area)
        if let clip = request.clip { (rows, columns) = (clip.height, clip.width) }
        let given = request.clip?.frames ?? 0
        guard request.frames > given else {
            throw GenerationError.invalidParameter("\(request.frames) frames requested but the clip already has \(given)")
        }
        let prompt = try processor.videoPrompt(request.prompt, rows: rows, columns: columns, clip: request.clip)
        let unconditional = try processor.videoPrompt(request.negativePrompt ?? Emu3Pipeline.officialNegativePrompt,
                                                      rows: rows, columns: columns, clip: request.clip)
        let constraint = ImageGridConstraint(rows: rows, columns: columns, frames: request.frames, specials: specials,
                                             visualTokens: visualTokens,
                                             offsetAtStart: given * (rows * (columns + 1) + 1))
        let generation = GenerationRequest(
            prompt: prompt, maxNewTokens: constraint.tokenCount - constraint.offsetAtStart, sampling: request.sampling,
            stopTokens: [specials.endOfSequence], constraint: constraint,
            guidance: ClassifierFreeGuidance(unconditionalPrompt: unconditional, scale: request.guidanceScale))
        return (generation, rows, columns)
    }

    /// Generates an image (or video frames) from text.
    public func generateImage(_ request: ImageRequest,
                              onToken: (GeneratedToken) -> Bool = { _ in true }) throws -> ImageResult {
        let (generation, rows, columns) = try imageGenerationRequest(request)
        let result = try generator().generate(generation, onToken: onToken)
        let processor = try processor()
        // Keep only complete frames (a cancelled run may stop mid-row).
        let frameLength = rows * (columns + 1) + 1
        let complete = result.ids.count / frameLength
        var frames: [Int] = request.clip?.values ?? []
        if complete > 0 {
            frames += try processor.codes(from: Array(result.ids[..<(complete * frameLength)]), rows: rows, columns: columns).values
        }
        let codes = frames.isEmpty ? nil : VisionCodes(frames: frames.count / (rows * columns), height: rows,
                                                       width: columns, values: frames)
        return ImageResult(rows: rows, columns: columns, ids: result.ids, codes: codes, stopReason: result.stopReason)
    }

    /// Answers `messages` (images as VQ codes, in the order they appear) with the checkpoint's chat
    /// template, or uses `rawPrompt` verbatim (`<image>` marks where images go).
    public func answer(_ messages: [ChatTemplate.Message], images: [VisionCodes], rawPrompt: String? = nil,
                       maxNewTokens: Int, sampling: SamplingParameters = .greedy,
                       onToken: (GeneratedToken) -> Bool = { _ in true }) throws -> (ids: [Int], text: String) {
        let text: String
        if let rawPrompt {
            text = rawPrompt
        } else if let chatTemplate {
            text = try ChatTemplate(chatTemplate).render(messages, addGenerationPrompt: true)
        } else {
            throw PipelineError.missingComponent("chat template (use a raw prompt)")
        }
        let prompt = try processor(spatialFactor: visionTokenizer?.spatialFactor ?? 1).understandingPrompt(text, images: images)
        let result = try generator().generate(
            GenerationRequest(prompt: prompt, maxNewTokens: maxNewTokens, sampling: sampling,
                              stopTokens: [specials.endOfSequence]), onToken: onToken)
        guard let tokenizer else { throw ProcessorError.noTokenizer }
        let answer = result.ids.last == specials.endOfSequence ? Array(result.ids.dropLast()) : result.ids
        return (result.ids, try tokenizer.decode(answer))
    }
}
