import EmuTensor

/// ResNet block over frames [N, C, H, W]: norm, SiLU, 3x3 conv, norm, SiLU, 3x3 conv, plus the
/// input (through a 1x1 conv when the width changes). Decoder blocks use spatial norms.
struct VQResnetBlock: Sendable {
    let norm1, norm2: VQNorm
    let conv1, conv2: VQConv2d
    let shortcut: VQConv2d?

    init(_ w: inout VQWeightReader, _ prefix: String, in inChannels: Int, out outChannels: Int,
         quantChannels: Int?) throws {
        norm1 = try VQNorm(&w, prefix + ".norm1", channels: inChannels, quantChannels: quantChannels)
        conv1 = try VQConv2d(&w, prefix + ".conv1", in: inChannels, out: outChannels, kernel: 3)
        norm2 = try VQNorm(&w, prefix + ".norm2", channels: outChannels, quantChannels: quantChannels)
        conv2 = try VQConv2d(&w, prefix + ".conv2", in: outChannels, out: outChannels, kernel: 3)
        shortcut = inChannels == outChannels
            ? nil : try VQConv2d(&w, prefix + ".nin_shortcut", in: inChannels, out: outChannels, kernel: 1)
    }

    func callAsFunction(_ x: Tensor, _ quant: QuantizedLatent? = nil) -> Tensor {
        var h = conv1(norm1(x, quant).silu())
        h = conv2(norm2(h, quant).silu())
        return (shortcut.map { $0(x) } ?? x).adding(h)
    }
}

/// A norm followed by self-attention, added to its input (the attention "stage" that follows a
/// ResNet block at attention levels, and the middle block's attention).
struct VQAttentionStage: Sendable {
    let norm: VQNorm
    let attention: VQAttention

    init(_ w: inout VQWeightReader, norm normPrefix: String, attention attentionPrefix: String,
         channels: Int, heads: Int, quantChannels: Int?) throws {
        norm = try VQNorm(&w, normPrefix, channels: channels, quantChannels: quantChannels)
        attention = try VQAttention(&w, attentionPrefix, channels: channels, heads: heads)
    }

    func callAsFunction(_ x: Tensor, _ quant: QuantizedLatent? = nil) -> Tensor {
        x.adding(attention(norm(x, quant)))
    }
}

/// Middle block: ResNet, attention, ResNet at the lowest resolution.
struct VQMiddleBlock: Sendable {
    let block1, block2: VQResnetBlock
    let attention: VQAttentionStage

    init(_ w: inout VQWeightReader, _ prefix: String, channels: Int, heads: Int, quantChannels: Int?) throws {
        block1 = try VQResnetBlock(&w, prefix + ".block_1", in: channels, out: channels, quantChannels: quantChannels)
        attention = try VQAttentionStage(&w, norm: prefix + ".attn_norm", attention: prefix + ".attn_1",
                                         channels: channels, heads: heads, quantChannels: quantChannels)
        block2 = try VQResnetBlock(&w, prefix + ".block_2", in: channels, out: channels, quantChannels: quantChannels)
    }

    func callAsFunction(_ x: Tensor, _ quant: QuantizedLatent? = nil) -> Tensor {
        block2(attention(block1(x, quant), quant), quant)
    }
}

/// ResNet block over a clip [N, C, T, H, W] with BatchNorm and causal 3x3x3 convolutions.
struct VQTemporalResnetBlock: Sendable {
    let norm1, norm2: VQBatchNorm
    let conv1, conv2: VQCausalConv3d

    init(_ w: inout VQWeightReader, _ prefix: String, channels: Int) throws {
        norm1 = try VQBatchNorm(&w, prefix + ".norm1", channels: channels)
        conv1 = try VQCausalConv3d(&w, prefix + ".conv1.conv", in: channels, out: channels, kernel: (3, 3, 3))
        norm2 = try VQBatchNorm(&w, prefix + ".norm2", channels: channels)
        conv2 = try VQCausalConv3d(&w, prefix + ".conv2.conv", in: channels, out: channels, kernel: (3, 3, 3))
    }

    func callAsFunction(_ x: Tensor) -> Tensor {
        x.adding(conv2(norm2(conv1(norm1(x).silu())).silu()))
    }
}
