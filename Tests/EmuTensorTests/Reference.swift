import Foundation
@testable import EmuTensor

/// Seeded generator (SplitMix64) so failures reproduce.
struct SeededRandom {
    var state: UInt64
    init(_ seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E3779B97F4A7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58476D1CE4E5B9
        z = (z ^ (z >> 27)) &* 0x94D049BB133111EB
        return z ^ (z >> 31)
    }
    mutating func uniform() -> Double { Double(next() >> 11) / Double(1 << 53) }
    mutating func normal() -> Double {
        let u = max(uniform(), 1e-300), v = uniform()
        return (-2 * Foundation.log(u)).squareRoot() * Foundation.cos(2 * .pi * v)
    }
    mutating func floats(_ n: Int, scale: Double = 1) -> [Float] { (0..<n).map { _ in Float(normal() * scale) } }
    mutating func int(_ n: Int) -> Int { Int(next() % UInt64(n)) }
}

/// Float64 reference implementations of the ops (plain loops, row-major).
enum Ref {
    static func linear(_ x: [Double], rows: Int, inF: Int, _ w: [Double], outF: Int, _ b: [Double]?) -> [Double] {
        var y = [Double](repeating: 0, count: rows * outF)
        for r in 0..<rows { for o in 0..<outF {
            var s = b?[o] ?? 0
            for i in 0..<inF { s += x[r * inF + i] * w[o * inF + i] }
            y[r * outF + o] = s
        } }
        return y
    }

    static func gemm(m: Int, n: Int, k: Int, _ a: [Double], transposeA: Bool, _ b: [Double], transposeB: Bool) -> [Double] {
        var c = [Double](repeating: 0, count: m * n)
        for i in 0..<m { for j in 0..<n {
            var s = 0.0
            for p in 0..<k { s += (transposeA ? a[p * m + i] : a[i * k + p]) * (transposeB ? b[j * k + p] : b[p * n + j]) }
            c[i * n + j] = s
        } }
        return c
    }

    static func softmax(_ x: [Double], n: Int, log: Bool = false) -> [Double] {
        var y = x
        for r in 0..<(x.count / n) {
            let row = x[(r * n)..<(r * n + n)]
            let m = row.max()!
            let s = row.reduce(0) { $0 + Foundation.exp($1 - m) }
            for i in 0..<n { y[r * n + i] = log ? x[r * n + i] - m - Foundation.log(s) : Foundation.exp(x[r * n + i] - m) / s }
        }
        return y
    }

    static func rmsNorm(_ x: [Double], _ w: [Double], n: Int, eps: Double) -> [Double] {
        var y = x
        for r in 0..<(x.count / n) {
            var ss = 0.0
            for i in 0..<n { ss += x[r * n + i] * x[r * n + i] }
            let inv = 1 / (ss / Double(n) + eps).squareRoot()
            for i in 0..<n { y[r * n + i] = x[r * n + i] * inv * w[i] }
        }
        return y
    }

    static func groupNorm(_ x: [Double], n: Int, c: Int, spatial: Int, groups: Int, _ w: [Double]?, _ b: [Double]?, eps: Double) -> [Double] {
        var y = x
        let per = c / groups
        for s in 0..<n { for g in 0..<groups {
            let base = (s * c + g * per) * spatial, size = per * spatial
            let mean = x[base..<(base + size)].reduce(0, +) / Double(size)
            let variance = x[base..<(base + size)].reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(size)
            let inv = 1 / (variance + eps).squareRoot()
            for ch in 0..<per { for i in 0..<spatial {
                let idx = base + ch * spatial + i, channel = g * per + ch
                y[idx] = (x[idx] - mean) * inv * (w?[channel] ?? 1) + (b?[channel] ?? 0)
            } }
        } }
        return y
    }

    static func conv3d(_ x: [Double], _ xs: [Int], _ w: [Double], _ ws: [Int], _ b: [Double]?,
                       stride: (Int, Int, Int), pad: ConvPadding) -> ([Double], [Int]) {
        let (n, c, t, h, wd) = (xs[0], xs[1], xs[2], xs[3], xs[4])
        let (o, kt, kh, kw) = (ws[0], ws[2], ws[3], ws[4])
        let to = (t + pad.front + pad.back - kt) / stride.0 + 1
        let ho = (h + pad.top + pad.bottom - kh) / stride.1 + 1
        let wo = (wd + pad.left + pad.right - kw) / stride.2 + 1
        var y = [Double](repeating: 0, count: n * o * to * ho * wo)
        for bi in 0..<n { for oc in 0..<o { for ot in 0..<to { for oh in 0..<ho { for ow in 0..<wo {
            var s = b?[oc] ?? 0
            for ic in 0..<c { for dt in 0..<kt { for dh in 0..<kh { for dw in 0..<kw {
                let it = ot * stride.0 + dt - pad.front, ih = oh * stride.1 + dh - pad.top, iw = ow * stride.2 + dw - pad.left
                if it < 0 || it >= t || ih < 0 || ih >= h || iw < 0 || iw >= wd { continue }
                s += x[(((bi * c + ic) * t + it) * h + ih) * wd + iw] * w[(((oc * c + ic) * kt + dt) * kh + dh) * kw + dw]
            } } } }
            y[(((bi * o + oc) * to + ot) * ho + oh) * wo + ow] = s
        } } } } }
        return (y, [n, o, to, ho, wo])
    }

