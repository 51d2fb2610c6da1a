import XCTest
@testable import EmuTensor

/// Runs `body` on the AVX2 path (when the CPU has it) and on the forced scalar path.
func onBothPaths(_ body: (String) throws -> Void) rethrows {
    Kernels.forceScalar(false)
    try body(Kernels.usesAVX2 ? "avx2" : "scalar")
    Kernels.forceScalar(true)
    defer { Kernels.forceScalar(false) }
    try body("scalar")
}

final class GemmTests: XCTestCase {
    /// Every transpose combination on sizes around the 6x16 tile and the 256 K block.
    /// Tolerance: 1e-4 absolute + 1e-4 relative against float64 (sums of up to 300 products).
    func testGemmAllTransposesAndEdges() {
        var random = SeededRandom(1)
        let sizes = [(1, 1, 1), (5, 17, 3), (6, 16, 8), (7, 33, 300), (13, 1, 19), (50, 45, 257)]
        onBothPaths { path in
            for (m, n, k) in sizes { for ta in [false, true] { for tb in [false, true] { for acc in [false, true] {
                let a = random.floats(m * k), b = random.floats(k * n), c0 = random.floats(m * n)
                var c = c0
                a.withUnsafeBufferPointer { pa in b.withUnsafeBufferPointer { pb in c.withUnsafeMutableBufferPointer { pc in
                    Kernels.gemm(m: m, n: n, k: k, a: pa.baseAddress!, lda: ta ? m : k, transposeA: ta,
                                 b: pb.baseAddress!, ldb: tb ? k : n, transposeB: tb,
                                 c: pc.baseAddress!, ldc: n, accumulate: acc)
                } } }
                var expected = Ref.gemm(m: m, n: n, k: k, a.map(Double.init), transposeA: ta, b.map(Double.init), transposeB: tb)
                if acc { expected = zip(expected, c0).map { $0 + Double($1) } }
                XCTAssertLessThanOrEqual(closeness(c, expected, atol: 1e-4, rtol: 1e-4), 1, "\(path) \(m)x\(n)x\(k) ta \(ta) tb \(tb) acc \(acc)")
            } } } }
        }
    }

    /// Multi-threaded GEMM (large enough to split) with leading dimensions wider than the matrix.
    func testThreadedGemmWithStrides() {
        var random = SeededRandom(2)
        let (m, n, k) = (131, 77, 203)
        let a = random.floats(m * (k + 3)), b = random.floats(n * (k + 5))
        var c = [Float](repeating: 9, count: m * (n + 2))
        a.withUnsafeBufferPointer { pa in b.withUnsafeBufferPointer { pb in c.withUnsafeMutableBufferPointer { pc in
            Kernels.gemm(m: m, n: n, k: k, a: pa.baseAddress!, lda: k + 3, transposeA: false,
                         b: pb.baseAddress!, ldb: k + 5, transposeB: true, c: pc.baseAddress!, ldc: n + 2, accumulate: false)
        } } }
        for i in 0..<m { for j in 0..<n {
            var s = 0.0
            for p in 0..<k { s += Double(a[i * (k + 3) + p]) * Double(b[j * (k + 5) + p]) }
            XCTAssertEqual(Double(c[i * (n + 2) + j]), s, accuracy: 1e-4 + 1e-4 * abs(s))
        }
            XCTAssertEqual(c[i * (n + 2) + n], 9, "padding column written")
        }
    }

    /// linear with f32/f16/bf16 weights, matvec rows (1...4) and GEMM rows, with bias.
    /// The reference uses the weights as rounded to their dtype; tolerance 1e-4 abs + 1e-4 rel.
    func testLinearAllWeightTypes() {
        var random = SeededRandom(3)
        onBothPaths { path in
            for dtype in [DType.float32, .float16, .bfloat16] { for rows in [1, 3, 4, 5, 23] {
                let (inF, outF) = (37, 29)
                let x = random.floats(rows * inF), w = random.floats(outF * inF), b = random.floats(outF)
                let weight = Tensor(w, shape: [outF, inF]).to(dtype)
                let y = Tensor(x, shape: [rows, inF]).linear(weight: weight, bias: Tensor(b, shape: [outF]))
                let wRounded = weight.to(.float32).doubles
                let expected = Ref.linear(x.map(Double.init), rows: rows, inF: inF, wRounded, outF: outF, b.map(Double.init))
                XCTAssertLessThanOrEqual(closeness(y.toArray(), expected, atol: 1e-4, rtol: 1e-4), 1, "\(path) \(dtype) rows \(rows)")
            } }
        }
    }

    func testBatchedMatmulBroadcastsBatchOfOne() {
        var random = SeededRandom(4)
        let a = random.floats(3 * 5 * 7), b = random.floats(7 * 4)
        let y = Tensor(a, shape: [3, 5, 7]).matmul(Tensor(b, shape: [1, 7, 4]))
        var expected = [Double]()
        for i in 0..<3 {
            expected += Ref.gemm(m: 5, n: 4, k: 7, Array(a[(i * 35)..<(i * 35 + 35)]).map(Double.init), transposeA: false,
                                 b.map(Double.init), transposeB: false)
        }
        XCTAssertEqual(y.shape, [3, 5, 4])
        XCTAssertLessThanOrEqual(closeness(y.toArray(), expected, atol: 1e-5, rtol: 1e-5), 1)
    }
}

final class ConversionTests: XCTestCase {
    /// f16/bf16 conversions agree bit for bit between the AVX2 (F16C) and scalar paths and with
    /// Swift's own Float16 (round to nearest even), including subnormals, infinities and NaN.
    func testHalfConversionsMatchOnBothPaths() {
        var random = SeededRandom(5)
        var values = random.floats(1000, scale: 100) + random.floats(100, scale: 1e-6) + random.floats(100, scale: 1e5)
        values += [0, -0, .infinity, -.infinity, 65504, 65519, 65520, 6.1e-5, 5.96e-8, 1e-8, 1.0009765625, 3.0e38]
        let t = Tensor(values, shape: [values.count])
        var results: [[UInt16]] = []
        onBothPaths { _ in
            for dtype in [DType.float16, .bfloat16] {
                let h = t.to(dtype)
                results.append(Array(UnsafeBufferPointer(start: h.rawPointer.assumingMemoryBound(to: UInt16.self), count: h.count)))
                let back = h.to(.float32).toArray()
                for (i, v) in values.enumerated() {
                    let expected: Float = dtype == .float16 ? Float(Float16(v)) : bfloat16ToFloat(floatToBFloat16(v))
                    XCTAssertEqual(back[i].bitPattern, expected.bitPattern, "\(dtype) of \(v)")
                }
            }
        }
        XCTAssertEqual(results[0], results[2], "f16 bits differ between paths")
        XCTAssertEqual(results[1], results[3], "bf16 bits differ between paths")
        let nan = Tensor([Float.nan], shape: [1])
        XCTAssertTrue(nan.to(.bfloat16).to(.float32).item.isNaN)
        XCTAssertTrue(nan.to(.float16).to(.float32).item.isNaN)
    }
}
