/// Gathers and searches: embeddings, codebook lookup, top-k.
extension Tensor {
    /// Rows of `table` [V, D] selected by integer `ids` of any shape -> [..., D].
    public static func embedding(_ ids: [Int], shape idShape: [Int], table: Tensor) -> Tensor {
        precondition(table.rank == 2, "embedding table must be [V, D], got \(table.shape)")
        let (v, d) = (table.shape[0], table.shape[1])
        let tf = table.to(.float32)
        let out = Tensor(zeros: idShape + [d])
        let src = tf.floats, dst = out.mutableFloats
        for (r, id) in ids.enumerated() {
            precondition(id >= 0 && id < v, "token id \(id) outside the embedding table of \(v) rows")
            for e in 0..<d { dst[r * d + e] = src[id * d + e] }
        }
        return Autograd.record(out, inputs: [table]) { g in
            let grad = Tensor(zeros: [v, d])
            let gs = g.to(.float32).floats, gd = grad.mutableFloats
            for (r, id) in ids.enumerated() { for e in 0..<d { gd[id * d + e] += gs[r * d + e] } }
            return [grad]
        }
    }

    /// For each row of `latents` [N, D], the index of the nearest `codebook` [K, D] row (squared L2,
    /// ties to the lowest index as torch.argmin does).
    public static func nearestCodes(_ latents: Tensor, codebook: Tensor) -> [Int] {
        let (n, d) = (latents.shape[0], latents.shape[1])
        let k = codebook.shape[0]
        precondition(codebook.shape[1] == d, "codebook \(codebook.shape) vs latents \(latents.shape)")
        let (x, c) = (latents.to(.float32), codebook.to(.float32))
        let xs = x.floats, cs = c.floats
        var result = [Int](repeating: 0, count: n)
        for i in 0..<n {
            var best = Float.infinity, bestIndex = 0
            for j in 0..<k {
                var dist: Float = 0
                for e in 0..<d { let diff = xs[i * d + e] - cs[j * d + e]; dist += diff * diff }
                if dist < best { best = dist; bestIndex = j }
            }
            result[i] = bestIndex
        }
        return result
    }

    /// The `k` largest values of a 1-D tensor and their indices, largest first.
    public func topK(_ k: Int) -> (values: [Float], indices: [Int]) {
        let xs = toArray()
        let order = xs.indices.sorted { xs[$0] > xs[$1] || (xs[$0] == xs[$1] && $0 < $1) }
        let top = Array(order.prefix(k))
        return (top.map { xs[$0] }, top)
    }
}
