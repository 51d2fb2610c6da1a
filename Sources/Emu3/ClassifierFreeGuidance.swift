import EmuTensor

/// Classifier-free guidance: a second, unconditional sequence (the negative prompt in place of the
/// prompt) runs beside the conditional one with its own KV cache and is fed the same sampled tokens.
/// Scores combine on log-probabilities, as transformers' `UnbatchedClassifierFreeGuidanceLogitsProcessor`
/// does: guided = u + scale · (c − u) with c, u the log-softmaxed conditional and unconditional logits.
public struct ClassifierFreeGuidance: Sendable, Equatable {
    /// The unconditional prompt (for Emu3 text-to-image: `BOS {negative} BOI "H*W" IMG`).
    public var unconditionalPrompt: [Int]
    /// s; 1 disables guidance.
    public var scale: Float

    public init(unconditionalPrompt: [Int], scale: Float) {
        self.unconditionalPrompt = unconditionalPrompt
        self.scale = scale
    }

    /// Guided scores [vocab] from conditional and unconditional logits rows [1, vocab].
    public func combine(conditional: Tensor, unconditional: Tensor) -> Tensor {
        let c = conditional.logSoftmax()
        let u = unconditional.logSoftmax()
        return u + (c - u).scaled(by: scale)
    }
}
