import Foundation

/// Elementwise arithmetic with NumPy broadcasting, and the activations.
extension Tensor {
    /// The broadcast shape of two shapes, or nil when they do not broadcast.
    public static func broadcastShape(_ a: [Int], _ b: [Int]) -> [Int]? {
        let r = max(a.count, b.count)
        var out = [Int](repeating: 1, count: r)
        for i in 0..<r {
            let da = i < r - a.count ? 1 : a[i - (r - a.count)]
            let db = i < r - b.count ? 1 : b[i - (r - b.count)]
            if da != db && da != 1 && db != 1 { return nil }
            out[i] = max(da, db)
        }
        return out
    }

    /// Sums `self` down to `target` shape (the adjoint of broadcasting).
    public func summed(toShape target: [Int]) -> Tensor {
        if shape == target { return self }
        let x = to(.float32)
        let out = Tensor(zeros: target)
        let r = shape.count
        let padded = [Int](repeating: 1, count: r - target.count) + target
        let strides = Tensor.contiguousStrides(padded)
        let src = x.floats, dst = out.mutableFloats
        var index = [Int](repeating: 0, count: r)
        for i in 0..<count {
            var o = 0
            for d in 0..<r where padded[d] != 1 { o += index[d] * strides[d] }
            dst[o] += src[i]
            var d = r - 1
            while d >= 0 { index[d] += 1; if index[d] < shape[d] { break }; index[d] = 0; d -= 1 }
        }
        return out
    }

    public static func contiguousStrides(_ shape: [Int]) -> [Int] {
        var strides = [Int](repeating: 1, count: shape.count)
        var s = 1
        for d in stride(from: shape.count - 1, through: 0, by: -1) { strides[d] = s; s *= shape[d] }
        return strides
    }

    /// Applies `op` elementwise over the broadcast of `a` and `b` (float32 result).
    static func broadcastBinary(_ a: Tensor, _ b: Tensor, _ op: (Float, Float) -> Float) -> Tensor {
        guard let outShape = broadcastShape(a.shape, b.shape) else {
            preconditionFailure("shapes \(a.shape) and \(b.shape) do not broadcast")
        }
        let x = a.to(.float32), y = b.to(.float32)
        let out = Tensor(zeros: outShape)
        let dst = out.mutableFloats, xs = x.floats, ys = y.floats
        if x.shape == y.shape {
            for i in 0..<dst.count { dst[i] = op(xs[i], ys[i]) }
            return out
        }
        if y.count == 1 { let v = ys[0]; for i in 0..<dst.count { dst[i] = op(xs[i], v) }; return out }
        let r = outShape.count
        func stridesFor(_ s: [Int]) -> [Int] {
            let p = [Int](repeating: 1, count: r - s.count) + s
            let c = contiguousStrides(p)
            return (0..<r).map { p[$0] == 1 ? 0 : c[$0] }
        }
        let sa = stridesFor(x.shape), sb = stridesFor(y.shape)
        var index = [Int](repeating: 0, count: r)
        var ia = 0, ib = 0
        for i in 0..<dst.count {
            dst[i] = op(xs[ia], ys[ib])
            var d = r - 1
            while d >= 0 {
                index[d] += 1; ia += sa[d]; ib += sb[d]
                if index[d] < outShape[d] { break }
                ia -= sa[d] * outShape[d]; ib -= sb[d] * outShape[d]; index[d] = 0; d -= 1
            }
        }
        return out
    }

    public func adding(_ other: Tensor) -> Tensor {
        let out = Tensor.broadcastBinary(self, other, +)
        let (sa, sb) = (shape, other.shape)
        return Autograd.record(out, inputs: [self, other]) { g in [g.summed(toShape: sa), g.summed(toShape: sb)] }
    }

    public func subtracting(_ other: Tensor) -> Tensor {
        let out = Tensor.broadcastBinary(self, other, -)
        let (sa, sb) = (shape, other.shape)
        return Autograd.record(out, inputs: [self, other]) { g in [g.summed(toShape: sa), g.scaled(by: -1).summed(toShape: sb)] }
    }

    public func multiplying(_ other: Tensor) -> Tensor {
        let out = Tensor.broadcastBinary(self, other, *)
        let (a, b) = (self.detached(), other.detached())
        return Autograd.record(out, inputs: [self, other]) { g in
            [g.multiplying(b).summed(toShape: a.shape), g.multiplying(a).summed(toShape: b.shape)]
        }
    }

    public func scaled(by s: Float) -> Tensor {
        let x = to(.float32)
        let out = Tensor(zeros: shape)
        let src = x.floats, dst = out.mutableFloats
        for i in 0..<dst.count { dst[i] = src[i] * s }
        return Autograd.record(out, inputs: [self]) { g in [g.scaled(by: s)] }
    }

    public static func + (a: Tensor, b: Tensor) -> Tensor { a.adding(b) }
    public static func - (a: Tensor, b: Tensor) -> Tensor { a.subtracting(b) }
    public static func * (a: Tensor, b: Tensor) -> Tensor { a.multiplying(b) }
    public static func * (a: Tensor, s: Float) -> Tensor { a.scaled(by: s) }

    /// Maps each element (float32 result), no autograd: building block for activations.
    func mapFloats(_ f: (Float) -> Float) -> Tensor {
        let x = to(.float32)
        let out = Tensor(zeros: shape)
        let src = x.floats, dst = out.mutableFloats
        for i in 0..<dst.count { dst[i] = f(src[i]) }
        return out
    }

    public func sigmoid() -> Tensor {
        let out = mapFloats { 1 / (1 + Foundation.exp(-$0)) }
        let y = out
        return Autograd.record(out, inputs: [self]) { g in [g.multiplying(y.mapFloats { $0 * (1 - $0) })] }
    }

    /// x * sigmoid(x).
    public func silu() -> Tensor {
        let out = mapFloats { $0 / (1 + Foundation.exp(-$0)) }
        let x = detached()
        return Autograd.record(out, inputs: [self]) { g in
            [g.multiplying(x.mapFloats { let s = 1 / (1 + Foundation.exp(-$0)); return s * (1 + $0 * (1 - s)) })]
        }
    }

    /// Sum of all elements (a scalar).
    public func sum() -> Tensor {
        let x = to(.float32)
        var acc: Double = 0
        for v in x.floats { acc += Double(v) }
        let out = Tensor(scalar: Float(acc))
        let s = shape
        return Autograd.record(out, inputs: [self]) { g in [Tensor(zeros: s).adding(g.reshaped([]))] }
    }

    public func mean() -> Tensor { sum().scaled(by: 1 / Float(max(count, 1))) }
}
