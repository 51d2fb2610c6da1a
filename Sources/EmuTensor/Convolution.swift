import CEmuKernels

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

    /// Column blocks are limited to this many floats (bounded memory for large images).
    static let convColumnBudget = 1 << 22

    /// 3D convolution: input [N, C, T, H, W], weight [O, C, kt, kh, kw], bias [O].
    /// Runs as im2col over blocks of output positions followed by a GEMM per block; a 1x1x1
    /// kernel with unit stride and no padding multiplies the input directly.
    public func conv3d(weight: Tensor, bias: Tensor? = nil, stride: (Int, Int, Int) = (1, 1, 1),
                       padding: ConvPadding = .init()) -> Tensor {
        precondition(rank == 5 && weight.rank == 5 && weight.shape[1] == shape[1],
                     "conv3d: input \(shape) does not match weight \(weight.shape)")
        let (n, c, t, h, w) = (shape[0], shape[1], shape[2], shape[3], shape[4])
        let (o, kt, kh, kw) = (weight.shape[0], weight.shape[2], weight.shape[3], weight.shape[4])
        let tp = t + padding.front + padding.back, hp = h + padding.top + padding.bottom, wp = w + padding.left + padding.right
        let tOut = (tp - kt) / stride.0 + 1, ho = (hp - kh) / stride.1 + 1, wo = (wp - kw) / stride.2 + 1
        precondition(tp >= kt && hp >= kh && wp >= kw && tOut > 0 && ho > 0 && wo > 0,
                     "conv3d: kernel larger than padded input \(shape)")
        var geometry = emu_conv_geometry(c: c, t: t, h: h, w: w, kt: kt, kh: kh, kw: kw,
                                         st: stride.0, sh: stride.1, sw: stride.2,
                                         pf: padding.front, pt: padding.top, pl: padding.left,
                                         to: tOut, ho: ho, wo: wo)
        let x = to(.float32), wt = weight.to(.float32), bs = bias?.to(.float32)
        let positions = tOut * ho * wo, ck = c * kt * kh * kw
        let direct = kt == 1 && kh == 1 && kw == 1 && stride == (1, 1, 1) && padding == ConvPadding()
        let block = direct ? positions : max(16, min(positions, Tensor.convColumnBudget / max(ck, 1)))
        let out = Tensor(uninitialized: [n, o, tOut, ho, wo])
        let cols = direct ? nil : Tensor(uninitialized: [ck * block])
        withExtendedLifetime((x, wt, bs, cols)) {
            for b in 0..<n {
                let xb = x.floatPointer + b * c * t * h * w, yb = out.mutableFloatPointer + b * o * positions
                var p0 = 0
                while p0 < positions {
                    let count = min(block, positions - p0)
                    let source: UnsafeMutablePointer<Float>, ld: Int
                    if let cols {
                        emu_im2col(&geometry, xb, p0, count, cols.mutableFloatPointer)
                        (source, ld) = (cols.mutableFloatPointer, count)
                    } else {
                        (source, ld) = (xb + p0, positions)
                    }
                    Kernels.gemm(m: o, n: count, k: ck, a: wt.floatPointer, lda: ck, transposeA: false,
                                 b: source, ldb: ld, transposeB: false, c: yb + p0, ldc: positions, accumulate: false)
                    p0 += count
                }
                if let bs {
                    for oc in 0..<o {
                        emu_binary_vs(Int32(EMU_ADD), yb + oc * positions, bs.floatPointer[oc], yb + oc * positions, positions)
                    }
                }
            }
        }
        var inputs = [self, weight]
        if let bias { inputs.append(bias) }
        let hasBias = bias != nil
        let inputShape = shape, weightShape = weight.shape
        return Autograd.record(out, inputs: inputs) { g in
            let gf = g.to(.float32)
            let dx = Tensor(zeros: inputShape), dw = Tensor(zeros: weightShape), db = Tensor(zeros: [o])
            let cols = direct ? nil : Tensor(uninitialized: [ck * block])
            let dcols = direct ? nil : Tensor(uninitialized: [ck * block])
            withExtendedLifetime((gf, x, wt, cols, dcols)) {
                for b in 0..<n {
                    let xb = x.floatPointer + b * c * t * h * w, gb = gf.floatPointer + b * o * positions
                    let dxb = dx.mutableFloatPointer + b * c * t * h * w
                    var p0 = 0
                    while p0 < positions {
                        let count = min(block, positions - p0)
                        if let cols, let dcols {
                            emu_im2col(&geometry, xb, p0, count, cols.mutableFloatPointer)
                            // dW += g[:, block] cols^T; dcols = W^T g[:, block]; dx += col2im(dcols).
                            Kernels.gemm(m: o, n: ck, k: count, a: gb + p0, lda: positions, transposeA: false,
                                         b: cols.floatPointer, ldb: count, transposeB: true,
                                         c: dw.mutableFloatPointer, ldc: ck, accumulate: true)
                            Kernels.gemm(m: ck, n: count, k: o, a: wt.floatPointer, lda: ck, transposeA: true,
                                         b: gb + p0, ldb: positions, transposeB: false,
                                         c: dcols.mutableFloatPointer, ldc: count, accumulate: false)
                            emu_col2im(&geometry, dcols.floatPointer, p0, count, dxb)
                        } else {
                            Kernels.gemm(m: o, n: ck, k: count, a: gb + p0, lda: positions, transposeA: false,
                                         b: xb + p0, ldb: positions, transposeB: true,
                                         c: dw.mutableFloatPointer, ldc: ck, accumulate: true)
                            Kernels.gemm(m: ck, n: count, k: o, a: wt.floatPointer, lda: ck, transposeA: true,
                                         b: gb + p0, ldb: positions, transposeB: false,
                                         c: dxb + p0, ldc: positions, accumulate: false)
                        }
                        p0 += count
                    }
                    if hasBias {
                        for oc in 0..<o { db.mutableFloatPointer[oc] += Float(emu_sum(gb + oc * positions, positions)) }
                    }
                }
            }
            var grads: [Tensor?] = [dx, dw]
            if hasBias { grads.append(db) }
            return grads
        }
    }

    /// Nearest-neighbour upsampling of [N, C, T, H, W] (or [N, C, H, W] with `temporal` 1).
    public func upsampledNearest(temporal: Int = 1, spatial: Int) -> Tensor {
        let is4D = rank == 4
        precondition((rank == 5 || (is4D && temporal == 1)) && temporal >= 1 && spatial >= 1, "upsampledNearest on \(shape)")
        let dims5 = is4D ? [shape[0], shape[1], 1, shape[2], shape[3]] : shape
        let (n, c, t, h, w) = (dims5[0], dims5[1], dims5[2], dims5[3], dims5[4])
        let (t2, h2, w2) = (t * temporal, h * spatial, w * spatial)
        let x = to(.float32)
        let out = Tensor(uninitialized: is4D ? [n, c, h2, w2] : [n, c, t2, h2, w2])
        let src = x.floatPointer, dst = out.mutableFloatPointer
        withExtendedLifetime(x) {
            for nc in 0..<(n * c) { for it in 0..<t { for ih in 0..<h {
                // Widen one input row, then copy it to the other output rows it covers.
                let first = dst + ((nc * t2 + it * temporal) * h2 + ih * spatial) * w2
                let row = src + ((nc * t + it) * h + ih) * w
                for iw in 0..<w { for s in 0..<spatial { first[iw * spatial + s] = row[iw] } }
                for dt in 0..<temporal { for dh in 0..<spatial where dt > 0 || dh > 0 {
                    (first + (dt * h2 + dh) * w2).update(from: first, count: w2)
                } }
            } } }
        }
        let inputShape = shape
        return Autograd.record(out, inputs: [self]) { g in
            let gf = g.to(.float32)
            let dx = Tensor(zeros: inputShape)
            let gs = gf.floatPointer, ds = dx.mutableFloatPointer
            withExtendedLifetime(gf) {
                for nc in 0..<(n * c) { for ot in 0..<t2 { for oh in 0..<h2 {
                    let row = gs + ((nc * t2 + ot) * h2 + oh) * w2
                    let target = ds + ((nc * t + ot / temporal) * h + oh / spatial) * w
                    for ow in 0..<w2 { target[ow / spatial] += row[ow] }
                } } }
            }
            return [dx]
        }
    }
}
