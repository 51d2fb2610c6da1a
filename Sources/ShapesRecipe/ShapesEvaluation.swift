import Emu3
import EmuIO
import Foundation
import ShapesWorld

/// The four metrics for a `ShapesModel`, on held-out seeds (layouts, prompts and
/// instructions training never saw), every output read back by ShapesWorld's evaluators.
public struct ShapesEvaluation: Sendable {
    public struct Understanding: Codable, Sendable {
        /// "describe the image." answered with the canonical caption, exactly (normalised).
        public var captionExactMatch: Double
        /// Share of the caption's attributes (shapes, colours, sizes, counts, relation) right.
        public var captionAttributeAccuracy: Double
        public var questionExactMatch: Double
        public var questionAttributeAccuracy: Double
        /// Captions and questions together.
        public var exactMatch: Double
        public var samples: Int
        /// The held-out scenes' world: object centres on multiples of this many pixels (1: anywhere).
        public var positionStep: Int
        /// Questions asked and answered exactly, by kind ("color", "countObjects", ...): which
        /// kinds of question the model has learned.
        public var questionsByKind: [String: QuestionTally]
        /// With `readingTrueCaptions`, for a model that answers from its own description: the
        /// questions (description questions aside) answered reading the scene's true caption instead.
        public var trueCaptionReading: TrueCaptionReading?

        enum CodingKeys: String, CodingKey {
            case captionExactMatch, captionAttributeAccuracy, questionExactMatch, questionAttributeAccuracy, exactMatch, samples
            case positionStep = "position_step", questionsByKind = "questions_by_kind", trueCaptionReading = "true_caption_reading"
        }
    }

    /// Questions answered from the true caption as text: where the model's own answers fall short
    /// of these, its description is at fault; where these fall short, its reading.
    public struct TrueCaptionReading: Codable, Sendable {
        public var questionExactMatch: Double
        public var questionsByKind: [String: QuestionTally]

        enum CodingKeys: String, CodingKey {
            case questionExactMatch = "question_exact_match", questionsByKind = "questions_by_kind"
        }
    }

    public struct QuestionTally: Codable, Sendable, Equatable {
        public var asked = 0
        public var right = 0
    }

    public struct VideoReport: Codable, Sendable {
        public var prefixFrames: Int
        public var predictedFrames: Int
        /// The motion guidance every prediction used (scale 1: none).
        public var motionGuidance: MotionGuidance
        /// How each predicted frame was chosen among several, if it was (nil: written once).
        public var frameReranking: FrameReranking?
        /// Over every predicted frame of every clip (`score.perFrame*` run clip after clip).
        public var score: VideoPredictionScore
        /// Share of objects within 4 px in the last predicted frame (the "after 4 frames").
        public var shareWithinToleranceAtLastFrame: Double
        /// Index k: the (k+1)-th predicted frame over all clips (how the error grows with horizon).
        public var shareWithinToleranceByFrame: [Double]
        public var meanErrorByFrame: [Double]
        /// The same scores by frame for two references that need no model, both through the
        /// model's codec: the last given frame's codes repeated (what a model that copies instead
        /// of moving scores) and the true future frames' codes (the most the codes allow).
        public var stillFrameShareByFrame: [Double]
        /// The still reference's mean error: how far objects have moved since the last given frame.
        public var stillFrameMeanErrorByFrame: [Double]
        public var codecCeilingShareByFrame: [Double]
        /// A third reference, model-free: `MotionExtrapolation` reading the given frames through the
        /// codec and moving their objects by the simulator's rules, its frames coded too. What the
        /// codes allow a model that had learned the physics exactly.
        public var extrapolationShareByFrame: [Double]
        public var extrapolationMeanErrorByFrame: [Double]
        /// With `teacherForced`: index k is frame k+1 predicted from the true frames before it (as in
        /// training), not from the model's own earlier frames. Against the free-running scores
        /// this separates errors that compound from motion the model has not learned.
        public var teacherForcedShareByFrame: [Double]?
        public var teacherForcedMeanErrorByFrame: [Double]?
        public var samples: Int
    }

    public let model: ShapesModel
    public init(model: ShapesModel) { self.model = model }

