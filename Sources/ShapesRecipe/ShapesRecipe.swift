import Emu3
import EmuIO
import EmuTensor
import EmuTraining
import Foundation
import ShapesWorld

/// `emu train --recipe shapes`: (1) an image codec trained on rendered scenes (Emu3's VQ-VAE in
/// small, or the k-means patch codebook), (2) the four task datasets tokenized, (3) one Emu3 decoder
/// trained on their mix with the shared next-token trainer, (4) an -hf layout folder that
/// `ShapesModel` and `Emu3Pipeline` load.
public struct ShapesRecipe {
    /// The image codec a recipe trains (`--codec`).
    public enum Codec: String, Codable, CaseIterable, Sendable {
        /// Emu3's convolutional VQ-VAE (`ShapesVisionTokenizer`).
        case vqvae
        /// A k-means codebook of 8x8 patches (`PatchCodebook`): the codec of the first bundled models.
        case patch
    }

    /// Where a seed's training samples start in each task's train split (seeds a million apart,
    /// so recipes with different seeds train on different scenes).
    public static func trainingStart(seed: UInt64) -> Int { Int(seed) * 1_000_000 }

    public struct Settings: Codable, Sendable {
        public var seed: UInt64 = 0
        public var codec = Codec.vqvae
        /// A ShapesWorld model folder whose codec is reused instead of training one (`--codec-from`):
        /// specialists share the unified model's codec exactly, and skip the VQ-VAE stage.
        public var codecSource: String? = nil
        /// 1024 entries: with 256, true scenes coded and decoded by the patch codebook read back
        /// right only 66% of the time (GenEval prompts), a ceiling far below the targets; 1024
        /// gives 90%, 4096 95%.
        public var codebookSize = 1024
        /// Pictures the codec is fitted on (half captioned scenes, a quarter video frames, a
        /// quarter gripper frames).
        public var codebookImages = 2000
        public var codebookIterations = 8
        /// VQ-VAE training: steps of `vqBatchSize` pictures at peak learning rate `vqLearningRate`.
        public var vqSteps = 1000
        public var vqBatchSize = 8
        public var vqLearningRate: Float = 2e-3
        /// 27,000 (three times model 3's 9000, with the steps to pass over them as often): the
        /// text-to-image tokens that took single objects from 0.10 to 0.85 (RESULTS.md).
        public var captionCount = 27000
        /// Share of the captioned scenes that also give a captioning example ("describe the
        /// image."); every one gives a text-to-image example. Below 1 it adds text-to-image tokens
        /// to the mix without adding as many captioning tokens. Scenes are picked evenly, not at random.
        /// A third: about 9000 captioning examples, as many as model 3 had.
        public var captioningShare = 0.333
        /// Object centres of captioned and questioned scenes on multiples of this (1: any pixel).
        /// 8, the codec's stride, shows every object at one offset in its cells: cells no longer
        /// have to agree on where an edge falls (single objects 0.54 with 1, 0.85 with 8).
        public var positionStep = 8
        /// Give the VQ-VAE's empty cells the empty canvas's codes (`VisionTokenizerCodec.blankCodes`).
        /// A reused codec that has them keeps them. The VQ-VAE's only (a patch codec refuses them).
        public var blankCells = true
        public var questionCount = 6000
        /// Questions asked about each of the `questionCount` pictures, in one conversation
        /// (`--questions-per-picture`): the picture's tokens are paid once for all of them, so the
        /// answers get several times the examples at a few more tokens. nil or 1: one question.
        /// Optional so that settings saved before it existed still load.
        public var questionsPerPicture: Int? = nil
        /// With `questionsPerPicture` above 1 and isolated examples: each question of a conversation
        /// sees the picture and itself, not the questions and answers before it, at the positions it
        /// would have if asked alone (`--isolate-turns`), as `emu chat` and `emu eval` ask. The
        /// turns without it could answer from each other (RESULTS.md, "Several questions about one
        /// picture"). Optional so that settings saved before it existed still load (nil: not isolated).
        public var isolatesTurns: Bool? = nil
        /// Answer every visual question by first describing the picture: the completion is the
        /// scene's caption, `ShapesModel.answerSeparator`, then the answer (`--describe-then-answer`).
        /// A model's own captions name an asked object 63 times in 64 where its yes/no is right on 39
        /// (RESULTS.md, "Existence questions"): the answer is then read off the description. The
        /// model's config.json says so (`shapes_answer_separator`), and `ShapesModel.answer`
        /// returns what follows it. Optional so that settings saved before it existed still load.
        public var describeBeforeAnswer: Bool? = nil
        /// With `describeBeforeAnswer`: answer from the description alone, without the picture
        /// (`--answer-from-description`). Question examples become readings: the scene's caption,
        /// the question, the answer, as text only; the model describes the picture (its captioning),
        /// then answers from what it wrote. With the picture in view a describing model answered
        /// existence questions in step with its own description only by chance (RESULTS.md,
        /// "Describe, then answer"). config.json says so (`shapes_answer_reads_description`).
        /// Optional so that settings saved before it existed still load.
        public var answerFromDescription: Bool? = nil
        /// Captioning targets (describe-the-image answers, and descriptions written before answers)
        /// name the objects in reading order (`CaptionGrammar.readingOrderCaption`: "X left of Y",
        /// "X above Y", one caption per picture) instead of the order they were placed in, which
        /// names two objects either way round (`--reading-order-captions`). Of 245 two-object
        /// captions whose objects model 6 names right, it gets the relation's axis right in 238
        /// and its direction in 131 (RESULTS.md, stop 44). Text-to-image prompts are unchanged.
        /// nil: placement order.
        public var readingOrderCaptions: Bool? = nil
        /// Whether questions are taught as readings: `answerFromDescription`, which needs `describeBeforeAnswer`.
        var readsDescriptions: Bool { describeBeforeAnswer == true && answerFromDescription == true }
        /// 3600 (model 5; model 4 had 1200): a video specialist with three times the clips and
        /// tokens went from 0.39 to 0.83 of objects within 4 px one frame ahead (RESULTS.md).
        public var videoCount = 3600
        public var videoFrames = 6
        public var videoPrefixFrames = 2
        /// Context noise on video frames: each packed row replaces its video frames' visual inputs
        /// at a rate drawn from [0, this] (targets stay true; `videoContextSource` says by what), so
        /// the model learns to predict from imperfect frames as it must when it reads its own. nil
        /// or 0: none (random codes made a video specialist worse, its own guesses left it level;
        /// RESULTS.md, "Video on noisy context frames").
        /// Optional so that settings saved before it existed still load.
        public var videoContextNoise: Double? = nil
        /// What replaces the noised codes: random codes (nil or `.randomTokens`; every frame's
        /// codes, given or written, may be replaced), or the model's own one-step predictions
        /// (`.modelPredictions`; only the written frames', as the given ones are true at inference),
        /// or its greedy roll-out of the written frames (`.modelRollout`: one pass per written frame;
        /// then this is the share of video rows rolled out whole).
        public var videoContextSource: TrainingConfiguration.ContextNoise.Source? = nil
        public var actionEpisodes = 900
        /// Share of demonstration steps where the gripper does a random action while the expert's
        /// action stays the label (`TaskData.noisyDemonstration`); nil or 0: clean demonstrations.
        /// Optional so that settings saved before it existed still load (as clean: nil). 0.25 since
        /// model 5: with chunks of 8, closed-loop success of an actions specialist 0/50 -> 6/50.
        public var actionNoise: Double? = 0.25
        /// Actions in each action label: the expert's next N from the pictured state (nil or 1:
        /// the next action only). Inference takes the first, so the model is used as before; the
        /// rest are more labels per picture. Optional like `actionNoise`; 8 since model 5.
        public var actionChunk: Int? = 8
        /// Before each action chunk, write where things are (`GripperSituation`: the gripper's cell
        /// and whether it is closed, the named object's cell, the goal cell), so the model finds the
        /// objects first (`--locate-then-act`). Its config.json says so (`shapes_action_reasoning`)
        /// and `ShapesModel.actions` reads the actions after it. Optional like `actionNoise`.
        public var locateBeforeActing: Bool? = nil
        /// With `locateBeforeActing`: first list every object and its cell (`--list-objects`).
        public var listObjectsBeforeActing: Bool? = nil
        public var hiddenSize = 256
        public var layers = 4
        public var heads = 4
        public var intermediateSize = 768
        public var sequenceLength = 512
        public var batchSize = 8
        /// Each example packed into a training row attends only to itself, as it will when the
        /// model generates (`--isolate-examples`, the default since model 6: better text-to-image,
        /// understanding and actions at the same tokens, RESULTS.md); otherwise it also sees the
        /// unrelated examples packed before it. Optional so that settings saved before it existed
        /// still load (as not isolated: nil).
        public var isolatesExamples: Bool? = true
        /// Whether examples are isolated: nil, a run saved before the option existed, did not isolate.
        var isolates: Bool { isolatesExamples == true }
        /// Optimizer steps, when `taskTokens` is 0.
        public var steps = 3600
        /// When positive, replaces `steps`: train until the optimizer has seen this many tokens of
        /// the trained tasks, counted as `tokensSeenPerTask` counts them (padding excluded). This is
        /// how a specialist is matched to the unified model's tokens of its task. 23M: 3.6 passes
        /// over the default mix, as model 4's 18M were over its smaller mix (1200 clips, clean
        /// single-action labels), so text-to-image and understanding keep their tokens.
        public var taskTokens: Double = 23_000_000
        public var learningRate: Float = 1e-3
        /// Stop after this many minutes of training even if `steps` are not done (0: no limit).
        public var minutes: Double = 0
        /// The tasks trained on (all four for the unified model; one for a specialist). Codebook and
        /// vocabulary always come from every task's data, so all models share them.
        public var tasks: [ShapesTask] = ShapesTask.allCases
        /// Share of text-to-image examples whose caption is dropped (trains the CFG branch).
        public var unconditionalShare = 0.1
        /// How the model draws pictures by default, written to its `generation_config.json`
        /// (`ShapesModel.ImageDefaults`): the settings model 4 draws best with. Emu3's guidance
        /// of 3 draws extra objects at this size (RESULTS.md, "Guidance draws the extra objects").
        public var imageGuidance: Float = 1.5
        public var imageTemperature: Float = 0.7
        /// How the model continues clips by default: motion guidance away from the given clip
        /// reversed at this scale, written to its `generation_config.json` (`ShapesModel.videoDefaults`;
        /// nil or 1: none).
        public var videoMotionGuidance: Float?

