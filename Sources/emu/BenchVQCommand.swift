import ArgumentParser
import Emu3
import EmuTensor
import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `emu bench vq`: encode and decode time of the vision tokenizer with random weights and Emu3's
/// real VQ shapes, on the same sizes as scripts/reference/bench_vq.py (transformers' Emu3VQVAE).
/// A still image is encoded with the 2D stages run once (the reference runs them on 4 copies) and
/// decoded to frame 0 only (the reference decodes all 4 frames).
struct BenchVQCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vq", abstract: "Encode and decode time of the vision tokenizer (real Emu3 shapes, random weights).")

    @Option(name: .long, parsing: .upToNextOption, help: "Square image sizes in pixels.")
    var sizes: [Int] = [256, 512]
    @Option(name: .long, help: "Timed runs per step; the best is reported.")
    var repeats = 1
    @Option(name: .long, help: "JSON lines of scripts/reference/bench_vq.py, to print ratios against.")
    var reference: String?
    @Flag(name: .long, help: "Print one JSON document on stdout.")
    var json = false

    struct Result: Codable {
        var size: Int
        var encodeSeconds: Double
        var decodeSeconds: Double
        /// The process's peak resident set so far (a high-water mark: run one size per process for per-size peaks).
        var peakRSSMiB: Double
        var referenceEncodeSeconds: Double?
        var referenceDecodeSeconds: Double?
        var referencePeakRSSMiB: Double?
        /// Reference time over ours: above 1 means we are faster.
        var encodeSpeedup: Double?
        var decodeSpeedup: Double?
    }

    struct ReferenceLine: Codable { var size: Int; var encodeSeconds: Double; var decodeSeconds: Double; var peakRSSMiB: Double }

    func run() throws {
        try runReportingErrors {
            guard repeats > 0, !sizes.isEmpty else { throw UserError("--repeats and --sizes must be positive") }
            var references: [Int: ReferenceLine] = [:]
            if let reference {
                guard let text = try? String(contentsOfFile: reference, encoding: .utf8) else {
                    throw UserError("\(reference): cannot read")
                }
                for (n, line) in text.split(separator: "\n").enumerated() where !line.isEmpty {
                    do {
                        let entry = try JSONDecoder().decode(ReferenceLine.self, from: Data(line.utf8))
                        references[entry.size] = entry
                    } catch { throw UserError("\(reference) line \(n + 1): not a bench_vq.py result (\(error))") }
                }
            }
            let configuration = VisionTokenizerConfiguration()  // Emu3's real shapes
            let factor = configuration.spatialFactor
            for size in sizes where size <= 0 || size % factor != 0 {
                throw UserError("--sizes: \(size) is not a positive multiple of the spatial factor \(factor)")
            }
            Output.log("building the Emu3 VQ (base 256, [1,2,2,4], codebook 32768) with random weights")
            let tokenizer = try VisionTokenizer(randomWeightsFor: configuration, seed: 1)
            var results: [Result] = []
            var random = SplitMix64(seed: 7)
            for size in sizes {
                let pixels = Tensor((0..<(3 * size * size)).map { _ in Float(random.nextUnitFloat() * 2 - 1) },
                                    shape: [3, size, size])
                var encodeTimes: [Double] = [], decodeTimes: [Double] = []
                var codes: VisionCodes?
                for _ in 0..<repeats {
                    let start = Date()
                    codes = try tokenizer.encode(image: pixels)
                    encodeTimes.append(Date().timeIntervalSince(start))
                }
                for _ in 0..<repeats {
                    let start = Date()
                    let image = try tokenizer.decodeImage(codes!)
                    decodeTimes.append(Date().timeIntervalSince(start))
                    precondition(image.shape == [3, size, size])
                }
                var result = Result(size: size, encodeSeconds: encodeTimes.min()!, decodeSeconds: decodeTimes.min()!,
                                    peakRSSMiB: Self.peakRSSMiB())
                if let ref = references[size] {
                    result.referenceEncodeSeconds = ref.encodeSeconds
                    result.referenceDecodeSeconds = ref.decodeSeconds
                    result.referencePeakRSSMiB = ref.peakRSSMiB
                    result.encodeSpeedup = ref.encodeSeconds / result.encodeSeconds
                    result.decodeSpeedup = ref.decodeSeconds / result.decodeSeconds
                }
                results.append(result)
                if !json {
                    var line = String(format: "%dx%d: encode %.2f s, decode %.2f s, peak RSS %.0f MiB",
                                      size, size, result.encodeSeconds, result.decodeSeconds, result.peakRSSMiB)
                    if let e = result.encodeSpeedup, let d = result.decodeSpeedup {
                        line += String(format: " | PyTorch/ours: encode %.2fx, decode %.2fx", e, d)
                    }
                    print(line)
                }
            }
            if json { try Output.printJSON(results) }
        }
    }

    /// ru_maxrss in MiB (Linux reports KiB, macOS bytes).
    static func peakRSSMiB() -> Double {
        var usage = rusage()
        #if os(Linux)
        getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
        return Double(usage.ru_maxrss) / 1024
        #else
        getrusage(RUSAGE_SELF, &usage)
        return Double(usage.ru_maxrss) / (1024 * 1024)
        #endif
    }
}
