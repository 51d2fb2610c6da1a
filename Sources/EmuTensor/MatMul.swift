/// Matrix products. `linear` is the model's workhorse: its weight may stay bf16/f16 (widened in
/// the kernel) so memory-mapped checkpoints are used in place.
extension Tensor {
    /// Batched matrix product: [..., m, k] x [..., k, n] -> [..., m, n]; leading dims broadcast.
    public func matmul(_ other: Tensor) -> Tensor {
        precondition(rank >= 2 && other.rank >= 2, "matmul needs rank >= 2, got \(shape) and \(other.shape)")
        let m = shape[rank - 2], k = shape[rank - 1]
        let k2 = other.shape[other.rank - 2], n = other.shape[other.rank - 1]
        precondition(k == k2, "matmul inner dimensions differ: \(shape) x \(other.shape)")
        let batchA = Array(shape.dropLast(2)), batchB = Array(other.shape.dropLast(2))
        guard let batch = Tensor.broadcastShape(batchA, batchB) else {
            preconditionFailure("matmul batch dims do not broadcast: \(shape) x \(other.shape)")
        }
        let a = self.to(.float32), b = other.to(.float32)
        let out = Tensor(zeros: batch + [m, n])
        let batchCount = Tensor.elementCount(batch)
        let ca = Tensor.elementCount(batchA), cb = Tensor.elementCount(batchB)
        let pa = a.floats.baseAddress!, pb = b.floats.baseAddress!, pc = out.mutableFloats.baseAddress!
        withExtendedLifetime((a, b, out)) {
        for bi in 0..<batchCount {
            // Broadcast only supports equal batches or a batch of one on either side.
            let ia = ca == 1 ? 0 : bi, ib = cb == 1 ? 0 : bi
            Kernels.gemm(m: m, n: n, k: k,
                         a: pa + ia * m * k, lda: k, transposeA: false,
                         b: pb + ib * k * n, ldb: n, transposeB: false,
                         c: pc + bi * m * n, ldc: n, accumulate: false)
        }
        }
        let (x, y) = (self.detached(), other.detached())
        return Autograd.record(out, inputs: [self, other]) { g in
            [g.matmul(y.transposedLastTwo()).summed(toShape: x.shape),
             x.transposedLastTwo().matmul(g).summed(toShape: y.shape)]
        }
    }

    /// x [..., in] times weight [out, in] transposed, plus bias [out]: PyTorch's `nn.Linear`.
    public func linear(weight: Tensor, bias: Tensor? = nil) -> Tensor {
        let inFeatures = shape[rank - 1]
        precondition(weight.rank == 2 && weight.shape[1] == inFeatures,
                     "linear: input \(shape) does not match weight \(weight.shape)")
        let outFeatures = weight.shape[0]
        let rows = count / max(inFeatures, 1)
        let x = to(.float32)
        let out = Tensor(zeros: Array(shape.dropLast()) + [outFeatures])
        withExtendedLifetime(x) {
            Kernels.linear(rows: rows, inFeatures: inFeatures, outFeatures: outFeatures,
                           x: x.floats.baseAddress!, weight: weight, bias: bias, out: out.mutableFloats.baseAddress!)
        }
        let (xd, wd) = (self.detached(), weight.detached())
        var inputs = [self, weight]
        if let bias { inputs.append(bias) }
        return Autograd.record(out, inputs: inputs) { g in
            let g2 = g.reshaped([rows, outFeatures])
            let dx = g2.matmul(wd.to(.float32)).reshaped(xd.shape)
            let dw = g2.transposedLastTwo().matmul(xd.reshaped([rows, inFeatures]))
            var grads: [Tensor?] = [dx, dw]
            if bias != nil { grads.append(g2.summed(toShape: [outFeatures])) }
            return grads
        }
    }
}

/// Low-level kernels behind the ops. Reference implementations here; fast paths live in
/// `CEmuKernels` and are chosen at run time.
public enum Kernels {
    /// C = A x B (or += when `accumulate`), row-major, with optional transposes.
    public static func gemm(m: Int, n: Int, k: Int,
                            a: UnsafePointer<Float>, lda: Int, transposeA: Bool,
                            b: UnsafePointer<Float>, ldb: Int, transposeB: Bool,
                            c: UnsafeMutablePointer<Float>, ldc: Int, accumulate: Bool) {
        for i in 0..<m {
            for j in 0..<n {
                var acc: Float = accumulate ? c[i * ldc + j] : 0
                for p in 0..<k {
                    let av = transposeA ? a[p * lda + i] : a[i * lda + p]
                    let bv = transposeB ? b[j * ldb + p] : b[p * ldb + j]
                    acc += av * bv
                }
                c[i * ldc + j] = acc
            }
        }
    }

    /// out[r, o] = sum_i x[r, i] * weight[o, i] + bias[o]; weight f32, f16 or bf16.
    public static func linear(rows: Int, inFeatures: Int, outFeatures: Int,
                              x: UnsafePointer<Float>, weight: Tensor, bias: Tensor?,
                              out: UnsafeMutablePointer<Float>) {
        let w = weight.to(.float32)
        defer { withExtendedLifetime(w) {} }
        gemm(m: rows, n: outFeatures, k: inFeatures, a: x, lda: inFeatures, transposeA: false,
             b: w.floats.baseAddress!, ldb: inFeatures, transposeB: true,
             c: out, ldc: outFeatures, accumulate: false)
        if let bias {
            let bv = bias.to(.float32).floats
            for r in 0..<rows { for o in 0..<outFeatures { out[r * outFeatures + o] += bv[o] } }
        }
    }
}