        public init() {}

        /// Seconds-scale sizes for tests.
        public static var smoke: Settings {
            var s = Settings()
            s.codebookSize = 32; s.codebookImages = 40; s.codebookIterations = 3
            s.vqSteps = 3; s.vqBatchSize = 2
            s.captionCount = 40; s.questionCount = 30; s.videoCount = 4; s.actionEpisodes = 4
            s.hiddenSize = 32; s.layers = 1; s.heads = 2; s.intermediateSize = 64
            s.videoFrames = 3; s.sequenceLength = 320; s.batchSize = 2; s.steps = 100; s.taskTokens = 0; s.learningRate = 1e-2
            return s
        }
    }

    public struct Outcome: Codable, Sendable {
        /// Steps taken, and steps planned (fewer are taken when the --minutes limit stops training).
        public var steps: Int
        public var plannedSteps: Int
        public var firstLoss: Float
        public var finalLoss: Float
        public var seconds: Double
        public var parameterCount: Int
        public var trainingExamples: Int
        /// Tokens in the training examples of each task (one epoch).
        public var tokensPerTask: [String: Int]
        /// Tokens of each task the optimizer saw (epochs x the above, from the rows consumed).
        public var tokensSeenPerTask: [String: Double]
        /// GenEval accuracy of true held-out scenes coded and decoded by the codec (the ceiling of
        /// text-to-image accuracy), by category and overall.
        public var codecCeiling: GenEvalReport?
    }

