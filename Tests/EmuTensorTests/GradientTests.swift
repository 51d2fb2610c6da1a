import XCTest
@testable import EmuTensor

/// Backward passes against central finite differences of the float64 references (h = 1e-6).
/// Tolerance per element: |analytic - numeric| <= 2e-3 + 1e-2 |numeric| (float32 forward/backward).
final class GradientTests: XCTestCase {
    func assertGradients(_ inputs: [(values: [Float], shape: [Int])], _ name: String,
                         op: ([Tensor]) -> Tensor, reference: ([[Double]]) -> [Double],
                         file: StaticString = #filePath, line: UInt = #line) {
        onBothPaths { path in
            let (worst, detail) = gradientCheck(inputs: inputs, op: op, reference: reference)
            XCTAssertLessThanOrEqual(worst, 1, "\(name) [\(path)]: \(detail)", file: file, line: line)
        }
    }

    func testElementwiseAndActivations() {
        var r = SeededRandom(30)
        let a = r.floats(3 * 7), b = r.floats(7).map { $0 + 3 }
        assertGradients([(a, [3, 7]), (b, [7])], "add/mul/div broadcast",
                        op: { ($0[0] + $0[1]) * $0[0] / $0[1] - $0[1] },
                        reference: { x in (0..<21).map { i in let (u, v) = (x[0][i], x[1][i % 7]); return (u + v) * u / v - v } })
        assertGradients([(a, [3, 7])], "silu", op: { $0[0].silu() },
                        reference: { $0[0].map { $0 / (1 + Foundation.exp(-$0)) } })
        assertGradients([(a, [3, 7])], "sigmoid", op: { $0[0].sigmoid() },
                        reference: { $0[0].map { 1 / (1 + Foundation.exp(-$0)) } })
        assertGradients([(a, [3, 7])], "softmax", op: { $0[0].softmax() }, reference: { Ref.softmax($0[0], n: 7) })
        assertGradients([(a, [3, 7])], "logSoftmax", op: { $0[0].logSoftmax() }, reference: { Ref.softmax($0[0], n: 7, log: true) })
        let w = r.floats(7)
        assertGradients([(a, [3, 7]), (w, [7])], "rmsNorm", op: { $0[0].rmsNorm(weight: $0[1], epsilon: 1e-5) },
                        reference: { Ref.rmsNorm($0[0], $0[1], n: 7, eps: 1e-5) })
    }

    func testLinearAndMatmul() {
        var r = SeededRandom(31)
        let x = r.floats(5 * 9), w = r.floats(6 * 9), b = r.floats(6)
        assertGradients([(x, [5, 9]), (w, [6, 9]), (b, [6])], "linear",
                        op: { $0[0].linear(weight: $0[1], bias: $0[2]) },
                        reference: { Ref.linear($0[0], rows: 5, inF: 9, $0[1], outF: 6, $0[2]) })
        let x1 = r.floats(2 * 9)
        assertGradients([(x1, [2, 9]), (w, [6, 9])], "linear matvec rows",
                        op: { $0[0].linear(weight: $0[1]) },
                        reference: { Ref.linear($0[0], rows: 2, inF: 9, $0[1], outF: 6, nil) })
        let a = r.floats(2 * 3 * 4), c = r.floats(4 * 5)
        assertGradients([(a, [2, 3, 4]), (c, [4, 5])], "batched matmul",
                        op: { $0[0].matmul($0[1].reshaped([1, 4, 5])) },
                        reference: { x in (0..<2).flatMap { i in Ref.gemm(m: 3, n: 5, k: 4, Array(x[0][(i * 12)..<(i * 12 + 12)]), transposeA: false, x[1], transposeB: false) } })
    }

    func testGroupNorm() {
        var r = SeededRandom(32)
        let (n, c, spatial, groups) = (2, 6, 5, 3)
        let x = r.floats(n * c * spatial), w = r.floats(c), b = r.floats(c)
        assertGradients([(x, [n, c, spatial]), (w, [c]), (b, [c])], "groupNorm",
                        op: { $0[0].groupNorm(groups: groups, weight: $0[1], bias: $0[2], epsilon: 1e-5) },
                        reference: { Ref.groupNorm($0[0], n: n, c: c, spatial: spatial, groups: groups, $0[1], $0[2], eps: 1e-5) })
    }

    func testConvolutions() {
        var r = SeededRandom(33)
        let cases: [([Int], [Int], (Int, Int, Int), ConvPadding)] = [
            ([2, 2, 1, 5, 6], [3, 2, 1, 3, 3], (1, 1, 1), .spatial(1)),
            ([1, 2, 3, 5, 4], [2, 2, 2, 3, 2], (2, 2, 1), ConvPadding(front: 1, back: 0, top: 0, bottom: 1, left: 1, right: 0)),
            ([1, 3, 2, 3, 3], [2, 3, 1, 1, 1], (1, 1, 1), ConvPadding()),
        ]
        for (xs, ws, stride, pad) in cases {
            let x = r.floats(Tensor.elementCount(xs)), w = r.floats(Tensor.elementCount(ws)), b = r.floats(ws[0])
            assertGradients([(x, xs), (w, ws), (b, [ws[0]])], "conv3d \(xs) \(ws)",
                            op: { $0[0].conv3d(weight: $0[1], bias: $0[2], stride: stride, padding: pad) },
                            reference: { Ref.conv3d($0[0], xs, $0[1], ws, $0[2], stride: stride, pad: pad).0 })
        }
        let x = r.floats(1 * 2 * 7 * 6), w = r.floats(3 * 2 * 3 * 3)
        let pad = ConvPadding(top: 0, bottom: 1, left: 0, right: 1)
        assertGradients([(x, [1, 2, 7, 6]), (w, [3, 2, 3, 3])], "conv2d stride 2",
                        op: { $0[0].conv2d(weight: $0[1], stride: 2, padding: pad) },
                        reference: { Ref.conv3d($0[0], [1, 2, 1, 7, 6], $0[1], [3, 2, 1, 3, 3], nil, stride: (1, 2, 2), pad: pad).0 })
    }

