import ArgumentParser
import Emu3
import Foundation
import ShapesRecipe
import ShapesWorld

/// `emu eval`: the ShapesWorld metrics of a model on held-out seeds.
struct EvalCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval",
        abstract: "Score a ShapesWorld model: text-to-image (GenEval-style), understanding, video prediction, actions.")

    enum Task: String, ExpressibleByArgument, CaseIterable { case t2i, understanding, video, actions, all }

    @OptionGroup var options: ModelOptions

    @Option(name: .long, help: "t2i, understanding, video, actions or all.")
    var task: Task = .all

    @Option(name: .long, help: "Samples per task (per category for t2i).")
    var samples: Int = 20

    @Option(name: .long, help: "Classifier-free guidance scale for text-to-image (1 disables it; default: the model's generation_config.json, else 3).")
    var cfg: Float?

    @Option(name: .customLong("cfg-sweep"), help: "Comma-separated guidance scales: text-to-image accuracy at each.")
    var cfgSweep: String?

    @OptionGroup(title: "Text-to-image sampling (default: the model's generation_config.json, else temperature 1, top-k 32; seed 0; prompt i uses seed + i)")
    var sampling: SamplingOptions

    @Option(name: .customLong("best-of"), help: "Text-to-image: draw this many pictures per prompt and keep the one the model rates best (see --rerank).")
    var bestOf: Int = 1

    @Option(name: .long, help: "How --best-of rates pictures: caption (log p(prompt | picture): the model describing its own picture), likelihood (log p(picture | prompt)) or contrast (log p(picture | prompt) - log p(picture | empty prompt)).")
    var rerank: ImageReranking.Score = ImageReranking.defaultScore

    @Option(name: .customLong("position-step"), help: "Understanding: held-out scenes with object centres on multiples of this many pixels (default: the world the model was trained on; 1 is anywhere).")
    var positionStep: Int?

    @Flag(name: .customLong("read-true-captions"), help: "Understanding, for a model trained with --answer-from-description: also answer each question reading the scene's true caption instead of the model's own description (separates reading errors from describing errors; --compare's specialists that answer from the picture are scored without it).")
    var readTrueCaptions = false

    @Flag(name: .customLong("teacher-forced"), help: "Video: also predict each frame from the true frames before it, as in training (separates compounding errors from unlearned motion).")
    var teacherForced = false

    @Option(name: .customLong("video-prefix"), help: "Video: the true frames given before the prediction (default 2; given and predicted frames together must fit the model's context).")
    var videoPrefix: Int = 2

    @Option(name: .customLong("video-predicted"), help: "Video: the frames predicted after the prefix (default 4).")
    var videoPredicted: Int = 4

    @Option(name: .customLong("motion-guidance"), help: "Video: guide each prediction away from a clip without the given motion (--motion-contrast) with this scale (1: none; default: the model's generation_config.json, else none; see RESULTS.md).")
    var motionGuidance: Float?

    @Option(name: .customLong("motion-plausibility"), help: "Video, with motion guidance: guidance chooses only codes that the unguided prediction gives at least this share of its likeliest code's probability (0: any code; default: the model's setting, else 0; 0 to 1).")
    var motionPlausibility: Float?

    @Option(name: .customLong("motion-contrast"), help: "Video, with motion guidance: the clip guided away from: reversed (the given frames backwards) or still (every given frame the last one; stop 38's). Default: the model's setting, else reversed.")
    var motionContrast: MotionGuidance.Contrast?

    @Option(name: .customLong("frame-candidates"), help: "Video: write each predicted frame this many times (the plain frame and samples) and keep the one the model rates best (--frame-score) before writing the next (1: none, the default; see RESULTS.md).")
    var frameCandidates: Int = 1

    @Option(name: .customLong("frame-temperature"), help: "Video, with --frame-candidates: the sampling temperature of the candidates after the plain frame (default 1).")
    var frameTemperature: Float?

    @Option(name: .customLong("frame-score"), help: "Video, with --frame-candidates: likelihood (the frame's log-probability after the clip so far, the default) or contrast (minus its log-probability after the --motion-contrast clip).")
    var frameScore: FrameReranking.Score?

    @Option(name: .customLong("instruction-guidance"), help: "Actions: guide each prediction away from the same picture with no instruction with this scale (1: none, the default; see RESULTS.md).")
    var instructionGuidance: Float = 1

    @Option(name: .customLong("executed-actions"), help: "Actions: closed loop takes the first this many actions of each chunk the model writes before it looks again (1: a new prediction at every step).")
    var executedActions: Int = 1

    @Option(name: .long, help: "A folder of specialists (DIR/t2i, DIR/understanding, DIR/video, DIR/actions, trained with `emu train --recipe shapes --tasks T`): each is scored on its task beside the model.")
    var compare: String?

    @Option(name: .customLong("log-samples"), help: "Also write every held-out sample and how the model did on it (prompt or question, expected and written answer, objects read from the picture, per-clip and per-episode outcomes) to this file, one JSON object per line (--cfg-sweep's draws are not logged).")
    var logSamples: String?

    struct Report: Encodable {
        var model: String
        /// The image codec ("vqvae, 1024 codes, stride 8" or "patch_codebook, ...").
        var codec: String = ""
        var samples: Int
        var cfg: Float
        /// How text-to-image drew its tokens ("greedy", or "temperature 1.0, top-k 32, seed 0").
        var sampling: String = ""
        /// Pictures drawn per text-to-image prompt, and how the kept one was chosen.
        var reranking: ImageReranking
        var textToImage: GenEvalReport?
        /// True scenes for the same prompts, coded and decoded: what a perfect model would score.
        var codecCeiling: GenEvalReport?
        /// Codes the codec spends on empty canvas (true held-out scenes).
        var backgroundCodes: BackgroundCodes?
        /// The text-to-image loss on true held-out and training scenes (how much is memorised).
        var textToImageLoss: TextToImageLoss?
        var cfgSweep: [String: GenEvalReport]?
        var understanding: ShapesEvaluation.Understanding?
        var video: ShapesEvaluation.VideoReport?
        var actions: ActionEvaluation?
        /// Closed-loop actions taken per prediction (`--executed-actions`).
        var executedActions: Int?
        /// The instruction guidance every action prediction used (`--instruction-guidance`; 1: none).
        var instructionGuidance: Float?
        /// The policy on the expert's own states (behaviour-cloning accuracy, no compounding).
        var actionsOnExpertStates: ExpertStateAccuracy?
        /// With --compare: each specialist's report on its own task.
        var specialists: [String: Report]?
        var seconds: Double

        enum CodingKeys: String, CodingKey {
            case model, codec, samples, cfg, sampling, reranking, understanding, video, actions, specialists, seconds
            case codecCeiling = "codec_ceiling", textToImageLoss = "text_to_image_loss", backgroundCodes = "background_codes"
            case actionsOnExpertStates = "actions_on_expert_states", executedActions = "executed_actions"
            case instructionGuidance = "instruction_guidance"
            case textToImage = "text_to_image", cfgSweep = "cfg_sweep"
        }
    }

    func run() throws {
        try runReportingErrors {
            guard samples > 0 else { throw UserError("--samples must be positive") }
            guard bestOf >= 1 else { throw UserError("--best-of must be at least 1") }
            guard (1...ShapesModel.maximumExecutedActions).contains(executedActions) else {
                throw UserError("--executed-actions must be 1 to \(ShapesModel.maximumExecutedActions), not \(executedActions)")
            }
            if let positionStep, !(1...16).contains(positionStep) {
                throw UserError("--position-step must be 1 to 16 pixels, not \(positionStep)")
            }
            guard videoPrefix >= 2, videoPredicted >= 1 else {
                throw UserError("--video-prefix must be at least 2 frames (motion needs two) and --video-predicted at least 1")
            }
            guard instructionGuidance.isFinite, instructionGuidance >= 0 else {
                throw UserError("--instruction-guidance must be 0 or more (1: none), not \(instructionGuidance)")
            }
            try MotionGuidance(scale: motionGuidance ?? 1, plausibility: motionPlausibility ?? 0).validate("--motion-guidance, --motion-plausibility")
            guard motionGuidance != 1 || (motionPlausibility == nil && motionContrast == nil) else {
                throw UserError("--motion-plausibility and --motion-contrast shape motion guidance: give --motion-guidance a scale other than 1 too")
            }
            try frameReranking.validate("--frame-candidates, --frame-temperature")
            guard frameCandidates > 1 || (frameTemperature == nil && frameScore == nil) else {
                throw UserError("--frame-temperature and --frame-score shape frame reranking: give --frame-candidates 2 or more too")
            }
            try ImageDrawing.check(cfg)
            guard bestOf == 1 || !sampling.greedy else { throw UserError("--best-of needs sampling: greedy draws the same picture every time") }
            if let logSamples {  // before hours of evaluation, not after
                let folder = URL(fileURLWithPath: logSamples).deletingLastPathComponent().path
                guard FileManager.default.isWritableFile(atPath: folder) else {
                    throw UserError("--log-samples \(logSamples): cannot write in \(folder) (missing or not writable)")
                }
            }
            let started = Date()
            let model = try ShapesModelLocation.load(options.model)
            let tasks: [Task] = task == .all ? [.t2i, .understanding, .video, .actions] : [task]
            if tasks.contains(.video) { _ = try motionGuidance(for: model) }  // before hours of other tasks, not after
            if readTrueCaptions {
                guard tasks.contains(.understanding) else { throw UserError("--read-true-captions goes with --task understanding or all") }
                try model.requireReadsDescriptions()  // before hours of other tasks, not after
            }
            // Every specialist is found, and the video one's guidance settled, before hours of evaluation, not after.
            let specialistFolders = try compare.map { compare in
                try tasks.map { t in
                    let folder = URL(fileURLWithPath: compare).appendingPathComponent(t.rawValue)
                    guard FileManager.default.fileExists(atPath: folder.appendingPathComponent("config.json").path) else {
                        throw UserError("--compare \(compare): no specialist for \(t.rawValue) (expected a model in \(folder.path))")
                    }
                    if t == .video { _ = try motionGuidance(for: try ShapesModelLocation.load(folder.path)) }
                    return (t, folder)
                }
            }
            var logged: [EvaluationSample] = []
            let log: ((EvaluationSample) -> Void)? = logSamples == nil ? nil : { logged.append($0) }
            var report = try evaluate(model, tasks: tasks, log: log)
            if let specialistFolders {
                var specialists: [String: Report] = [:]
                for (t, folder) in specialistFolders {
                    specialists[t.rawValue] = try evaluate(try ShapesModelLocation.load(folder.path), tasks: [t], log: log)
                }
                report.specialists = specialists
            }
            let evaluation = ShapesEvaluation(model: model)
            if let cfgSweep {
                var sweep: [String: GenEvalReport] = [:]
                for part in cfgSweep.split(separator: ",") {
                    guard let scale = Float(part.trimmingCharacters(in: .whitespaces)), scale > 0 else {
                        throw UserError("--cfg-sweep: '\(part)' is not a positive number")
                    }
                    sweep[String(part)] = try evaluation.textToImage(perCategory: samples, guidance: scale, sampling: imageSampling(for: model),
                                                                     reranking: reranking).report
                }
                report.cfgSweep = sweep
            }
            report.seconds = Date().timeIntervalSince(started)
            if let logSamples {
                do {
                    try EvaluationSample.jsonLines(logged).write(to: URL(fileURLWithPath: logSamples), options: .atomic)
                } catch {
                    throw UserError("--log-samples \(logSamples): cannot write it (\(error.localizedDescription))")
                }
                Output.log("wrote \(logged.count) samples to \(logSamples)")
            }
            if options.json { try Output.printJSON(report) } else { print(EvalCommand.summary(report)) }
        }
    }

    var reranking: ImageReranking { ImageReranking(candidates: bestOf, score: rerank) }

    /// The model's own motion guidance (`ShapesModel.videoDefaults`) with the flags given put over it.
    func motionGuidance(for model: ShapesModel) throws -> MotionGuidance {
        var guidance = model.videoDefaults
        if let motionGuidance { guidance.scale = motionGuidance }
        if let motionPlausibility { guidance.plausibility = motionPlausibility }
        if let motionContrast { guidance.contrast = motionContrast }
        guard guidance.scale != 1 || (motionPlausibility == nil && motionContrast == nil) else {
            throw UserError("--motion-plausibility and --motion-contrast shape motion guidance, which is off (scale 1) for "
                            + "\(model.directory.path): give --motion-guidance a scale other than 1 too")
        }
        return guidance
    }

    var frameReranking: FrameReranking {
        FrameReranking(candidates: frameCandidates, temperature: frameTemperature ?? 1, score: frameScore ?? .likelihood)
    }

    /// The model's own sampling for pictures, with the flags given put over it.
    func imageSampling(for model: ShapesModel) -> SamplingParameters {
        sampling.parameters(over: model.imageDefaults.sampling)
    }

    /// The model's report on `tasks` (held-out seeds, the same samples for every model).
    func evaluate(_ model: ShapesModel, tasks: [Task], log: ((EvaluationSample) -> Void)? = nil) throws -> Report {
        let evaluation = ShapesEvaluation(model: model)
        let name = model.directory.lastPathComponent
        let log = log.map { log in { (sample: EvaluationSample) in var sample = sample; sample.model = name; log(sample) } }
        let guidance = cfg ?? model.imageDefaults.guidance
        var report = Report(model: model.directory.path, samples: samples, cfg: guidance, reranking: reranking, seconds: 0)
        report.codec = "\(type(of: model.codec).kind), \(model.codec.codeCount) codes, stride \(model.codec.spatialFactor)"
        let draw = imageSampling(for: model)
        report.sampling = draw.greedy ? "greedy"
            : "temperature \(draw.temperature), top-k \(draw.topK.map(String.init) ?? "all"), top-p \(draw.topP.map { "\($0)" } ?? "1"), seed \(draw.seed)"

        let started = Date()
        for t in tasks {
            let taskStart = Date()
            switch t {
            case .t2i:
                report.textToImage = try evaluation.textToImage(perCategory: samples, guidance: guidance, sampling: draw, reranking: reranking,
                                                                log: log).report
                report.codecCeiling = try CodecCeiling.genEval(model.codec, perCategory: samples)
                report.backgroundCodes = try BackgroundCodes.measure(model.codec, scenes: 5 * samples)
                report.textToImageLoss = try evaluation.textToImageLoss(samples: samples)
            case .understanding: report.understanding = try evaluation.understanding(samples: samples, positionStep: positionStep,
                                                                                         readingTrueCaptions: readTrueCaptions && model.readsOwnDescription,
                                                                                         log: log)
            case .video:
                guard videoPrefix + videoPredicted <= model.maxVideoFrames else {
                    throw UserError("--video-prefix \(videoPrefix) and --video-predicted \(videoPredicted): \(videoPrefix + videoPredicted) frames do not fit "
                                    + "\(model.directory.lastPathComponent)'s context (\(model.maxVideoFrames) frames at most)")
                }
                report.video = try evaluation.video(samples: samples, prefixFrames: videoPrefix, predictedFrames: videoPredicted,
                                                    teacherForced: teacherForced,
                                                    motionGuidance: try motionGuidance(for: model),
                                                    reranking: frameReranking, log: log)
            case .actions:
                report.actions = try evaluation.actions(samples: samples, executedPerPrediction: executedActions,
                                                        instructionGuidance: instructionGuidance, log: log)
                report.executedActions = executedActions
                report.instructionGuidance = instructionGuidance
                report.actionsOnExpertStates = try evaluation.actionsOnExpertStates(samples: samples, instructionGuidance: instructionGuidance)
            case .all: break
            }
            Output.log("\(model.directory.lastPathComponent) \(t.rawValue): done in \(String(format: "%.1f", Date().timeIntervalSince(taskStart))) s")
        }
        report.seconds = Date().timeIntervalSince(started)
        return report
    }

    static func summary(_ r: Report) -> String {
        var lines: [String] = []
        func f(_ x: Double) -> String { String(format: "%.3f", x) }
        func decisions(_ shares: [GripperDecision: Double]) -> String {
            GripperDecision.allCases.compactMap { d in shares[d].map { "\(d.rawValue) \(f($0))" } }.joined(separator: ", ")
        }
        func tallies(_ byKind: [String: ShapesEvaluation.QuestionTally]) -> String {
            byKind.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value.right)/\($0.value.asked)" }.joined(separator: ", ")
        }
        if let t = r.textToImage {
            let picked = r.reranking.candidates > 1 ? ", best of \(r.reranking.candidates) by \(r.reranking.score.rawValue)" : ""
            lines.append("text-to-image (cfg \(r.cfg), \(r.sampling)\(picked)): overall \(f(t.overall)); "
                         + t.accuracy.sorted { $0.key < $1.key }.map { "\($0.key) \(f($0.value))" }.joined(separator: ", "))
            // Why the wrong pictures fail, summed over categories (first failed check of each).
            var failed: [String: Int] = [:]
            for tally in t.failures.values { failed.merge(tally, uniquingKeysWith: +) }
            let reasons = GenEvalFailure.allCases.compactMap { reason in failed[reason.rawValue].map { "\(reason.rawValue.replacingOccurrences(of: "_", with: " ")) \($0)" } }
            if !reasons.isEmpty { lines.append("  wrong pictures by first failed check: " + reasons.joined(separator: ", ")) }
        }
        if let c = r.codecCeiling {
            lines.append("  codec ceiling (\(r.codec); true scenes coded and decoded): overall \(f(c.overall))")
        }
        if let b = r.backgroundCodes {
            lines.append("  codes on empty canvas (\(b.cells) cells): \(b.distinctCodes) distinct, entropy given the place \(f(b.entropy)) nats")
        }
        if let loss = r.textToImageLoss {
            lines.append("  loss on true pictures, per token (\(loss.samples) scenes): held out \(f(loss.heldOut))"
                         + (loss.training.map { ", training scenes \(f($0))" } ?? ""))
        }
        if let sweep = r.cfgSweep {
            for (scale, t) in sweep.sorted(by: { Float($0.key)! < Float($1.key)! }) { lines.append("  cfg \(scale): overall \(f(t.overall))") }
        }
        if let u = r.understanding {
            let world = u.positionStep == 1 ? "" : " (objects on a \(u.positionStep)-pixel grid)"
            lines.append("understanding\(world): exact match \(f(u.exactMatch)) (captions \(f(u.captionExactMatch)), questions \(f(u.questionExactMatch))); "
                         + "attribute accuracy captions \(f(u.captionAttributeAccuracy)), questions \(f(u.questionAttributeAccuracy))")
            lines.append("  questions answered exactly, by kind: "
                         + tallies(u.questionsByKind))
            if let read = u.trueCaptionReading {
                lines.append("  reading the true caption instead of its own description: questions exact \(f(read.questionExactMatch)); by kind "
                             + tallies(read.questionsByKind))
            }
        }
        if let v = r.video {
            let g = v.motionGuidance
            let plausible = g.plausibility == 0 ? "" : ", plausibility \(g.plausibility)"
            let guided = g.scale == 1 ? "" : ", motion guidance \(g.scale) from a \(g.contrast.rawValue) clip\(plausible)"
            let reranked = v.frameReranking.map { ", each frame the best of \($0.candidates) by \($0.score.rawValue) (temperature \($0.temperature))" } ?? ""
            lines.append("video (\(v.prefixFrames) frames -> \(v.predictedFrames)\(guided)\(reranked)): mean error \(f(v.score.meanError)) px, within 4 px \(f(v.score.shareWithinTolerance)), "
                         + "by frame \(v.shareWithinToleranceByFrame.map(f).joined(separator: " ")), missed \(v.score.missedCount)/\(v.score.objectCount)")
            lines.append("  references, within 4 px by frame: the last given frame's codes repeated \(v.stillFrameShareByFrame.map(f).joined(separator: " ")) "
                         + "(mean error \(v.stillFrameMeanErrorByFrame.map(f).joined(separator: " ")) px); "
                         + "the true frames through the codec \(v.codecCeilingShareByFrame.map(f).joined(separator: " ")); "
                         + "the simulator's rules from the coded given frames \(v.extrapolationShareByFrame.map(f).joined(separator: " ")) "
                         + "(mean error \(v.extrapolationMeanErrorByFrame.map(f).joined(separator: " ")) px)")
            if let forced = v.teacherForcedShareByFrame, let error = v.teacherForcedMeanErrorByFrame {
                lines.append("  teacher-forced (each frame from the true frames before it): within 4 px by frame \(forced.map(f).joined(separator: " ")), "
                             + "mean error \(error.map(f).joined(separator: " ")) px")
            }
        }
        if let a = r.actions {
            let chunks = r.executedActions.map { $0 > 1 ? " (\($0) actions per prediction)" : "" } ?? ""
            let guided = r.instructionGuidance.map { $0 == 1 ? "" : " (instruction guidance \($0))" } ?? ""
            lines.append("actions\(chunks)\(guided): success \(f(a.successRate)) (\(a.successes)/\(a.episodes)), mean steps \(f(a.meanSteps)), "
                         + "agrees with the expert on \(f(a.expertAgreement)) of steps (\(decisions(a.expertAgreementByDecision)))")
        }
        if let e = r.actionsOnExpertStates {
            lines.append("actions on the expert's states: \(f(e.accuracy)) of \(e.states) (\(decisions(e.byDecision)))")
            if let s = e.situationAccuracy {
                lines.append("where things are, written before acting: right on "
                    + ([GripperSituation.objectsPart] + GripperSituation.parts + ["all"]).filter { s[$0] != nil }.map { "\($0) \(f(s[$0] ?? 0))" }.joined(separator: ", "))
            }
        }
        if let specialists = r.specialists {
            lines.append("specialists (same tokens of their task):")
            for (name, report) in specialists.sorted(by: { $0.key < $1.key }) {
                lines.append(summary(report).split(separator: "\n").dropLast().map { "  \(name): \($0)" }.joined(separator: "\n"))
            }
        }
        lines.append("(\(r.samples) samples per task, held-out seeds, \(Int(r.seconds)) s)")
        return lines.joined(separator: "\n")
    }
}

extension ImageReranking.Score: ExpressibleByArgument {}

extension MotionGuidance.Contrast: ExpressibleByArgument {}
extension FrameReranking.Score: ExpressibleByArgument {}
