import Foundation

/// Rotary position embedding and scaled dot-product attention with grouped KV heads.
extension Tensor {
    /// RoPE in the Llama/HF "rotate half" form on [B, heads, S, D]; `positions` has S entries.
    public func rotaryEmbedded(positions: [Int], theta: Float) -> Tensor {
        precondition(rank == 4 && shape[2] == positions.count, "rotaryEmbedded: \(shape) with \(positions.count) positions")
        let (bh, s, d) = (shape[0] * shape[1], shape[2], shape[3])
        let half = d / 2
        let x = to(.float32)
        let out = Tensor(zeros: shape)
        let src = x.floats, dst = out.mutableFloats
        var cosTable = [Float](repeating: 0, count: s * half), sinTable = cosTable
        for (pi, p) in positions.enumerated() {
            for i in 0..<half {
                let invFreq = 1 / Foundation.pow(Double(theta), Double(2 * i) / Double(d))
                let angle = Float(Double(p) * Float(invFreq).toDouble)
                cosTable[pi * half + i] = Foundation.cos(angle)
                sinTable[pi * half + i] = Foundation.sin(angle)
            }
        }
        for row in 0..<(bh * s) {
            let pi = row % s, base = row * d
            for i in 0..<half {
                let (a, b) = (src[base + i], src[base + i + half])
                let (cs, sn) = (cosTable[pi * half + i], sinTable[pi * half + i])
                dst[base + i] = a * cs - b * sn
                dst[base + i + half] = b * cs + a * sn
            }
        }
        return out
    }

    /// Attention of q [B, Hq, S, D] over k, v [B, Hkv, T, D] (Hq a multiple of Hkv). Query i sits
    /// at absolute position T - S + i; with `causal` it sees keys 0...that position.
    public static func attention(query q: Tensor, key k: Tensor, value v: Tensor, causal: Bool, scale: Float? = nil) -> Tensor {
        let (b, hq, s, d) = (q.shape[0], q.shape[1], q.shape[2], q.shape[3])
        let (hkv, t) = (k.shape[1], k.shape[2])
        precondition(hq % hkv == 0 && k.shape == v.shape && k.shape[3] == d, "attention: q \(q.shape) k \(k.shape) v \(v.shape)")
        let scale = scale ?? 1 / Float(d).squareRoot()
        let (qf, kf, vf) = (q.to(.float32), k.to(.float32), v.to(.float32))
        let out = Tensor(zeros: q.shape)
        let qs = qf.floats, ks = kf.floats, vs = vf.floats, dst = out.mutableFloats
        var scores = [Float](repeating: 0, count: t)
        for bi in 0..<b { for h in 0..<hq {
            let kh = h / (hq / hkv)
            for i in 0..<s {
                let limit = causal ? t - s + i + 1 : t
                let qBase = ((bi * hq + h) * s + i) * d
                var m = -Float.infinity
                for j in 0..<limit {
                    let kBase = ((bi * hkv + kh) * t + j) * d
                    var dot: Float = 0
                    for e in 0..<d { dot += qs[qBase + e] * ks[kBase + e] }
                    scores[j] = dot * scale
                    m = max(m, scores[j])
                }
                var sum: Float = 0
                for j in 0..<limit { scores[j] = Foundation.exp(scores[j] - m); sum += scores[j] }
                for j in 0..<limit {
                    let p = scores[j] / sum
                    let vBase = ((bi * hkv + kh) * t + j) * d
                    for e in 0..<d { dst[qBase + e] += p * vs[vBase + e] }
                }
            }
        } }
        return out
    }
}

private extension Float { var toDouble: Double { Double(self) } }
