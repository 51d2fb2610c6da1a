import CEmuKernels

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
        let dst = out.mutableFloatPointer, src = x.floatPointer
        withExtendedLifetime(x) {
            if let (outer, repeats, inner) = Tensor.blockPattern(padded, shape) {
                // src is [outer, repeats, inner]; out is [outer, inner].
                for o in 0..<outer {
                    for rep in 0..<repeats {
                        let s = src + (o * repeats + rep) * inner
                        emu_binary_vv(Int32(EMU_ADD), dst + o * inner, s, dst + o * inner, inner)
                    }
                }
                return
            }
            let strides = Tensor.contiguousStrides(padded)
            var index = [Int](repeating: 0, count: r)
            for i in 0..<count {
                var o = 0
                for d in 0..<r where padded[d] != 1 { o += index[d] * strides[d] }
                dst[o] += src[i]
                var d = r - 1
                while d >= 0 { index[d] += 1; if index[d] < shape[d] { break }; index[d] = 0; d -= 1 }
            }
        }
        return out
    }

    public static func contiguousStrides(_ shape: [Int]) -> [Int] {
        var strides = [Int](repeating: 1, count: shape.count)
        var s = 1
        for d in stride(from: shape.count - 1, through: 0, by: -1) { strides[d] = s; s *= shape[d] }
        return strides
    }

    /// `small` (padded to `full`'s rank) broadcasts as [outer, 1..., inner] against
    /// [outer, repeats, inner] where the 1s form one contiguous span: returns the three counts.
    static func blockPattern(_ small: [Int], _ full: [Int]) -> (Int, Int, Int)? {
        let differing = (0..<full.count).filter { small[$0] != full[$0] }
        guard let first = differing.first, let last = differing.last else { return nil }
        guard (first...last).allSatisfy({ small[$0] == 1 }) else { return nil }
        let outer = elementCount(Array(full[..<first]))
        let repeats = elementCount(Array(full[first...last]))
        let inner = elementCount(Array(full[(last + 1)...]))
        return (outer, repeats, inner)
    }

    /// `small` (padded) broadcasts as [outer..., 1, ...1] with trailing ones: each element of
    /// `small` covers `inner` consecutive elements, possibly after leading broadcast dims.
    static func scalarBlockPattern(_ small: [Int], _ full: [Int]) -> (Int, Int, Int)? {
        // Leading dims where small is 1 (repeats), then dims equal, then trailing ones.
        var d = 0
        while d < full.count && small[d] == 1 && full[d] != 1 { d += 1 }
        let lead = d
        while d < full.count && small[d] == full[d] { d += 1 }
        let mid = d
        while d < full.count && small[d] == 1 { d += 1 }
        guard d == full.count, mid > lead || lead > 0 else { return nil }
        let outer = elementCount(Array(full[..<mid]))
        let inner = elementCount(Array(full[mid...]))
        return (outer, elementCount(Array(full[..<lead])), inner)
    }

    /// Applies `op` elementwise over the broadcast of `a` and `b` (float32 result).
    static func broadcastBinary(_ a: Tensor, _ b: Tensor, _ op: Int32) -> Tensor {
        guard let outShape = broadcastShape(a.shape, b.shape) else {
            preconditionFailure("shapes \(a.shape) and \(b.shape) do not broadcast")
        }
        let x = a.to(.float32), y = b.to(.float32)
        let out = Tensor(uninitialized: outShape)
        let n = out.count
        let dst = out.mutableFloatPointer, xs = x.floatPointer, ys = y.floatPointer
        let r = outShape.count
        let pa = [Int](repeating: 1, count: r - x.rank) + x.shape
        let pb = [Int](repeating: 1, count: r - y.rank) + y.shape
        withExtendedLifetime((x, y)) {
            if pa == outShape && pb == outShape { emu_binary_vv(op, xs, ys, dst, n); return }
            if pa == outShape && y.count == 1 { emu_binary_vs(op, xs, ys[0], dst, n); return }
            if pb == outShape && x.count == 1 { emu_binary_sv(op, xs[0], ys, dst, n); return }
            if pa == outShape, let (outer, repeats, inner) = blockPattern(pb, outShape), inner >= 8 {
                for o in 0..<outer { for rep in 0..<repeats {
                    let i = (o * repeats + rep) * inner
                    emu_binary_vv(op, xs + i, ys + o * inner, dst + i, inner)
                } }
                return
            }
            if pb == outShape, let (outer, repeats, inner) = blockPattern(pa, outShape), inner >= 8 {
                for o in 0..<outer { for rep in 0..<repeats {
                    let i = (o * repeats + rep) * inner
                    emu_binary_vv(op, xs + o * inner, ys + i, dst + i, inner)
                } }
                return
            }
            if pa == outShape, let (outer, _, inner) = scalarBlockPattern(pb, outShape), inner >= 8 {
                for o in 0..<outer { emu_binary_vs(op, xs + o * inner, ys[o % y.count], dst + o * inner, inner) }
                return
            }
            if pb == outShape, let (outer, _, inner) = scalarBlockPattern(pa, outShape), inner >= 8 {
                for o in 0..<outer { emu_binary_sv(op, xs[o % x.count], ys + o * inner, dst + o * inner, inner) }
                return
            }
            // General strided walk.
            func stridesFor(_ p: [Int]) -> [Int] {
                let c = contiguousStrides(p)
                return (0..<r).map { p[$0] == 1 ? 0 : c[$0] }
            }
            let sa = stridesFor(pa), sb = stridesFor(pb)
            var index = [Int](repeating: 0, count: r)
            var ia = 0, ib = 0
            for i in 0..<n {
                let u = xs[ia], v = ys[ib]
                switch op {
                case Int32(EMU_ADD): dst[i] = u + v
                case Int32(EMU_SUB): dst[i] = u - v
                case Int32(EMU_MUL): dst[i] = u * v
                default: dst[i] = u / v
                }
                var d = r - 1
                while d >= 0 {
                    index[d] += 1; ia += sa[d]; ib += sb[d]
                    if index[d] < outShape[d] { break }
                    ia -= sa[d] * outShape[d]; ib -= sb[d] * outShape[d]; index[d] = 0; d -= 1
                }
            }
        }
        return out
    }

    public func adding(_ other: Tensor) -> Tensor {
        let out = Tensor.broadcastBinary(self, other, Int32(EMU_ADD))
        let (sa, sb) = (shape, other.shape)
        return Autograd.record(out, inputs: [self, other]) { g in [g.summed(toShape: sa), g.summed(toShape: sb)] }
    }

    public func subtracting(_ other: Tensor) -> Tensor {
        let out = Tensor.broadcastBinary(self, other, Int32(EMU_SUB))
        let (sa, sb) = (shape, other.shape)
        return Autograd.record(out, inputs: [self, other]) { g in [g.summed(toShape: sa), g.scaled(by: -1).summed(toShape: sb)] }
    }

    public func multiplying(_ other: Tensor) -> Tensor {
        let out = Tensor.broadcastBinary(self, other, Int32(EMU_MUL))
        let (a, b) = (self.detached(), other.detached())
        return Autograd.record(out, inputs: [self, other]) { g in
            [g.multiplying(b).summed(toShape: a.shape), g.multiplying(a).summed(toShape: b.shape)]
        }
    }

    /// Elementwise quotient with broadcasting.
    public func dividing(_ other: Tensor) -> Tensor {
        let out = Tensor.broadcastBinary(self, other, Int32(EMU_DIV))
        let (a, b) = (self.detached(), other.detached())
        return Autograd.record(out, inputs: [self, other]) { g in
            let gb = g.multiplying(a).dividing(b.multiplying(b)).scaled(by: -1)
            return [g.dividing(b).summed(toShape: a.shape), gb.summed(toShape: b.shape)]
        }
    }

    public func scaled(by s: Float) -> Tensor {
        let x = to(.float32)
        let out = Tensor(uninitialized: shape)
        withExtendedLifetime(x) { emu_scale(x.floatPointer, s, out.mutableFloatPointer, count) }
        return Autograd.record(out, inputs: [self]) { g in [g.scaled(by: s)] }
    }

    public static func + (a: Tensor, b: Tensor) -> Tensor { a.adding(b) }
    public static func - (a: Tensor, b: Tensor) -> Tensor { a.subtracting(b) }
    public static func * (a: Tensor, b: Tensor) -> Tensor { a.multiplying(b) }
    public static func * (a: Tensor, s: Float) -> Tensor { a.scaled(by: s) }
    public static func / (a: Tensor, b: Tensor) -> Tensor { a.dividing(b) }

    /// Maps each element (float32 result), no autograd: building block for activations.
    func mapFloats(_ f: (Float) -> Float) -> Tensor {
        let x = to(.float32)
        let out = Tensor(uninitialized: shape)
        let src = x.floats, dst = out.mutableFloats
        for i in 0..<dst.count { dst[i] = f(src[i]) }
        return out
    }

    /// A kernel unary op over the elements (float32 result), no autograd.
    func unary(_ op: Int32) -> Tensor {
        let x = to(.float32)
        let out = Tensor(uninitialized: shape)
        withExtendedLifetime(x) { emu_unary(op, x.floatPointer, out.mutableFloatPointer, count) }
        return out
    }

    public func sigmoid() -> Tensor {
        let out = unary(Int32(EMU_SIGMOID))
        let y = out
        return Autograd.record(out, inputs: [self]) { g in [g.multiplying(y.unary(Int32(EMU_SIGMOID_GRAD_FROM_Y)))] }
    }

    /// x * sigmoid(x).
    public func silu() -> Tensor {
        let out = unary(Int32(EMU_SILU))
        let x = detached()
        return Autograd.record(out, inputs: [self]) { g in [g.multiplying(x.unary(Int32(EMU_SILU_GRAD)))] }
    }

    /// e^x elementwise.
    public func exp() -> Tensor {
        let out = unary(Int32(EMU_EXP))
        let y = out
        return Autograd.record(out, inputs: [self]) { g in [g.multiplying(y)] }
    }

    /// Sum of all elements (a scalar).
    public func sum() -> Tensor {
        let x = to(.float32)
        let total = withExtendedLifetime(x) { emu_sum(x.floatPointer, count) }
        let out = Tensor(scalar: Float(total))
        let s = shape
        return Autograd.record(out, inputs: [self]) { g in [Tensor(zeros: s).adding(g.reshaped([]))] }
    }

    public func mean() -> Tensor { sum().scaled(by: 1 / Float(max(count, 1))) }
}