    public let settings: Settings
    /// Decoder steps between saves of the unfinished run to the output folder (0: none before the
    /// end). A saved run holds the optimizer's state, so an interrupted recipe loses at most this
    /// many steps: `run(output:resume: true)` continues it bit for bit (`SavedRecipeRun`).
    public var saveInterval: Int
    public let log: (String) -> Void
    /// Ends training after this step as the --minutes limit does (tests).
    var stopStep: Int? = nil
    /// Called after each step and its save, if any (tests: a throw is an interruption).
    var afterStep: ((Int) throws -> Void)? = nil

    public init(settings: Settings, saveInterval: Int = 0, log: @escaping (String) -> Void) {
        self.settings = settings
        self.saveInterval = saveInterval
        self.log = log
    }

    /// Runs the recipe and writes the model folder to `output` (replaced atomically). With
    /// `resume`, an unfinished run saved in `output` continues where it stopped (with its codec: no
    /// VQ-VAE stage), a finished one is returned as it is, and with none the recipe starts anew.
    @discardableResult
    public func run(output: URL, resume: Bool = false) throws -> Outcome {
        var s = settings
        let started = Date()
        // A reading model's questions are text: follow-ups about a picture would be dropped unseen.
        guard (s.questionsPerPicture ?? 1) == 1 || !s.readsDescriptions else {
            throw ShapesModelError.invalid("settings", reason: "several questions per picture ask about a picture, but a model that "
                                           + "answers from its description reads its questions as text (drop --questions-per-picture "
                                           + "or --answer-from-description)")
        }
        if s.isolatesTurns == true {
            guard (s.questionsPerPicture ?? 1) > 1, s.isolates else {
                throw ShapesModelError.invalid("settings", reason: "isolated turns are the questions of one conversation, each seeing only "
                                               + "the picture: they need --questions-per-picture above 1 and isolated examples")
            }
        }
        let saved = resume ? try SavedRecipeRun.load(from: output, requested: s) : nil
        if let saved, !saved.isUnfinished {
            log("\(output.path) holds the finished run (\(saved.outcome.steps) steps): nothing to resume")
            return saved.outcome
        }
        if resume && saved == nil { log("no run saved in \(output.path): starting a new one") }
        // A reused codec is checked before anything else runs.
        var reusedCodec: (any ShapesImageCodec)? = nil
        if let saved {
            s = saved.settings
            reusedCodec = try Self.codec(reusedFrom: output, settings: &s)
            log("resuming \(output.path) at step \(saved.outcome.steps) of \(saved.outcome.plannedSteps), with its codec")
        } else if let source = s.codecSource {
            let codec = try Self.codec(reusedFrom: URL(fileURLWithPath: source), settings: &s)
            log("codec: \(s.codec.rawValue) of \(source), \(codec.codeCount) codes")
            reusedCodec = codec
        }
        log("rendering data (seed \(s.seed))")
        let start = Self.trainingStart(seed: s.seed)
        let captions = TaskData.captionedImages(.train, start: start, count: s.captionCount, positionStep: s.positionStep)
        let questions = TaskData.questions(.train, start: start, count: s.questionCount, positionStep: s.positionStep,
                                           perPicture: s.questionsPerPicture ?? 1)
        let videos = TaskData.videoClips(.train, start: start, count: s.videoCount, frameCount: s.videoFrames)
        let episodes = TaskData.actionEpisodes(.train, start: start, count: s.actionEpisodes, noise: s.actionNoise ?? 0)

        // (1) the codec, from every task's pictures (or an existing model's). Its captioned scenes have
        // objects anywhere, whatever grid the decoder's captions use: every variant of a seed's
        // recipe trains the same codec, so one variant's codec can stand in for another's.
        var codec = try reusedCodec ?? trainCodec(
            captions: s.positionStep == 1 ? captions
                : TaskData.captionedImages(.train, start: start, count: min(s.captionCount, s.codebookImages / 2)),
            videos: videos, episodes: episodes)
        if let vq = codec as? VisionTokenizerCodec {
            if s.blankCells && vq.blankCodes == nil { codec = try vq.withBlankCells() }
            s.blankCells = (codec as? VisionTokenizerCodec)?.blankCodes != nil
        } else if s.blankCells {
            throw ShapesModelError.invalid("settings", reason: "blank cells are for the VQ-VAE codec, not \(type(of: codec).kind) (train with --no-blank-cells)")
        }
        if s.blankCells { log("empty cells coded as the empty canvas") }
        let codecCeiling = try CodecCeiling.genEval(codec, perCategory: 20)
        log(String(format: "codec ceiling (true held-out scenes, coded and decoded): GenEval overall %.3f", codecCeiling.overall)
            + ", " + codecCeiling.accuracy.sorted { $0.key < $1.key }.map { String(format: "%@ %.2f", $0.key, $0.value) }.joined(separator: ", "))
        let patchSize = codec.spatialFactor

        // (2) vocabulary and token streams.
        var texts = captions.flatMap { [$0.caption] + $0.alternativeCaptions }
        texts += questions.flatMap { [$0.question.question, $0.question.answer] }
        texts += questions.flatMap { $0.followUps.flatMap { [$0.question, $0.answer] } }
        texts += episodes.map(\.instruction) + [QuestionGenerator.describePrompt]
        texts += CaptionGrammar.numberWords + (0...9).map(String.init) + ["*"]
        texts += ShapeKind.allCases.map(\.rawValue) + ObjectColor.allCases.map(\.rawValue)
        if s.describeBeforeAnswer == true { texts.append(ShapesModel.answerSeparator) }
        if s.locateBeforeActing == true { texts += GripperSituation.words }
        let words = texts.flatMap(ShapesVocabulary.words(of:))
        let vocabulary = ShapesVocabulary(words: words, codebookSize: codec.codeCount)
        let layout = ShapesSequences(vocabulary: vocabulary, rows: Scene.canvasSize / patchSize, columns: Scene.canvasSize / patchSize)
        log("vocabulary: \(vocabulary.count) tokens (\(codec.codeCount) visual)")

        var rng = SeededGenerator(seed: s.seed &+ 17)
        var tagged: [(ShapesTask, TrainingExample)] = []
        // Only the trained tasks' pictures are coded (a specialist codes a quarter or less).
        // A captioned scene is coded for text-to-image, or for captioning if it is in the share.
        let captioned = captions.indices.map { s.tasks.contains(.understanding) && Self.isCaptioned($0, share: s.captioningShare) }
        let codesCaption = captions.indices.map { s.tasks.contains(.textToImage) || captioned[$0] }
        let codesQuestions = s.tasks.contains(.understanding)
        let codesVideos = s.tasks.contains(.video)
        let codesEpisodes = s.tasks.contains(.actions)
        var pictureCount = codesCaption.filter { $0 }.count
        // A reading model's questions are text, but for the description questions (captioning).
        let codesQuestion = questions.map { codesQuestions && !(s.readsDescriptions && $0.question.kind != .describe) }
        pictureCount += codesQuestion.filter { $0 }.count
        if codesVideos { pictureCount += videos.count * s.videoFrames }
        if codesEpisodes { pictureCount += episodes.map(\.frames.count).reduce(0, +) }
        log("coding \(pictureCount) pictures")
        let codingStart = Date()
        var coded = 0
        func code(_ image: RGBImage) throws -> [Int] {
            coded += 1
            if coded % 5000 == 0 {
                log("coded \(coded)/\(pictureCount) pictures, "
                    + Self.remaining(elapsed: Date().timeIntervalSince(codingStart), done: coded, total: pictureCount))
            }
            return try codec.encode(image)
        }
        let readingOrder = s.readingOrderCaptions == true
        for (index, sample) in captions.enumerated() {
            // The caption is drawn first, so a model's random stream does not depend on its tasks.
            let options = [sample.caption] + sample.alternativeCaptions
            let caption = rng.unit() < s.unconditionalShare ? "" : options[Int(rng.next() % UInt64(options.count))]
            guard codesCaption[index] else { continue }
            let codes = try code(sample.image)
            tagged.append((.textToImage, layout.textToImageExample(caption: caption, codes: codes)))
            if captioned[index] {
                tagged.append((.understanding, layout.questionExample(imageCodes: codes, question: QuestionGenerator.describePrompt,
                                                                      answer: Self.description(of: sample.scene, readingOrder: readingOrder))))
            }
        }
        for (sample, coded) in zip(questions, codesQuestion) where codesQuestions {
            guard coded else {
                tagged.append((.understanding, layout.readingExample(description: Self.description(of: sample.scene, readingOrder: readingOrder),
                                                                     question: sample.question.question, answer: sample.question.answer)))
                continue
            }
            let turns = ([sample.question] + sample.followUps).map {
                (question: $0.question, answer: Self.completion(of: $0, in: sample.scene, describingFirst: s.describeBeforeAnswer == true,
                                                                readingOrder: readingOrder))
            }
            tagged.append((.understanding, layout.conversationExample(imageCodes: try code(sample.image), turns: turns,
                                                                      isolatingTurns: s.isolatesTurns == true)))
        }
        for clip in videos where codesVideos {
            tagged.append((.video, layout.videoExample(frames: try clip.frames.map(code), prefixFrames: s.videoPrefixFrames,
                                                       noisablePrefix: (s.videoContextSource ?? .randomTokens) == .randomTokens)))
        }
        for episode in episodes where codesEpisodes {
            let plans = episode.expertPlans(length: max(1, s.actionChunk ?? 1))
            for (frame, (plan, world)) in zip(episode.frames, zip(plans, episode.worlds())) {
                let situation = s.locateBeforeActing == true
                    ? GripperSituation.text(of: world, for: episode.task.instruction, listingObjects: s.listObjectsBeforeActing == true) : ""
                tagged.append((.actions, layout.actionExample(imageCodes: try code(frame), instruction: episode.instruction,
                                                              situation: situation,
                                                              actions: plan.map { DiscreteActionToken(id: vocabulary.actionToken($0)) })))
            }
        }
        tagged = tagged.filter { s.tasks.contains($0.0) }
        var tokensPerTask: [String: Int] = [:]
        for (task, example) in tagged { tokensPerTask[task.rawValue, default: 0] += example.ids.count }
        log("tokens per epoch: " + tokensPerTask.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))
        var examples = tagged.map(\.1)
        // Mixed order before packing, so every packed row holds several tasks.
        for i in stride(from: examples.count - 1, to: 0, by: -1) { examples.swapAt(i, Int(rng.next() % UInt64(i + 1))) }
        let packer = SequencePacker(length: s.sequenceLength, paddingID: vocabulary.specials.padding)
        let rows = try packer.pack(examples)
        log("\(examples.count) examples packed into \(rows.count) rows of \(s.sequenceLength + 1) tokens")
        let steps = s.taskTokens > 0
            ? Self.steps(toSee: s.taskTokens, tokensPerEpoch: tokensPerTask.values.reduce(0, +), rows: rows.count, batchSize: s.batchSize)
            : s.steps
        if s.taskTokens > 0 { log(String(format: "%.0f task tokens = %d steps", s.taskTokens, steps)) }