    static func upsample(_ x: [Double], _ s5: [Int], temporal: Int, spatial: Int) -> [Double] {
        let (nc, t, h, w) = (s5[0] * s5[1], s5[2], s5[3], s5[4])
        var y = [Double]()
        for a in 0..<nc { for ot in 0..<(t * temporal) { for oh in 0..<(h * spatial) { for ow in 0..<(w * spatial) {
            y.append(x[((a * t + ot / temporal) * h + oh / spatial) * w + ow / spatial])
        } } } }
        return y
    }

    /// HF rotate-half RoPE with float32 tables (as HF computes them), applied in float64.
    static func rope(_ x: [Double], bh: Int, s: Int, d: Int, positions: [Int], theta: Float) -> [Double] {
        var y = x
        let half = d / 2
        for r in 0..<(bh * s) {
            let p = positions[r % s]
            for i in 0..<half {
                let invFreq = 1 / Foundation.pow(theta, Float(2 * i) / Float(d))
                let angle = Float(p) * invFreq
                let (c, sn) = (Double(Foundation.cos(angle)), Double(Foundation.sin(angle)))
                let (a, b) = (x[r * d + i], x[r * d + i + half])
                y[r * d + i] = a * c - b * sn
                y[r * d + i + half] = b * c + a * sn
            }
        }
        return y
    }

    static func attention(_ q: [Double], _ k: [Double], _ v: [Double], b: Int, hq: Int, hkv: Int, s: Int, t: Int, d: Int,
                          causal: Bool, scale: Double, firstKeys: [Int]? = nil, hiddenKeys: [Int]? = nil) -> [Double] {
        var out = [Double](repeating: 0, count: q.count)
        for bi in 0..<b { for h in 0..<hq {
            let kh = h / (hq / hkv)
            for i in 0..<s {
                let limit = causal ? t - s + i + 1 : t
                let first = firstKeys?[bi * s + i] ?? 0
                let qb = ((bi * hq + h) * s + i) * d
                var scores = [Double](repeating: -.infinity, count: limit)
                let hidden = hiddenKeys.map { $0[2 * (bi * s + i)]..<$0[2 * (bi * s + i) + 1] } ?? 0..<0
                for j in first..<limit where !hidden.contains(j) {
                    let kb = ((bi * hkv + kh) * t + j) * d
                    var dot = 0.0
                    for e in 0..<d { dot += q[qb + e] * k[kb + e] }
                    scores[j] = dot * scale
                }
                let m = scores.max()!
                let e = scores.map { Foundation.exp($0 - m) }
                let sum = e.reduce(0, +)
                for j in first..<limit where !hidden.contains(j) {
                    let vb = ((bi * hkv + kh) * t + j) * d
                    for x in 0..<d { out[qb + x] += e[j] / sum * v[vb + x] }
                }
            }
        } }
        return out
    }
}

extension Tensor {
    var doubles: [Double] { toArray().map(Double.init) }
}

/// Largest |a - b| / (atol + rtol * |b|) over the elements; <= 1 passes.
func closeness(_ a: [Float], _ b: [Double], atol: Double, rtol: Double) -> Double {
    precondition(a.count == b.count, "count \(a.count) vs \(b.count)")
    var worst = 0.0
    for (x, y) in zip(a, b) { worst = max(worst, abs(Double(x) - y) / (atol + rtol * abs(y))) }
    return worst
}

/// Checks gradients of `op` (float32 Tensor code) against central differences of `reference`
/// (float64) for every input element. The loss is sum(output * R) with a fixed random R.
/// Tolerance: |analytic - numeric| <= atol + rtol * |numeric|.
func gradientCheck(inputs: [(values: [Float], shape: [Int])],
                   op: ([Tensor]) -> Tensor,
                   reference: ([[Double]]) -> [Double],
                   atol: Double = 2e-3, rtol: Double = 1e-2, seed: UInt64 = 7) -> (worst: Double, detail: String) {
    let leaves = inputs.map { Tensor($0.values, shape: $0.shape).requiringGradient() }
    let out = op(leaves)
    var random = SeededRandom(seed)
    let projection = random.floats(out.count)
    out.multiplying(Tensor(projection, shape: out.shape)).sum().backward()
    let base = inputs.map { $0.values.map(Double.init) }
    func loss(_ xs: [[Double]]) -> Double { zip(reference(xs), projection).reduce(0) { $0 + $1.0 * Double($1.1) } }
    var worst = 0.0, detail = ""
    let h = 1e-6
    for (index, leaf) in leaves.enumerated() {
        let analytic = leaf.grad?.toArray() ?? [Float](repeating: 0, count: leaf.count)
        for e in 0..<leaf.count {
            var plus = base, minus = base
            plus[index][e] += h; minus[index][e] -= h
            let numeric = (loss(plus) - loss(minus)) / (2 * h)
            let err = abs(Double(analytic[e]) - numeric) / (atol + rtol * abs(numeric))
            if err > worst { worst = err; detail = "input \(index) element \(e): analytic \(analytic[e]) numeric \(numeric)" }
        }
    }
    return (worst, detail)
}
