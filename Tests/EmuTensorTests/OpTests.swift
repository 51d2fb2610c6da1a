import XCTest
@testable import EmuTensor

/// Forward ops against float64 references on random inputs with odd sizes, on both kernel paths.
final class OpTests: XCTestCase {
    /// Broadcast cases: same shape, scalar, trailing bias, per-channel [C,1,1], middle broadcast,
    /// and a general (strided) case. Exact ops on float32 inputs: tolerance 1e-6 relative.
    func testBinaryBroadcasting() {
        var random = SeededRandom(10)
        let cases: [([Int], [Int])] = [([3, 5, 9], [3, 5, 9]), ([4, 9], []), ([4, 9], [1]), ([2, 3, 17], [17]),
                                       ([2, 5, 3, 4], [5, 1, 1]), ([1], [2, 3]), ([3, 1, 9], [3, 8, 9]),
                                       ([2, 3, 4, 11], [2, 1, 4, 1]), ([6, 1], [1, 7]), ([1, 9, 1, 10], [2, 1, 3, 1])]
        onBothPaths { path in
            for (sa, sb) in cases {
                let a = random.floats(Tensor.elementCount(sa)), b = random.floats(Tensor.elementCount(sb)).map { $0 + 3 }
                let ta = Tensor(a, shape: sa), tb = Tensor(b, shape: sb)
                let outShape = Tensor.broadcastShape(sa, sb)!
                let r = outShape.count
                func index(_ flat: Int, _ s: [Int]) -> Int {
                    let p = [Int](repeating: 1, count: r - s.count) + s
                    var rem = flat, idx = 0, mul = 1
                    for d in stride(from: r - 1, through: 0, by: -1) {
                        let i = rem % outShape[d]; rem /= outShape[d]
                        idx += (p[d] == 1 ? 0 : i) * mul; mul *= p[d]
                    }
                    return idx
                }
                let n = Tensor.elementCount(outShape)
                let ops: [(Tensor, (Double, Double) -> Double)] = [(ta + tb, +), (ta - tb, -), (ta * tb, *), (ta / tb, /)]
                for (k, (result, f)) in ops.enumerated() {
                    let expected = (0..<n).map { f(Double(a[index($0, sa)]), Double(b[index($0, sb)])) }
                    XCTAssertEqual(result.shape, outShape)
                    XCTAssertLessThanOrEqual(closeness(result.toArray(), expected, atol: 1e-7, rtol: 1e-6), 1, "\(path) op \(k) \(sa) \(sb)")
                }
                // Adjoint of broadcasting.
                let summed = (ta * tb).summed(toShape: sb).toArray()
                var expected = [Double](repeating: 0, count: max(b.count, 1))
                for i in 0..<n { expected[index(i, sb)] += Double(a[index(i, sa)]) * Double(b[index(i, sb)]) }
                XCTAssertLessThanOrEqual(closeness(summed, expected, atol: 1e-5, rtol: 1e-5), 1, "\(path) summed \(sa) \(sb)")
            }
        }
    }

    /// Activations and row ops; exp-based kernels are within a few ulp: tolerance 1e-6 abs + 1e-5 rel.
    func testActivationsAndRowOps() {
        var random = SeededRandom(11)
        onBothPaths { path in
            for n in [1, 7, 8, 33, 1000] {
                let x = random.floats(3 * n, scale: 4)
                let t = Tensor(x, shape: [3, n]), xd = x.map(Double.init)
                let sig = xd.map { 1 / (1 + Foundation.exp(-$0)) }
                XCTAssertLessThanOrEqual(closeness(t.sigmoid().toArray(), sig, atol: 1e-6, rtol: 1e-5), 1, "\(path) sigmoid \(n)")
                XCTAssertLessThanOrEqual(closeness(t.silu().toArray(), zip(xd, sig).map { $0 * $1 }, atol: 1e-6, rtol: 1e-5), 1, "\(path) silu \(n)")
                XCTAssertLessThanOrEqual(closeness(t.exp().toArray(), xd.map { Foundation.exp($0) }, atol: 1e-6, rtol: 1e-5), 1, "\(path) exp \(n)")
                XCTAssertLessThanOrEqual(closeness(t.softmax().toArray(), Ref.softmax(xd, n: n), atol: 1e-7, rtol: 1e-5), 1, "\(path) softmax \(n)")
                XCTAssertLessThanOrEqual(closeness(t.logSoftmax().toArray(), Ref.softmax(xd, n: n, log: true), atol: 1e-5, rtol: 1e-5), 1, "\(path) logSoftmax \(n)")
                let w = random.floats(n)
                XCTAssertLessThanOrEqual(closeness(t.rmsNorm(weight: Tensor(w, shape: [n]), epsilon: 1e-5).toArray(),
                                                   Ref.rmsNorm(xd, w.map(Double.init), n: n, eps: 1e-5), atol: 1e-6, rtol: 1e-5), 1, "\(path) rms \(n)")
                let sums = t.sumLastAxis().toArray()
                for r in 0..<3 { XCTAssertEqual(Double(sums[r]), xd[(r * n)..<(r * n + n)].reduce(0, +), accuracy: 1e-4 * Double(n)) }
                XCTAssertEqual(Double(t.sum().item), xd.reduce(0, +), accuracy: 1e-4 * Double(n))
            }
        }
    }

