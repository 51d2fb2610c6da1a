import EmuTensor
import EmuIO

/// The Emu3 decoder (`Emu3TextModel` plus its LM head): a Llama transformer over one token stream
/// that mixes text, image and video tokens.
///
///     ids -> embed_tokens -> layers[0..<L] (attention + SwiGLU, RMSNorm, RoPE, GQA) -> norm -> lm_head
///
/// Parameter names are the checkpoint keys relative to the text model (`embed_tokens.weight`,
/// `layers.3.self_attn.q_proj.weight`, `norm.weight`, `lm_head.weight`). Weights may be float32,
/// float16 or bfloat16; half weights stay where they are (for example memory-mapped) and are
/// widened inside the kernels.
public struct Transformer: Sendable {
    public let configuration: Configuration
    let embedTokens: Tensor      // embed_tokens.weight [vocab, hidden]
    let layers: [DecoderLayer]   // layers.N.*
    let norm: Tensor             // norm.weight [hidden]
    let lmHead: Tensor           // lm_head.weight [vocab, hidden], untied

    /// Builds the model from an Emu3 checkpoint's weights (hub or in-memory names, normalised by
    /// `WeightStore` to `model.text_model.*` and `lm_head.*`).
    public init(configuration: Configuration, checkpoint: WeightStore) throws {
        try self.init(configuration: configuration, model: checkpoint.scoped("model.text_model."), head: checkpoint)
    }

    /// Builds the model from `model` (the decoder's own parameters, `embed_tokens.weight`, ...) and
    /// `head` (holding `lm_head.weight`).
    public init(configuration c: Configuration, model: WeightStore, head: WeightStore) throws {
        try c.validate()
        configuration = c
        embedTokens = try model.tensor("embed_tokens.weight", shape: [c.vocabularySize, c.hiddenSize])
        layers = try (0..<c.layerCount).map {
            try DecoderLayer(prefix: "layers.\($0).", configuration: c, weights: model)
        }
        norm = try model.tensor("norm.weight", shape: [c.hiddenSize])
        lmHead = try head.tensor("lm_head.weight", shape: [c.vocabularySize, c.hiddenSize])
    }

    /// A cache sized for `capacity` positions.
    public func makeCache(capacity: Int = 256) -> KVCache {
        KVCache(layerCount: configuration.layerCount, kvHeads: configuration.keyValueHeads,
                headDim: configuration.headDim, capacity: capacity)
    }

    /// Runs `ids` after the positions already in `cache` (prefill when many, decode when one),
    /// appends their keys and values to `cache`, and returns logits [logitRows.count, vocab] for the
    /// requested rows of this chunk (default: the last one), in float32.
    public func forward(_ ids: [Int], cache: KVCache, logitRows: [Int]? = nil) throws -> Tensor {
        let hidden = try hiddenStates(ids, cache: cache)
        let rows = logitRows ?? [ids.count - 1]
        for r in rows where !(0..<ids.count).contains(r) {
            throw TransformerError.logitRowOutOfRange(row: r, chunkLength: ids.count)
        }
        let selected = rows == Array(0..<ids.count) ? hidden : Tensor.concatenate(rows.map { hidden.rows($0..<($0 + 1)) }, axis: 0)
        return selected.rmsNorm(weight: norm, epsilon: configuration.rmsNormEpsilon).linear(weight: lmHead)
    }

    /// The last layer's output [ids.count, hidden] before the final norm.
    public func hiddenStates(_ ids: [Int], cache: KVCache) throws -> Tensor {
        guard !ids.isEmpty else { throw TransformerError.emptyInput }
        for (offset, id) in ids.enumerated() where !(0..<configuration.vocabularySize).contains(id) {
            throw TransformerError.tokenOutOfRange(id: id, offset: offset, vocabularySize: configuration.vocabularySize)
        }
        // Like transformers, positions past max_position_embeddings are not refused (RoPE extends).
        let start = cache.count
        let positions = Array(start..<(start + ids.count))
        // Row views of the (possibly memory-mapped, half precision) table: no full-table widening.
        var x = Tensor.concatenate(ids.map { embedTokens.rows($0..<($0 + 1)) }, axis: 0)
        for (index, layer) in layers.enumerated() {
            x = layer(x, positions: positions, layer: index, cache: cache)
        }
        cache.commit()
        return x
    }
}

extension Transformer {
    /// The text model's hyperparameters; coding keys are those of `config.json` (`text_config`).
    public struct Configuration: Sendable, Equatable, Codable {
        public var vocabularySize: Int
        public var hiddenSize: Int
        public var intermediateSize: Int
        public var layerCount: Int
        public var attentionHeads: Int
        public var keyValueHeads: Int
        public var headDim: Int
        public var maxPositions: Int
        public var rmsNormEpsilon: Float
        public var ropeTheta: Float
        public var attentionBias: Bool
        public var mlpBias: Bool

        public init(vocabularySize: Int, hiddenSize: Int, intermediateSize: Int, layerCount: Int,
                    attentionHeads: Int, keyValueHeads: Int, headDim: Int? = nil, maxPositions: Int = 9216,
                    rmsNormEpsilon: Float = 1e-5, ropeTheta: Float = 1_000_000,
                    attentionBias: Bool = false, mlpBias: Bool = false) {
            self.vocabularySize = vocabularySize
            self.hiddenSize = hiddenSize
            self.intermediateSize = intermediateSize
            self.layerCount = layerCount
            self.attentionHeads = attentionHeads
            self.keyValueHeads = keyValueHeads
            self.headDim = headDim ?? hiddenSize / max(attentionHeads, 1)
            self.maxPositions = maxPositions
            self.rmsNormEpsilon = rmsNormEpsilon
            self.ropeTheta = ropeTheta
            self.attentionBias = attentionBias
            self.mlpBias = mlpBias
        }

