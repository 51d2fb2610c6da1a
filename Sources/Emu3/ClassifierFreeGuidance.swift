import EmuTensor
import Foundation

/// Classifier-free guidance: a second, unconditional sequence (the negative prompt in place of the
/// prompt) runs beside the conditional one with its own KV cache and is fed the same sampled tokens.
/// Scores combine on log-probabilities, as transformers' `UnbatchedClassifierFreeGuidanceLogitsProcessor`
/// does: guided = u + scale · (c − u) with c, u the log-softmaxed conditional and unconditional logits.
public struct ClassifierFreeGuidance: Sendable, Equatable {
    /// The unconditional prompt (for Emu3 text-to-image: `BOS {negative} BOI "H*W" IMG`).
    public var unconditionalPrompt: [Int]
    /// s; 1 disables guidance.
    public var scale: Float
    /// α in [0, 1]: only tokens whose conditional probability is at least α times the likeliest
    /// allowed token's may be chosen (contrastive decoding's plausibility constraint), so guidance
    /// reorders what the conditional model finds likely instead of picking what it finds unlikely
    /// but the unconditional one finds unlikelier still. 0 keeps every token (transformers' behaviour).
    public var plausibility: Float

    public init(unconditionalPrompt: [Int], scale: Float, plausibility: Float = 0) {
        self.unconditionalPrompt = unconditionalPrompt
        self.scale = scale
        self.plausibility = plausibility
    }

    /// Guided scores [vocab] from conditional and unconditional logits rows [1, vocab].
    public func combine(conditional: Tensor, unconditional: Tensor) -> Tensor {
        let c = conditional.logSoftmax()
        let u = unconditional.logSoftmax()
        return u + (c - u).scaled(by: scale)
    }

    /// `scores` with every allowed token (score above -inf) that fails the plausibility constraint
    /// set to -inf; `conditional` is the conditional logits row. The likeliest allowed token always
    /// stays, so a satisfiable row stays satisfiable.
    public func keepingPlausible(_ scores: [Float], conditional: [Float]) -> [Float] {
        guard plausibility > 0 else { return scores }
        var best = -Float.infinity
        for i in scores.indices where scores[i] > -.infinity { best = max(best, conditional[i]) }
        // p_i >= α p_max  <=>  logit_i >= logit_max + log α (the softmax's normaliser cancels).
        let threshold = best + log(plausibility)
        var kept = scores
        for i in kept.indices where conditional[i] < threshold { kept[i] = -.infinity }
        return kept
    }
}
