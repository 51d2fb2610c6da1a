import CEmuKernels
import Foundation

/// Speed of the kernels against a yardstick measured in the same run: GEMM against OpenBLAS
/// (loaded at run time when installed) and the decode matvec against the memory copy bandwidth.
public enum KernelBenchmark {
    public struct GEMMResult: Codable, Sendable {
        public var size: Int
        public var threads: Int
        public var oursGFLOPS: Double
        /// nil when OpenBLAS could not be loaded.
        public var openBLASGFLOPS: Double?
        public var ratio: Double? { openBLASGFLOPS.map { oursGFLOPS / $0 } }
    }

    public struct MatvecResult: Codable, Sendable {
        public var weightType: String
        public var outFeatures: Int
        public var inFeatures: Int
        public var threads: Int
        /// Bytes of weights read per second.
        public var gigabytesPerSecond: Double
        /// The same over the best memcpy rate (bytes copied per second) of this run.
        public var fractionOfCopy: Double
    }

    public struct Report: Codable, Sendable {
        public var avx2: Bool
        public var openBLAS: Bool
        public var loadAverage: String?
        /// Best memcpy rate over 1 and 2 threads: bytes copied (not read + written) per second.
        public var copyGigabytesPerSecond: Double
        public var gemm: [GEMMResult]
        public var matvec: [MatvecResult]
    }

    /// Runs every measurement; each figure is the best of several repetitions (the machine is shared).
    public static func run(gemmSizes: [Int] = [512, 1024, 2048], threadCounts: [Int] = [1, 2],
                           matvecShape: (out: Int, in: Int) = (8192, 4096)) -> Report {
        let savedThreads = Kernels.threadCount
        defer { Kernels.threadCount = savedThreads }
        let hasBLAS = emu_openblas_available() != 0
        var gemm: [GEMMResult] = []
        for size in gemmSizes {
            let a = randomTensor([size, size], seed: 1), b = randomTensor([size, size], seed: 2)
            let c = Tensor(uninitialized: [size, size])
            let flops = 2.0 * Double(size) * Double(size) * Double(size)
            for threads in threadCounts {
                Kernels.threadCount = threads
                let ours = bestSeconds(budget: 1.5) {
                    Kernels.gemm(m: size, n: size, k: size, a: a.floatPointer, lda: size, transposeA: false,
                                 b: b.floatPointer, ldb: size, transposeB: false,
                                 c: c.mutableFloatPointer, ldc: size, accumulate: false)
                }
                var blas: Double?
                if hasBLAS {
                    _ = emu_openblas_set_threads(Int32(threads))
                    blas = flops / 1e9 / bestSeconds(budget: 1.5) {
                        _ = emu_openblas_sgemm(size, size, size, a.floatPointer, size, 0,
                                               b.floatPointer, size, 0, c.mutableFloatPointer, size)
                    }
                }
                gemm.append(GEMMResult(size: size, threads: threads, oursGFLOPS: flops / 1e9 / ours,
                                       openBLASGFLOPS: blas))
            }
            withExtendedLifetime((a, b, c)) {}
        }

        // Copy bandwidth on a buffer as large as the bf16 weights, far beyond the caches.
        let copyBytes = max(64 << 20, matvecShape.out * matvecShape.in * 4)
        let source = TensorStorage(byteCount: copyBytes), target = TensorStorage(byteCount: copyBytes)
        memset(source.bytes, 1, copyBytes)
        memset(target.bytes, 2, copyBytes)
        var copyRate = 0.0
        for threads in threadCounts {
            Kernels.threadCount = threads
            let seconds = bestSeconds(budget: 1.0) { emu_copy_parallel(target.bytes, source.bytes, copyBytes) }
            copyRate = max(copyRate, Double(copyBytes) / seconds / 1e9)
        }

        var matvec: [MatvecResult] = []
        let weightF32 = randomTensor([matvecShape.out, matvecShape.in], seed: 3)
        let x = randomTensor([1, matvecShape.in], seed: 4)
        let y = Tensor(uninitialized: [1, matvecShape.out])
        for dtype in [DType.float32, .bfloat16] {
            let weight = weightF32.to(dtype)
            for threads in threadCounts {
                Kernels.threadCount = threads
                let seconds = bestSeconds(budget: 1.0) {
                    Kernels.linear(rows: 1, inFeatures: matvecShape.in, outFeatures: matvecShape.out,
                                   x: x.floatPointer, weight: weight, bias: nil, out: y.mutableFloatPointer)
                }
                let rate = Double(weight.byteCount) / seconds / 1e9
                matvec.append(MatvecResult(weightType: dtype.rawValue, outFeatures: matvecShape.out,
                                           inFeatures: matvecShape.in, threads: threads,
                                           gigabytesPerSecond: rate, fractionOfCopy: rate / copyRate))
            }
        }
        withExtendedLifetime((source, target, x, y)) {}
        return Report(avx2: Kernels.usesAVX2, openBLAS: hasBLAS, loadAverage: loadAverage(),
                      copyGigabytesPerSecond: copyRate, gemm: gemm, matvec: matvec)
    }

    /// The fastest of repeated runs of `body` (one warm-up first), repeating for about `budget` seconds.
    static func bestSeconds(budget: Double, minimumRuns: Int = 3, _ body: () -> Void) -> Double {
        body()
        var best = Double.infinity, total = 0.0, runs = 0
        while runs < minimumRuns || total < budget {
            let start = DispatchTime.now().uptimeNanoseconds
            body()
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            best = min(best, seconds)
            total += seconds
            runs += 1
        }
        return best
    }

    static func randomTensor(_ shape: [Int], seed: UInt64) -> Tensor {
        let t = Tensor(uninitialized: shape)
        var state = seed &* 0x9E37_79B9_7F4A_7C15
        let p = t.mutableFloatPointer
        for i in 0..<t.count {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            p[i] = Float(Int64(bitPattern: state >> 11) % 2000) / 1000 - 1
        }
        return t
    }

    /// The 1-, 5- and 15-minute load averages (Linux), to judge how quiet the machine was.
    static func loadAverage() -> String? {
        guard let text = try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8) else { return nil }
        return text.split(separator: " ").prefix(3).joined(separator: " ")
    }
}
