import EmuTensor

/// The decoder of the vision tokenizer: causal temporal blocks and temporal upsampling on the
/// latent clip, then a 2D network per frame whose norms are conditioned on the quantized latent
/// (MoVQ spatial norms).
struct VQDecoder: Sendable {
    struct Level: Sendable {
        var blocks: [VQResnetBlock]
        var attentions: [VQAttentionStage]
        var upsample: VQConv2d?  // after a 2x nearest upsampling
    }

    let temporalBlocks: [VQTemporalResnetBlock]
    let temporalUpsamples: [VQCausalConv3d]
    let convIn: VQConv2d
    let middle: VQMiddleBlock
    /// Deepest level first, the order in which they run.
    let levels: [Level]
    let normOut: VQSpatialNorm
    let convOut: VQConv2d

    init(_ w: inout VQWeightReader, configuration c: VisionTokenizerConfiguration) throws {
        let p = "decoder"
        let quant = c.embedDim
        temporalBlocks = try (0..<c.numResBlocks).map {
            try VQTemporalResnetBlock(&w, "\(p).time_res_stack.\($0)", channels: c.latentChannels)
        }
        temporalUpsamples = try (0..<c.temporalStages).map {
            try VQCausalConv3d(&w, "\(p).time_conv.\($0).conv.conv", in: c.latentChannels, out: c.latentChannels,
                               kernel: (3, 3, 3))
        }
        var blockIn = c.baseChannels * c.channelMultiplier[c.channelMultiplier.count - 1]
        convIn = try VQConv2d(&w, "\(p).conv_in", in: c.latentChannels, out: blockIn, kernel: 3)
        middle = try VQMiddleBlock(&w, "\(p).middle_block", channels: blockIn, heads: c.numAttentionHeads, quantChannels: quant)
        var levels: [Level] = []
        for i in (0..<c.channelMultiplier.count).reversed() {
            let blockOut = c.baseChannels * c.channelMultiplier[i]
            let lp = "\(p).up_block.up.\(i)"
            var level = Level(blocks: [], attentions: [], upsample: nil)
            for j in 0...c.numResBlocks {
                level.blocks.append(try VQResnetBlock(&w, "\(lp).block.\(j)", in: blockIn, out: blockOut, quantChannels: quant))
                blockIn = blockOut
                if c.attnResolutions.contains(i) {
                    level.attentions.append(try VQAttentionStage(
                        &w, norm: "\(lp).attn_norms.\(j)", attention: "\(lp).attn.\(j)",
                        channels: blockIn, heads: c.numAttentionHeads, quantChannels: quant))
                }
            }
            if i != 0 { level.upsample = try VQConv2d(&w, "\(lp).upsample.conv", in: blockIn, out: blockIn, kernel: 3) }
            levels.append(level)
        }
        self.levels = levels
        normOut = try VQSpatialNorm(&w, "\(p).norm_out", channels: blockIn, quantChannels: quant)
        convOut = try VQConv2d(&w, "\(p).conv_out", in: blockIn, out: c.outChannels, kernel: 3)
    }

    /// The temporal stage, applied with the same weights to the post-quant latent and to the
    /// quantized latent stacked as a batch of two: [2, latent, T', h, w] -> [2, latent, T'*factor, h, w].
    func decodeTime(_ clips: Tensor) -> Tensor {
        var h = clips
        for block in temporalBlocks { h = block(h) }
        for conv in temporalUpsamples {
            h = conv(h.upsampledNearest(temporal: 2, spatial: 1)).silu()
        }
        return h
    }

    /// The per-frame stage: latents [N, latent, h, w] and quantized latents [N, E, h, w]
    /// -> pixels [N, out, h*f, w*f].
    func decodeFrames(_ latents: Tensor, quantized: Tensor) -> Tensor {
        let quant = QuantizedLatent(quantized)
        var h = middle(convIn(latents), quant)
        for level in levels {
            for (j, block) in level.blocks.enumerated() {
                h = block(h, quant)
                if !level.attentions.isEmpty { h = level.attentions[j](h, quant) }
            }
            if let upsample = level.upsample { h = upsample(h.upsampledNearest(spatial: 2)) }
        }
        let normed = normOut(h, quant.resized(height: h.shape[2], width: h.shape[3]))
        return convOut(normed.silu())
    }
}
