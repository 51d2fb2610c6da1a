import EmuTensor

/// AdamW (Loshchilov & Hutter) with decoupled weight decay, matching `torch.optim.AdamW`.
///
/// Parameters are named leaf tensors; updates are written into their storage in place so the
/// model keeps the same tensors (and autograd leaves) across steps. Moments live in float32.
public final class AdamW {
    public struct Configuration: Sendable, Codable, Equatable {
        public var learningRate: Float
        public var beta1: Float
        public var beta2: Float
        public var epsilon: Float
        public var weightDecay: Float

        /// The paper's settings: betas (0.9, 0.95), weight decay 0.1.
        public init(learningRate: Float = 3e-4, beta1: Float = 0.9, beta2: Float = 0.95,
                    epsilon: Float = 1e-8, weightDecay: Float = 0.1) {
            self.learningRate = learningRate
            self.beta1 = beta1
            self.beta2 = beta2
            self.epsilon = epsilon
            self.weightDecay = weightDecay
        }
    }

    public var configuration: Configuration
    /// Number of completed steps (bias correction uses step + 1 during a step).
    public private(set) var step: Int = 0
    /// First and second moments by parameter name.
    public private(set) var firstMoments: [String: Tensor] = [:]
    public private(set) var secondMoments: [String: Tensor] = [:]
    /// Decides which parameters decay; by default not norms, biases or other 1-D tensors.
    public let decays: @Sendable (String, Tensor) -> Bool

    public init(configuration: Configuration = .init(),
                decays: @escaping @Sendable (String, Tensor) -> Bool = AdamW.defaultDecayRule) {
        self.configuration = configuration
        self.decays = decays
    }

    /// No decay on norms, biases and any tensor of rank < 2 (embeddings and matrices decay).
    public static let defaultDecayRule: @Sendable (String, Tensor) -> Bool = { name, tensor in
        !(tensor.rank < 2 || name.hasSuffix(".bias") || name.contains("norm"))
    }

    /// Applies one update to every parameter that has a gradient, at `learningRate` (defaults to
    /// the configured rate; pass the schedule's value).
    public func update(_ parameters: [String: Tensor], learningRate: Float? = nil) {
        let lr = learningRate ?? configuration.learningRate
        let (b1, b2, eps) = (configuration.beta1, configuration.beta2, configuration.epsilon)
        let t = Float(step + 1)
        let correction1 = 1 - pow(b1, t), correction2 = 1 - pow(b2, t)
        for name in parameters.keys.sorted() {
            let p = parameters[name]!
            guard let g = p.grad?.to(.float32) else { continue }
            precondition(g.shape == p.shape, "gradient of \(name) has shape \(g.shape), parameter \(p.shape)")
            let m = firstMoments[name] ?? Tensor(zeros: p.shape)
            let v = secondMoments[name] ?? Tensor(zeros: p.shape)
            let decay = decays(name, p) ? configuration.weightDecay : 0
            let pw = p.mutableFloats, gw = g.floats, mw = m.mutableFloats, vw = v.mutableFloats
            let stepSize = lr / correction1
            let decayFactor = 1 - lr * decay
            for i in 0..<pw.count {
                let gi = gw[i]
                mw[i] = b1 * mw[i] + (1 - b1) * gi
                vw[i] = b2 * vw[i] + (1 - b2) * gi * gi
                let denom = (vw[i] / correction2).squareRoot() + eps
                pw[i] = pw[i] * decayFactor - stepSize * mw[i] / denom
            }
            firstMoments[name] = m
            secondMoments[name] = v
        }
        step += 1
    }

    /// Moments and step, for checkpoints (`exp_avg.NAME`, `exp_avg_sq.NAME` like PyTorch's state).
    public func stateTensors() -> [String: Tensor] {
        var out: [String: Tensor] = [:]
        for (k, v) in firstMoments { out["exp_avg." + k] = v }
        for (k, v) in secondMoments { out["exp_avg_sq." + k] = v }
        return out
    }

    /// Restores what `stateTensors()` produced, and the step count.
    public func restore(state: [String: Tensor], step: Int) {
        firstMoments = [:]
        secondMoments = [:]
        for (k, v) in state {
            if k.hasPrefix("exp_avg_sq.") { secondMoments[String(k.dropFirst("exp_avg_sq.".count))] = v.to(.float32).copy() }
            else if k.hasPrefix("exp_avg.") { firstMoments[String(k.dropFirst("exp_avg.".count))] = v.to(.float32).copy() }
        }
        self.step = step
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
