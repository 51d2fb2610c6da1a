import EmuTensor

// The small layers of the vision tokenizer. Each holds its weights under the checkpoint's names
// (relative to a prefix) and is a pure function of its input.

/// `nn.Conv2d` over [N, C, H, W].
struct VQConv2d: Sendable {
    let weight: Tensor  // [out, in, k, k]
    let bias: Tensor    // [out]
    let stride: Int
    let padding: ConvPadding

    init(_ w: inout VQWeightReader, _ prefix: String, in inChannels: Int, out outChannels: Int,
         kernel: Int, stride: Int = 1, padding: ConvPadding? = nil) throws {
        weight = try w.take(prefix + ".weight", shape: [outChannels, inChannels, kernel, kernel])
        bias = try w.take(prefix + ".bias", shape: [outChannels])
        self.stride = stride
        self.padding = padding ?? .spatial(kernel / 2)
    }

    func callAsFunction(_ x: Tensor) -> Tensor {
        x.conv2d(weight: weight, bias: bias, stride: stride, padding: padding)
    }
}

/// transformers' `Emu3VQVAEConv3d`: a 3D convolution padded causally in time (two frames in front,
/// none behind, whatever the kernel) and "same" in space (the odd pixel goes before).
struct VQCausalConv3d: Sendable {
    let weight: Tensor  // [out, in, kt, kh, kw]
    let bias: Tensor
    let stride: (Int, Int, Int)
    let padding: ConvPadding

    init(_ w: inout VQWeightReader, _ prefix: String, in inChannels: Int, out outChannels: Int,
         kernel: (Int, Int, Int), stride: (Int, Int, Int) = (1, 1, 1)) throws {
        weight = try w.take(prefix + ".weight", shape: [outChannels, inChannels, kernel.0, kernel.1, kernel.2])
        bias = try w.take(prefix + ".bias", shape: [outChannels])
        self.stride = stride
        let ph = kernel.1 - stride.1, pw = kernel.2 - stride.2
        padding = ConvPadding(front: 2, back: 0, top: ph / 2 + ph % 2, bottom: ph / 2,
                              left: pw / 2 + pw % 2, right: pw / 2)
    }

    func callAsFunction(_ x: Tensor) -> Tensor {
        x.conv3d(weight: weight, bias: bias, stride: stride, padding: padding)
    }
}

/// GroupNorm(32 groups, eps 1e-6) with affine weights.
struct VQGroupNorm: Sendable {
    let weight: Tensor
    let bias: Tensor

    init(_ w: inout VQWeightReader, _ prefix: String, channels: Int) throws {
        weight = try w.take(prefix + ".weight", shape: [channels])
        bias = try w.take(prefix + ".bias", shape: [channels])
    }

    func callAsFunction(_ x: Tensor) -> Tensor {
        x.groupNorm(groups: 32, weight: weight, bias: bias, epsilon: 1e-6)
    }
}

/// MoVQ's spatial norm: GroupNorm, then a per-pixel scale and shift predicted (1x1 convs) from the
/// quantized latent, upsampled (nearest) to the feature's size.
struct VQSpatialNorm: Sendable {
    let norm: VQGroupNorm
    let convY: VQConv2d
    let convB: VQConv2d

    init(_ w: inout VQWeightReader, _ prefix: String, channels: Int, quantChannels: Int) throws {
        norm = try VQGroupNorm(&w, prefix + ".norm_layer", channels: channels)
        convY = try VQConv2d(&w, prefix + ".conv_y", in: quantChannels, out: channels, kernel: 1)
        convB = try VQConv2d(&w, prefix + ".conv_b", in: quantChannels, out: channels, kernel: 1)
    }

    /// x [N, C, H, W]; quant [N, E, H, W] already resized to x's size.
    func callAsFunction(_ x: Tensor, _ quant: Tensor) -> Tensor {
        norm(x).multiplying(convY(quant)).adding(convB(quant))
    }
}

/// The encoder's plain GroupNorm or the decoder's spatial norm.
enum VQNorm: Sendable {
    case group(VQGroupNorm)
    case spatial(VQSpatialNorm)

