import Emu3
import EmuTensor
import EmuTraining
import Foundation

/// Emu3's decoder (Llama: RMSNorm, RoPE, causal attention, SwiGLU) written with the differentiable
/// ops only, for training. Parameter names are the -hf checkpoint keys, so the trained weights load
/// into the inference `Transformer` unchanged.
///
/// Rows may hold several examples packed one after another: every example starts with BOS, and
/// attention and positions restart there (a block-diagonal causal mask), so a packed example sees
/// exactly what it will see alone at inference.
public final class TrainableEmu3: NextTokenModel {
    public let configuration: Transformer.Configuration
    public let parameters: [String: Tensor]
    let beginOfSequence: Int

    /// Random initialisation (normal, std 0.02; norms 1), deterministic for `seed`.
    public init(configuration c: Transformer.Configuration, beginOfSequence: Int, seed: UInt64) {
        precondition(c.keyValueHeads == c.attentionHeads, "the trainable decoder has no grouped KV heads")
        configuration = c
        self.beginOfSequence = beginOfSequence
        var rng = SplitMix(seed: seed)
        func normal(_ shape: [Int], std: Float = 0.02) -> Tensor {
            let n = shape.reduce(1, *)
            var values = [Float](repeating: 0, count: n)
            for i in 0..<n {
                let u1 = max(rng.unit(), 1e-12), u2 = rng.unit()
                values[i] = Float((-2 * log(u1)).squareRoot() * cos(2 * .pi * u2)) * std
            }
            return Tensor(values, shape: shape)
        }
        func ones(_ n: Int) -> Tensor { Tensor([Float](repeating: 1, count: n), shape: [n]) }
        let (h, q, m) = (c.hiddenSize, c.attentionHeads * c.headDim, c.intermediateSize)
        // Residual-branch outputs are scaled down with depth (GPT-2's init) for a stable start.
        let outputStd = 0.02 / Float(2 * c.layerCount).squareRoot()
        var p: [String: Tensor] = [
            "model.text_model.embed_tokens.weight": normal([c.vocabularySize, h]),
            "model.text_model.norm.weight": ones(h),
            "lm_head.weight": normal([c.vocabularySize, h]),
        ]
        for l in 0..<c.layerCount {
            let prefix = "model.text_model.layers.\(l)."
            p[prefix + "input_layernorm.weight"] = ones(h)
            p[prefix + "post_attention_layernorm.weight"] = ones(h)
            p[prefix + "self_attn.q_proj.weight"] = normal([q, h])
            p[prefix + "self_attn.k_proj.weight"] = normal([q, h])
            p[prefix + "self_attn.v_proj.weight"] = normal([q, h])
            p[prefix + "self_attn.o_proj.weight"] = normal([h, q], std: outputStd)
            p[prefix + "mlp.gate_proj.weight"] = normal([m, h])
            p[prefix + "mlp.up_proj.weight"] = normal([m, h])
            p[prefix + "mlp.down_proj.weight"] = normal([h, m], std: outputStd)
        }
        parameters = p.mapValues { $0.requiringGradient() }
    }

    func weight(_ name: String) -> Tensor { parameters[name]! }

    /// Position of every token within its example (counting from the last BOS) and the additive
    /// attention mask [B, 1, S, S]: 0 where key j is in query i's example and j <= i, else -1e9.
    func positionsAndMask(_ inputs: [[Int]]) -> (positions: [[Int]], mask: Tensor) {
        let (b, s) = (inputs.count, inputs[0].count)
        var positions: [[Int]] = [], mask = [Float](repeating: -1e9, count: b * s * s)
        for (r, row) in inputs.enumerated() {
            var start = 0, rowPositions: [Int] = []
            for (i, id) in row.enumerated() {
                if id == beginOfSequence && i > 0 { start = i }
                rowPositions.append(i - start)
                for j in start...i { mask[(r * s + i) * s + j] = 0 }
            }
            positions.append(rowPositions)
        }
        return (positions, Tensor(mask, shape: [b, 1, s, s]))
    }