        // (3) one decoder on the mix.
        let configuration = Transformer.Configuration(
            vocabularySize: vocabulary.count, hiddenSize: s.hiddenSize, intermediateSize: s.intermediateSize,
            layerCount: s.layers, attentionHeads: s.heads, keyValueHeads: s.heads, maxPositions: 1024, ropeTheta: 10_000)
        // A resumed run's weights are its folder's (their optimizer state is restored below).
        let model = saved == nil ? TrainableTransformer(configuration: configuration, seed: s.seed)
            : try TrainableTransformer(configuration: configuration, weights: WeightStore.load(directory: output.path))
        let trainer = NextTokenTrainer(
            model: model, rows: rows,
            configuration: TrainingConfiguration(steps: steps, batchSize: s.batchSize, sequenceLength: s.sequenceLength,
                                                 optimizer: AdamW.Configuration(learningRate: s.learningRate, weightDecay: 0.01),
                                                 seed: s.seed,
                                                 contextNoise: s.videoContextNoise.flatMap { rate in
                                                     let source = s.videoContextSource ?? .randomTokens
                                                     // A roll-out takes one pass per written frame.
                                                     return rate > 0 ? .init(source: source, maxRate: rate, replacements: vocabulary.visualTokenRange,
                                                                             passes: source == .modelRollout ? s.videoFrames - s.videoPrefixFrames : 1) : nil
                                                 },
                                                 isolatesExamples: s.isolates),
            paddingID: vocabulary.specials.padding)
        var history: [StepMetrics] = []
        if let saved {
            let state = try TrainingCheckpoint.restore(from: output, into: trainer.optimizer, kind: Self.checkpointKind)
            guard state.step == saved.outcome.steps, state.configuration == trainer.configuration else {
                throw ShapesModelError.invalid(output.appendingPathComponent(TrainingCheckpoint.stateFile).path,
                                               reason: "its trainer state does not match the run's settings and outcome")
            }
            history = saved.history
        }
        // (4) the checkpoint folder: every `saveInterval` steps and when training stops, with the
        // optimizer's state while steps remain.
        let parameterCount = model.parameters.values.reduce(0) { $0 + $1.count }
        let earlierSeconds = saved?.outcome.seconds ?? 0
        func save() throws -> Outcome {
            let epochs = Double(trainer.step * s.batchSize) / Double(max(rows.count, 1))
            let outcome = Outcome(steps: trainer.step, plannedSteps: steps, firstLoss: history.first?.loss ?? .nan,
                                  finalLoss: history.suffix(20).map(\.loss).reduce(0, +) / Float(max(1, min(20, history.count))),
                                  seconds: earlierSeconds + Date().timeIntervalSince(started), parameterCount: parameterCount,
                                  trainingExamples: examples.count, tokensPerTask: tokensPerTask,
                                  tokensSeenPerTask: tokensPerTask.mapValues { Double($0) * epochs }, codecCeiling: codecCeiling)
            let unfinished = trainer.step < steps
                ? (trainer.optimizer, TrainerState(step: trainer.step, configuration: trainer.configuration, kind: Self.checkpointKind)) : nil
            try ShapesCheckpointWriter.write(to: output, weights: model.checkpointWeights(), codec: codec, vocabulary: vocabulary,
                                             configuration: configuration, settings: s, outcome: outcome, history: history,
                                             resumeFiles: unfinished)
            return outcome
        }