        enum CodingKeys: String, CodingKey {
            case vocabularySize = "vocab_size", hiddenSize = "hidden_size", intermediateSize = "intermediate_size"
            case layerCount = "num_hidden_layers", attentionHeads = "num_attention_heads"
            case keyValueHeads = "num_key_value_heads", headDim = "head_dim"
            case maxPositions = "max_position_embeddings", rmsNormEpsilon = "rms_norm_eps"
            case ropeTheta = "rope_theta", attentionBias = "attention_bias", mlpBias = "mlp_bias"
            case ropeScaling = "rope_scaling"
        }

        /// Missing keys take transformers' `Emu3TextConfig` defaults.
        public init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            let hidden = try c.decodeIfPresent(Int.self, forKey: .hiddenSize) ?? 4096
            let heads = try c.decodeIfPresent(Int.self, forKey: .attentionHeads) ?? 32
            self.init(
                vocabularySize: try c.decodeIfPresent(Int.self, forKey: .vocabularySize) ?? 184_622,
                hiddenSize: hidden,
                intermediateSize: try c.decodeIfPresent(Int.self, forKey: .intermediateSize) ?? 14_336,
                layerCount: try c.decodeIfPresent(Int.self, forKey: .layerCount) ?? 32,
                attentionHeads: heads,
                keyValueHeads: try c.decodeIfPresent(Int.self, forKey: .keyValueHeads) ?? heads,
                headDim: try c.decodeIfPresent(Int.self, forKey: .headDim),
                maxPositions: try c.decodeIfPresent(Int.self, forKey: .maxPositions) ?? 9216,
                rmsNormEpsilon: try c.decodeIfPresent(Float.self, forKey: .rmsNormEpsilon) ?? 1e-5,
                ropeTheta: try c.decodeIfPresent(Float.self, forKey: .ropeTheta) ?? 1_000_000,
                attentionBias: try c.decodeIfPresent(Bool.self, forKey: .attentionBias) ?? false,
                mlpBias: try c.decodeIfPresent(Bool.self, forKey: .mlpBias) ?? false)
            // Only the default RoPE is implemented: refuse scaled variants instead of running them wrong.
            if let scaling = try c.decodeIfPresent(RopeScaling.self, forKey: .ropeScaling),
               let kind = scaling.ropeType ?? scaling.type, kind != "default" {
                throw TransformerError.unsupportedConfiguration("rope_scaling type '\(kind)' is not supported")
            }
        }

        public func encode(to encoder: Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(vocabularySize, forKey: .vocabularySize)
            try c.encode(hiddenSize, forKey: .hiddenSize)
            try c.encode(intermediateSize, forKey: .intermediateSize)
            try c.encode(layerCount, forKey: .layerCount)
            try c.encode(attentionHeads, forKey: .attentionHeads)
            try c.encode(keyValueHeads, forKey: .keyValueHeads)
            try c.encode(headDim, forKey: .headDim)
            try c.encode(maxPositions, forKey: .maxPositions)
            try c.encode(rmsNormEpsilon, forKey: .rmsNormEpsilon)
            try c.encode(ropeTheta, forKey: .ropeTheta)
            try c.encode(attentionBias, forKey: .attentionBias)
            try c.encode(mlpBias, forKey: .mlpBias)
        }

        /// The part of `rope_scaling` that says which RoPE variant (`type` in older configs).
        struct RopeScaling: Decodable {
            var ropeType: String?
            var type: String?
            enum CodingKeys: String, CodingKey { case ropeType = "rope_type", type }
        }

        func validate() throws {
            guard vocabularySize > 0, hiddenSize > 0, intermediateSize > 0, layerCount > 0, headDim > 0,
                  attentionHeads > 0, keyValueHeads > 0, attentionHeads % keyValueHeads == 0, headDim % 2 == 0 else {
                throw TransformerError.unsupportedConfiguration(
                    "inconsistent sizes: hidden \(hiddenSize), heads \(attentionHeads), kv heads \(keyValueHeads), head dim \(headDim)")
            }
        }

        /// Parameters in the decoder and head.
        public var parameterCount: Int {
            let attention = hiddenSize * headDim * (2 * attentionHeads + 2 * keyValueHeads)
            let mlp = 3 * hiddenSize * intermediateSize
            return 2 * vocabularySize * hiddenSize + layerCount * (attention + mlp + 2 * hiddenSize) + hiddenSize
        }
    }
}

public enum TransformerError: Error, Equatable, CustomStringConvertible {
    case emptyInput
    case tokenOutOfRange(id: Int, offset: Int, vocabularySize: Int)
    case logitRowOutOfRange(row: Int, chunkLength: Int)
    case unsupportedConfiguration(String)

    public var description: String {
        switch self {
        case .emptyInput: return "no tokens to run"
        case .tokenOutOfRange(let id, let offset, let vocabularySize):
            return "token id \(id) at offset \(offset) is outside the vocabulary (0..<\(vocabularySize))"
        case .logitRowOutOfRange(let row, let chunkLength): return "logit row \(row) outside a chunk of \(chunkLength) tokens"
        case .unsupportedConfiguration(let message): return "unsupported transformer configuration: \(message)"
        }
    }
}
