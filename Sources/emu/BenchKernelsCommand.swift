import ArgumentParser
import EmuTensor
import Foundation

/// `emu bench kernels`: GEMM GFLOP/s against OpenBLAS and decode-matvec GB/s against memcpy.
struct BenchKernelsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kernels",
        abstract: "GEMM GFLOP/s vs OpenBLAS sgemm, and matvec GB/s of weights vs memory copy bandwidth.")

    @Option(name: .long, parsing: .upToNextOption, help: "Square GEMM sizes.")
    var sizes: [Int] = [512, 1024, 2048]
    @Option(name: .long, parsing: .upToNextOption, help: "Thread counts.")
    var threads: [Int] = [1, 2]
    @Flag(name: .long, help: "Print one JSON document on stdout.")
    var json = false

    func run() throws {
        try runReportingErrors {
            guard sizes.allSatisfy({ $0 > 0 && $0 <= 8192 }), threads.allSatisfy({ $0 > 0 && $0 <= 64 }) else {
                throw UserError("--sizes must be in 1...8192 and --threads in 1...64")
            }
            let report = KernelBenchmark.run(gemmSizes: sizes, threadCounts: threads)
            if json {
                try Output.printJSON(report)
                return
            }
            func figure(_ value: Double?, _ format: String) -> String {
                value.map { String(format: format, $0) } ?? "n/a"
            }
            print("AVX2+FMA: \(report.avx2 ? "yes" : "no"), OpenBLAS: \(report.openBLAS ? "loaded" : "n/a")"
                  + ", load average: \(report.loadAverage ?? "n/a")")
            print("GEMM (square, f32)   threads   ours GFLOP/s   OpenBLAS GFLOP/s   ours/OpenBLAS")
            for g in report.gemm {
                print(String(format: "%-20d %7d %14.1f", g.size, g.threads, g.oursGFLOPS)
                      + "   " + figure(g.openBLASGFLOPS, "%16.1f").padding(toLength: 16, withPad: " ", startingAt: 0)
                      + "   " + figure(g.ratio, "%13.2f"))
            }
            print(String(format: "memcpy: %.2f GB/s (bytes copied per second, best of 1..%d threads)",
                         report.copyGigabytesPerSecond, threads.max() ?? 1))
            print("matvec (1 row)        threads   GB/s of weights   fraction of memcpy")
            for m in report.matvec {
                print(String(format: "%-9@ %5d x %-5d %7d %17.2f %20.2f", m.weightType as NSString,
                             m.outFeatures, m.inFeatures, m.threads, m.gigabytesPerSecond, m.fractionOfCopy))
            }
        }
    }
}
