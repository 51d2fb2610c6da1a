import EmuTensor

public enum GradientClipping {
    /// Scales all gradients so their global L2 norm is at most `maxNorm` (as
    /// `torch.nn.utils.clip_grad_norm_`, with its 1e-6 guard); returns the norm before clipping.
    @discardableResult
    public static func clipGlobalNorm(_ parameters: [String: Tensor], maxNorm: Float) -> Float {
        var total: Double = 0
        for p in parameters.values {
            guard let g = p.grad else { continue }
            for v in g.to(.float32).floats { total += Double(v) * Double(v) }
        }
        let norm = Float(total.squareRoot())
        let coefficient = maxNorm / (norm + 1e-6)
        if coefficient < 1 {
            for p in parameters.values {
                guard let g = p.grad, g.dtype == .float32, !g.storage.isReadOnly else { continue }
                let w = g.mutableFloats
                for i in 0..<w.count { w[i] *= coefficient }
            }
        }
        return norm
    }
}
