import ArgumentParser
import Emu3
import EmuIO
import EmuTensor
import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Sampling flags shared by the generating commands.
struct SamplingOptions: ParsableArguments {
    @Flag(name: .long, help: "Always take the most likely token.")
    var greedy = false
    @Option(name: .long, help: "Softmax temperature.")
    var temperature: Float?
    @Option(name: .customLong("top-k"), help: "Sample among the K most likely tokens.")
    var topK: Int?
    @Option(name: .customLong("top-p"), help: "Sample from the smallest set of tokens with probability mass P.")
    var topP: Float?
    @Option(name: .long, help: "Random seed (same seed, same output).")
    var seed: UInt64 = 0

    /// The parameters, with `defaultTopK` when sampling without an explicit top-k, and greedy when
    /// `greedyByDefault` and no sampling flag was given.
    func parameters(defaultTopK: Int? = nil, greedyByDefault: Bool = false) -> SamplingParameters {
        let sampling = temperature != nil || topK != nil || topP != nil
        return SamplingParameters(greedy: greedy || (greedyByDefault && !sampling), temperature: temperature ?? 1,
                                  topK: topK ?? defaultTopK, topP: topP, seed: seed)
    }
}

/// Ctrl-C during generation: the first one stops the loop cleanly (the tokens so far are kept and
/// written); the default handler is restored so a second one kills the process.
enum Interruption {
    nonisolated(unsafe) private static var flag: sig_atomic_t = 0

    static func install() {
        flag = 0
        signal(SIGINT) { _ in
            Interruption.flag = 1
            signal(SIGINT, SIG_DFL)
        }
    }

    static var requested: Bool { flag != 0 }
}

/// A token callback that draws progress (tokens/s, ETA) on a terminal and stops on Ctrl-C.
final class TokenProgress {
    private let bar: ProgressBar
    private(set) var interrupted = false

    init(total: Int, label: String) {
        bar = ProgressBar(total: total, label: label, unit: "tok")
        Interruption.install()
    }

    func callAsFunction(_ token: GeneratedToken) -> Bool {
        bar.advance()
        if Interruption.requested { interrupted = true }
        return !interrupted
    }

    func finish() {
        bar.finish(detail: interrupted ? "interrupted" : "")
        signal(SIGINT, SIG_DFL)
    }
}

enum MediaCoding {
    /// VQ codes of an image file (resized and normalized as the checkpoint's image processor says).
    static func encodeImage(_ path: String, pipeline: Emu3Pipeline) throws -> VisionCodes {
        guard let vq = pipeline.visionTokenizer, let processor = pipeline.imageProcessor else {
            throw UserError("the checkpoint has no vision tokenizer")
        }
        return try vq.encode(image: processor.preprocess(ImageFile.read(URL(fileURLWithPath: path))))
    }

    /// Decoded frames of `codes` as images (one image per video frame; frame 0 only for an image).
    static func decode(_ codes: VisionCodes, pipeline: Emu3Pipeline, image: Bool) throws -> [RGBImage] {
        guard let vq = pipeline.visionTokenizer, let processor = pipeline.imageProcessor else {
            throw UserError("the checkpoint has no vision tokenizer")
        }
        if image { return [processor.postprocess(try vq.decodeImage(codes))] }
        let frames = try vq.decode(codes)  // [T, 3, H, W]
        return (0..<frames.shape[0]).map { t in
            processor.postprocess(frames.rows(t..<(t + 1)).reshaped(Array(frames.shape.dropFirst())))
        }
    }
}