    /// Masked logits (-inf) give exact zeros in softmax.
    func testSoftmaxWithNegativeInfinity() {
        let y = Tensor([1, -.infinity, 2, -.infinity, 0, 0, 0, 0, 0, -.infinity], shape: [1, 10]).softmax().toArray()
        XCTAssertEqual(y[1], 0); XCTAssertEqual(y[3], 0); XCTAssertEqual(y[9], 0)
        XCTAssertEqual(Double(y.reduce(0, +)), 1, accuracy: 1e-6)
    }

    /// Tolerance 1e-5 abs + 1e-4 rel (float32 statistics over up to 5*7*9 elements).
    func testGroupNorm() {
        var random = SeededRandom(12)
        onBothPaths { path in
            for (n, c, spatial, groups) in [(2, 6, 9, 3), (1, 4, 1, 4), (2, 8, 35, 2)] {
                let x = random.floats(n * c * spatial, scale: 3).map { $0 + 1 }, w = random.floats(c), b = random.floats(c)
                let y = Tensor(x, shape: [n, c, spatial]).groupNorm(groups: groups, weight: Tensor(w, shape: [c]), bias: Tensor(b, shape: [c]), epsilon: 1e-6)
                let expected = Ref.groupNorm(x.map(Double.init), n: n, c: c, spatial: spatial, groups: groups,
                                             w.map(Double.init), b.map(Double.init), eps: 1e-6)
                XCTAssertLessThanOrEqual(closeness(y.toArray(), expected, atol: 1e-5, rtol: 1e-4), 1, "\(path) \(n) \(c) \(spatial)")
            }
        }
    }

    /// conv2d/conv3d with strides, asymmetric padding, 1x1 direct path; tolerance 1e-4 abs + 1e-4 rel.
    func testConvolutions() {
        var random = SeededRandom(13)
        let cases: [([Int], [Int], (Int, Int, Int), ConvPadding)] = [
            ([1, 3, 1, 7, 9], [5, 3, 1, 3, 3], (1, 1, 1), .spatial(1)),
            ([2, 2, 3, 6, 5], [3, 2, 3, 3, 3], (1, 2, 2), ConvPadding(front: 2, back: 0, top: 1, bottom: 1, left: 0, right: 1)),
            ([1, 4, 2, 5, 5], [3, 4, 1, 1, 1], (1, 1, 1), ConvPadding()),
            ([1, 3, 4, 4, 4], [2, 3, 2, 1, 1], (2, 1, 1), ConvPadding()),
            ([1, 1, 1, 1, 1], [1, 1, 1, 1, 1], (1, 1, 1), ConvPadding()),
        ]
        onBothPaths { path in
            for (xs, ws, stride, pad) in cases {
                let x = random.floats(Tensor.elementCount(xs)), w = random.floats(Tensor.elementCount(ws)), b = random.floats(ws[0])
                let y = Tensor(x, shape: xs).conv3d(weight: Tensor(w, shape: ws), bias: Tensor(b, shape: [ws[0]]), stride: stride, padding: pad)
                let (expected, shape) = Ref.conv3d(x.map(Double.init), xs, w.map(Double.init), ws, b.map(Double.init), stride: stride, pad: pad)
                XCTAssertEqual(y.shape, shape)
                XCTAssertLessThanOrEqual(closeness(y.toArray(), expected, atol: 1e-4, rtol: 1e-4), 1, "\(path) conv3d \(xs) \(ws)")
            }
            // conv2d with stride 2 and asymmetric padding (the VQ downsample).
            let x = random.floats(2 * 3 * 9 * 8), w = random.floats(4 * 3 * 3 * 3)
            let pad = ConvPadding(top: 0, bottom: 1, left: 0, right: 1)
            let y = Tensor(x, shape: [2, 3, 9, 8]).conv2d(weight: Tensor(w, shape: [4, 3, 3, 3]), stride: 2, padding: pad)
            let (expected, shape) = Ref.conv3d(x.map(Double.init), [2, 3, 1, 9, 8], w.map(Double.init), [4, 3, 1, 3, 3], nil, stride: (1, 2, 2), pad: pad)
            XCTAssertEqual(y.shape, [shape[0], shape[1], shape[3], shape[4]])
            XCTAssertLessThanOrEqual(closeness(y.toArray(), expected, atol: 1e-4, rtol: 1e-4), 1, "\(path) conv2d")
        }
    }

