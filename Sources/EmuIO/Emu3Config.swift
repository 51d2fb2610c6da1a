import Foundation

/// An Emu3 checkpoint's `config.json`.
///
/// Two layouts are read:
/// - transformers' `-hf` layout (`model_type` "emu3"): `text_config`, `vq_config` and the required
///   `vocabulary_map`;
/// - BAAI's original Emu3-Gen/Chat layout (`model_type` "Emu3"): flat Llama fields at the top level,
///   no VQ config (the vision tokenizer is a separate checkpoint, see `Emu3VQConfig.load`) and no
///   vocabulary map (ids come from the tiktoken vocabulary).
/// Missing optional fields take transformers' defaults. Encoding writes the `-hf` layout.
public struct Emu3Config: Codable, Sendable, Equatable {
    public enum Layout: String, Codable, Sendable { case huggingFace, baai }

    public var textConfig: Emu3TextConfig
    /// nil for the BAAI layout, whose vision tokenizer config lives in its own checkpoint.
    public var vqConfig: Emu3VQConfig?
    /// Token string -> id (nil for the BAAI layout).
    public var vocabularyMap: [String: Int]?
    public var layout: Layout

    public init(textConfig: Emu3TextConfig, vqConfig: Emu3VQConfig?, vocabularyMap: [String: Int]?,
                layout: Layout = .huggingFace) {
        self.textConfig = textConfig
        self.vqConfig = vqConfig
        self.vocabularyMap = vocabularyMap
        self.layout = layout
    }

    /// The id of the `<image>` placeholder, from the vocabulary map.
    public var imageTokenID: Int? { vocabularyMap?["<image>"] }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: AnyKey.self)
        let modelType: String? = try c.decodeIfPresent(String.self, forKey: AnyKey("model_type"))
        let flat = modelType == "Emu3" || (!c.contains(AnyKey("text_config")) && c.contains(AnyKey("hidden_size")))
        if flat {
            textConfig = try Emu3TextConfig(from: decoder)
            vqConfig = nil
            vocabularyMap = try c.decodeIfPresent([String: Int].self, forKey: AnyKey("vocabulary_map"))
            layout = .baai
        } else {
            textConfig = try c.value("text_config", default: try Emu3TextConfig.defaults())
            vqConfig = try c.value("vq_config", default: try Emu3VQConfig.defaults())
            // transformers accepts a missing map, but nothing Emu3 does works without it.
            vocabularyMap = try c.decode([String: Int].self, forKey: AnyKey("vocabulary_map"))
            layout = .huggingFace
        }
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: AnyKey.self)
        try c.encode("emu3", forKey: AnyKey("model_type"))
        try c.encode(textConfig, forKey: AnyKey("text_config"))
        try c.encodeIfPresent(vqConfig, forKey: AnyKey("vq_config"))
        try c.encodeIfPresent(vocabularyMap, forKey: AnyKey("vocabulary_map"))
    }

    public static func decode(_ data: Data, file: String = "config.json") throws(ConfigError) -> Emu3Config {
        try decodeConfig(Emu3Config.self, from: data, file: file)
    }

    public static func load(path: String) throws(ConfigError) -> Emu3Config {
        try decode(readConfigFile(path), file: path)
    }
}

/// RoPE scaling settings (`rope_scaling`). Only plain RoPE is implemented, so any other type is
/// rejected at decoding rather than silently ignored.
public struct RopeScaling: Codable, Sendable, Equatable {
    public static let supportedTypes: Set<String> = ["default"]
    public var ropeType: String
    public var factor: Double?

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: AnyKey.self)
        guard let type = try c.decodeIfPresent(String.self, forKey: AnyKey("rope_type"))
                ?? c.decodeIfPresent(String.self, forKey: AnyKey("type")) else {
            throw DecodingError.keyNotFound(AnyKey("rope_type"), .init(codingPath: c.codingPath, debugDescription: ""))
        }
        guard RopeScaling.supportedTypes.contains(type) else {
            throw DecodingError.dataCorrupted(.init(codingPath: c.codingPath,
                debugDescription: "rope scaling type \"\(type)\" is not supported (supported: default)"))
        }
        ropeType = type
        factor = try c.decodeIfPresent(Double.self, forKey: AnyKey("factor"))
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: AnyKey.self)
        try c.encode(ropeType, forKey: AnyKey("rope_type"))
        try c.encodeIfPresent(factor, forKey: AnyKey("factor"))
    }
}

