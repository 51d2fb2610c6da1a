import Foundation
import CEmuKernels

/// Rotary position embedding and scaled dot-product attention with grouped KV heads.
extension Tensor {
    /// cos and sin tables [positions.count, d/2] computed as HF Llama does: inv_freq in float32
    /// as 1 / theta^(arange(0, d, 2) / d), angles position * inv_freq in float32.
    public static func rotaryTables(positions: [Int], dimension d: Int, theta: Float) -> (cos: [Float], sin: [Float]) {
        let half = d / 2
        let invFreq = (0..<half).map { i -> Float in 1 / Foundation.pow(theta, Float(2 * i) / Float(d)) }
        var cosTable = [Float](repeating: 0, count: positions.count * half), sinTable = cosTable
        for (pi, p) in positions.enumerated() {
            for i in 0..<half {
                let angle = Float(p) * invFreq[i]
                cosTable[pi * half + i] = Foundation.cos(angle)
                sinTable[pi * half + i] = Foundation.sin(angle)
            }
        }
        return (cosTable, sinTable)
    }

    /// RoPE in the Llama/HF "rotate half" form on [B, heads, S, D]; `positions` has S entries.
    public func rotaryEmbedded(positions: [Int], theta: Float) -> Tensor {
        precondition(rank == 4 && shape[2] == positions.count && shape[3] % 2 == 0,
                     "rotaryEmbedded: \(shape) with \(positions.count) positions")
        let (cosTable, sinTable) = Tensor.rotaryTables(positions: positions, dimension: shape[3], theta: theta)
        let out = Tensor.rotate(to(.float32), cos: cosTable, sin: sinTable, inverse: false)
        return Autograd.record(out, inputs: [self]) { g in
            [Tensor.rotate(g.to(.float32), cos: cosTable, sin: sinTable, inverse: true)]
        }
    }

    /// Rotates each (i, i + D/2) pair by the tabled angle (or by its negative when `inverse`).
    private static func rotate(_ x: Tensor, cos cosTable: [Float], sin sinTable: [Float], inverse: Bool) -> Tensor {
        let (bh, s, d) = (x.shape[0] * x.shape[1], x.shape[2], x.shape[3])
        let half = d / 2
        let out = Tensor(uninitialized: x.shape)
        let src = x.floatPointer, dst = out.mutableFloatPointer
        let sign: Float = inverse ? -1 : 1
        withExtendedLifetime(x) {
            cosTable.withUnsafeBufferPointer { cs in sinTable.withUnsafeBufferPointer { sn in
                for row in 0..<(bh * s) {
                    let pi = row % s, base = row * d
                    for i in 0..<half {
                        let (a, b) = (src[base + i], src[base + i + half])
                        let (c, v) = (cs[pi * half + i], sign * sn[pi * half + i])
                        dst[base + i] = a * c - b * v
                        dst[base + i + half] = b * c + a * v
                    }
                }
            } }
        }
        return out
    }

    /// Attention of q [B, Hq, S, D] over k, v [B, Hkv, T, D] (Hq a multiple of Hkv). Query i sits
    /// at absolute position T - S + i; with `causal` it sees keys 0...that position.
    /// `firstVisibleKeys` ([B * S], row-major by batch then query), when given, raises each
    /// query's lowest visible key: examples packed into one row then attend only within
    /// themselves, as each would alone. `hiddenKeys` ([B * S * 2]: start, end per query), when
    /// given, hides keys start..<end from each query (start == end: none); the range must lie
    /// between its first visible key and the query itself, so that a query always sees its own
    /// key: the turns of one packed conversation then each see the shared prefix and themselves.
    /// Streams over key blocks with a running softmax (no S x T matrix), parallel over heads.
    public static func attention(query q: Tensor, key k: Tensor, value v: Tensor, causal: Bool, scale: Float? = nil,
                                 firstVisibleKeys: [Int32]? = nil, hiddenKeys: [Int32]? = nil) -> Tensor {
        precondition(q.rank == 4 && k.rank == 4 && v.rank == 4, "attention: q \(q.shape) k \(k.shape) v \(v.shape)")
        let (b, hq, s, d) = (q.shape[0], q.shape[1], q.shape[2], q.shape[3])
        let (hkv, t) = (k.shape[1], k.shape[2])
        precondition(hkv > 0 && hq % hkv == 0 && k.shape == v.shape && k.shape[0] == b && k.shape[3] == d && t >= s,
                     "attention: q \(q.shape) k \(k.shape) v \(v.shape)")
        if let starts = firstVisibleKeys {
            // Every query must keep at least one key, or its softmax has nothing to normalize.
            precondition(starts.count == b * s && starts.indices.allSatisfy { i in
                starts[i] >= 0 && Int(starts[i]) <= (causal ? t - s + i % s : t - 1)
            }, "attention: first visible keys must be \(b * s) values, each at most its query's last visible key")
        }
        if let holes = hiddenKeys {
            precondition(causal && holes.count == 2 * b * s && (0..<(b * s)).allSatisfy { i in
                let (start, end) = (Int(holes[2 * i]), Int(holes[2 * i + 1]))
                let first = Int(firstVisibleKeys?[i] ?? 0)
                return start == end || (first <= start && start < end && end <= t - s + i % s)
            }, "attention: hidden keys must be \(b * s) causal ranges, each between its query's first visible key and the query")
        }
        let scale = scale ?? 1 / Float(d).squareRoot()
        let (qf, kf, vf) = (q.to(.float32), k.to(.float32), v.to(.float32))
        let out = Tensor(uninitialized: q.shape)
        withExtendedLifetime((qf, kf, vf)) {
            withOptionalPointer(firstVisibleKeys) { starts in withOptionalPointer(hiddenKeys) { holes in
                emu_attention(qf.floatPointer, kf.floatPointer, vf.floatPointer, out.mutableFloatPointer, starts, holes,
                              b, hq, hkv, s, t, d, causal ? 1 : 0, scale)
            } }
        }
        return Autograd.record(out, inputs: [q, k, v]) { g in
            let gf = g.to(.float32)
            let dq = Tensor(uninitialized: q.shape), dk = Tensor(uninitialized: k.shape), dv = Tensor(uninitialized: k.shape)
            withExtendedLifetime((qf, kf, vf, gf)) {
                withOptionalPointer(firstVisibleKeys) { starts in withOptionalPointer(hiddenKeys) { holes in
                    emu_attention_backward(qf.floatPointer, kf.floatPointer, vf.floatPointer, gf.floatPointer,
                                           dq.mutableFloatPointer, dk.mutableFloatPointer, dv.mutableFloatPointer, starts, holes,
                                           b, hq, hkv, s, t, d, causal ? 1 : 0, scale)
                } }
            }
            return [dq, dk, dv]
        }
    }
}

/// `body` with the array's storage, or with nil when there is no array.
private func withOptionalPointer<R>(_ values: [Int32]?, _ body: (UnsafePointer<Int32>?) -> R) -> R {
    guard let values else { return body(nil) }
    return values.withUnsafeBufferPointer { body($0.baseAddress) }
}