    /// GenEval-style accuracy. With sampling, prompt i draws with seed `sampling.seed + i`, so a run
    /// is reproducible and prompts do not share one random stream. `reranking` draws several
    /// pictures per prompt and scores the one the model rates best. Guidance and sampling not given
    /// are the model's `imageDefaults`. `log` gets each prompt's outcome (`EvaluationSample`).
    public func textToImage(perCategory: Int, guidance: Float? = nil, sampling: SamplingParameters? = nil,
                            reranking: ImageReranking = ImageReranking(candidates: 1),
                            log: ((EvaluationSample) throws -> Void)? = nil) throws
        -> (report: GenEvalReport, samples: [(GenEvalPrompt, RGBImage, Bool)]) {
        let sampling = sampling ?? model.imageDefaults.sampling
        let scorer = GenEvalScorer()
        var judgements: [GenEvalJudgement] = [], samples: [(GenEvalPrompt, RGBImage, Bool)] = []
        for (index, prompt) in TaskData.genEvalPrompts(.heldOut, perCategory: perCategory).enumerated() {
            var draw = sampling
            draw.seed = sampling.seed &+ UInt64(index)
            let image = try model.image(fromIDs: model.generateImageIDs(prompt.prompt, guidance: guidance, sampling: draw, reranking: reranking))
            let judgement = scorer.judge(prompt, image: image)
            judgements.append(judgement)
            samples.append((prompt, image, judgement.correct))
            try log?(EvaluationSample(task: "t2i", index: index, kind: prompt.category.rawValue, input: prompt.prompt,
                                      output: Scene(objects: judgement.detected.map(\.object)).readableDescription,
                                      correct: judgement.correct, failure: judgement.failure?.rawValue))
        }
        return (GenEvalScorer.report(judgements), samples)
    }

    /// Captioning and visual questions on held-out scenes of the world the model was trained on
    /// (objects on its grid, if it had one) unless `positionStep` names another. `readingTrueCaptions`
    /// (a model that answers from its own description only) also answers each question reading
    /// the scene's true caption. `log` gets each caption and answer (`EvaluationSample`).
    public func understanding(samples count: Int, positionStep: Int? = nil, readingTrueCaptions: Bool = false,
                              log: ((EvaluationSample) throws -> Void)? = nil) throws -> Understanding {
        if readingTrueCaptions { try model.requireReadsDescriptions() }
        let step = positionStep ?? model.trainingData?.positionStep ?? 1
        var captionExact = 0.0, captionAttribute = 0.0, questionExact = 0.0, questionAttribute = 0.0
        let captions = TaskData.captionedImages(.heldOut, count: count, positionStep: step)
        for (index, sample) in captions.enumerated() {
            let answer = try model.answer(QuestionGenerator.describePrompt, about: sample.image)
            let exact = AnswerScorer.isExactMatch(answer, expected: sample.caption)
            captionExact += exact ? 1 : 0
            captionAttribute += AnswerScorer.attributeScore(answer, expected: sample.caption)
            try log?(EvaluationSample(task: "caption", index: index, kind: QuestionKind.describe.rawValue,
                                      input: QuestionGenerator.describePrompt, expected: sample.caption, output: answer, correct: exact))
        }
        var byKind: [String: QuestionTally] = [:], readByKind: [String: QuestionTally] = [:]
        let questions = TaskData.questions(.heldOut, count: count, positionStep: step)
        for (index, sample) in questions.enumerated() {
            let answer = try model.answer(sample.question.question, about: sample.image)
            let exact = AnswerScorer.isExactMatch(answer, expected: sample.question.answer)
            try log?(EvaluationSample(task: "question", index: index, kind: sample.question.kind.rawValue,
                                      input: sample.question.question, expected: sample.question.answer, output: answer, correct: exact))
            byKind[sample.question.kind.rawValue, default: QuestionTally()].asked += 1
            byKind[sample.question.kind.rawValue]?.right += exact ? 1 : 0
            questionExact += exact ? 1 : 0
            questionAttribute += AnswerScorer.attributeScore(answer, expected: sample.question.answer)
            if readingTrueCaptions && sample.question.kind != .describe {
                let read = try model.answer(sample.question.question, readingDescription: CaptionGrammar.caption(sample.scene))
                readByKind[sample.question.kind.rawValue, default: QuestionTally()].asked += 1
                readByKind[sample.question.kind.rawValue]?.right += AnswerScorer.isExactMatch(read, expected: sample.question.answer) ? 1 : 0
            }
        }
        let n = Double(max(count, 1))
        let readAsked = readByKind.values.map(\.asked).reduce(0, +), readRight = readByKind.values.map(\.right).reduce(0, +)
        let reading = readingTrueCaptions ? TrueCaptionReading(questionExactMatch: Double(readRight) / Double(max(readAsked, 1)),
                                                               questionsByKind: readByKind) : nil
        return Understanding(captionExactMatch: captionExact / n, captionAttributeAccuracy: captionAttribute / n,
                             questionExactMatch: questionExact / n, questionAttributeAccuracy: questionAttribute / n,
                             exactMatch: (captionExact + questionExact) / (2 * n), samples: count, positionStep: step,
                             questionsByKind: byKind, trueCaptionReading: reading)
    }