        let trainingStart = Date()
        let firstStep = trainer.step
        // The running mean shown in the log goes on from the saved steps, so a resumed run prints
        // what the uninterrupted run prints.
        func smoothing(_ mean: Float?, _ loss: Float) -> Float { mean.map { 0.95 * $0 + 0.05 * loss } ?? loss }
        var smoothed = history.reduce(nil as Float?) { smoothing($0, $1.loss) }
        while trainer.step < steps {
            if s.minutes > 0 && Date().timeIntervalSince(trainingStart) > s.minutes * 60 {
                log("time limit of \(s.minutes) min reached at step \(trainer.step); --resume continues the run")
                break
            }
            if trainer.step == stopStep { break }
            let metrics = trainer.trainStep()
            history.append(metrics)
            smoothed = smoothing(smoothed, metrics.loss)
            if trainer.step % 10 == 0 || trainer.step == 1 {
                let elapsed = Date().timeIntervalSince(trainingStart)
                log(String(format: "step %d/%d loss %.4f (avg %.4f) lr %.2e grad %.2f %.2fs/step, ",
                           trainer.step, steps, metrics.loss, smoothed!, metrics.learningRate, metrics.gradientNorm, metrics.seconds)
                    + Self.remaining(elapsed: elapsed, done: trainer.step - firstStep, total: steps - firstStep))
            }
            if saveInterval > 0 && trainer.step % saveInterval == 0 && trainer.step < steps { _ = try save() }
            try afterStep?(trainer.step)
        }
        let outcome = try save()
        log("wrote \(output.path): \(parameterCount) parameters, loss \(outcome.firstLoss) -> \(outcome.finalLoss) in \(Int(outcome.seconds)) s"
            + (outcome.steps < steps ? " (unfinished: --resume continues it)" : ""))
        return outcome
    }

    /// The kind of run in a saved folder's `trainer_state.json`.
    static let checkpointKind = "shapes-recipe"
}