    /// cos and sin tables [B, 1, S, D] of HF rotate-half RoPE at `positions` (as `rotaryEmbedded`
    /// computes its angles).
    func rotaryTables(_ positions: [[Int]]) -> (cos: Tensor, sin: Tensor) {
        let d = configuration.headDim, half = d / 2, s = positions[0].count
        let inverseFrequencies = (0..<half).map { Float(1 / pow(Double(configuration.ropeTheta), Double(2 * $0) / Double(d))) }
        var cosValues = [Float](repeating: 0, count: positions.count * s * d), sinValues = cosValues
        for (r, row) in positions.enumerated() {
            for (i, p) in row.enumerated() {
                for k in 0..<half {
                    let angle = Float(Double(p) * Double(inverseFrequencies[k]))
                    let base = (r * s + i) * d
                    cosValues[base + k] = cos(angle); cosValues[base + k + half] = cos(angle)
                    sinValues[base + k] = sin(angle); sinValues[base + k + half] = sin(angle)
                }
            }
        }
        return (Tensor(cosValues, shape: [positions.count, 1, s, d]), Tensor(sinValues, shape: [positions.count, 1, s, d]))
    }

    /// x [B, H, S, D] rotated: x * cos + rotate_half(x) * sin, rotate_half(x) = [-x2, x1].
    static func rotate(_ x: Tensor, cos: Tensor, sin: Tensor) -> Tensor {
        let d = x.shape[3], half = d / 2
        let rotated = Tensor.concatenate([x.sliced(axis: 3, half..<d).scaled(by: -1), x.sliced(axis: 3, 0..<half)], axis: 3)
        return x * cos + rotated * sin
    }

    public func logits(forTraining inputs: [[Int]]) -> Tensor {
        let c = configuration
        let (b, s) = (inputs.count, inputs[0].count)
        let (heads, d) = (c.attentionHeads, c.headDim)
        let (positions, mask) = positionsAndMask(inputs)
        let (cosTable, sinTable) = rotaryTables(positions)
        let scale = 1 / Float(d).squareRoot()
        var x = Tensor.embedding(inputs.flatMap { $0 }, shape: [b, s], table: weight("model.text_model.embed_tokens.weight"))
        for l in 0..<c.layerCount {
            let prefix = "model.text_model.layers.\(l)."
            let h = x.rmsNorm(weight: weight(prefix + "input_layernorm.weight"), epsilon: c.rmsNormEpsilon)
            func heads4(_ t: Tensor) -> Tensor { t.reshaped([b, s, heads, d]).permuted([0, 2, 1, 3]) }
            let q = Self.rotate(heads4(h.linear(weight: weight(prefix + "self_attn.q_proj.weight"))), cos: cosTable, sin: sinTable)
            let k = Self.rotate(heads4(h.linear(weight: weight(prefix + "self_attn.k_proj.weight"))), cos: cosTable, sin: sinTable)
            let v = heads4(h.linear(weight: weight(prefix + "self_attn.v_proj.weight")))
            let scores = q.matmul(k.transposedLastTwo()).scaled(by: scale) + mask
            let attended = scores.softmax().matmul(v).permuted([0, 2, 1, 3]).reshaped([b, s, heads * d])
            x = x + attended.linear(weight: weight(prefix + "self_attn.o_proj.weight"))
            let g = x.rmsNorm(weight: weight(prefix + "post_attention_layernorm.weight"), epsilon: c.rmsNormEpsilon)
            let gated = g.linear(weight: weight(prefix + "mlp.gate_proj.weight")).silu() * g.linear(weight: weight(prefix + "mlp.up_proj.weight"))
            x = x + gated.linear(weight: weight(prefix + "mlp.down_proj.weight"))
        }
        let normed = x.rmsNorm(weight: weight("model.text_model.norm.weight"), epsilon: c.rmsNormEpsilon)
        return normed.linear(weight: weight("lm_head.weight")).reshaped([b * s, c.vocabularySize])
    }

    /// The weights as plain float32 tensors (detached copies), by checkpoint name.
    public func weights() -> [String: Tensor] {
        parameters.mapValues { Tensor($0.toArray(), shape: $0.shape) }
    }
}
