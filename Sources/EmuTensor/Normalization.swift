import Foundation
import CEmuKernels

/// Softmax and the norms. Reductions accumulate in float32 over the normalized axis.
extension Tensor {
    /// Softmax over the last axis.
    public func softmax() -> Tensor {
        let n = shape[rank - 1], rows = count / max(n, 1)
        let x = to(.float32)
        let out = Tensor(uninitialized: shape)
        withExtendedLifetime(x) { emu_softmax_rows(x.floatPointer, out.mutableFloatPointer, rows, n) }
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
        let out = Tensor(uninitialized: shape)
        withExtendedLifetime(x) { emu_log_softmax_rows(x.floatPointer, out.mutableFloatPointer, rows, n) }
        let y = out
        return Autograd.record(out, inputs: [self]) { g in
            let p = y.unary(Int32(EMU_EXP))
            return [g.subtracting(p.multiplying(g.sumLastAxis(keepingDimension: true)))]
        }
    }

    /// Sum over the last axis.
    public func sumLastAxis(keepingDimension: Bool = false) -> Tensor {
        let n = shape[rank - 1], rows = count / max(n, 1)
        let x = to(.float32)
        let outShape = keepingDimension ? Array(shape.dropLast()) + [1] : Array(shape.dropLast())
        let out = Tensor(uninitialized: outShape)
        let src = x.floatPointer, dst = out.mutableFloatPointer
        withExtendedLifetime(x) { for r in 0..<rows { dst[r] = Float(emu_sum(src + r * n, n)) } }
        let full = shape
        return Autograd.record(out, inputs: [self]) { g in
            [Tensor(zeros: full).adding(g.reshaped(Array(full.dropLast()) + [1]))]
        }
    }

    /// RMSNorm over the last axis: x / sqrt(mean(x^2) + eps) * weight (Llama, eps 1e-5 in Emu3).
    public func rmsNorm(weight: Tensor, epsilon: Float) -> Tensor {
        let n = shape[rank - 1], rows = count / max(n, 1)
        let x = to(.float32), w = weight.to(.float32)
        precondition(w.count == n, "rmsNorm: weight \(weight.shape) for rows of \(n)")
        let out = Tensor(uninitialized: shape)
        withExtendedLifetime((x, w)) {
            emu_rms_norm_rows(x.floatPointer, w.floatPointer, out.mutableFloatPointer, rows, n, epsilon)
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
        let perGroup = c / groups
        let x = to(.float32)
        let ws = weight?.to(.float32), bs = bias?.to(.float32)
        let out = Tensor(uninitialized: shape)
        var means = [Float](repeating: 0, count: n * groups), invs = means
        let src = x.floatPointer, dst = out.mutableFloatPointer
        withExtendedLifetime((x, ws, bs)) {
            emu_group_stats(src, n * groups, perGroup * spatial, epsilon, &means, &invs)
            for s in 0..<n { for ch in 0..<c {
                let group = s * groups + ch / perGroup
                let scale = invs[group] * (ws.map { $0.floatPointer[ch] } ?? 1)
                let shift = (bs.map { $0.floatPointer[ch] } ?? 0) - means[group] * scale
                let base = (s * c + ch) * spatial
                emu_binary_vs(Int32(EMU_MUL), src + base, scale, dst + base, spatial)
                emu_binary_vs(Int32(EMU_ADD), dst + base, shift, dst + base, spatial)
            } }
        }
        var inputs = [self]
        if let weight { inputs.append(weight) }
        if let bias { inputs.append(bias) }
        let (hasWeight, hasBias) = (weight != nil, bias != nil)
        return Autograd.record(out, inputs: inputs) { g in
            let gf = g.to(.float32)
            let dx = Tensor(uninitialized: x.shape)
            let dw = Tensor(zeros: [c]), db = Tensor(zeros: [c])
            let gs = gf.floatPointer, dxs = dx.mutableFloatPointer
            let dws = dw.mutableFloatPointer, dbs = db.mutableFloatPointer
            withExtendedLifetime((gf, x, ws, dx, dw, db)) {
                for s in 0..<n { for gi in 0..<groups {
                    let group = s * groups + gi
                    let (mean, inv) = (means[group], invs[group])
                    // With xhat = (x - mean) * inv and h = g * w:
                    // dx = inv * (h - mean(h) - xhat * mean(h * xhat)).
                    var sumH: Double = 0, sumHX: Double = 0
                    for ch in (gi * perGroup)..<((gi + 1) * perGroup) {
                        let wv = ws.map { $0.floatPointer[ch] } ?? 1
                        let base = (s * c + ch) * spatial
                        var sg: Float = 0, sgx: Float = 0
                        for i in 0..<spatial {
                            let xhat = (src[base + i] - mean) * inv
                            sg += gs[base + i]; sgx += gs[base + i] * xhat
                        }
                        dbs[ch] += sg; dws[ch] += sgx
                        sumH += Double(sg * wv); sumHX += Double(sgx * wv)
                    }
                    let size = Double(perGroup * spatial)
                    let meanH = Float(sumH / size), meanHX = Float(sumHX / size)
                    for ch in (gi * perGroup)..<((gi + 1) * perGroup) {
                        let wv = ws.map { $0.floatPointer[ch] } ?? 1
                        let base = (s * c + ch) * spatial
                        for i in 0..<spatial {
                            let xhat = (src[base + i] - mean) * inv
                            dxs[base + i] = inv * (gs[base + i] * wv - meanH - xhat * meanHX)
                        }
                    }
                } }
            }
            var grads: [Tensor?] = [dx]
            if hasWeight { grads.append(dw) }
            if hasBias { grads.append(db) }
            return grads
        }
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