extension ShapesRecipe {
    /// Steps of `batchSize` rows after which the optimizer has seen `tokens` task tokens, when one
    /// pass over `rows` rows holds `tokensPerEpoch` of them (the rest is padding).
    static func steps(toSee tokens: Double, tokensPerEpoch: Int, rows: Int, batchSize: Int) -> Int {
        let tokensPerRow = Double(tokensPerEpoch) / Double(max(rows, 1))
        return max(1, Int((tokens / (tokensPerRow * Double(batchSize))).rounded(.up)))
    }

    /// What a question example teaches the model to write: the answer, or with `describingFirst`
    /// the scene's caption, the separator, then the answer (a description question's answer is
    /// already the caption, so it stays as it is). With `readingOrder`, captions are reading-order ones.
    static func completion(of question: VisualQuestion, in scene: Scene, describingFirst: Bool, readingOrder: Bool = false) -> String {
        if question.kind == .describe { return description(of: scene, readingOrder: readingOrder) }
        guard describingFirst else { return question.answer }
        return description(of: scene, readingOrder: readingOrder) + " " + ShapesModel.answerSeparator + " " + question.answer
    }

    /// What the model is taught to write for "describe the image" (`Settings.readingOrderCaptions`).
    static func description(of scene: Scene, readingOrder: Bool) -> String {
        readingOrder ? CaptionGrammar.readingOrderCaption(scene) : CaptionGrammar.caption(scene)
    }

