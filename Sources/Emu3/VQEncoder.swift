import EmuTensor

/// The encoder of the vision tokenizer: a 2D network applied to every frame (conv_in, down
/// levels, middle block, norm_out, conv_out), then causal temporal convolutions that fold
/// `temporal_downsample_factor` frames into one latent frame.
struct VQEncoder: Sendable {
    struct Level: Sendable {
        var blocks: [VQResnetBlock]
        var attentions: [VQAttentionStage]  // empty, or one after each block
        var downsample: VQConv2d?           // stride 2, padded only bottom/right
    }

    let convIn: VQConv2d
    let levels: [Level]
    let middle: VQMiddleBlock
    let normOut: VQGroupNorm
    let convOut: VQConv2d
    let temporalDownsamples: [VQCausalConv3d]
    let temporalBlocks: [VQTemporalResnetBlock]

    init(_ w: inout VQWeightReader, configuration c: VisionTokenizerConfiguration) throws {
        let p = "encoder"
        convIn = try VQConv2d(&w, "\(p).conv_in", in: c.inChannels, out: c.baseChannels, kernel: 3)
        var levels: [Level] = []
        var blockIn = c.baseChannels
        for (i, multiplier) in c.channelMultiplier.enumerated() {
            let blockOut = c.baseChannels * multiplier
            let lp = "\(p).down_block.down.\(i)"
            var level = Level(blocks: [], attentions: [], downsample: nil)
            for j in 0..<c.numResBlocks {
                level.blocks.append(try VQResnetBlock(&w, "\(lp).block.\(j)", in: blockIn, out: blockOut, quantChannels: nil))
                blockIn = blockOut
                if c.attnResolutions.contains(i) {
                    level.attentions.append(try VQAttentionStage(
                        &w, norm: "\(lp).attn_norms.\(j)", attention: "\(lp).attn.\(j)",
                        channels: blockIn, heads: c.numAttentionHeads, quantChannels: nil))
                }
            }
            if i != c.channelMultiplier.count - 1 {
                level.downsample = try VQConv2d(&w, "\(lp).downsample.conv", in: blockIn, out: blockIn, kernel: 3,
                                                stride: 2, padding: ConvPadding(bottom: 1, right: 1))
            }
            levels.append(level)
        }
        self.levels = levels
        middle = try VQMiddleBlock(&w, "\(p).middle_block", channels: blockIn, heads: c.numAttentionHeads, quantChannels: nil)
        normOut = try VQGroupNorm(&w, "\(p).norm_out", channels: blockIn)
        convOut = try VQConv2d(&w, "\(p).conv_out", in: blockIn, out: c.latentChannels, kernel: 3)
        temporalDownsamples = try (0..<c.temporalStages).map {
            try VQCausalConv3d(&w, "\(p).time_conv.\($0).conv.conv", in: c.latentChannels, out: c.latentChannels,
                               kernel: (4, 3, 3), stride: (2, 1, 1))
        }
        temporalBlocks = try (0..<c.numResBlocks).map {
            try VQTemporalResnetBlock(&w, "\(p).time_res_stack.\($0)", channels: c.latentChannels)
        }
    }

    /// The per-frame stage: frames [N, 3, H, W] -> latents [N, latent, H/f, W/f].
    func encodeFrames(_ x: Tensor) -> Tensor {
        var h = convIn(x)
        for level in levels {
            for (j, block) in level.blocks.enumerated() {
                h = block(h)
                if !level.attentions.isEmpty { h = level.attentions[j](h) }
            }
            if let downsample = level.downsample { h = downsample(h) }
        }
        h = middle(h)
        return convOut(normOut(h).silu())
    }

    /// The temporal stage: a clip [1, latent, T, h, w] -> [1, latent, T/factor, h, w].
    func encodeTime(_ clip: Tensor) -> Tensor {
        var h = clip
        for conv in temporalDownsamples { h = conv(h).silu() }
        for block in temporalBlocks { h = block(h) }
        return h
    }
}
