import Emu3
import EmuIO
import ShapesWorld

/// Text to image by drawing several pictures for one prompt and keeping the one the model itself
/// rates best. The bundled model samples each code cell on its own, so an object's cells often
/// disagree on its shape; among several draws, a picture whose cells agree may be rated higher.
/// Only the model's own probabilities are used, never the evaluator.
public struct ImageReranking: Sendable, Hashable, Codable {
    public enum Score: String, Sendable, Hashable, Codable, CaseIterable {
        /// log p(picture | prompt): the picture the model finds most likely for the prompt.
        case likelihood
        /// log p(picture | prompt) - log p(picture | negative prompt): the picture that the prompt
        /// explains best, classifier-free guidance's contrast applied to whole pictures.
        case contrast
        /// log p(prompt | picture) as the picture's description: the model reads its own picture
        /// (the understanding layout, "describe the image.") and rates how well the prompt
        /// describes it, as a captioner would; the direction a unified model adds.
        case caption
    }

    /// Pictures drawn per prompt (1: no reranking).
    public var candidates: Int
    public var score: Score

    /// The rating used when none is named (`emu generate`, `emu eval`, the server, the demo): it
    /// keeps the most right pictures (RESULTS.md, "Keeping the picture the model describes best").
    public static let defaultScore = Score.caption
    /// The most draws one request may ask of the server or the demo: each is a whole picture plus
    /// its rating, so this keeps one request within about 16 plain ones.
    public static let maximumCandidates = 16

    public init(candidates: Int, score: Score = defaultScore) {
        self.candidates = candidates
        self.score = score
    }

    /// Candidate k's sampling seed: candidate 0 keeps `seed` (so one candidate draws what plain
    /// generation draws); the others are spread far from the seed + i of neighbouring prompts.
    static func seed(_ seed: UInt64, candidate k: Int) -> UInt64 {
        seed &+ UInt64(k) &* 0x9E37_79B9_7F4A_7C15
    }
}

extension ShapesModel {
    /// The model's rating of `ids` (a generated picture's tokens) as a drawing of `prompt`.
    public func imageScore(_ ids: [Int], prompt: String, negativePrompt: String = "", score: ImageReranking.Score) throws -> Float {
        // Element t of `logprobs` is token t+1's, so the last `count` belong to the scored span.
        func logLikelihood(of span: [Int], after context: [Int]) throws -> Float {
            try generator.score(context + span).logprobs.suffix(span.count).reduce(0, +)
        }
        switch score {
        case .likelihood:
            return try logLikelihood(of: ids, after: sequences.textToImagePrompt(prompt))
        case .contrast:
            return try logLikelihood(of: ids, after: sequences.textToImagePrompt(prompt))
                - logLikelihood(of: ids, after: sequences.textToImagePrompt(negativePrompt))
        case .caption:
            let picture = sequences.questionPrompt(imageCodes: sequences.codes(in: ids), question: QuestionGenerator.describePrompt)
            return try logLikelihood(of: sequences.text(prompt) + [vocabulary.specials.endOfSequence], after: picture)
        }
    }

    /// `generateImageIDs` drawn `reranking.candidates` times (candidate k with its own seed), the
    /// best-rated kept; ties go to the earlier candidate.
    public func generateImageIDs(_ prompt: String, negativePrompt: String = "", guidance: Float? = nil,
                                 sampling: SamplingParameters? = nil, reranking: ImageReranking) throws -> [Int] {
        let sampling = sampling ?? imageDefaults.sampling
        guard reranking.candidates >= 1 else {
            throw ShapesModelError.invalid("reranking", reason: "best of \(reranking.candidates): draw at least one picture")
        }
        guard reranking.candidates > 1 else {
            return try generateImageIDs(prompt, negativePrompt: negativePrompt, guidance: guidance, sampling: sampling)
        }
        guard !sampling.greedy else {
            throw ShapesModelError.invalid("reranking", reason: "greedy decoding draws the same picture every time: sample to rerank")
        }
        var bestIDs: [Int] = [], bestScore = -Float.infinity
        for k in 0..<reranking.candidates {
            var draw = sampling
            draw.seed = ImageReranking.seed(sampling.seed, candidate: k)
            let ids = try generateImageIDs(prompt, negativePrompt: negativePrompt, guidance: guidance, sampling: draw)
            let score = try imageScore(ids, prompt: prompt, negativePrompt: negativePrompt, score: reranking.score)
            if k == 0 || score > bestScore { (bestIDs, bestScore) = (ids, score) }
        }
        return bestIDs
    }
}
