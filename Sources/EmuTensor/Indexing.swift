import CEmuKernels

/// Gathers and searches: embeddings, codebook lookup, top-k.
extension Tensor {
    /// Rows of `table` [V, D] selected by integer `ids` of any shape -> [..., D]. A half-precision
    /// table is widened row by row (a memory-mapped vocabulary is never converted as a whole).
    public static func embedding(_ ids: [Int], shape idShape: [Int], table: Tensor) -> Tensor {
        precondition(table.rank == 2, "embedding table must be [V, D], got \(table.shape)")
        precondition(ids.count == elementCount(idShape), "embedding: \(ids.count) ids for shape \(idShape)")
        let (v, d) = (table.shape[0], table.shape[1])
        let tf = table.dtype == .float32 || table.dtype == .bfloat16 || table.dtype == .float16 ? table : table.to(.float32)
        let out = Tensor(uninitialized: idShape + [d])
        let dst = out.mutableFloatPointer
        withExtendedLifetime(tf) {
            for (r, id) in ids.enumerated() {
                precondition(id >= 0 && id < v, "token id \(id) outside the embedding table of \(v) rows")
                let row = tf.rawPointer + id * d * tf.dtype.byteSize
                switch tf.dtype {
                case .bfloat16: emu_bf16_to_f32(row.assumingMemoryBound(to: UInt16.self), dst + r * d, d)
                case .float16: emu_f16_to_f32(row.assumingMemoryBound(to: UInt16.self), dst + r * d, d)
                default: (dst + r * d).update(from: row.assumingMemoryBound(to: Float.self), count: d)
                }
            }
        }
        return Autograd.record(out, inputs: [table]) { g in
            let grad = Tensor(zeros: [v, d])
            let gf = g.to(.float32)
            let gs = gf.floatPointer, gd = grad.mutableFloatPointer
            withExtendedLifetime(gf) {
                for (r, id) in ids.enumerated() {
                    emu_binary_vv(Int32(EMU_ADD), gd + id * d, gs + r * d, gd + id * d, d)
                }
            }
            return [grad]
        }
    }

    /// For each row of `latents` [N, D], the index of the nearest `codebook` [K, D] row (squared L2,
    /// ties to the lowest index as torch.argmin does).
    ///
    /// Distances come from ||c||^2 - 2 x.c (one GEMM); every code within a small margin of the
    /// best is then re-scored exactly, so near ties resolve as the direct computation would.
    public static func nearestCodes(_ latents: Tensor, codebook: Tensor) -> [Int] {
        precondition(latents.rank == 2 && codebook.rank == 2, "nearestCodes: latents \(latents.shape), codebook \(codebook.shape)")
        let (n, d) = (latents.shape[0], latents.shape[1])
        let k = codebook.shape[0]
        precondition(codebook.shape[1] == d && k > 0, "codebook \(codebook.shape) vs latents \(latents.shape)")
        let (x, c) = (latents.to(.float32), codebook.to(.float32))
        var result = [Int](repeating: 0, count: n)
        let xs = x.floatPointer, cs = c.floatPointer
        withExtendedLifetime((x, c)) {
            var codeNorms = [Float](repeating: 0, count: k)
            for j in 0..<k {
                var s: Float = 0
                for e in 0..<d { s += cs[j * d + e] * cs[j * d + e] }
                codeNorms[j] = s
            }
            let maxNorm = codeNorms.max() ?? 0
            let blockRows = max(1, min(n, (1 << 22) / k))
            let dots = Tensor(uninitialized: [blockRows * k])
            let dp = dots.mutableFloatPointer
            withExtendedLifetime(dots) {
                var r0 = 0
                while r0 < n {
                    let rows = min(blockRows, n - r0)
                    Kernels.gemm(m: rows, n: k, k: d, a: xs + r0 * d, lda: d, transposeA: false,
                                 b: cs, ldb: d, transposeB: true, c: dp, ldc: k, accumulate: false)
                    for r in 0..<rows {
                        let i = r0 + r
                        var xNorm: Float = 0
                        for e in 0..<d { xNorm += xs[i * d + e] * xs[i * d + e] }
                        let row = dp + r * k
                        var best = Float.infinity
                        for j in 0..<k { let v = codeNorms[j] - 2 * row[j]; row[j] = v; best = min(best, v) }
                        // Rounding error of the expanded form is about eps * (|x|^2 + |c|^2) * few.
                        let margin = 1e-5 * (xNorm + maxNorm) + Float.leastNormalMagnitude
                        var bestExact = Double.infinity, bestIndex = 0
                        for j in 0..<k where row[j] <= best + margin {
                            var dist: Double = 0
                            for e in 0..<d { let diff = Double(xs[i * d + e]) - Double(cs[j * d + e]); dist += diff * diff }
                            if dist < bestExact { bestExact = dist; bestIndex = j }
                        }
                        result[i] = bestIndex
                    }
                    r0 += rows
                }
            }
        }
        return result
    }

    /// The `k` largest values of a 1-D tensor and their indices, largest first (ties: lower index first).
    public func topK(_ k: Int) -> (values: [Float], indices: [Int]) {
        let x = to(.float32)
        let n = count, k = max(0, min(k, n))
        if k == 0 { return ([], []) }
        let xs = x.floatPointer
        // A min-heap of the best k seen; "worse" = smaller value, or equal value and larger index.
        func worse(_ a: Int, _ b: Int) -> Bool { xs[a] < xs[b] || (xs[a] == xs[b] && a > b) }
        var heap = [Int]()
        heap.reserveCapacity(k)
        return withExtendedLifetime(x) {
            func siftDown(_ start: Int) {
                var i = start
                while true {
                    let l = 2 * i + 1, r = l + 1
                    var m = i
                    if l < heap.count && worse(heap[l], heap[m]) { m = l }
                    if r < heap.count && worse(heap[r], heap[m]) { m = r }
                    if m == i { return }
                    heap.swapAt(i, m); i = m
                }
            }
            for i in 0..<n {
                if heap.count < k {
                    heap.append(i)
                    var j = heap.count - 1
                    while j > 0 { let p = (j - 1) / 2; if worse(heap[j], heap[p]) { heap.swapAt(j, p); j = p } else { break } }
                } else if worse(heap[0], i) {
                    heap[0] = i
                    siftDown(0)
                }
            }
            let order = heap.sorted { worse($1, $0) }
            return (order.map { xs[$0] }, order)
        }
    }
}