    func testUpsampleNearest() {
        var random = SeededRandom(14)
        let x = random.floats(2 * 3 * 2 * 3 * 5)
        let y = Tensor(x, shape: [2, 3, 2, 3, 5]).upsampledNearest(temporal: 2, spatial: 2)
        XCTAssertEqual(y.shape, [2, 3, 4, 6, 10])
        XCTAssertEqual(y.doubles, Ref.upsample(x.map(Double.init), [2, 3, 2, 3, 5], temporal: 2, spatial: 2))
        let y2 = Tensor(x, shape: [2, 3, 6, 5]).upsampledNearest(spatial: 3)
        XCTAssertEqual(y2.shape, [2, 3, 18, 15])
        XCTAssertEqual(y2.doubles, Ref.upsample(x.map(Double.init), [2, 3, 1, 6, 5], temporal: 1, spatial: 3))
    }

    /// RoPE against the HF formula (float32 tables); tolerance 1e-6 abs + 1e-5 rel.
    func testRotaryEmbedding() {
        var random = SeededRandom(15)
        let (b, h, s, d) = (2, 3, 5, 10)
        let x = random.floats(b * h * s * d)
        let positions = [3, 4, 5, 6, 900]
        let y = Tensor(x, shape: [b, h, s, d]).rotaryEmbedded(positions: positions, theta: 1_000_000)
        let expected = Ref.rope(x.map(Double.init), bh: b * h, s: s, d: d, positions: positions, theta: 1_000_000)
        XCTAssertLessThanOrEqual(closeness(y.toArray(), expected, atol: 1e-6, rtol: 1e-5), 1)
    }

    /// Causal/non-causal, GQA, KV offset (S < T), blocks longer than one kernel tile;
    /// tolerance 1e-5 abs + 1e-4 rel.
    func testAttention() {
        var random = SeededRandom(16)
        let cases = [(1, 4, 2, 3, 3, 8, true), (2, 2, 1, 1, 9, 5, true), (1, 2, 2, 70, 300, 16, true),
                     (1, 3, 1, 4, 7, 6, false), (1, 1, 1, 1, 1, 3, true)]
        onBothPaths { path in
            for (b, hq, hkv, s, t, d, causal) in cases {
                let q = random.floats(b * hq * s * d), k = random.floats(b * hkv * t * d), v = random.floats(b * hkv * t * d)
                let y = Tensor.attention(query: Tensor(q, shape: [b, hq, s, d]), key: Tensor(k, shape: [b, hkv, t, d]),
                                         value: Tensor(v, shape: [b, hkv, t, d]), causal: causal)
                let expected = Ref.attention(q.map(Double.init), k.map(Double.init), v.map(Double.init),
                                             b: b, hq: hq, hkv: hkv, s: s, t: t, d: d, causal: causal, scale: 1 / Double(d).squareRoot())
                XCTAssertLessThanOrEqual(closeness(y.toArray(), expected, atol: 1e-5, rtol: 1e-4), 1, "\(path) \(b) \(hq) \(hkv) \(s) \(t) \(d)")
            }
        }
    }