/// The Llama-style decoder (`text_config`, or the top level of a BAAI config).
public struct Emu3TextConfig: Codable, Sendable, Equatable {
    public var vocabSize: Int
    public var hiddenSize: Int
    public var intermediateSize: Int
    public var numHiddenLayers: Int
    public var numAttentionHeads: Int
    public var numKeyValueHeads: Int
    public var hiddenAct: String
    public var maxPositionEmbeddings: Int
    public var rmsNormEps: Double
    public var ropeTheta: Double
    public var ropeScaling: RopeScaling?
    public var attentionBias: Bool
    public var mlpBias: Bool
    public var attentionDropout: Double
    public var tieWordEmbeddings: Bool
    public var initializerRange: Double
    public var bosTokenID: Int?
    public var eosTokenID: Int?
    public var padTokenID: Int?
    // Special ids only BAAI configs carry (the -hf layout finds them in the vocabulary map).
    public var imageTokenID: Int?
    public var boiTokenID: Int?
    public var eoiTokenID: Int?
    public var eolTokenID: Int?
    public var eofTokenID: Int?
    /// Default generated image area in pixels (BAAI configs only).
    public var imageArea: Int?

    /// Head width: hidden size / attention heads.
    public var headDim: Int { hiddenSize / max(numAttentionHeads, 1) }

    /// transformers' defaults (the 8.5B Emu3 model).
    public static func defaults() throws -> Emu3TextConfig {
        try JSONDecoder().decode(Emu3TextConfig.self, from: Data("{}".utf8))
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: AnyKey.self)
        vocabSize = try c.value("vocab_size", default: 184_622)
        hiddenSize = try c.value("hidden_size", default: 4096)
        intermediateSize = try c.value("intermediate_size", default: 14_336)
        numHiddenLayers = try c.value("num_hidden_layers", default: 32)
        numAttentionHeads = try c.value("num_attention_heads", default: 32)
        // An explicit null means "as many KV heads as query heads".
        numKeyValueHeads = try c.contains(AnyKey("num_key_value_heads"))
            ? (c.decodeIfPresent(Int.self, forKey: AnyKey("num_key_value_heads")) ?? numAttentionHeads) : 8
        hiddenAct = try c.value("hidden_act", default: "silu")
        maxPositionEmbeddings = try c.value("max_position_embeddings", default: 9216)
        rmsNormEps = try c.value("rms_norm_eps", default: 1e-5)
        ropeTheta = try c.value("rope_theta", default: 1_000_000)
        ropeScaling = try c.decodeIfPresent(RopeScaling.self, forKey: AnyKey("rope_scaling"))
        attentionBias = try c.value("attention_bias", default: false)
        mlpBias = try c.value("mlp_bias", default: false)
        attentionDropout = try c.value("attention_dropout", default: 0.1)
        tieWordEmbeddings = try c.value("tie_word_embeddings", default: false)
        initializerRange = try c.value("initializer_range", default: 0.02)
        bosTokenID = try c.tokenID("bos_token_id", default: 151_849)
        eosTokenID = try c.tokenID("eos_token_id", default: 151_850)
        padTokenID = try c.tokenID("pad_token_id", default: 151_643)
        imageTokenID = try c.tokenID("img_token_id", default: nil)
        boiTokenID = try c.tokenID("boi_token_id", default: nil)
        eoiTokenID = try c.tokenID("eoi_token_id", default: nil)
        eolTokenID = try c.tokenID("eol_token_id", default: nil)
        eofTokenID = try c.tokenID("eof_token_id", default: nil)
        imageArea = try c.decodeIfPresent(Int.self, forKey: AnyKey("image_area"))
        guard hiddenSize > 0, numAttentionHeads > 0, numKeyValueHeads > 0, hiddenSize % numAttentionHeads == 0,
              numAttentionHeads % numKeyValueHeads == 0 else {
            throw DecodingError.dataCorrupted(.init(codingPath: c.codingPath, debugDescription:
                "hidden_size \(hiddenSize), num_attention_heads \(numAttentionHeads) and num_key_value_heads " +
                "\(numKeyValueHeads) must be positive, heads dividing hidden_size and KV heads dividing heads"))
        }
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: AnyKey.self)
        func put<T: Encodable>(_ value: T?, _ key: String) throws { try c.encodeIfPresent(value, forKey: AnyKey(key)) }
        try put("emu3_text_model", "model_type")
        try put(vocabSize, "vocab_size"); try put(hiddenSize, "hidden_size")
        try put(intermediateSize, "intermediate_size"); try put(numHiddenLayers, "num_hidden_layers")
        try put(numAttentionHeads, "num_attention_heads"); try put(numKeyValueHeads, "num_key_value_heads")
        try put(hiddenAct, "hidden_act"); try put(maxPositionEmbeddings, "max_position_embeddings")
        try put(rmsNormEps, "rms_norm_eps"); try put(ropeTheta, "rope_theta"); try put(ropeScaling, "rope_scaling")
        try put(attentionBias, "attention_bias"); try put(mlpBias, "mlp_bias")
        try put(attentionDropout, "attention_dropout"); try put(tieWordEmbeddings, "tie_word_embeddings")
        try put(initializerRange, "initializer_range")
        try put(bosTokenID, "bos_token_id"); try put(eosTokenID, "eos_token_id"); try put(padTokenID, "pad_token_id")
        try put(imageTokenID, "img_token_id"); try put(boiTokenID, "boi_token_id"); try put(eoiTokenID, "eoi_token_id")
        try put(eolTokenID, "eol_token_id"); try put(eofTokenID, "eof_token_id"); try put(imageArea, "image_area")
    }
}

