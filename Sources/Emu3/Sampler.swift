import Foundation
import EmuIO

/// How the next token is chosen from a row of scores.
public struct SamplingParameters: Sendable, Equatable {
    /// Take the highest score (temperature, top-k and top-p are then irrelevant).
    public var greedy: Bool
    public var temperature: Float
    /// Keep only the `topK` highest scores (ties with the k-th are kept, as transformers does).
    public var topK: Int?
    /// Keep the smallest set of highest-probability tokens whose mass reaches `topP`.
    public var topP: Float?
    public var seed: UInt64

    public init(greedy: Bool = false, temperature: Float = 1, topK: Int? = nil, topP: Float? = nil, seed: UInt64 = 0) {
        self.greedy = greedy
        self.temperature = temperature
        self.topK = topK
        self.topP = topP
        self.seed = seed
    }

    public static let greedy = SamplingParameters(greedy: true)

    /// A checkpoint's `generation_config.json` sampling (temperature, top-k, top-p) where it names
    /// them, else `fallback`'s; seed 0, never greedy (the file is read for sampled pictures).
    public init(_ config: GenerationConfig, fallback: SamplingParameters) {
        self.init(temperature: config.temperature ?? fallback.temperature, topK: config.topK(default: fallback.topK),
                  topP: config.topP(default: fallback.topP))
    }

    func validate() throws {
        guard greedy || (temperature > 0 && temperature.isFinite) else {
            throw GenerationError.invalidParameter("temperature must be positive, got \(temperature)")
        }
        if let k = topK, k < 1 { throw GenerationError.invalidParameter("top-k must be at least 1, got \(k)") }
        if let p = topP, !(p > 0 && p <= 1) { throw GenerationError.invalidParameter("top-p must be in (0, 1], got \(p)") }
    }
}

/// Picks tokens from score rows: greedy, or temperature then top-k then top-p then a draw from the
/// softmax (the order of transformers' warpers), with its own seeded generator so a seed gives the
/// same tokens on every platform.
public struct Sampler: Sendable {
    public let parameters: SamplingParameters
    private var random: SplitMix64

    public init(_ parameters: SamplingParameters) {
        self.parameters = parameters
        random = SplitMix64(seed: parameters.seed)
    }

    /// The chosen token for `scores` (logits or log-probabilities; -inf marks forbidden tokens).
    public mutating func next(_ scores: [Float]) -> Int {
        if parameters.greedy { return Sampler.argmax(scores) }
        var warped = scores.map { $0 / parameters.temperature }
        if let k = parameters.topK { Sampler.keepTopK(&warped, k) }
        if let p = parameters.topP { Sampler.keepTopP(&warped, p) }
        return Sampler.draw(from: warped, uniform: random.nextUnitFloat())
    }

    /// Index of the largest score, the lowest index among ties (as torch.argmax).
    public static func argmax(_ scores: [Float]) -> Int {
        var best = 0
        for i in scores.indices where scores[i] > scores[best] { best = i }
        return best
    }

    /// Sets to -inf every score below the k-th largest.
    public static func keepTopK(_ scores: inout [Float], _ k: Int) {
        guard k < scores.count else { return }
        let threshold = scores.sorted(by: >)[k - 1]
        for i in scores.indices where scores[i] < threshold { scores[i] = -.infinity }
    }

    /// Sets to -inf the lowest-probability tokens whose total mass is at most 1 - p (at least one
    /// token is kept), as transformers' `TopPLogitsWarper` does.
    public static func keepTopP(_ scores: inout [Float], _ p: Float) {
        let probabilities = softmax(scores)
        let ascending = scores.indices.sorted { probabilities[$0] < probabilities[$1] || (probabilities[$0] == probabilities[$1] && $0 < $1) }
        var cumulative: Double = 0
        for (rank, i) in ascending.enumerated() where rank < ascending.count - 1 {
            cumulative += Double(probabilities[i])
            guard cumulative <= Double(1 - p) else { break }
            scores[i] = -.infinity
        }
    }

    /// Softmax of a score row in float64 accumulation.
    public static func softmax(_ scores: [Float]) -> [Float] {
        let m = scores.max() ?? 0
        guard m.isFinite else { return scores.map { $0 == m ? 1 : 0 } }
        let e = scores.map { Foundation.exp(Double($0 - m)) }
        let total = e.reduce(0, +)
        return e.map { Float($0 / total) }
    }

    /// Inverse-CDF draw from softmax(scores) with `uniform` in [0, 1).
    static func draw(from scores: [Float], uniform: Double) -> Int {
        let m = scores.max() ?? 0
        let weights = scores.map { $0 == -.infinity ? 0 : Foundation.exp(Double($0 - m)) }
        let target = uniform * weights.reduce(0, +)
        var cumulative: Double = 0
        var last = 0
        for (i, w) in weights.enumerated() where w > 0 {
            cumulative += w
            last = i
            if cumulative > target { return i }
        }
        return last
    }
}

/// SplitMix64 (Steele, Lea, Flood 2014): tiny, fast, and identical everywhere, unlike the system
/// generator. Good enough for sampling; not for cryptography.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    private var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A uniform double in [0, 1) from the top 53 bits.
    public mutating func nextUnitFloat() -> Double {
        Double(next() >> 11) * 0x1.0p-53
    }
}
