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

    /// `defaults` (a model's own, `ShapesModel.ImageDefaults`) with the flags given put over them.
    func parameters(over defaults: SamplingParameters) -> SamplingParameters {
        SamplingParameters(greedy: greedy || defaults.greedy, temperature: temperature ?? defaults.temperature,
                           topK: topK ?? defaults.topK, topP: topP ?? defaults.topP, seed: seed)
    }

    /// The parameters, with `defaultTopK` when sampling without an explicit top-k, and greedy when
    /// `greedyByDefault` and no sampling flag was given.
    func parameters(defaultTopK: Int? = nil, greedyByDefault: Bool = false) -> SamplingParameters {
        let sampling = temperature != nil || topK != nil || topP != nil
        return SamplingParameters(greedy: greedy || (greedyByDefault && !sampling), temperature: temperature ?? 1,
                                  topK: topK ?? defaultTopK, topP: topP, seed: seed)
    }
}

/// Guidance and sampling for pictures and video from an Emu3 checkpoint: the flags given, else the
/// checkpoint's generation_config.json, else Emu3's own (guidance 3, top-k 2048 of its 32768 codes).
struct ImageDrawing {
    var guidance: Float
    var sampling: SamplingParameters

    init(cfg: Float?, sampling options: SamplingOptions, directory: String) throws {
        try ImageDrawing.check(cfg)
        let config = try GenerationConfig.load(directory: URL(fileURLWithPath: directory))
        guidance = cfg ?? config.guidanceScale ?? 3
        sampling = options.parameters(over: SamplingParameters(config, fallback: SamplingParameters(topK: 2048)))
    }

    /// Throws, naming `flag`, unless `scale` is absent or a usable guidance scale (positive, finite).
    static func check(_ scale: Float?, flag: String = "--cfg") throws {
        if let scale, !(scale > 0 && scale.isFinite) {
            throw UserError("\(flag) must be a positive number (1: no guidance), not \(scale)")
        }
    }
}

/// Ctrl-C from the start of generation to the end of the command: the first one stops the loop
/// cleanly (the tokens so far are kept and written; one pressed while the media are being decoded
/// lets the command finish); the default handler is restored so a second one kills the process.
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
        if interrupted { Output.log("interrupted: keeping the tokens generated so far") }
    }
}

enum MediaCoding {
    /// `preferred`, or less when the checkpoint's image processor allows fewer pixels (small models).
    static func defaultArea(_ preferred: Int, pipeline: Emu3Pipeline) -> Int {
        min(preferred, pipeline.imageProcessor?.maxPixels ?? preferred)
    }

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
