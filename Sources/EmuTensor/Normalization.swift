import Foundation

/// Softmax and the norms. Reductions accumulate in float32 over the normalized axis.
extension Tensor {
    /// Softmax over the last axis.
    public func softmax() -> Tensor {
        let n = shape[rank - 1], rows = count / max(n, 1)
        let x = to(.float32)
        let out = Tensor(zeros: shape)
        let src = x.floats, dst = out.mutableFloats
        for r in 0..<rows {
            var m = -Float.infinity
            for i in 0..<n { m = max(m, src[r * n + i]) }
            var s: Float = 0
            for i in 0..<n { let e = Foundation.exp(src[r * n + i] - m); dst[r * n + i] = e; s += e }
            for i in 0..<n { dst[r * n + i] /= s }
        }
        let y = out
        return Autograd.record(out, inputs: [self]) { g in
            // dx = y * (g - sum(g*y))
            let gy = g.multiplying(y)
            let rowSum = gy.sumLastAxis(keepingDimension: true)
            return [y.multiplying(g.subtracting(rowSum))]
        }
    }

    /// log(softmax(x)) over the last axis, computed stably.
    public func logSoftmax() -> Tensor {
        let n = shape[rank - 1], rows = count / max(n, 1)
        let x = to(.float32)
        let out = Tensor(zeros: shape)
        let src = x.floats, dst = out.mutableFloats
        for r in 0..<rows {
            var m = -Float.infinity
            for i in 0..<n { m = max(m, src[r * n + i]) }
            var s: Float = 0
            for i in 0..<n { s += Foundation.exp(src[r * n + i] - m) }
            let lse = m + Foundation.log(s)
            for i in 0..<n { dst[r * n + i] = src[r * n + i] - lse }
        }
        let y = out
        return Autograd.record(out, inputs: [self]) { g in
            let p = y.mapFloats { Foundation.exp($0) }
            return [g.subtracting(p.multiplying(g.sumLastAxis(keepingDimension: true)))]
        }
    }

    /// Sum over the last axis.
    public func sumLastAxis(keepingDimension: Bool = false) -> Tensor {
        let n = shape[rank - 1], rows = count / max(n, 1)
        let x = to(.float32)
        let outShape = keepingDimension ? Array(shape.dropLast()) + [1] : Array(shape.dropLast())
        let out = Tensor(zeros: outShape)
        let src = x.floats, dst = out.mutableFloats
        for r in 0..<rows { var s: Float = 0; for i in 0..<n { s += src[r * n + i] }; dst[r] = s }
        let full = shape
        return Autograd.record(out, inputs: [self]) { g in
            [Tensor(zeros: full).adding(g.reshaped(Array(full.dropLast()) + [1]))]
        }
    }

    /// RMSNorm over the last axis: x / sqrt(mean(x^2) + eps) * weight (Llama, eps 1e-5 in Emu3).
    public func rmsNorm(weight: Tensor, epsilon: Float) -> Tensor {
        let n = shape[rank - 1], rows = count / max(n, 1)
        let x = to(.float32), w = weight.to(.float32)
        let out = Tensor(zeros: shape)
        let src = x.floats, ws = w.floats, dst = out.mutableFloats
        for r in 0..<rows {
            var ss: Float = 0
            for i in 0..<n { ss += src[r * n + i] * src[r * n + i] }
            let inv = 1 / (ss / Float(n) + epsilon).squareRoot()
            for i in 0..<n { dst[r * n + i] = src[r * n + i] * inv * ws[i] }
        }
        let (xd, wd) = (x.detached(), w.detached())
        return Autograd.record(out, inputs: [self, weight]) { g in
            // With u = x * inv: dw = sum_rows(g * u); dx = inv * (g*w - u * mean(g*w*u)).
            let ms = xd.multiplying(xd).sumLastAxis(keepingDimension: true).scaled(by: 1 / Float(n))
            let inv = ms.mapFloats { 1 / ($0 + epsilon).squareRoot() }
            let u = xd.multiplying(inv)
            let gw = g.multiplying(wd)
            let dotMean = gw.multiplying(u).sumLastAxis(keepingDimension: true).scaled(by: 1 / Float(n))
            let dx = inv.multiplying(gw.subtracting(u.multiplying(dotMean)))
            let dw = g.multiplying(u).summed(toShape: wd.shape)
            return [dx, dw]
        }
    }

    /// GroupNorm over [N, C, ...]: statistics per (sample, group of C/groups channels).
    public func groupNorm(groups: Int, weight: Tensor?, bias: Tensor?, epsilon: Float) -> Tensor {
        let n = shape[0], c = shape[1]
        precondition(c % groups == 0, "groupNorm: \(c) channels not divisible by \(groups) groups")
        let spatial = count / max(n * c, 1)
        let groupSize = c / groups * spatial
        let x = to(.float32)
        let out = Tensor(zeros: shape)
        let src = x.floats, dst = out.mutableFloats
        let ws = weight?.to(.float32), bs = bias?.to(.float32)
        for s in 0..<n {
            for gi in 0..<groups {
                let base = (s * c + gi * (c / groups)) * spatial
                var mean: Double = 0
                for i in 0..<groupSize { mean += Double(src[base + i]) }
                mean /= Double(groupSize)
                var variance: Double = 0
                for i in 0..<groupSize { let d = Double(src[base + i]) - mean; variance += d * d }
                variance /= Double(groupSize)
                let inv = Float(1 / (variance + Double(epsilon)).squareRoot())
                for ch in 0..<(c / groups) {
                    let channel = gi * (c / groups) + ch
                    let scale = ws.map { $0.floats[channel] } ?? 1
                    let shift = bs.map { $0.floats[channel] } ?? 0
                    for i in 0..<spatial {
                        let idx = base + ch * spatial + i
                        dst[idx] = (src[idx] - Float(mean)) * inv * scale + shift
                    }
                }
            }
        }
        return out
    }

    /// BatchNorm in inference mode over channel dim 1, with running statistics.
    public func batchNorm(mean: Tensor, variance: Tensor, weight: Tensor?, bias: Tensor?, epsilon: Float) -> Tensor {
        let c = shape[1]
        var shapeC = [Int](repeating: 1, count: rank)
        shapeC[1] = c
        let inv = variance.to(.float32).mapFloats { 1 / ($0 + epsilon).squareRoot() }
        var scale = inv
        if let weight { scale = scale.multiplying(weight) }
        var shift = mean.to(.float32).multiplying(scale).scaled(by: -1)
        if let bias { shift = shift.adding(bias) }
        return multiplying(scale.reshaped(shapeC)).adding(shift.reshaped(shapeC))
    }
}
