import Foundation

/// The shape of a vision tokenizer (transformers' `Emu3VQVAEConfig`; BAAI's `Emu3VisionVQConfig`
/// spells some keys differently: `ch`, `ch_mult`, `z_channels`, `double_z`).
public struct VisionTokenizerConfiguration: Sendable, Equatable, Codable {
    public var codebookSize = 32768
    public var embedDim = 4
    public var latentChannels = 4
    public var doubleLatent = false
    public var inChannels = 3
    public var outChannels = 3
    public var temporalDownsampleFactor = 4
    public var baseChannels = 256
    public var channelMultiplier = [1, 2, 2, 4]
    public var numResBlocks = 2
    public var attnResolutions = [3]
    /// Width of the attention layers: transformers requires it to equal the channels at every
    /// attention level (base_channels * multiplier); BAAI's layout has no such key.
    public var hiddenSize = 1024
    public var numAttentionHeads = 1

    public init() {}

    enum CodingKeys: String, CodingKey {
        case codebookSize = "codebook_size", embedDim = "embed_dim", latentChannels = "latent_channels"
        case doubleLatent = "double_latent", inChannels = "in_channels", outChannels = "out_channels"
        case temporalDownsampleFactor = "temporal_downsample_factor", baseChannels = "base_channels"
        case channelMultiplier = "channel_multiplier", numResBlocks = "num_res_blocks"
        case attnResolutions = "attn_resolutions", hiddenSize = "hidden_size"
        case numAttentionHeads = "num_attention_heads"
    }

    /// Spatial stride of the codes: 2^(levels - 1) pixels per code (8 for Emu3).
    public var spatialFactor: Int { 1 << max(channelMultiplier.count - 1, 0) }

    /// Reads the keys of a transformers or BAAI config dictionary; absent keys keep the Emu3
    /// defaults, as the Python configs do.
    public init(json: [String: Any]) throws {
        func int(_ keys: String...) throws -> Int? {
            for key in keys {
                guard let value = json[key], !(value is NSNull) else { continue }
                if let n = value as? Int { return n }
                if let n = value as? NSNumber { return n.intValue }
                throw VisionTokenizerError.badConfiguration("\(key) is not an integer")
            }
            return nil
        }
        func ints(_ keys: String...) throws -> [Int]? {
            for key in keys {
                guard let value = json[key], !(value is NSNull) else { continue }
                if let list = value as? [Int] { return list }
                if let n = value as? Int { return [n] }
                throw VisionTokenizerError.badConfiguration("\(key) is not a list of integers")
            }
            return nil
        }
        func bool(_ keys: String...) -> Bool? {
            for key in keys { if let b = json[key] as? Bool { return b } }
            return nil
        }
        codebookSize = try int("codebook_size") ?? codebookSize
        embedDim = try int("embed_dim") ?? embedDim
        latentChannels = try int("latent_channels", "z_channels") ?? latentChannels
        doubleLatent = bool("double_latent", "double_z") ?? doubleLatent
        inChannels = try int("in_channels") ?? inChannels
        outChannels = try int("out_channels") ?? outChannels
        temporalDownsampleFactor = try int("temporal_downsample_factor") ?? temporalDownsampleFactor
        baseChannels = try int("base_channels", "ch") ?? baseChannels
        channelMultiplier = try ints("channel_multiplier", "ch_mult") ?? channelMultiplier
        numResBlocks = try int("num_res_blocks") ?? numResBlocks
        attnResolutions = try ints("attn_resolutions") ?? attnResolutions
        numAttentionHeads = try int("num_attention_heads") ?? numAttentionHeads
        hiddenSize = try int("hidden_size") ?? baseChannels * (channelMultiplier.last ?? 1)
        try validate()
    }

    /// Rejects shapes the network cannot have (GroupNorm(32) needs channel counts that are
    /// multiples of 32; the temporal stages need a power-of-two factor).
    public func validate() throws {
        guard !channelMultiplier.isEmpty, channelMultiplier.allSatisfy({ $0 > 0 }) else {
            throw VisionTokenizerError.badConfiguration("channel_multiplier \(channelMultiplier) must be non-empty and positive")
        }
        for m in channelMultiplier where (baseChannels * m) % 32 != 0 {
            throw VisionTokenizerError.badConfiguration("base_channels \(baseChannels) x \(m) is not a multiple of 32 (GroupNorm groups)")
        }
        let f = temporalDownsampleFactor
        guard f >= 1, f & (f - 1) == 0 else {
            throw VisionTokenizerError.badConfiguration("temporal_downsample_factor \(f) is not a power of two")
        }
        guard codebookSize > 0, embedDim > 0, latentChannels > 0, numResBlocks > 0, numAttentionHeads > 0 else {
            throw VisionTokenizerError.badConfiguration("sizes must be positive")
        }
        guard !doubleLatent else {
            // The encoder would emit 2 x latent_channels into a quant_conv built for latent_channels.
            throw VisionTokenizerError.badConfiguration("double_latent is not supported (the reference cannot run it either)")
        }
        guard embedDim == latentChannels else {
            // The decoder runs the quantized latent and the post-quant latent through the same
            // temporal blocks, which only works when both have the same width.
            throw VisionTokenizerError.badConfiguration("embed_dim \(embedDim) must equal latent_channels \(latentChannels)")
        }
    }

    /// Number of temporal down/upsampling stages (log2 of the temporal factor).
    var temporalStages: Int { temporalDownsampleFactor.trailingZeroBitCount }
}

/// What can go wrong building, loading or running the vision tokenizer.
public enum VisionTokenizerError: Error, CustomStringConvertible, Equatable {
    case badConfiguration(String)
    case missingWeight(String)
    case unexpectedWeight(String)
    case weightShape(name: String, expected: [Int], found: [Int])
    case badInput(String)
    case badCheckpoint(String)

    public var description: String {
        switch self {
        case .badConfiguration(let m): return "vision tokenizer configuration: \(m)"
        case .missingWeight(let n): return "vision tokenizer weight missing: \(n)"
        case .unexpectedWeight(let n): return "unexpected vision tokenizer weight: \(n)"
        case .weightShape(let n, let e, let f): return "vision tokenizer weight \(n) has shape \(f), expected \(e)"
        case .badInput(let m): return "vision tokenizer input: \(m)"
        case .badCheckpoint(let m): return "vision tokenizer checkpoint: \(m)"
        }
    }
}
