import Emu3
import EmuIO

/// Video continuation that writes each predicted frame several times and keeps the one the model
/// rates best before writing the next. Candidate 0 is the plain frame (greedy, or whatever sampling
/// the caller asked for, with its motion guidance); the others are sampled at `temperature`. Token
/// by token decoding never weighs a whole frame: a frame whose moved object is spread over several
/// codes can be likelier as a whole than the one greedy decoding writes. Only the model's own
/// probabilities are used, never the evaluator.
public struct FrameReranking: Codable, Sendable, Equatable {
    public enum Score: String, Codable, Sendable, CaseIterable {
        /// log p(frame | clip so far): the frame the model finds likeliest.
        case likelihood
        /// log p(frame | clip so far) - log p(frame | the motion guidance's contrast clip so far):
        /// the frame the given motion explains best, guidance's contrast applied to whole frames.
        case contrast
    }

    /// Frames written per predicted frame (1: no reranking).
    public var candidates: Int
    /// The sampling temperature of candidates 1 and on.
    public var temperature: Float
    public var score: Score

    public static let none = FrameReranking(candidates: 1)
    /// The most candidates one frame may ask for: each is a frame plus its rating.
    public static let maximumCandidates = 32

    public init(candidates: Int, temperature: Float = 1, score: Score = .likelihood) {
        self.candidates = candidates
        self.temperature = temperature
        self.score = score
    }

    /// Throws `ShapesModelError.invalid(what, ...)` unless candidates are 1 to `maximumCandidates`
    /// and the temperature is positive and finite.
    public func validate(_ what: String) throws {
        guard (1...Self.maximumCandidates).contains(candidates) else {
            throw ShapesModelError.invalid(what, reason: "best of \(candidates) frames: draw 1 to \(Self.maximumCandidates)")
        }
        guard temperature.isFinite, temperature > 0 else {
            throw ShapesModelError.invalid(what, reason: "frame reranking temperature \(temperature) is not above 0")
        }
    }

    /// Candidate k's sampling seed for predicted frame `frame`, spread far from other frames' and candidates'.
    static func seed(_ seed: UInt64, frame: Int, candidate k: Int) -> UInt64 {
        seed &+ UInt64(frame * maximumCandidates + k) &* 0x9E37_79B9_7F4A_7C15
    }
}

extension ShapesModel {
    /// `continueVideoIDs` frame by frame, each frame the best of `reranking.candidates` (see `FrameReranking`).
    func continueVideoIDs(prefixCodes: [[Int]], count: Int, sampling: SamplingParameters, motionGuidance: MotionGuidance,
                          reranking: FrameReranking) throws -> [Int] {
        let prompt = sequences.videoPrompt(prefixCodes: prefixCodes)
        let contrastPrompt = motionGuidance.contrastCodes(prefixCodes).map { sequences.videoPrompt(prefixCodes: $0) }
        if reranking.score == .contrast && contrastPrompt == nil {
            throw ShapesModelError.invalid("video continuation", reason: "frame reranking by contrast needs at least two given frames")
        }
        let frameLength = sequences.frameLength
        var written: [Int] = []
        for frame in 0..<count {
            let constraint = ImageGridConstraint(rows: sequences.rows, columns: sequences.columns, frames: prefixCodes.count + count,
                                                 specials: vocabulary.specials, visualTokens: vocabulary.visualTokens,
                                                 offsetAtStart: (prefixCodes.count + frame) * frameLength)
            let guidance = contrastPrompt.map {
                ClassifierFreeGuidance(unconditionalPrompt: $0 + written, scale: motionGuidance.scale,
                                       plausibility: motionGuidance.plausibility)
            }
            func rating(_ ids: [Int]) throws -> Float {
                // Element t of `logprobs` is token t+1's, so the last `ids.count` belong to the frame.
                func logLikelihood(after context: [Int]) throws -> Float {
                    try generator.score(context + written + ids).logprobs.suffix(ids.count).reduce(0, +)
                }
                switch reranking.score {
                case .likelihood: return try logLikelihood(after: prompt)
                case .contrast: return try logLikelihood(after: prompt) - logLikelihood(after: contrastPrompt ?? prompt)
                }
            }
            var best: [Int] = [], bestRating = -Float.infinity
            for k in 0..<reranking.candidates {
                var draw = sampling
                if k > 0 {
                    draw = SamplingParameters(temperature: reranking.temperature,
                                              seed: FrameReranking.seed(sampling.seed, frame: frame, candidate: k))
                }
                let ids = try generator.generate(GenerationRequest(prompt: prompt + written, maxNewTokens: frameLength, sampling: draw,
                                                                   constraint: constraint, guidance: guidance)).ids
                let value = try rating(ids)
                if k == 0 || value > bestRating { (best, bestRating) = (ids, value) }
            }
            written += best
        }
        return written
    }
}