/// The vision tokenizer (VQ-VAE): `vq_config` of an -hf config, or the `config.json` of BAAI's
/// Emu3-VisionTokenizer (`model_type` "Emu3VisionVQ": `z_channels`, `double_z`, `ch`, `ch_mult`).
public struct Emu3VQConfig: Codable, Sendable, Equatable {
    public var codebookSize: Int
    public var embedDim: Int
    public var latentChannels: Int
    public var doubleLatent: Bool
    public var inChannels: Int
    public var outChannels: Int
    public var temporalDownsampleFactor: Int
    public var baseChannels: Int
    public var channelMultiplier: [Int]
    public var numResBlocks: Int
    public var attnResolutions: [Int]
    /// Width of the middle-block attention (base_channels * last multiplier in practice).
    public var hiddenSize: Int
    public var numAttentionHeads: Int
    public var attentionDropout: Double

    /// Spatial downsampling of the encoder: 2^(levels - 1).
    public var spatialFactor: Int { 1 << max(channelMultiplier.count - 1, 0) }

    /// transformers' defaults (the released vision tokenizer).
    public static func defaults() throws -> Emu3VQConfig {
        try JSONDecoder().decode(Emu3VQConfig.self, from: Data("{}".utf8))
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: AnyKey.self)
        codebookSize = try c.value("codebook_size", default: 32_768)
        embedDim = try c.value("embed_dim", default: 4)
        latentChannels = try c.value(["latent_channels", "z_channels"], default: 4)
        doubleLatent = try c.value(["double_latent", "double_z"], default: false)
        inChannels = try c.value("in_channels", default: 3)
        outChannels = try c.value("out_channels", default: 3)
        temporalDownsampleFactor = try c.value("temporal_downsample_factor", default: 4)
        baseChannels = try c.value(["base_channels", "ch"], default: 256)
        channelMultiplier = try c.value(["channel_multiplier", "ch_mult"], default: [1, 2, 2, 4])
        numResBlocks = try c.value("num_res_blocks", default: 2)
        attnResolutions = try c.value("attn_resolutions", default: [3])
        // BAAI configs have no hidden_size: their attention width is the last level's channels.
        let isBAAI = c.contains(AnyKey("ch")) || c.contains(AnyKey("ch_mult"))
        let derivedWidth = baseChannels * (channelMultiplier.last ?? 1)
        hiddenSize = try c.value("hidden_size", default: isBAAI ? derivedWidth : 1024)
        numAttentionHeads = try c.value("num_attention_heads", default: 1)
        attentionDropout = try c.value(["attention_dropout", "dropout"], default: 0.0)
        guard !channelMultiplier.isEmpty, codebookSize > 0, embedDim > 0, baseChannels > 0 else {
            throw DecodingError.dataCorrupted(.init(codingPath: c.codingPath, debugDescription:
                "codebook_size, embed_dim, base_channels must be positive and channel_multiplier non-empty"))
        }
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: AnyKey.self)
        func put<T: Encodable>(_ value: T, _ key: String) throws { try c.encode(value, forKey: AnyKey(key)) }
        try put("emu3_vqgan", "model_type")
        try put(codebookSize, "codebook_size"); try put(embedDim, "embed_dim")
        try put(latentChannels, "latent_channels"); try put(doubleLatent, "double_latent")
        try put(inChannels, "in_channels"); try put(outChannels, "out_channels")
        try put(temporalDownsampleFactor, "temporal_downsample_factor"); try put(baseChannels, "base_channels")
        try put(channelMultiplier, "channel_multiplier"); try put(numResBlocks, "num_res_blocks")
        try put(attnResolutions, "attn_resolutions"); try put(hiddenSize, "hidden_size")
        try put(numAttentionHeads, "num_attention_heads"); try put(attentionDropout, "attention_dropout")
    }

    public static func decode(_ data: Data, file: String = "config.json") throws(ConfigError) -> Emu3VQConfig {
        try decodeConfig(Emu3VQConfig.self, from: data, file: file)
    }

    /// A stand-alone vision tokenizer config (BAAI's Emu3-VisionTokenizer or a saved Emu3VQVAE).
    public static func load(path: String) throws(ConfigError) -> Emu3VQConfig {
        try decode(readConfigFile(path), file: path)
    }
}