    /// `motionGuidance`: `ShapesModel.continueVideo`'s, for every prediction (free-running and
    /// teacher-forced; nil: the model's `videoDefaults`).
    public func video(samples count: Int, prefixFrames: Int = 2, predictedFrames: Int = 4,
                      teacherForced: Bool = false, motionGuidance: MotionGuidance? = nil,
                      reranking: FrameReranking = .none, log: ((EvaluationSample) throws -> Void)? = nil) throws -> VideoReport {
        let motionGuidance = motionGuidance ?? model.videoDefaults
        // The references need a given frame and the score a predicted one; past the context, the
        // generator would stop short of the frames asked for.
        guard prefixFrames >= 1, predictedFrames >= 1 else {
            throw ShapesModelError.invalid("video evaluation", reason: "\(prefixFrames) given and \(predictedFrames) predicted frames: "
                                           + "it needs at least one of each")
        }
        guard prefixFrames + predictedFrames <= model.maxVideoFrames else {
            throw ShapesModelError.invalid("video evaluation", reason: "\(prefixFrames) given and \(predictedFrames) predicted frames "
                                           + "do not fit the model's context (\(model.maxVideoFrames) frames at most)")
        }
        var predicted: [RGBImage] = [], truth: [[ObjectState]] = []
        var predictedAt = [[RGBImage]](repeating: [], count: predictedFrames)
        var stillAt = predictedAt, codedAt = predictedAt, forcedAt = predictedAt, extrapolatedAt = predictedAt
        var truthAt = [[[ObjectState]]](repeating: [], count: predictedFrames)
        let side = Scene.canvasSize / model.codec.spatialFactor
        func coded(_ frame: RGBImage) throws -> RGBImage { try model.codec.decode(model.codec.encode(frame), rows: side, columns: side) }
        for (index, clip) in TaskData.videoClips(.heldOut, count: count, frameCount: prefixFrames + predictedFrames).enumerated() {
            let frames = try model.continueVideo(Array(clip.frames.prefix(prefixFrames)), count: predictedFrames,
                                                motionGuidance: motionGuidance, reranking: reranking)
            try log?(EvaluationSample(task: "video", index: index, input: VideoSimulator.caption(clip.states[prefixFrames - 1]),
                                      withinTolerance: (0..<predictedFrames).map {
                                          VideoEvaluator.score(predicted: [frames[$0]], truth: [clip.states[prefixFrames + $0]]).shareWithinTolerance
                                      }))
            // The last two given frames (one, if only one is given), coded once: the still reference
            // and the extrapolation's input (which predicts nothing from a single frame).
            let lastGiven = try clip.frames[max(prefixFrames - 2, 0)..<prefixFrames].map(coded)
            let still = lastGiven[lastGiven.count - 1]
            let extrapolated = MotionExtrapolation.predict(after: lastGiven, count: predictedFrames)
            predicted += frames
            truth += clip.states.dropFirst(prefixFrames).prefix(predictedFrames)
            for k in 0..<predictedFrames {
                predictedAt[k].append(frames[k])
                stillAt[k].append(still)
                extrapolatedAt[k].append(try coded(VideoSimulator.render(extrapolated[k])))
                codedAt[k].append(try coded(clip.frames[prefixFrames + k]))
                truthAt[k].append(clip.states[prefixFrames + k])
                // Frame 1 has the true prefix either way; greedy decoding makes it the free run's.
                if teacherForced {
                    forcedAt[k] += k == 0 ? [frames[0]] : try model.continueVideo(Array(clip.frames.prefix(prefixFrames + k)), count: 1,
                                                                               motionGuidance: motionGuidance, reranking: reranking)
                }
            }
        }
        func scores(_ framesAt: [[RGBImage]]) -> [VideoPredictionScore] {
            (0..<predictedFrames).map { VideoEvaluator.score(predicted: framesAt[$0], truth: truthAt[$0]) }
        }
        let still = scores(stillAt)
        let byFrame = scores(predictedAt)
        let forced = teacherForced ? scores(forcedAt) : nil
        let extrapolation = scores(extrapolatedAt)
        return VideoReport(prefixFrames: prefixFrames, predictedFrames: predictedFrames, motionGuidance: motionGuidance,
                           frameReranking: reranking.candidates > 1 ? reranking : nil,
                           score: VideoEvaluator.score(predicted: predicted, truth: truth),
                           shareWithinToleranceAtLastFrame: byFrame.last?.shareWithinTolerance ?? 0,
                           shareWithinToleranceByFrame: byFrame.map(\.shareWithinTolerance),
                           meanErrorByFrame: byFrame.map(\.meanError),
                           stillFrameShareByFrame: still.map(\.shareWithinTolerance), stillFrameMeanErrorByFrame: still.map(\.meanError),
                           codecCeilingShareByFrame: scores(codedAt).map(\.shareWithinTolerance),
                           extrapolationShareByFrame: extrapolation.map(\.shareWithinTolerance),
                           extrapolationMeanErrorByFrame: extrapolation.map(\.meanError),
                           teacherForcedShareByFrame: forced?.map(\.shareWithinTolerance),
                           teacherForcedMeanErrorByFrame: forced?.map(\.meanError), samples: count)
    }