    /// Per-query first visible keys (examples packed in one row): against the masked float64
    /// reference, with examples that cross query tiles (64) and key tiles (256), a one-token
    /// example, and a KV offset; tolerance 1e-5 abs + 1e-4 rel.
    func testAttentionWithFirstVisibleKeys() {
        var random = SeededRandom(19)
        func starts(_ boundaries: [Int], length: Int) -> [Int] {
            (0..<length).map { i in boundaries.last { $0 <= i }! }
        }
        let cases: [(b: Int, hq: Int, hkv: Int, s: Int, t: Int, d: Int, firsts: [Int])] = [
            (2, 4, 2, 300, 300, 8, starts([0, 70, 71, 130, 257], length: 300) + starts([0, 200], length: 300)),
            (1, 2, 1, 5, 9, 6, [0, 4, 5, 5, 8]),   // KV offset 4: query i is at position 4 + i
        ]
        onBothPaths { path in
            for c in cases {
                let q = random.floats(c.b * c.hq * c.s * c.d), k = random.floats(c.b * c.hkv * c.t * c.d), v = random.floats(c.b * c.hkv * c.t * c.d)
                let y = Tensor.attention(query: Tensor(q, shape: [c.b, c.hq, c.s, c.d]), key: Tensor(k, shape: [c.b, c.hkv, c.t, c.d]),
                                         value: Tensor(v, shape: [c.b, c.hkv, c.t, c.d]), causal: true,
                                         firstVisibleKeys: c.firsts.map(Int32.init))
                let expected = Ref.attention(q.map(Double.init), k.map(Double.init), v.map(Double.init),
                                             b: c.b, hq: c.hq, hkv: c.hkv, s: c.s, t: c.t, d: c.d, causal: true,
                                             scale: 1 / Double(c.d).squareRoot(), firstKeys: c.firsts)
                XCTAssertLessThanOrEqual(closeness(y.toArray(), expected, atol: 1e-5, rtol: 1e-4), 1, "\(path) \(c.s) \(c.t)")
                // The mask must matter: unmasked attention differs from the reference.
                let unmasked = Tensor.attention(query: Tensor(q, shape: [c.b, c.hq, c.s, c.d]), key: Tensor(k, shape: [c.b, c.hkv, c.t, c.d]),
                                                value: Tensor(v, shape: [c.b, c.hkv, c.t, c.d]), causal: true)
                XCTAssertGreaterThan(closeness(unmasked.toArray(), expected, atol: 1e-5, rtol: 1e-4), 1, "\(path) \(c.s) \(c.t)")
            }
        }
    }

    /// Hidden key ranges per query (the turns of a packed conversation): against the masked
    /// float64 reference, with holes that span key tiles (256), end at a tile's edge, leave a
    /// query only its own key, and sit inside an example that starts later; 1e-5 abs + 1e-4 rel.
    func testAttentionWithHiddenKeys() {
        var random = SeededRandom(23)
        let (b, hq, hkv, s, d) = (2, 4, 2, 300, 8)
        var firsts = [Int](repeating: 0, count: b * s), holes = [Int](repeating: 0, count: 2 * b * s)
        for i in 0..<s {
            // Row 0: a prefix 0..<20, turns at 20, 90 and 280 (the last hides 20..<280, across a key tile).
            let turnStart = [20, 90, 280].last { $0 <= i }
            if let start = turnStart, start > 20 { holes[2 * i] = 20; holes[2 * i + 1] = start }
            // Row 1: an example from 100 whose turn at 256 hides 110..<256 (ends at a key tile's edge);
            // query 299 also hides 256..<299, keeping only itself.
            let j = s + i
            firsts[j] = i >= 100 ? 100 : 0
            if i >= 256 { holes[2 * j] = 110; holes[2 * j + 1] = 256 }
            if i == 299 { holes[2 * j] = 100; holes[2 * j + 1] = 299 }
        }
        onBothPaths { path in
            let q = random.floats(b * hq * s * d), k = random.floats(b * hkv * s * d), v = random.floats(b * hkv * s * d)
            let y = Tensor.attention(query: Tensor(q, shape: [b, hq, s, d]), key: Tensor(k, shape: [b, hkv, s, d]),
                                     value: Tensor(v, shape: [b, hkv, s, d]), causal: true,
                                     firstVisibleKeys: firsts.map(Int32.init), hiddenKeys: holes.map(Int32.init))
            let expected = Ref.attention(q.map(Double.init), k.map(Double.init), v.map(Double.init),
                                         b: b, hq: hq, hkv: hkv, s: s, t: s, d: d, causal: true,
                                         scale: 1 / Double(d).squareRoot(), firstKeys: firsts, hiddenKeys: holes)
            XCTAssertLessThanOrEqual(closeness(y.toArray(), expected, atol: 1e-5, rtol: 1e-4), 1, path)
            // The holes must matter: without them the output differs from the reference.
            let open = Tensor.attention(query: Tensor(q, shape: [b, hq, s, d]), key: Tensor(k, shape: [b, hkv, s, d]),
                                        value: Tensor(v, shape: [b, hkv, s, d]), causal: true, firstVisibleKeys: firsts.map(Int32.init))
            XCTAssertGreaterThan(closeness(open.toArray(), expected, atol: 1e-5, rtol: 1e-4), 1, path)
        }
    }