    func testUpsampleRopeAttention() {
        var r = SeededRandom(34)
        let x = r.floats(1 * 2 * 2 * 3 * 3)
        assertGradients([(x, [1, 2, 2, 3, 3])], "upsample", op: { $0[0].upsampledNearest(temporal: 2, spatial: 2) },
                        reference: { Ref.upsample($0[0], [1, 2, 2, 3, 3], temporal: 2, spatial: 2) })
        let q = r.floats(1 * 2 * 3 * 6)
        assertGradients([(q, [1, 2, 3, 6])], "rope", op: { $0[0].rotaryEmbedded(positions: [0, 5, 17], theta: 10000) },
                        reference: { Ref.rope($0[0], bh: 2, s: 3, d: 6, positions: [0, 5, 17], theta: 10000) })
        for (hq, hkv, s, t, causal) in [(4, 2, 3, 5, true), (2, 1, 4, 4, false), (2, 2, 1, 3, true)] {
            let d = 5
            let (qv, kv, vv) = (r.floats(hq * s * d), r.floats(hkv * t * d), r.floats(hkv * t * d))
            assertGradients([(qv, [1, hq, s, d]), (kv, [1, hkv, t, d]), (vv, [1, hkv, t, d])], "attention \(hq) \(hkv) \(s) \(t)",
                            op: { Tensor.attention(query: $0[0], key: $0[1], value: $0[2], causal: causal) },
                            reference: { Ref.attention($0[0], $0[1], $0[2], b: 1, hq: hq, hkv: hkv, s: s, t: t, d: d,
                                                       causal: causal, scale: 1 / Double(d).squareRoot()) })
        }
        // Two rows, each packing examples that must not see one another (first keys per query).
        let (hq, hkv, s, d) = (2, 1, 5, 4)
        let firsts = [0, 0, 2, 2, 2, 0, 1, 1, 3, 4]
        let (qv, kv, vv) = (r.floats(2 * hq * s * d), r.floats(2 * hkv * s * d), r.floats(2 * hkv * s * d))
        assertGradients([(qv, [2, hq, s, d]), (kv, [2, hkv, s, d]), (vv, [2, hkv, s, d])], "attention with first visible keys",
                        op: { Tensor.attention(query: $0[0], key: $0[1], value: $0[2], causal: true, firstVisibleKeys: firsts.map(Int32.init)) },
                        reference: { Ref.attention($0[0], $0[1], $0[2], b: 2, hq: hq, hkv: hkv, s: s, t: s, d: d,
                                                   causal: true, scale: 1 / Double(d).squareRoot(), firstKeys: firsts) })
        // The same rows with a hidden range per query (turns that do not see the turns before them).
        let holes = [0, 0, 0, 0, 0, 0, 2, 3, 2, 4, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0]
        assertGradients([(qv, [2, hq, s, d]), (kv, [2, hkv, s, d]), (vv, [2, hkv, s, d])], "attention with hidden keys",
                        op: { Tensor.attention(query: $0[0], key: $0[1], value: $0[2], causal: true, firstVisibleKeys: firsts.map(Int32.init),
                                               hiddenKeys: holes.map(Int32.init)) },
                        reference: { Ref.attention($0[0], $0[1], $0[2], b: 2, hq: hq, hkv: hkv, s: s, t: s, d: d,
                                                   causal: true, scale: 1 / Double(d).squareRoot(), firstKeys: firsts, hiddenKeys: holes) })
    }

    func testLayoutAndGather() {
        var r = SeededRandom(35)
        let x = r.floats(2 * 3 * 4)
        assertGradients([(x, [2, 3, 4])], "permute+slice+concat",
                        op: { t in
                            let p = t[0].permuted([2, 0, 1])
                            return Tensor.concatenate([p.sliced(axis: 0, 1..<3), p.sliced(axis: 0, 0..<1)], axis: 0)
                        },
                        reference: { v in
                            var out = [Double]()
                            for a in [1, 2, 0] { for i in 0..<2 { for j in 0..<3 { out.append(v[0][(i * 3 + j) * 4 + a]) } } }
                            return out
                        })
        let table = r.floats(5 * 3)
        assertGradients([(table, [5, 3])], "embedding", op: { Tensor.embedding([4, 1, 4], shape: [3], table: $0[0]) },
                        reference: { v in [4, 1, 4].flatMap { Array(v[0][($0 * 3)..<($0 * 3 + 3)]) } })
    }
}
