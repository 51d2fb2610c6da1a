/// Which tokens may come next, given what has been generated so far. Constraints shape decoding
/// for a task (an image grid, robot actions) without touching the model.
public protocol TokenConstraint: Sendable {
    /// The tokens allowed after `generated` (the ids produced so far, after the prompt).
    func allowedTokens(after generated: [Int]) -> AllowedTokens
}

public enum AllowedTokens: Sendable, Equatable {
    case any
    /// Only these ids; every other score becomes -inf.
    case only([Int])
    /// Only ids in this range.
    case range(Range<Int>)
}

/// Decoding restricted to a fixed set of ids, plus the ones that end the sequence: the action-token
/// hook of vision-language-action models (actions live in their own slice of the vocabulary).
public struct AllowedSetConstraint: TokenConstraint {
    public let ids: [Int]

    public init(ids: some Sequence<Int>, terminators: some Sequence<Int> = []) {
        self.ids = Array(Set(ids).union(terminators)).sorted()
    }

    public func allowedTokens(after generated: [Int]) -> AllowedTokens { .only(ids) }
}

extension AllowedTokens {
    /// `scores` with every disallowed entry set to -inf (ids past the row's end are ignored).
    func masking(_ scores: [Float]) -> [Float] {
        switch self {
        case .any: return scores
        case .only(let ids):
            var masked = [Float](repeating: -.infinity, count: scores.count)
            for id in ids where id >= 0 && id < scores.count { masked[id] = scores[id] }
            return masked
        case .range(let range):
            var masked = [Float](repeating: -.infinity, count: scores.count)
            for id in range.clamped(to: 0..<scores.count) { masked[id] = scores[id] }
            return masked
        }
    }
}
