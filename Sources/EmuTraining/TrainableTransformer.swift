import Foundation
import EmuTensor
import EmuIO
import Emu3

/// The Emu3 decoder as a trainable model: every parameter a float32 leaf of the autograd graph,
/// named by its hub checkpoint key (`text_model.model.layers.0.self_attn.q_proj.weight`,
/// `text_model.lm_head.weight`), and a forward pass over whole rows (causal, no KV cache) built
/// only from differentiable ops. The inference `Transformer` is rebuilt from these weights with
/// `transformer()`.
public final class TrainableTransformer: NextTokenModel {
    public let configuration: Transformer.Configuration
    public let parameters: [String: Tensor]

    static let modelPrefix = "text_model.model."
    static let headName = "text_model.lm_head.weight"

    /// Parameter names and shapes of `configuration`, in checkpoint order.
    public static func parameterShapes(_ c: Transformer.Configuration) -> [(String, [Int])] {
        let (qWidth, kvWidth) = (c.attentionHeads * c.headDim, c.keyValueHeads * c.headDim)
        var out: [(String, [Int])] = [(modelPrefix + "embed_tokens.weight", [c.vocabularySize, c.hiddenSize])]
        for l in 0..<c.layerCount {
            let p = modelPrefix + "layers.\(l)."
            out += [(p + "input_layernorm.weight", [c.hiddenSize]),
                    (p + "self_attn.q_proj.weight", [qWidth, c.hiddenSize]),
                    (p + "self_attn.k_proj.weight", [kvWidth, c.hiddenSize]),
                    (p + "self_attn.v_proj.weight", [kvWidth, c.hiddenSize]),
                    (p + "self_attn.o_proj.weight", [c.hiddenSize, qWidth]),
                    (p + "post_attention_layernorm.weight", [c.hiddenSize]),
                    (p + "mlp.gate_proj.weight", [c.intermediateSize, c.hiddenSize]),
                    (p + "mlp.up_proj.weight", [c.intermediateSize, c.hiddenSize]),
                    (p + "mlp.down_proj.weight", [c.hiddenSize, c.intermediateSize])]
        }
        out += [(modelPrefix + "norm.weight", [c.hiddenSize]), (headName, [c.vocabularySize, c.hiddenSize])]
        return out
    }

    /// Float32 copies of the checkpoint's text-model weights (hub or in-memory names).
    public init(configuration c: Transformer.Configuration, weights: WeightStore) throws {
        guard !c.attentionBias && !c.mlpBias else {
            throw TransformerError.unsupportedConfiguration("training with attention or MLP biases is not supported")
        }
        configuration = c
        var params: [String: Tensor] = [:]
        for (name, shape) in Self.parameterShapes(c) {
            let canonical = WeightStore.canonicalName(name) ?? name
            let t = try weights.tensor(canonical, shape: shape)
            params[name] = t.to(.float32).copy().requiringGradient(name: name)
        }
        parameters = params
    }

    /// Fresh weights like transformers' `_init_weights`: matrices and embeddings normal(0, std),
    /// norms 1, from a seeded generator (the same seed gives the same model).
    public init(configuration c: Transformer.Configuration, seed: UInt64, standardDeviation: Float = 0.02) {
        configuration = c
        var generator = SeededGenerator(seed: seed)
        var params: [String: Tensor] = [:]
        for (name, shape) in Self.parameterShapes(c) {
            let t = Tensor(zeros: shape)
            let w = t.mutableFloats
            if shape.count == 1 {
                for i in 0..<w.count { w[i] = 1 }
            } else {
                var i = 0
                while i < w.count {
                    // Box-Muller: two normals from two uniforms in (0, 1].
                    let u1 = Double(generator.next() >> 11 + 1) / Double(1 << 53)
                    let u2 = Double(generator.next() >> 11) / Double(1 << 53)
                    let r = (-2 * Foundation.log(u1)).squareRoot()
                    w[i] = Float(r * Foundation.cos(2 * Double.pi * u2)) * standardDeviation
                    if i + 1 < w.count { w[i + 1] = Float(r * Foundation.sin(2 * Double.pi * u2)) * standardDeviation }
                    i += 2
                }
            }
            params[name] = t.requiringGradient(name: name)
        }
        parameters = params
    }

    func parameter(_ name: String) -> Tensor { parameters[Self.modelPrefix + name]! }