    func testEmbeddingFromHalfTables() {
        var random = SeededRandom(17)
        let table = random.floats(11 * 9)
        for dtype in [DType.float32, .float16, .bfloat16] {
            let t = Tensor(table, shape: [11, 9]).to(dtype)
            let rounded = t.to(.float32).toArray()
            let ids = [3, 0, 10, 3]
            let y = Tensor.embedding(ids, shape: [2, 2], table: t)
            XCTAssertEqual(y.shape, [2, 2, 9])
            XCTAssertEqual(y.toArray(), ids.flatMap { rounded[($0 * 9)..<($0 * 9 + 9)] })
        }
    }

    /// nearestCodes equals the exact float64 argmin (ties to the lowest index), including
    /// duplicated codes and latents sitting exactly on a code.
    func testNearestCodesResolvesTies() {
        var random = SeededRandom(18)
        let (k, d, n) = (37, 5, 60)
        var codebook = random.floats(k * d)
        for e in 0..<d { codebook[20 * d + e] = codebook[7 * d + e] }   // duplicate code 7 at 20
        var latents = random.floats(n * d)
        for e in 0..<d { latents[e] = codebook[20 * d + e]; latents[d + e] = codebook[3 * d + e] * 100 }
        let got = Tensor.nearestCodes(Tensor(latents, shape: [n, d]), codebook: Tensor(codebook, shape: [k, d]))
        for i in 0..<n {
            var best = Double.infinity, bestIndex = 0
            for j in 0..<k {
                var dist = 0.0
                for e in 0..<d { let diff = Double(latents[i * d + e]) - Double(codebook[j * d + e]); dist += diff * diff }
                if dist < best { best = dist; bestIndex = j }
            }
            XCTAssertEqual(got[i], bestIndex, "row \(i)")
        }
        XCTAssertEqual(got[0], 7)
    }

    func testTopK() {
        var random = SeededRandom(19)
        let x = random.floats(1001) + [5, 5, 5]
        let (values, indices) = Tensor(x, shape: [x.count]).topK(6)
        let order = x.indices.sorted { x[$0] > x[$1] || (x[$0] == x[$1] && $0 < $1) }
        XCTAssertEqual(indices, Array(order.prefix(6)))
        XCTAssertEqual(values, indices.map { x[$0] })
        XCTAssertEqual(Array(indices.prefix(3)), [1001, 1002, 1003])
        XCTAssertEqual(Tensor([1, 2], shape: [2]).topK(5).indices, [1, 0])
    }

    func testLayoutOps() {
        var random = SeededRandom(20)
        let x = random.floats(2 * 3 * 4 * 5)
        let t = Tensor(x, shape: [2, 3, 4, 5])
        for axes in [[0, 2, 1, 3], [0, 1, 3, 2], [3, 2, 1, 0], [2, 0, 3, 1], [1, 0, 2, 3]] {
            let y = t.permuted(axes).toArray()
            let outShape = axes.map { t.shape[$0] }
            let strides = Tensor.contiguousStrides(t.shape)
            var expected = [Float]()
            for flat in 0..<x.count {
                var rem = flat, src = 0
                for d in stride(from: 3, through: 0, by: -1) { src += (rem % outShape[d]) * strides[axes[d]]; rem /= outShape[d] }
                expected.append(x[src])
            }
            XCTAssertEqual(y, expected, "\(axes)")
        }
        let s = t.sliced(axis: 2, 1..<3)
        XCTAssertEqual(s.shape, [2, 3, 2, 5])
        XCTAssertEqual(Tensor.concatenate([t.sliced(axis: 2, 0..<1), s, t.sliced(axis: 2, 3..<4)], axis: 2).toArray(), x)
    }
}