    /// Whether captioned scene `index` also gives a captioning example: `share` of the scenes,
    /// spread evenly (scene i when floor((i + 1) share) passes an integer).
    static func isCaptioned(_ index: Int, share: Double) -> Bool {
        share >= 1 || Int((Double(index + 1) * share).rounded(.down)) > Int((Double(index) * share).rounded(.down))
    }

    /// "12:05 left" from the pace so far (the recipe runs for an hour or more: it says when it ends).
    static func remaining(elapsed: Double, done: Int, total: Int) -> String {
        guard done > 0 else { return "" }
        return ProgressBar.clock(elapsed / Double(done) * Double(max(total - done, 0))) + " left"
    }

    /// The codec of the ShapesWorld model in `directory`, with its weights (so the new folder can
    /// store it); `settings.codec` becomes its type. Throws when its code count is not `codebookSize`.
    static func codec(reusedFrom directory: URL, settings: inout Settings) throws -> any ShapesImageCodec {
        let codec: any ShapesImageCodec
        do { codec = try ShapesModel(directory: directory).codec } catch ShapesModelError.missingModel {
            throw ShapesModelError.missingModel("no ShapesWorld model at \(directory.path) to reuse the codec of (config.json missing)")
        }
        guard codec.codeCount == settings.codebookSize else {
            throw ShapesModelError.invalid("\(directory.path)", reason: "its codec has \(codec.codeCount) codes; the recipe's vocabulary needs \(settings.codebookSize)")
        }
        settings.codec = type(of: codec).kind == PatchCodebook.kind ? .patch : .vqvae
        return codec
    }

