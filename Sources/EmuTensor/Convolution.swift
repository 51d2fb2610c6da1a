/// Convolutions and nearest upsampling over NC(T)HW tensors.

/// Zero padding on each side of the spatial (and temporal) dims; asymmetric padding allowed.
public struct ConvPadding: Sendable, Equatable {
    public var front = 0, back = 0, top = 0, bottom = 0, left = 0, right = 0
    public init(front: Int = 0, back: Int = 0, top: Int = 0, bottom: Int = 0, left: Int = 0, right: Int = 0) {
        (self.front, self.back, self.top, self.bottom, self.left, self.right) = (front, back, top, bottom, left, right)
    }
    /// The same padding on every spatial side (and none in time).
    public static func spatial(_ p: Int) -> ConvPadding { ConvPadding(top: p, bottom: p, left: p, right: p) }
}

extension Tensor {
    /// 2D convolution: input [N, C, H, W], weight [O, C, kh, kw], bias [O].
    public func conv2d(weight: Tensor, bias: Tensor? = nil, stride: Int = 1, padding: ConvPadding = .init()) -> Tensor {
        precondition(rank == 4 && weight.rank == 4, "conv2d: input \(shape), weight \(weight.shape)")
        let x5 = reshaped([shape[0], shape[1], 1, shape[2], shape[3]])
        let w5 = weight.reshaped([weight.shape[0], weight.shape[1], 1, weight.shape[2], weight.shape[3]])
        var p = padding
        p.front = 0; p.back = 0
        let y = x5.conv3d(weight: w5, bias: bias, stride: (1, stride, stride), padding: p)
        return y.reshaped([y.shape[0], y.shape[1], y.shape[3], y.shape[4]])
    }

    /// 3D convolution: input [N, C, T, H, W], weight [O, C, kt, kh, kw], bias [O].
    public func conv3d(weight: Tensor, bias: Tensor? = nil, stride: (Int, Int, Int) = (1, 1, 1),
                       padding: ConvPadding = .init()) -> Tensor {
        precondition(rank == 5 && weight.rank == 5 && weight.shape[1] == shape[1],
                     "conv3d: input \(shape) does not match weight \(weight.shape)")
        let (n, c, t, h, w) = (shape[0], shape[1], shape[2], shape[3], shape[4])
        let (o, kt, kh, kw) = (weight.shape[0], weight.shape[2], weight.shape[3], weight.shape[4])
        let tp = t + padding.front + padding.back, hp = h + padding.top + padding.bottom, wp = w + padding.left + padding.right
        let tOut = (tp - kt) / stride.0 + 1, ho = (hp - kh) / stride.1 + 1, wo = (wp - kw) / stride.2 + 1
        precondition(tOut > 0 && ho > 0 && wo > 0, "conv3d: kernel larger than padded input \(shape)")
        let x = to(.float32), wt = weight.to(.float32)
        let out = Tensor(zeros: [n, o, tOut, ho, wo])
        let src = x.floats, ws = wt.floats, dst = out.mutableFloats
        let bs = bias?.to(.float32)
        for b in 0..<n { for oc in 0..<o {
            let bv = bs.map { $0.floats[oc] } ?? 0
            for ot in 0..<tOut { for oh in 0..<ho { for ow in 0..<wo {
                var acc: Float = 0
                for ic in 0..<c { for dt in 0..<kt {
                    let it = ot * stride.0 + dt - padding.front
                    if it < 0 || it >= t { continue }
                    for dh in 0..<kh {
                        let ih = oh * stride.1 + dh - padding.top
                        if ih < 0 || ih >= h { continue }
                        for dw in 0..<kw {
                            let iw = ow * stride.2 + dw - padding.left
                            if iw < 0 || iw >= w { continue }
                            let si: Int = (((b * c + ic) * t + it) * h + ih) * w + iw
                            let wi: Int = (((oc * c + ic) * kt + dt) * kh + dh) * kw + dw
                            acc += src[si] * ws[wi]
                        }
                    }
                } }
                dst[(((b * o + oc) * tOut + ot) * ho + oh) * wo + ow] = acc + bv
            } } }
        } }
        return out
    }

    /// Nearest-neighbour upsampling of [N, C, T, H, W] (or [N, C, H, W] with `temporal` 1).
    public func upsampledNearest(temporal: Int = 1, spatial: Int) -> Tensor {
        let is4D = rank == 4
        let x5 = is4D ? reshaped([shape[0], shape[1], 1, shape[2], shape[3]]) : self
        precondition(x5.rank == 5 && (!is4D || temporal == 1), "upsampledNearest on \(shape)")
        let (n, c, t, h, w) = (x5.shape[0], x5.shape[1], x5.shape[2], x5.shape[3], x5.shape[4])
        let (t2, h2, w2) = (t * temporal, h * spatial, w * spatial)
        let x = x5.to(.float32)
        let out = Tensor(zeros: [n, c, t2, h2, w2])
        let src = x.floats, dst = out.mutableFloats
        for nc in 0..<(n * c) { for ot in 0..<t2 { for oh in 0..<h2 { for ow in 0..<w2 {
            dst[((nc * t2 + ot) * h2 + oh) * w2 + ow] = src[((nc * t + ot / temporal) * h + oh / spatial) * w + ow / spatial]
        } } } }
        return is4D ? out.reshaped([n, c, h2, w2]) : out
    }
}
