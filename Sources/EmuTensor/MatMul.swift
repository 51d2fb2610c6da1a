import CEmuKernels

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
        let batchCount = Tensor.elementCount(batch)
        let ca = Tensor.elementCount(batchA), cb = Tensor.elementCount(batchB)
        precondition((ca == 1 || ca == batchCount) && (cb == 1 || cb == batchCount),
                     "matmul supports equal batches or a batch of one: \(shape) x \(other.shape)")
        let a = self.to(.float32), b = other.to(.float32)
        let out = Tensor(uninitialized: batch + [m, n])
        let pa = a.floatPointer, pb = b.floatPointer, pc = out.mutableFloatPointer
        withExtendedLifetime((a, b, out)) {
            for bi in 0..<batchCount {
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
        let out = Tensor(uninitialized: Array(shape.dropLast()) + [outFeatures])
        withExtendedLifetime(x) {
            Kernels.linear(rows: rows, inFeatures: inFeatures, outFeatures: outFeatures,
                           x: x.floatPointer, weight: weight, bias: bias, out: out.mutableFloatPointer)
        }
        let (xd, wd) = (self.detached(), weight.detached())
        var inputs = [self, weight]
        if let bias { inputs.append(bias) }
        return Autograd.record(out, inputs: inputs) { g in
            let g2 = g.to(.float32).reshaped([rows, outFeatures])
            let xf = xd.to(.float32)
            // dx = g W (W stays in its dtype, widened per panel); dW = g^T x.
            let dx = Tensor(uninitialized: xd.shape)
            let dw = Tensor(uninitialized: [outFeatures, inFeatures])
            let (wk, wType) = Kernels.weightOperand(wd)
            withExtendedLifetime((g2, xf, wk, dx, dw)) {
                emu_sgemm(rows, inFeatures, outFeatures, g2.floatPointer, outFeatures, 0,
                          wk.rawPointer, inFeatures, 0, wType, dx.mutableFloatPointer, inFeatures, 0)
                emu_sgemm(outFeatures, inFeatures, rows, g2.floatPointer, outFeatures, 1,
                          xf.rawPointer, inFeatures, 0, Int32(EMU_F32), dw.mutableFloatPointer, inFeatures, 0)
            }
            var grads: [Tensor?] = [dx, dw]
            if bias != nil { grads.append(g2.summed(toShape: [outFeatures])) }
            return grads
        }
    }
}

/// Low-level kernels behind the ops; they call `CEmuKernels`, which picks AVX2+FMA or a
/// portable path at run time.
public enum Kernels {
    /// Rows at or below this count use the streaming matvec kernel in `linear`; more use GEMM.
    public static let matvecRowLimit = 4

    /// C = A x B (or += when `accumulate`), row-major, with optional transposes; multi-threaded.
    public static func gemm(m: Int, n: Int, k: Int,
                            a: UnsafePointer<Float>, lda: Int, transposeA: Bool,
                            b: UnsafePointer<Float>, ldb: Int, transposeB: Bool,
                            c: UnsafeMutablePointer<Float>, ldc: Int, accumulate: Bool) {
        emu_sgemm(m, n, k, a, lda, transposeA ? 1 : 0, UnsafeRawPointer(b), ldb, transposeB ? 1 : 0,
                  Int32(EMU_F32), c, ldc, accumulate ? 1 : 0)
    }

    /// The weight as the kernels take it: f32/f16/bf16 stay as they are, others become f32.
    static func weightOperand(_ weight: Tensor) -> (Tensor, Int32) {
        switch weight.dtype {
        case .float32: return (weight, Int32(EMU_F32))
        case .float16: return (weight, Int32(EMU_F16))
        case .bfloat16: return (weight, Int32(EMU_BF16))
        default: return (weight.to(.float32), Int32(EMU_F32))
        }
    }

    /// out[r, o] = sum_i x[r, i] * weight[o, i] + bias[o]; weight f32, f16 or bf16.
    public static func linear(rows: Int, inFeatures: Int, outFeatures: Int,
                              x: UnsafePointer<Float>, weight: Tensor, bias: Tensor?,
                              out: UnsafeMutablePointer<Float>) {
        let (w, wType) = weightOperand(weight)
        let b = bias?.to(.float32)
        withExtendedLifetime((w, b)) {
            if rows <= matvecRowLimit {
                emu_matvec(rows, inFeatures, outFeatures, x, w.rawPointer, wType, b?.floatPointer, out)
                return
            }
            emu_sgemm(rows, outFeatures, inFeatures, x, inFeatures, 0, w.rawPointer, inFeatures, 1, wType,
                      out, outFeatures, 0)
            if let b {
                for r in 0..<rows {
                    emu_binary_vv(Int32(EMU_ADD), out + r * outFeatures, b.floatPointer, out + r * outFeatures, outFeatures)
                }
            }
        }
    }

    /// Forces the portable scalar kernels (for tests of that path) or restores run-time dispatch.
    public static func forceScalar(_ force: Bool) { emu_set_force_scalar(force ? 1 : 0) }

    /// Whether kernels currently run the AVX2+FMA path.
    public static var usesAVX2: Bool { emu_uses_avx2() != 0 }

    /// Threads used by parallel kernels (default: the online CPUs).
    public static var threadCount: Int {
        get { Int(emu_get_num_threads()) }
        set { emu_set_num_threads(Int32(newValue)) }
    }
}