    /// Trains the settings' codec on `codebookImages` pictures from every task: half captioned
    /// scenes, a quarter video frames, a quarter gripper frames.
    func trainCodec(captions: [CaptionedImage], videos: [VideoClip], episodes: [ActionEpisode]) throws -> any ShapesImageCodec {
        let s = settings
        var images = Array(captions.prefix(s.codebookImages / 2).map(\.image))
        images += videos.flatMap(\.frames).prefix(s.codebookImages / 4)
        images += episodes.flatMap(\.frames).prefix(s.codebookImages / 4)
        switch s.codec {
        case .patch:
            let patchSize = 8
            let patcher = PatchCodebook(patchSize: patchSize, entries: Tensor(zeros: [1, patchSize * patchSize * 3]))
            return PatchCodebook.train(patches: images.flatMap(patcher.patches), patchSize: patchSize,
                                       size: s.codebookSize, iterations: s.codebookIterations, seed: s.seed, log: log)
        case .vqvae:
            log("training the VQ-VAE: \(s.vqSteps) steps of \(s.vqBatchSize) of \(images.count) pictures")
            let trained = try ShapesVisionTokenizer.train(images: images, codebookSize: s.codebookSize, steps: s.vqSteps,
                                                          batchSize: s.vqBatchSize, learningRate: s.vqLearningRate,
                                                          seed: s.seed, log: log)
            return VisionTokenizerCodec(tokenizer: trained.tokenizer, weights: trained.weights)
        }
    }
}

/// The four ShapesWorld tasks (names as `emu eval --task` and `emu train --tasks` spell them).
public enum ShapesTask: String, Codable, CaseIterable, Sendable {
    case textToImage = "t2i", understanding, video, actions
}
