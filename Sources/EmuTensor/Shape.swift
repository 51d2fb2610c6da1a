/// Layout ops: permute, transpose, slice, concatenate. Each returns a contiguous tensor.
extension Tensor {
    /// Dimensions reordered: output dim i is input dim `axes[i]`.
    public func permuted(_ axes: [Int]) -> Tensor {
        precondition(axes.sorted() == Array(0..<rank), "permutation \(axes) for rank \(rank)")
        if axes == Array(0..<rank) { return self }
        let x = to(.float32)
        let outShape = axes.map { shape[$0] }
        let out = Tensor(zeros: outShape)
        let inStrides = Tensor.contiguousStrides(shape)
        let strides = axes.map { inStrides[$0] }
        let src = x.floats, dst = out.mutableFloats
        if axes.last == rank - 1 || (axes.last == rank - 2 && axes[rank - 2] == rank - 1) {
            Tensor.permuteBlocks(src.baseAddress!, dst.baseAddress!, shape: shape, axes: axes)
        } else {
        var index = [Int](repeating: 0, count: rank)
        var offset = 0
        for i in 0..<dst.count {
            dst[i] = src[offset]
            var d = rank - 1
            while d >= 0 {
                index[d] += 1; offset += strides[d]
                if index[d] < outShape[d] { break }
                offset -= strides[d] * outShape[d]; index[d] = 0; d -= 1
            }
        }
        }
        var inverse = [Int](repeating: 0, count: rank)
        for (i, a) in axes.enumerated() { inverse[a] = i }
        return Autograd.record(out, inputs: [self]) { g in [g.permuted(inverse)] }
    }

    /// Fast permutes: the last axis stays last (contiguous runs are copied), or the last two
    /// axes swap places at the end (2-D tile transposes of the trailing matrices).
    static func permuteBlocks(_ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<Float>, shape: [Int], axes: [Int]) {
        let rank = shape.count
        let keepsLast = axes.last == rank - 1
        // Outer output dims walked explicitly; the inner block is a run (or a rows x cols matrix).
        let outerAxes = keepsLast ? Array(axes.dropLast()) : Array(axes.dropLast(2))
        let inStrides = contiguousStrides(shape)
        let outerShape = outerAxes.map { shape[$0] }
        let outerStrides = outerAxes.map { inStrides[$0] }
        let outerCount = elementCount(outerShape)
        let (rows, cols) = keepsLast ? (1, shape[rank - 1]) : (shape[rank - 1], shape[rank - 2])
        let block = rows * cols
        var index = [Int](repeating: 0, count: outerAxes.count)
        var offset = 0
        for o in 0..<outerCount {
            let out = dst + o * block
            if keepsLast {
                out.update(from: src + offset, count: cols)
            } else {
                // Input block is [cols][rows] (row stride `rows`... i.e. shape[rank-1]); output [rows][cols].
                let inRowStride = shape[rank - 1]
                var i0 = 0
                while i0 < cols {
                    let i1 = min(i0 + 32, cols)
                    var j0 = 0
                    while j0 < rows {
                        let j1 = min(j0 + 32, rows)
                        for i in i0..<i1 { for j in j0..<j1 { out[j * cols + i] = src[offset + i * inRowStride + j] } }
                        j0 = j1
                    }
                    i0 = i1
                }
            }
            var d = outerAxes.count - 1
            while d >= 0 {
                index[d] += 1; offset += outerStrides[d]
                if index[d] < outerShape[d] { break }
                offset -= outerStrides[d] * outerShape[d]; index[d] = 0; d -= 1
            }
        }
    }

    /// Swaps the last two dimensions.
    public func transposedLastTwo() -> Tensor {
        var axes = Array(0..<rank)
        axes.swapAt(rank - 1, rank - 2)
        return permuted(axes)
    }

    /// Elements `range` along `axis` (a copy).
    public func sliced(axis: Int, _ range: Range<Int>) -> Tensor {
        let axis = axis < 0 ? axis + rank : axis
        precondition(range.lowerBound >= 0 && range.upperBound <= shape[axis], "slice \(range) of axis \(axis) in \(shape)")
        let x = to(.float32)
        var outShape = shape
        outShape[axis] = range.count
        let out = Tensor(zeros: outShape)
        let outer = Tensor.elementCount(Array(shape[..<axis]))
        let inner = Tensor.elementCount(Array(shape[(axis + 1)...]))
        let src = x.floats.baseAddress!, dst = out.mutableFloats.baseAddress!
        withExtendedLifetime(x) {
            for o in 0..<outer {
                (dst + o * range.count * inner).update(
                    from: src + (o * shape[axis] + range.lowerBound) * inner, count: range.count * inner)
            }
        }
        let full = shape
        return Autograd.record(out, inputs: [self]) { g in
            let before = Tensor(zeros: Array(full[..<axis]) + [range.lowerBound] + Array(full[(axis + 1)...]))
            let after = Tensor(zeros: Array(full[..<axis]) + [full[axis] - range.upperBound] + Array(full[(axis + 1)...]))
            return [Tensor.concatenate([before, g, after], axis: axis)]
        }
    }

    /// Tensors joined along `axis`; all other dimensions must agree.
    public static func concatenate(_ parts: [Tensor], axis: Int) -> Tensor {
        precondition(!parts.isEmpty, "concatenate of nothing")
        let rank = parts[0].rank
        let axis = axis < 0 ? axis + rank : axis
        var outShape = parts[0].shape
        outShape[axis] = parts.reduce(0) { $0 + $1.shape[axis] }
        for p in parts {
            precondition(p.rank == rank && (0..<rank).allSatisfy { $0 == axis || p.shape[$0] == outShape[$0] },
                         "concatenate: \(p.shape) does not match \(outShape) off axis \(axis)")
        }
        let out = Tensor(zeros: outShape)
        let outer = Tensor.elementCount(Array(outShape[..<axis]))
        let inner = Tensor.elementCount(Array(outShape[(axis + 1)...]))
        let dst = out.mutableFloats.baseAddress!
        var start = 0
        for p in parts {
            let x = p.to(.float32)
            let width = p.shape[axis]
            withExtendedLifetime(x) {
                let src = x.floats.baseAddress!
                for o in 0..<outer {
                    (dst + (o * outShape[axis] + start) * inner).update(from: src + o * width * inner, count: width * inner)
                }
            }
            start += width
        }
        let widths = parts.map { $0.shape[axis] }
        return Autograd.record(out, inputs: parts) { g in
            var offset = 0
            return widths.map { w in defer { offset += w }; return g.sliced(axis: axis, offset..<(offset + w)) }
        }
    }
}
