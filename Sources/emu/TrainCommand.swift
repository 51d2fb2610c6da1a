import ArgumentParser
import Foundation
import ShapesRecipe

/// `emu train --recipe shapes` trains the bundled ShapesWorld model from a seed;
/// `emu train lm` trains or fine-tunes a transformer on token shards; `emu train vq` a vision tokenizer.
///
/// The group itself declares no options: ArgumentParser hands an option to the first command in
/// the path that declares it, so a `--steps` here would silently swallow `emu train lm --steps`.
/// The recipe runner is the default subcommand instead, so `emu train --recipe shapes` still works.
struct TrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train a model: from a recipe (--recipe shapes) or with a subcommand.",
        subcommands: [TrainRecipeCommand.self, TrainLanguageModelCommand.self, TrainVisionTokenizerCommand.self],
        defaultSubcommand: TrainRecipeCommand.self)
}

/// `emu train [recipe] --recipe shapes`: the bundled ShapesWorld model from a seed.
struct TrainRecipeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "recipe",
        abstract: "Train the bundled model from a recipe (emu train --recipe shapes).")

    @Option(name: .long, help: "The recipe to run (shapes).")
    var recipe: String?

    @Option(name: .long, help: "Random seed (same seed, same model).")
    var seed: UInt64 = 0

    @Option(name: .long, help: "Optimizer steps, instead of the recipe's token budget (--task-tokens).")
    var steps: Int?

    @Option(name: .long, help: "Instead of --steps: train until the optimizer has seen this many tokens of the trained tasks (padding excluded; how specialists match the unified model; default: the recipe's 23000000).")
    var taskTokens: Double?

    @Option(name: .long, help: "Stop training after this many minutes even if steps remain.")
    var minutes: Double?

    @Option(name: .long, help: "With --recipe shapes: the tasks to train on, comma-separated (t2i, understanding, video, actions; default all: the unified model).")
    var tasks: String?

    @Option(name: .long, help: "With --recipe shapes: the image codec, vqvae (Emu3's VQ-VAE in small) or patch (k-means patches). (default: the recipe's)")
    var codec: ShapesRecipe.Codec?

    @Option(name: .long, help: "With --recipe shapes: reuse the codec of this ShapesWorld model folder instead of training one (how specialists share the unified model's codec).")
    var codecFrom: String?

    @Option(name: .customLong("hidden-size"), help: "With --recipe shapes: the decoder's width (heads of 64, MLP 3x as wide; default: the recipe's 256).")
    var hiddenSize: Int?

    @Option(name: .long, help: "With --recipe shapes: the decoder's layers (default: the recipe's 4).")
    var layers: Int?

    @Option(name: .long, help: "With --recipe shapes: captioned scenes in the mix, for text-to-image and captioning (default: the recipe's 27000).")
    var captions: Int?

    @Option(name: .customLong("captioning-share"), help: "With --recipe shapes: the share of captioned scenes that also train captioning (0 to 1; default the recipe's 0.333). Below 1, more --captions add text-to-image tokens without as many captioning tokens.")
    var captioningShare: Double?

    @Option(name: .long, help: "With --recipe shapes: visual questions in the mix, for understanding (default: the recipe's 6000).")
    var questions: Int?

    @Option(name: .customLong("questions-per-picture"), help: "With --recipe shapes: ask this many different questions about each of the --questions pictures, in one conversation (the picture's tokens paid once; 1 to 8; default: the recipe's 1).")
    var questionsPerPicture: Int?

    @Flag(name: .customLong("isolate-turns"), help: "With --recipe shapes and --questions-per-picture above 1: each question of a conversation sees the picture and itself, not the turns before it, as when asked alone.")
    var isolateTurns = false

    @Flag(name: .customLong("describe-then-answer"), help: "With --recipe shapes: teach the model to answer each visual question by first describing the picture (caption, 'so', answer); `emu chat` shows the description, `emu eval` scores the answer after it.")
    var describeThenAnswer = false

    @Flag(name: .customLong("answer-from-description"), help: "With --describe-then-answer: answer from the description alone, without the picture (questions are taught as text: caption, question, answer; the model describes the picture, then reads what it wrote).")
    var answerFromDescription = false

    @Flag(name: .customLong("reading-order-captions"), help: "With --recipe shapes: teach descriptions that name objects in reading order (\"X left of Y\", \"X above Y\": one caption per picture) instead of the order they were placed in (text-to-image prompts are unchanged).")
    var readingOrderCaptions = false

    @Flag(name: .customLong("locate-then-act"), help: "With --recipe shapes: teach the model to write where the gripper, the named object and the goal are (\"gripper 1 2 open target 3 0 goal 2 2\") before each action chunk; `emu eval` and `emu demo` read the actions after it.")
    var locateThenAct = false

    @Flag(name: .customLong("list-objects"), help: "With --locate-then-act: first list every object and its cell (\"red square 3 0 blue circle 1 1 gripper ...\"), so the named object's cell is copied from the list.")
    var listObjects = false

    @Option(name: .long, help: "With --recipe shapes: video clips in the mix (default: the recipe's 3600).")
    var videos: Int?

    @Option(name: .customLong("video-context-noise"), help: "With --recipe shapes: train video on noisy context: each packed row replaces its frames' codes, as inputs only, at a rate drawn up to this (0 to 1; default: the recipe's none); see --video-context-source.")
    var videoContextNoise: Double?

    @Option(name: .customLong("video-context-source"), help: "With --video-context-noise: what replaces the noised codes: random (random codes, in every frame), model (the model's own one-step predictions, in the frames it writes; about a third more compute on video rows) or rollout (its greedy continuation of all the frames it writes, one forward pass per written frame, in that share of the rows).")
    var videoContextSource: VideoContextSource?

    enum VideoContextSource: String, ExpressibleByArgument, CaseIterable {
        case random, model, rollout
    }

    @Option(name: .customLong("action-episodes"), help: "With --recipe shapes: gripper demonstrations in the mix (default: the recipe's 900).")
    var actionEpisodes: Int?

    @Option(name: .customLong("action-noise"), help: "With --recipe shapes: the share of gripper demonstration steps where a random action is done instead of the expert's, which stays the label, so the model sees the expert recover from mistakes (0 to 0.9; default: the recipe's 0.25).")
    var actionNoise: Double?

    @Option(name: .customLong("action-chunk"), help: "With --recipe shapes: label each gripper picture with the expert's next N actions instead of the next one (inference takes the first; default: the recipe's 8).")
    var actionChunk: Int?

    @Option(name: .customLong("codebook-size"), help: "With --recipe shapes: the image codec's codes (default: the recipe's 1024).")
    var codebookSize: Int?

    @Option(name: .customLong("position-step"), help: "With --recipe shapes: put the centres of captioned and questioned objects on multiples of this many pixels (default the recipe's 8, the codec's stride; 1 is anywhere).")
    var positionStep: Int?

    @Flag(name: .customLong("blank-cells"), inversion: .prefixedNo, help: "With --recipe shapes: code the VQ-VAE's empty cells as the empty canvas's codes (one code per place instead of hundreds that depend on objects elsewhere; default on with the VQ-VAE).")
    var blankCells: Bool?

    @Option(name: .customLong("learning-rate"), help: "With --recipe shapes: the decoder's peak learning rate (AdamW, warmup then cosine decay; default: the recipe's 0.001).")
    var learningRate: Float?

    @Option(name: .customLong("batch-size"), help: "With --recipe shapes: the decoder's packed rows per optimizer step (each of the recipe's 512 tokens; at the same --task-tokens, half the rows is twice the steps; default: the recipe's 8).")
    var batchSize: Int?

    @Flag(name: .customLong("isolate-examples"), inversion: .prefixedNo, help: "With --recipe shapes: each example packed into a training row attends only to itself, as when the model generates (default on; --no-isolate-examples: it also sees the examples packed before it in the row, as models 1-5 did).")
    var isolateExamples: Bool?

    @Option(name: .customLong("image-cfg"), help: "With --recipe shapes: the guidance scale the model draws pictures with by default (its generation_config.json; default the recipe's 1.5).")
    var imageCFG: Float?

    @Option(name: .customLong("image-temperature"), help: "With --recipe shapes: the temperature the model draws pictures with by default (its generation_config.json; default the recipe's 0.7).")
    var imageTemperature: Float?

    @Option(name: .customLong("video-motion-guidance"), help: "With --recipe shapes: the motion guidance scale the model continues clips with by default, away from the given clip reversed (its generation_config.json; default 1: none; RESULTS.md measures 1.5 on model 5).")
    var videoMotionGuidance: Float?

    @Option(name: .long, help: "Output model folder.")
    var out: String = "Models/shapes-emu3"

    @Flag(name: .long, help: "Continue the unfinished run saved in --out (interrupted, or stopped by --minutes), bit for bit; give the flags it was started with.")
    var resume = false

    @Option(name: .customLong("save-every"), help: "Save the unfinished run to --out every this many decoder steps, for --resume (0: only when training stops).")
    var saveEvery = 250

    @Flag(name: .long, help: "Seconds-scale sizes (checks the pipeline end to end; the model is useless).")
    var smoke = false

    @Flag(name: .long, help: "Print the outcome as one JSON document on stdout.")
    var json = false

    func run() throws {
        try runReportingErrors {
            guard let recipe else {
                throw UserError("name a recipe (--recipe shapes) or a subcommand (emu train lm); see emu train --help")
            }
            guard recipe == "shapes" else { throw UserError("unknown recipe '\(recipe)' (known: shapes)") }
            var settings = smoke ? ShapesRecipe.Settings.smoke : ShapesRecipe.Settings()
            settings.seed = seed
            if let steps {
                settings.steps = steps
                settings.taskTokens = 0
            }
            if let taskTokens {
                guard steps == nil else { throw UserError("give --steps or --task-tokens, not both") }
                guard taskTokens > 0 else { throw UserError("--task-tokens must be positive") }
                settings.taskTokens = taskTokens
            }
            if let minutes { settings.minutes = minutes }
            if let hiddenSize {
                guard hiddenSize >= 64, hiddenSize % 64 == 0 else { throw UserError("--hidden-size must be a positive multiple of 64 (heads are 64 wide), not \(hiddenSize)") }
                settings.hiddenSize = hiddenSize
                settings.heads = hiddenSize / 64
                settings.intermediateSize = 3 * hiddenSize
            }
            if let layers {
                guard layers >= 1 else { throw UserError("--layers must be at least 1, not \(layers)") }
                settings.layers = layers
            }
            if let captions {
                guard captions >= 1 else { throw UserError("--captions must be at least 1, not \(captions)") }
                settings.captionCount = captions
            }
            if let captioningShare {
                guard (0...1).contains(captioningShare) else { throw UserError("--captioning-share must be 0 to 1, not \(captioningShare)") }
                settings.captioningShare = captioningShare
            }
            if let questions {
                guard questions >= 1 else { throw UserError("--questions must be at least 1, not \(questions)") }
                settings.questionCount = questions
            }
            if describeThenAnswer { settings.describeBeforeAnswer = true }
            if readingOrderCaptions { settings.readingOrderCaptions = true }
            if answerFromDescription {
                guard describeThenAnswer else { throw UserError("--answer-from-description goes with --describe-then-answer") }
                settings.answerFromDescription = true
            }
            if let questionsPerPicture {
                guard (1...8).contains(questionsPerPicture) else { throw UserError("--questions-per-picture must be 1 to 8, not \(questionsPerPicture)") }
                settings.questionsPerPicture = questionsPerPicture
            }
            // The recipe refuses isolated turns without a conversation or isolated examples.
            if isolateTurns { settings.isolatesTurns = true }
            if locateThenAct { settings.locateBeforeActing = true }
            if listObjects {
                guard locateThenAct else { throw UserError("--list-objects goes with --locate-then-act") }
                settings.listObjectsBeforeActing = true
            }
            if let videos {
                guard videos >= 1 else { throw UserError("--videos must be at least 1, not \(videos)") }
                settings.videoCount = videos
            }
            if let videoContextNoise {
                guard (0...1).contains(videoContextNoise) else { throw UserError("--video-context-noise must be 0 to 1, not \(videoContextNoise)") }
                settings.videoContextNoise = videoContextNoise
            }
            if let videoContextSource {
                guard (settings.videoContextNoise ?? 0) > 0 else { throw UserError("--video-context-source needs --video-context-noise above 0") }
                switch videoContextSource {
                case .random: settings.videoContextSource = .randomTokens
                case .model: settings.videoContextSource = .modelPredictions
                case .rollout: settings.videoContextSource = .modelRollout
                }
            }
            if let actionEpisodes {
                guard actionEpisodes >= 1 else { throw UserError("--action-episodes must be at least 1, not \(actionEpisodes)") }
                settings.actionEpisodes = actionEpisodes
            }
            if let actionNoise {
                guard (0...0.9).contains(actionNoise) else { throw UserError("--action-noise must be 0 to 0.9, not \(actionNoise)") }
                settings.actionNoise = actionNoise
            }
            if let actionChunk {
                guard (1...16).contains(actionChunk) else { throw UserError("--action-chunk must be 1 to 16 actions, not \(actionChunk)") }
                settings.actionChunk = actionChunk
            }
            // Blank cells are the VQ-VAE's: on by default with it, off with the patch codec unless asked for (then refused).
            settings.blankCells = blankCells ?? (codec != .patch)
            if let codebookSize {
                guard (2...16384).contains(codebookSize) else { throw UserError("--codebook-size must be 2 to 16384, not \(codebookSize)") }
                settings.codebookSize = codebookSize
            }
            if let positionStep {
                guard (1...16).contains(positionStep) else { throw UserError("--position-step must be 1 to 16 pixels, not \(positionStep)") }
                settings.positionStep = positionStep
            }
            if let learningRate {
                guard learningRate > 0, learningRate < 1, learningRate.isFinite else { throw UserError("--learning-rate must be above 0 and below 1, not \(learningRate)") }
                settings.learningRate = learningRate
            }
            if let batchSize {
                guard (1...256).contains(batchSize) else { throw UserError("--batch-size must be 1 to 256 rows, not \(batchSize)") }
                settings.batchSize = batchSize
            }
            if let isolateExamples { settings.isolatesExamples = isolateExamples }
            if let imageCFG {
                try ImageDrawing.check(imageCFG, flag: "--image-cfg")
                settings.imageGuidance = imageCFG
            }
            if let imageTemperature {
                guard imageTemperature > 0, imageTemperature.isFinite else { throw UserError("--image-temperature must be a positive number, not \(imageTemperature)") }
                settings.imageTemperature = imageTemperature
            }
            if let videoMotionGuidance {
                guard videoMotionGuidance >= 0, videoMotionGuidance.isFinite else {
                    throw UserError("--video-motion-guidance must be 0 or more (1: none), not \(videoMotionGuidance)")
                }
                settings.videoMotionGuidance = videoMotionGuidance
            }
            if let codec { settings.codec = codec }
            if let codecFrom {
                guard codec == nil else { throw UserError("give --codec or --codec-from, not both (the reused codec has its own type)") }
                settings.codecSource = codecFrom
            }
            if let tasks {
                settings.tasks = try tasks.split(separator: ",").map { name in
                    guard let task = ShapesTask(rawValue: name.trimmingCharacters(in: .whitespaces)) else {
                        throw UserError("--tasks: unknown task '\(name)' (known: \(ShapesTask.allCases.map(\.rawValue).joined(separator: ", ")))")
                    }
                    return task
                }
            }
            guard saveEvery >= 0 else { throw UserError("--save-every must be 0 or more steps, not \(saveEvery)") }
            let outcome = try ShapesRecipe(settings: settings, saveInterval: saveEvery, log: { Output.log($0) })
                .run(output: URL(fileURLWithPath: out), resume: resume)
            if json { try Output.printJSON(outcome) }
        }
    }
}

extension ShapesRecipe.Codec: ExpressibleByArgument {}