    init(_ w: inout VQWeightReader, _ prefix: String, channels: Int, quantChannels: Int?) throws {
        if let quantChannels {
            self = .spatial(try VQSpatialNorm(&w, prefix, channels: channels, quantChannels: quantChannels))
        } else {
            self = .group(try VQGroupNorm(&w, prefix, channels: channels))
        }
    }

    func callAsFunction(_ x: Tensor, _ quant: QuantizedLatent?) -> Tensor {
        switch self {
        case .group(let norm): return norm(x)
        case .spatial(let norm):
            guard let quant else { preconditionFailure("spatial norm without a quantized latent") }
            return norm(x, quant.resized(height: x.shape[2], width: x.shape[3]))
        }
    }
}

/// The quantized latent of each frame, [N, E, h, w], with its nearest-neighbour upsamplings to the
/// decoder's feature sizes computed once and shared by every spatial norm at that size.
final class QuantizedLatent: @unchecked Sendable {
    let base: Tensor
    private var cache: [Int: Tensor] = [:]

    init(_ base: Tensor) { self.base = base }

    /// `F.interpolate(size:, mode: "nearest")`; the decoder's sizes are the latent's times 2^k.
    func resized(height: Int, width: Int) -> Tensor {
        let (h, w) = (base.shape[2], base.shape[3])
        precondition(height % h == 0 && width % w == 0 && height / h == width / w,
                     "decoder feature \(height)x\(width) is not an integer upsampling of the latent \(h)x\(w)")
        let factor = height / h
        if factor == 1 { return base }
        if let cached = cache[factor] { return cached }
        let up = base.upsampledNearest(spatial: factor)
        cache[factor] = up
        return up
    }
}

/// BatchNorm3d in inference mode (eps 1e-5) with running statistics.
struct VQBatchNorm: Sendable {
    let weight, bias, runningMean, runningVariance: Tensor

    init(_ w: inout VQWeightReader, _ prefix: String, channels: Int) throws {
        weight = try w.take(prefix + ".weight", shape: [channels])
        bias = try w.take(prefix + ".bias", shape: [channels])
        runningMean = try w.take(prefix + ".running_mean", shape: [channels])
        runningVariance = try w.take(prefix + ".running_var", shape: [channels])
    }

    func callAsFunction(_ x: Tensor) -> Tensor {
        x.batchNorm(mean: runningMean, variance: runningVariance, weight: weight, bias: bias, epsilon: 1e-5)
    }
}

/// Self-attention over the pixels of each frame (`Emu3VQVAEAttentionBlock`): q, k, v and output
/// projections of width C, `heads` heads, scale 1/sqrt(C/heads), no mask.
struct VQAttention: Sendable {
    let query, key, value, output: (weight: Tensor, bias: Tensor)
    let heads: Int

    init(_ w: inout VQWeightReader, _ prefix: String, channels: Int, heads: Int) throws {
        guard channels % heads == 0 else {
            throw VisionTokenizerError.badConfiguration("attention width \(channels) is not divisible by \(heads) heads")
        }
        func projection(_ name: String) throws -> (weight: Tensor, bias: Tensor) {
            (try w.take("\(prefix).\(name).weight", shape: [channels, channels]),
             try w.take("\(prefix).\(name).bias", shape: [channels]))
        }
        query = try projection("q_proj")
        key = try projection("k_proj")
        value = try projection("v_proj")
        output = try projection("out_proj")
        self.heads = heads
    }

    /// x [N, C, H, W] -> [N, C, H, W] (the residual is added by the caller).
    func callAsFunction(_ x: Tensor) -> Tensor {
        let (n, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let d = c / heads
        let tokens = x.reshaped([n, c, h * w]).transposedLastTwo()  // [N, HW, C]
        func split(_ p: (weight: Tensor, bias: Tensor)) -> Tensor {
            tokens.linear(weight: p.weight, bias: p.bias).reshaped([n, h * w, heads, d]).permuted([0, 2, 1, 3])
        }
        let attended = Tensor.attention(query: split(query), key: split(key), value: split(value),
                                        causal: false, scale: 1 / Float(d).squareRoot())  // [N, heads, HW, d]
        let merged = attended.permuted([0, 2, 1, 3]).reshaped([n, h * w, c])
        return merged.linear(weight: output.weight, bias: output.bias).transposedLastTwo().reshaped([n, c, h, w])
    }
}