    /// Logits [batch * length, vocab] for equal-length rows, recorded for autograd.
    public func logits(forTraining inputs: [[Int]], layout: AttentionLayout?) -> Tensor {
        let c = configuration
        let (b, s) = (inputs.count, inputs.first?.count ?? 0)
        precondition(b > 0 && s > 0 && inputs.allSatisfy { $0.count == s }, "training rows must be non-empty and of equal length")
        let rope = layout?.positions.map { RotaryTables(positions: $0, headDim: c.headDim, theta: c.ropeTheta) }
            ?? RotaryTables(positions: [Array(0..<s)], headDim: c.headDim, theta: c.ropeTheta)
        var x = Tensor.embedding(inputs.flatMap { $0 }, shape: [b, s], table: parameter("embed_tokens.weight"))
        for l in 0..<c.layerCount {
            let p = "layers.\(l)."
            let attended = attention(x.rmsNorm(weight: parameter(p + "input_layernorm.weight"), epsilon: c.rmsNormEpsilon),
                                     layer: p + "self_attn.", rope: rope, layout: layout)
            let h = x + attended
            let n = h.rmsNorm(weight: parameter(p + "post_attention_layernorm.weight"), epsilon: c.rmsNormEpsilon)
            let gate = n.linear(weight: parameter(p + "mlp.gate_proj.weight")).silu()
            let up = n.linear(weight: parameter(p + "mlp.up_proj.weight"))
            x = h + (gate * up).linear(weight: parameter(p + "mlp.down_proj.weight"))
        }
        let normed = x.rmsNorm(weight: parameter("norm.weight"), epsilon: c.rmsNormEpsilon)
        return normed.linear(weight: parameters[Self.headName]!).reshaped([b * s, c.vocabularySize])
    }

    /// Causal grouped-query attention of x [B, S, hidden], composed of differentiable ops.
    /// RoPE is relative, so an example packed at any offset and seeing only itself computes what
    /// it would alone.
    func attention(_ x: Tensor, layer p: String, rope: RotaryTables, layout: AttentionLayout?) -> Tensor {
        let c = configuration
        let (b, s, d) = (x.shape[0], x.shape[1], c.headDim)
        func heads(_ t: Tensor, _ h: Int) -> Tensor { t.reshaped([b, s, h, d]).permuted([0, 2, 1, 3]) }
        let q = rope.apply(heads(x.linear(weight: parameter(p + "q_proj.weight")), c.attentionHeads))
        let k = rope.apply(heads(x.linear(weight: parameter(p + "k_proj.weight")), c.keyValueHeads))
        let v = heads(x.linear(weight: parameter(p + "v_proj.weight")), c.keyValueHeads)
        // Fused causal attention with grouped KV heads: no S x S matrix, no repeated K/V.
        let attended = Tensor.attention(query: q, key: k, value: v, causal: true,
                                       firstVisibleKeys: layout?.firstVisibleKeys, hiddenKeys: layout?.hiddenKeys)  // [B, H, S, D]
        return attended.permuted([0, 2, 1, 3]).reshaped([b, s, c.attentionHeads * d])
            .linear(weight: parameter(p + "o_proj.weight"))
    }

    /// The weights under their hub names, as saved in `model.safetensors` (detached copies).
    public func checkpointWeights() -> [String: Tensor] {
        parameters.mapValues { $0.detached().copy() }
    }

    /// An inference `Transformer` over the current weights.
    public func transformer() throws -> Transformer {
        var canonical: [String: Tensor] = [:]
        for (name, t) in parameters { canonical[WeightStore.canonicalName(name) ?? name] = t.detached() }
        return try Transformer(configuration: configuration, checkpoint: try WeightStore(tensors: canonical))
    }
}

/// RoPE (HF rotate-half) as a differentiable composition: x * cos + rotate_half(x) * sin, with
/// angles computed in float32 as transformers does (inv_freq * position).
struct RotaryTables {
    let cos: Tensor, sin: Tensor  // [rows, 1, S, D]: one row for all, or one per batch row
    let half: Int

    /// Tables for `positions`: one row of S positions shared by the batch, or one per batch row.
    init(positions: [[Int]], headDim d: Int, theta: Float) {
        half = d / 2
        let (rows, s) = (positions.count, positions.first?.count ?? 0)
        let (c, sn) = (Tensor(zeros: [rows, 1, s, d]), Tensor(zeros: [rows, 1, s, d]))
        let cw = c.mutableFloats, sw = sn.mutableFloats
        for i in 0..<half {
            let invFreq = Float(1 / Foundation.pow(Double(theta), Double(2 * i) / Double(d)))
            for (r, row) in positions.enumerated() {
                for (j, p) in row.enumerated() {
                    let angle = Float(p) * invFreq
                    let (cv, sv) = (Foundation.cos(angle), Foundation.sin(angle))
                    let at = (r * s + j) * d
                    cw[at + i] = cv; cw[at + i + half] = cv
                    sw[at + i] = sv; sw[at + i + half] = sv
                }
            }
        }
        cos = c
        sin = sn
    }

    /// x [B, H, S, D] rotated by position.
    func apply(_ x: Tensor) -> Tensor {
        let d = x.shape[3]
        let rotated = Tensor.concatenate([x.sliced(axis: 3, half..<d).scaled(by: -1), x.sliced(axis: 3, 0..<half)], axis: 3)
        return x * cos + rotated * sin
    }
}
