import EmuTensor

/// The quantizer side of VQ-VAE training: straight-through gradients, the commitment loss, an
/// exponential-moving-average codebook update (van den Oord et al., Razavi et al.) and restarting
/// dead codes from current encoder outputs.
public enum VectorQuantizerLosses {
    /// z + stopgrad(q - z): the forward value is q, the gradient flows to z unchanged.
    public static func straightThrough(latents z: Tensor, quantized q: Tensor) -> Tensor {
        z.adding(q.detached().subtracting(z.detached()))
    }

    /// Mean squared error between two tensors of the same shape.
    public static func meanSquaredError(_ a: Tensor, _ b: Tensor) -> Tensor {
        let d = a.subtracting(b)
        return d.multiplying(d).mean()
    }

    /// beta * ||z - stopgrad(q)||^2 (mean): pulls the encoder towards its codes.
    public static func commitment(latents z: Tensor, quantized q: Tensor, beta: Float = 0.25) -> Tensor {
        meanSquaredError(z, q.detached()).scaled(by: beta)
    }
}

/// EMA codebook: cluster sizes and sums decay by `decay` each step; codes used fewer than
/// `deadThreshold` times (EMA count) are re-seeded from random latents of the batch.
public struct CodebookEMA: Sendable {
    public let size: Int
    public let dimension: Int
    public var decay: Float
    public var epsilon: Float
    public var deadThreshold: Float
    public private(set) var clusterSize: [Float]
    public private(set) var embeddingSum: [Float]
    var generator: SeededGenerator

    public init(codebook: Tensor, decay: Float = 0.99, epsilon: Float = 1e-5, deadThreshold: Float = 1e-2, seed: UInt64 = 0) {
        size = codebook.shape[0]
        dimension = codebook.shape[1]
        self.decay = decay
        self.epsilon = epsilon
        self.deadThreshold = deadThreshold
        clusterSize = [Float](repeating: 1, count: size)
        embeddingSum = codebook.toArray()
        generator = SeededGenerator(seed: seed)
    }

    /// Updates the statistics from `latents` [N, D] assigned to `codes`, writes the new codebook
    /// into `codebook` (owned float32 storage) and returns how many dead codes were restarted.
    @discardableResult
    public mutating func update(codebook: Tensor, latents: Tensor, codes: [Int]) -> Int {
        precondition(codebook.shape == [size, dimension] && latents.shape == [codes.count, dimension],
                     "codebook \(codebook.shape), latents \(latents.shape), \(codes.count) codes")
        let z = latents.to(.float32).floats
        var counts = [Float](repeating: 0, count: size)
        var sums = [Float](repeating: 0, count: size * dimension)
        for (i, c) in codes.enumerated() {
            counts[c] += 1
            for d in 0..<dimension { sums[c * dimension + d] += z[i * dimension + d] }
        }
        for k in 0..<size {
            clusterSize[k] = decay * clusterSize[k] + (1 - decay) * counts[k]
            for d in 0..<dimension {
                embeddingSum[k * dimension + d] = decay * embeddingSum[k * dimension + d] + (1 - decay) * sums[k * dimension + d]
            }
        }
        // Laplace smoothing keeps rarely used codes finite.
        let total = clusterSize.reduce(0, +)
        let w = codebook.mutableFloats
        var restarted = 0
        for k in 0..<size {
            if clusterSize[k] < deadThreshold && !codes.isEmpty {
                let pick = Int(generator.next() % UInt64(codes.count))
                for d in 0..<dimension {
                    w[k * dimension + d] = z[pick * dimension + d]
                    embeddingSum[k * dimension + d] = z[pick * dimension + d]
                }
                clusterSize[k] = 1
                restarted += 1
                continue
            }
            let smoothed = (clusterSize[k] + epsilon) / (total + Float(size) * epsilon) * total
            for d in 0..<dimension { w[k * dimension + d] = embeddingSum[k * dimension + d] / smoothed }
        }
        return restarted
    }
}

extension CodebookEMA {
    /// The statistics as tensors (`cluster_size` [K], `embedding_sum` [K, D]) and the dead-code
    /// restart generator (`generator_state`, int32 [2]: low and high halves) for checkpoints, so a
    /// resumed run restarts the same codes from the same rows.
    public func stateTensors() -> [String: Tensor] {
        let g = generator.currentState
        return ["cluster_size": Tensor(clusterSize, shape: [size]), "embedding_sum": Tensor(embeddingSum, shape: [size, dimension]),
                "generator_state": Tensor(ints: [Int32(bitPattern: UInt32(truncatingIfNeeded: g)),
                                                 Int32(bitPattern: UInt32(truncatingIfNeeded: g >> 32))], shape: [2])]
    }

    /// Restores what `stateTensors()` produced; false when the shapes do not fit this codebook.
    public mutating func restore(state: [String: Tensor]) -> Bool {
        guard let counts = state["cluster_size"], counts.shape == [size],
              let sums = state["embedding_sum"], sums.shape == [size, dimension] else { return false }
        clusterSize = counts.to(.float32).toArray()
        embeddingSum = sums.to(.float32).toArray()
        if let g = state["generator_state"], g.shape == [2], g.dtype == .int32 {
            let halves = g.toIntArray().map { UInt64(UInt32(bitPattern: Int32(truncatingIfNeeded: $0))) }
            generator = SeededGenerator(seed: halves[0] | halves[1] << 32)
        }
        return true
    }
}

extension CodebookEMA {
    /// Sets every code to a random row of `latents` [N, D] (data-dependent initialization, so
    /// the codebook starts where the encoder's outputs are rather than near zero).
    public mutating func initialize(codebook: Tensor, latents: Tensor) {
        precondition(codebook.shape == [size, dimension] && latents.rank == 2 && latents.shape[1] == dimension && latents.shape[0] > 0,
                     "codebook \(codebook.shape), latents \(latents.shape)")
        let z = latents.to(.float32).floats
        let w = codebook.mutableFloats
        let n = latents.shape[0]
        for k in 0..<size {
            let pick = Int(generator.next() % UInt64(n))
            for d in 0..<dimension {
                w[k * dimension + d] = z[pick * dimension + d]
                embeddingSum[k * dimension + d] = z[pick * dimension + d]
            }
            clusterSize[k] = 1
        }
    }
}
