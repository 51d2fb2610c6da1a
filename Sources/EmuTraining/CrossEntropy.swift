import Foundation
import EmuTensor

/// Next-token cross-entropy: the one loss of Emu3. Per-token weights express everything the paper
/// does with it: 0 masks a position (prompt, padding), 0.5 down-weights vision tokens in
/// pretraining, and "vision tokens only" fine-tuning zeroes the text.
public enum CrossEntropy {
    /// sum_i w_i * -log softmax(logits_i)[target_i] / sum_i w_i, over rows of `logits` [N, V].
    /// Rows with weight 0 cost nothing; an all-zero weight vector gives a loss of 0.
    public static func loss(logits: Tensor, targets: [Int], weights: [Float]? = nil) -> Tensor {
        let v = logits.shape[logits.rank - 1]
        let n = logits.count / v
        precondition(targets.count == n, "\(targets.count) targets for \(n) logit rows")
        let w = weights ?? [Float](repeating: 1, count: n)
        precondition(w.count == n, "\(w.count) weights for \(n) rows")
        let totalWeight = w.reduce(0, +)
        let x = logits.to(.float32)
        let xs = x.floats
        // Softmax probabilities are kept for the backward pass.
        let probabilities = Tensor(zeros: [n, v])
        let ps = probabilities.mutableFloats
        var loss: Double = 0
        for r in 0..<n {
            let row = r * v
            var m = -Float.infinity
            for j in 0..<v { m = max(m, xs[row + j]) }
            var s: Float = 0
            for j in 0..<v { let e = Foundation.exp(xs[row + j] - m); ps[row + j] = e; s += e }
            for j in 0..<v { ps[row + j] /= s }
            if w[r] != 0 {
                precondition(targets[r] >= 0 && targets[r] < v, "target \(targets[r]) outside vocabulary of \(v)")
                loss += Double(w[r]) * Double(m + Foundation.log(s) - xs[row + targets[r]])
            }
        }
        let value = totalWeight > 0 ? Float(loss / Double(totalWeight)) : 0
        let shape = logits.shape
        return Autograd.record(Tensor(scalar: value), inputs: [logits]) { g in
            let scale = totalWeight > 0 ? g.item / totalWeight : 0
            let grad = Tensor(zeros: [n, v])
            let gs = grad.mutableFloats, ps = probabilities.floats
            for r in 0..<n where w[r] != 0 {
                let k = w[r] * scale
                for j in 0..<v { gs[r * v + j] = ps[r * v + j] * k }
                gs[r * v + targets[r]] -= k
            }
            return [grad.reshaped(shape)]
        }
    }
}
