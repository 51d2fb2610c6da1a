import EmuTensor

/// One Llama block of the Emu3 decoder: pre-norm attention, then a pre-norm SwiGLU MLP, each added
/// back to the residual stream. Property names follow the checkpoint keys under `layers.N.`.
struct DecoderLayer: Sendable {
    let inputLayernorm: Tensor          // input_layernorm.weight [hidden]
    let selfAttn: SelfAttention         // self_attn.*
    let postAttentionLayernorm: Tensor  // post_attention_layernorm.weight [hidden]
    let mlp: GatedMLP                   // mlp.*
    let epsilon: Float

    init(prefix: String, configuration c: Transformer.Configuration, weights: WeightStore) throws {
        inputLayernorm = try weights.tensor(prefix + "input_layernorm.weight", shape: [c.hiddenSize])
        postAttentionLayernorm = try weights.tensor(prefix + "post_attention_layernorm.weight", shape: [c.hiddenSize])
        selfAttn = try SelfAttention(prefix: prefix + "self_attn.", configuration: c, weights: weights)
        mlp = try GatedMLP(prefix: prefix + "mlp.", configuration: c, weights: weights)
        epsilon = c.rmsNormEpsilon
    }

    /// x [S, hidden] at absolute positions `positions` -> [S, hidden].
    func callAsFunction(_ x: Tensor, positions: [Int], layer: Int, cache: KVCache) -> Tensor {
        let attended = selfAttn(x.rmsNorm(weight: inputLayernorm, epsilon: epsilon),
                                positions: positions, layer: layer, cache: cache)
        let h = x + attended
        return h + mlp(h.rmsNorm(weight: postAttentionLayernorm, epsilon: epsilon))
    }
}

/// Grouped-query self-attention with rotary positions (HF rotate-half) and a KV cache.
struct SelfAttention: Sendable {
    let qProj: Projection, kProj: Projection, vProj: Projection, oProj: Projection
    let heads: Int, kvHeads: Int, headDim: Int
    let ropeTheta: Float

    init(prefix: String, configuration c: Transformer.Configuration, weights: WeightStore) throws {
        let (qWidth, kvWidth) = (c.attentionHeads * c.headDim, c.keyValueHeads * c.headDim)
        qProj = try Projection(prefix + "q_proj.", out: qWidth, in: c.hiddenSize, bias: c.attentionBias, weights: weights)
        kProj = try Projection(prefix + "k_proj.", out: kvWidth, in: c.hiddenSize, bias: c.attentionBias, weights: weights)
        vProj = try Projection(prefix + "v_proj.", out: kvWidth, in: c.hiddenSize, bias: c.attentionBias, weights: weights)
        oProj = try Projection(prefix + "o_proj.", out: c.hiddenSize, in: qWidth, bias: c.attentionBias, weights: weights)
        heads = c.attentionHeads
        kvHeads = c.keyValueHeads
        headDim = c.headDim
        ropeTheta = c.ropeTheta
    }

    func callAsFunction(_ x: Tensor, positions: [Int], layer: Int, cache: KVCache) -> Tensor {
        let s = x.shape[0]
        // [S, H*D] -> [1, H, S, D]
        func split(_ t: Tensor, _ h: Int) -> Tensor { t.reshaped([1, s, h, headDim]).permuted([0, 2, 1, 3]) }
        let q = split(qProj(x), heads).rotaryEmbedded(positions: positions, theta: ropeTheta)
        let k = split(kProj(x), kvHeads).rotaryEmbedded(positions: positions, theta: ropeTheta)
        let v = split(vProj(x), kvHeads)
        let (keys, values) = cache.append(layer: layer, key: k, value: v)
        // Query heads g*group..<(g+1)*group share KV head g: attend group by group on cache views.
        let group = heads / kvHeads
        let queryGroups = q.reshaped([kvHeads, group * s * headDim])
        let outputs = (0..<kvHeads).map { g in
            Tensor.attention(query: queryGroups.rows(g..<(g + 1)).reshaped([1, group, s, headDim]),
                             key: keys[g], value: values[g], causal: true)
        }
        let attended = kvHeads == 1 ? outputs[0] : Tensor.concatenate(outputs, axis: 1)
        // [1, H, S, D] -> [S, H*D]
        return oProj(attended.permuted([0, 2, 1, 3]).reshaped([s, heads * headDim]))
    }
}

/// SwiGLU: down(silu(gate(x)) * up(x)).
struct GatedMLP: Sendable {
    let gateProj: Projection, upProj: Projection, downProj: Projection

    init(prefix: String, configuration c: Transformer.Configuration, weights: WeightStore) throws {
        gateProj = try Projection(prefix + "gate_proj.", out: c.intermediateSize, in: c.hiddenSize, bias: c.mlpBias, weights: weights)
        upProj = try Projection(prefix + "up_proj.", out: c.intermediateSize, in: c.hiddenSize, bias: c.mlpBias, weights: weights)
        downProj = try Projection(prefix + "down_proj.", out: c.hiddenSize, in: c.intermediateSize, bias: c.mlpBias, weights: weights)
    }

    func callAsFunction(_ x: Tensor) -> Tensor {
        downProj(gateProj(x).silu() * upProj(x))
    }
}

/// A linear layer `weight` [out, in] (f32, f16 or bf16, used in place) with an optional bias.
struct Projection: Sendable {
    let weight: Tensor
    let bias: Tensor?

    init(_ prefix: String, out: Int, in inFeatures: Int, bias hasBias: Bool, weights: WeightStore) throws {
        weight = try weights.tensor(prefix + "weight", shape: [out, inFeatures])
        bias = hasBias ? try weights.tensor(prefix + "bias", shape: [out]) : nil
    }

    func callAsFunction(_ x: Tensor) -> Tensor { x.linear(weight: weight, bias: bias) }
}