    /// Closed loop on held-out tasks, taking the first `executedPerPrediction` actions of each chunk
    /// the model writes before it looks again (1: a fresh prediction at every step).
    /// `instructionGuidance`: `ShapesModel.actionPlan`'s, for every prediction (here and on the expert's states).
    /// `log` gets each episode's outcome (`EvaluationSample`).
    public func actions(samples count: Int, executedPerPrediction: Int = 1, instructionGuidance: Float = 1,
                        log: ((EvaluationSample) throws -> Void)? = nil) throws -> ActionEvaluation {
        var policy = ChunkedPolicy(executed: executedPerPrediction)
        return try ActionEvaluator.evaluate(TaskData.actionTasks(.heldOut, count: count), policy: { observation in
            try policy.action(for: observation) {
                try model.actions(for: $0.instructionText, seeing: $0.image, count: executedPerPrediction,
                                  instructionGuidance: instructionGuidance)
            }
        }, episodeEnded: { episode in
            try log?(EvaluationSample(task: "actions", index: episode.index, input: episode.task.instruction.text,
                                      output: episode.actions.map(\.rawValue).joined(separator: " "),
                                      correct: episode.succeeded, steps: episode.actions.count))
        })
    }

    /// The policy on the expert's own held-out episodes (the same tasks `actions` runs): per-decision
    /// accuracy without compounding errors; for a model that writes where things are before acting,
    /// also how often that is right.
    public func actionsOnExpertStates(samples count: Int, instructionGuidance: Float = 1) throws -> ExpertStateAccuracy {
        var written: [String] = [], truth: [String] = []
        var result = try ActionEvaluator.expertStateAccuracy(TaskData.actionEpisodes(.heldOut, count: count)) { observation in
            let plan = try model.actionPlan(for: observation.instructionText, seeing: observation.image, count: 1,
                                            instructionGuidance: instructionGuidance)
            if model.locatesBeforeActing {
                written.append(plan.situation)
                truth.append(GripperSituation.text(of: observation.world, for: observation.instruction,
                                                   listingObjects: model.listsObjectsBeforeActing))
            }
            return plan.actions.first ?? .stop
        }
        if model.locatesBeforeActing { result.situationAccuracy = GripperSituation.accuracy(written: written, truth: truth) }
        return result
    }
}
